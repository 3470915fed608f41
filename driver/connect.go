package driver

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// runConnect is the connection storm (scenario kind "connect"): Conns loops,
// each opening a connection (TCP connect, then the opening handshake),
// optionally sending one message and waiting for its echo, closing with a
// close handshake (1000), and starting over, until the window ends. Every
// phase has its own histogram (connect, handshake, rtt of the one message,
// close); connections are counted when they start inside the measured
// window, so connections.opened_per_s is the storm's rate.
//
// Connections here live for milliseconds, so each loop is a goroutine doing
// blocking I/O on Go's own poller: the event loops' machinery is for
// connections that stay.
func runConnect(ctx context.Context, cfg Config, c *scenario.Compiled, u *url.URL, rec *metrics.Recorder) (*Result, error) {
	spec := c.Spec
	tc, err := targetTLS(c, u)
	if err != nil {
		return nil, err
	}
	plan := dialPlan{timeout: time.Duration(spec.ConnectTimeout), dialer: handshakeDialer(c), require: spec.RequireSubprotocol,
		tls: tc, sources: c.Sources, ports: newPortPicker(), urlFor: connURLs(c, u)}
	addr := hostPort(u)
	op := ws.OpText
	if spec.Binary {
		op = ws.OpBinary
	}
	codec := newPayloadCodec(c, spec.Binary, false)
	abort := cfg.Abort
	if abort == nil {
		abort = context.Background()
	}

	var at time.Time
	if cfg.Ready != nil {
		if at, err = cfg.Ready(); err != nil {
			return nil, fmt.Errorf("waiting to start: %w", err)
		}
	}
	origin := originAt(at) // shard part: a start given

	measureStart := origin.Add(time.Duration(spec.Warmup))
	stopAt := measureStart.Add(time.Duration(spec.Duration))
	res := &Result{Started: origin, StopReason: StopCompleted, Processes: 1, IO: IOSyscalls, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	stopCtx, stop := context.WithDeadline(ctx, stopAt)
	defer stop()
	// The CPU use at the end of the warm-up, handed over on a channel: the
	// timer's goroutine and this one share nothing else.
	warmedUp := make(chan usage, 1)
	startSampler := time.AfterFunc(time.Duration(spec.Warmup), func() { warmedUp <- processUsage() })

	var wg sync.WaitGroup
	var attempts sync.Mutex // guards nothing but the slot counter
	next := 0
	for range spec.Conns {
		shard := rec.NewShard()
		var seed [32]byte
		crand.Read(seed[:])
		wg.Go(func() {
			for stopCtx.Err() == nil {
				attempts.Lock()
				slot := next
				next++
				attempts.Unlock()
				measured := !time.Now().Before(measureStart)
				sh := shard
				if !measured {
					sh = metrics.NewRecorder().NewShard() // warm-up: measured nowhere
				}
				stormOne(abort, u, addr, plan, spec, codec, op, sh, slot, binary.LittleEndian.Uint32(seed[slot%8*4:]))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-abort.Done():
		res.StopReason = StopAborted
		<-done
	}
	var cpuStart usage
	if startSampler.Stop() {
		cpuStart = processUsage() // stopped within the warm-up
	} else {
		cpuStart = <-warmedUp
	}
	end := time.Now()
	if ctx.Err() != nil && res.StopReason == StopCompleted {
		res.StopReason = StopInterrupted
	}
	res.CPU = processUsage().since(cpuStart)
	res.MeasureStart = measureStart
	res.MeasureEnd = end
	if stopAt.Before(end) {
		res.MeasureEnd = stopAt
	}
	if res.MeasureEnd.Before(measureStart) {
		res.MeasureEnd = measureStart
	}
	res.Dial = res.MeasureEnd.Sub(res.MeasureStart) // the storm's window: opened_per_s is its rate
	res.Snapshot, err = rec.Snapshot()
	if err == nil && res.Snapshot.Counts.ConnsAttempted == 0 {
		res.StopReason = StopNoConnections
	}
	return res, err
}

// stormOne is one connection of the storm, start to close.
func stormOne(abort context.Context, u *url.URL, addr string, p dialPlan, spec scenario.Spec,
	codec *codec, op ws.OpCode, sh *metrics.Shard, slot int, mask uint32) {
	u, src := p.endpoint(u, slot)
	nc, br, t := open(abort, u, addr, src, p)
	t.opened = t.upgraded
	t.record(sh)
	if !t.opened {
		return
	}
	defer nc.Close()
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
		defer ws.PutReader(br)
	}
	rd := bufio.NewReader(r)
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], mask)
	if spec.ConnectMessage {
		now := time.Now()
		st := stamp{intended: now.UnixNano(), sent: now.UnixNano(), conn: uint32(slot)}
		size := codec.size
		switch {
		case codec.tmpl != nil:
			size = codec.renderLen(st)
		case codec.minSize < codec.size:
			size = codec.minSize + int(mask)%(codec.size-codec.minSize+1)
		}
		buf := make([]byte, wire.MaxHeaderSize+size)
		h := ws.Header{Fin: true, OpCode: op, Masked: true, Length: int64(size), Mask: m}
		hn := wire.PutHeader(buf, h)
		codec.put(buf[hn:hn+size], st)
		ws.Cipher(buf[hn:hn+size], h.Mask, 0)
		if _, err := nc.Write(buf[:hn+size]); err != nil {
			sh.Error(errKindForSocket(err))
			return
		}
		sh.Counts.Sent++
		sh.Counts.BytesSent += int64(hn + size)
		if err := awaitFrame(rd, nc, sh, op, func(p []byte, wireLen int) bool {
			_, _, ok := codec.get(p, slot)
			if !ok {
				sh.Error("echo_mismatch")
				sh.Counts.Lost++
				return true
			}
			sh.Counts.Received++
			sh.Counts.BytesReceived += int64(wireLen)
			rtt := time.Since(now)
			sh.Record(metrics.RTT, rtt)
			sh.Record(metrics.RTTUncorrected, rtt)
			return true
		}); err != nil {
			sh.Counts.Lost++
			sh.Error(err.Error())
			return
		}
	}
	closing := time.Now()
	var body [2]byte
	payload := wire.CloseBody(body[:], ws.StatusNormalClosure, "")
	buf := make([]byte, wire.MaxHeaderSize+len(payload))
	h := ws.Header{Fin: true, OpCode: ws.OpClose, Masked: true, Length: int64(len(payload)), Mask: m}
	hn := wire.PutHeader(buf, h)
	copy(buf[hn:], payload)
	ws.Cipher(buf[hn:hn+len(payload)], h.Mask, 0)
	if _, err := nc.Write(buf[:hn+len(payload)]); err != nil {
		sh.Error(errKindForSocket(err))
		return
	}
	if err := awaitFrame(rd, nc, sh, ws.OpClose, func([]byte, int) bool { return true }); err != nil {
		sh.Error("close_no_reply")
		return
	}
	sh.Record(metrics.Close, time.Since(closing))
}

// awaitFrame reads server frames until one with opcode want (handled by f),
// answering pings on the way. Its error is the error kind.
func awaitFrame(rd *bufio.Reader, w io.Writer, sh *metrics.Shard, want ws.OpCode, f func([]byte, int) bool) error {
	for {
		h, err := ws.ReadHeader(rd)
		if err != nil {
			return readErrorKind(err)
		}
		if h.Masked || h.Length > 1<<20 {
			return errors.New("protocol_error")
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(rd, p); err != nil {
			return readErrorKind(err)
		}
		if h.Rsv1() && (h.OpCode == ws.OpText || h.OpCode == ws.OpBinary) {
			// permessage-deflate (--deflate): a compressed reply.
			d := deflaters.Get().(*deflater)
			raw, err := d.decompress(p, 1<<20)
			p = append([]byte(nil), raw...)
			deflaters.Put(d)
			if err != nil {
				return errors.New("deflate_error")
			}
		}
		switch {
		case h.OpCode == ws.OpText && !utf8.Valid(p):
			// RFC 6455 §8.1: fail the connection, with 1007.
			var body [2]byte
			payload := wire.CloseBody(body[:], ws.StatusInvalidFramePayloadData, "")
			buf := make([]byte, wire.MaxHeaderSize+len(payload))
			hn := wire.PutHeader(buf, ws.Header{Fin: true, OpCode: ws.OpClose, Masked: true, Length: int64(len(payload))})
			copy(buf[hn:], payload)
			w.Write(buf[:hn+len(payload)])
			return errors.New("invalid_utf8")
		case h.OpCode == want:
			f(p, wire.HeaderSize(h)+len(p))
			return nil
		case h.OpCode == ws.OpClose:
			code := ws.StatusNoStatusRcvd
			if len(p) >= 2 {
				code = ws.StatusCode(binary.BigEndian.Uint16(p))
			}
			return fmt.Errorf("close_%d", code)
		case h.OpCode == ws.OpPing:
			pong := ws.Header{Fin: true, OpCode: ws.OpPong, Masked: true, Length: int64(len(p))}
			buf := make([]byte, wire.MaxHeaderSize+len(p))
			hn := wire.PutHeader(buf, pong)
			copy(buf[hn:], p)
			w.Write(buf[:hn+len(p)])
		}
	}
}

func readErrorKind(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected_eof")
	case errors.As(err, &ne) && ne.Timeout():
		return errors.New("timeout")
	default:
		return errors.New(errKindForSocket(err))
	}
}
