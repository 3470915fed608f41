package driver

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// The session layer's opening (rpc part): a Protocol's Open steps, said on
// each connection right after its handshake, in the dialling goroutine,
// with blocking I/O on the net.Conn before it is handed to an event loop
// (see dialOne). A connection whose opening fails is a failed connection
// (ConnsFailed, error kind open_timeout, open_mismatch, open_close_N, …),
// and the run keeps the first failure for its verdict line.

// opening is what every connection of a run says and awaits as it opens.
type opening struct {
	steps []flow.Step
	rules []flow.Rule
	op    ws.OpCode // text, or binary (Protocol.Binary)
	// vars are the variables of slot's templates (a data file's row; nil: none).
	vars       func(slot int) [][]byte
	nvars      int // the run's variables (scenario.Compiled.Names): captures fill their slots
	packets    flow.Packets
	maxMessage int64
	// first is the first connection's failure, for the verdict line.
	first atomic.Pointer[Mismatch]
}

// newOpening is the opening of a run speaking p (nil when p says nothing
// as it opens).
func newOpening(p *flow.Protocol, vars func(int) [][]byte, nvars int) *opening {
	if p == nil || len(p.Open) == 0 {
		return nil
	}
	o := &opening{steps: p.Open, rules: p.Rules, op: ws.OpText, vars: vars, nvars: nvars, packets: p.Packets, maxMessage: 1 << 20}
	if p.Binary {
		o.op = ws.OpBinary
	}
	return o
}

// errOpen is an opening that failed: its error kind, and what showed it.
type errOpen struct {
	kind string
	m    *Mismatch
}

func (e *errOpen) Error() string { return e.kind }

// run says the opening on nc (reading through rd, which may hold bytes the
// handshake left) for slot's connection, and returns the connection's
// variables when an expect captured some (nil: the slot's data row) and
// the protocol packets read past the last one expected (Protocol.Packets;
// nil: none), for the event loop. What the server sent after the last
// expected message stays in rd for the event loop too.
func (o *opening) run(nc net.Conn, rd *bufio.Reader, slot int) (vars [][]byte, rest []byte, err error) {
	oc := &openConn{nc: nc, rd: rd}
	rand.Read(oc.mask[:])
	var last []byte // the last message sent, for the verdict line
	vals := flow.Values{Conn: uint64(slot)}
	if o.vars != nil {
		vals.Vars = o.vars(slot)
	}
	captured := false
	for _, st := range o.steps {
		switch st.Kind {
		case flow.StepSend:
			vals.Now = time.Now().UnixNano()
			last = st.Send.Append(last[:0], &vals)
			if err := writeFrame(nc, o.op, last, oc.mask); err != nil {
				return nil, nil, &errOpen{kind: "open_" + errKindForSocket(err)}
			}
		case flow.StepExpect:
			for range max(st.Count, 1) {
				p, err := o.expect(oc, st, last)
				if err != nil {
					return nil, nil, err
				}
				if len(st.Captures) > 0 && !captured {
					// The connection's own variables: its data row, then what it captures.
					captured = true
					own := make([][]byte, max(o.nvars, len(vals.Vars)))
					copy(own, vals.Vars)
					vals.Vars = own
				}
				for _, c := range st.Captures {
					if v, ok := c.From.Value(p); ok && c.Var < len(vals.Vars) {
						vals.Vars[c.Var] = append([]byte(nil), v...)
					}
				}
			}
		}
	}
	nc.SetDeadline(time.Time{})
	for _, q := range oc.queue {
		rest = append(rest, q...)
	}
	rest = append(rest, oc.pend...)
	if captured {
		return vals.Vars, rest, nil
	}
	return nil, rest, nil
}

// openConn is one connection's opening: its socket, the reader the
// handshake left, its mask, and with Protocol.Packets the whole packets
// read and not yet expected (queue) and the start of the next (pend).
type openConn struct {
	nc    net.Conn
	rd    *bufio.Reader
	mask  [4]byte
	queue [][]byte
	pend  []byte
}

// expect reads messages (or a protocol's packets) until one matches
// st.Match, within st.Timeout, and returns it: pings are answered, what a
// rule claims is answered (or ignored), and the first other message is
// kept for the verdict line.
func (o *opening) expect(oc *openConn, st flow.Step, sent []byte) ([]byte, error) {
	nc, rd := oc.nc, oc.rd
	nc.SetReadDeadline(time.Now().Add(st.Timeout))
	var other []byte
	otherLen, otherOp := 0, ws.OpText
	fail := func(kind string) error {
		m := &Mismatch{Reason: metrics.StopOpenFailed, Kind: kind, Expect: st.Match.Src, Timeout: st.Timeout,
			Sent: clip(sent), SentLen: len(sent), SentOp: wire.OpName(o.op), Got: other, GotLen: otherLen, GotOp: wire.OpName(otherOp)}
		return &errOpen{kind: kind, m: m}
	}
	var frag []byte
	for {
		for len(oc.queue) > 0 {
			p := oc.queue[0]
			oc.queue = oc.queue[1:]
			if st.Match.Matches(p) {
				return p, nil
			}
			if r := matchRule(o.rules, p); r != nil {
				if r.Reply != nil {
					vals := flow.Values{Now: time.Now().UnixNano()}
					writeFrame(nc, o.op, r.Reply.Append(nil, &vals), oc.mask)
				}
				continue
			}
			if other == nil {
				other, otherLen = clip(p), len(p)
			}
		}
		h, err := ws.ReadHeader(rd)
		if err != nil {
			return nil, fail(o.readKind(err, other != nil))
		}
		if h.Masked || h.Length > o.maxMessage {
			return nil, fail("open_protocol_error")
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(rd, p); err != nil {
			return nil, fail(o.readKind(err, other != nil))
		}
		switch h.OpCode {
		case ws.OpPing:
			writeFrame(nc, ws.OpPong, p, oc.mask)
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			code := ws.StatusNoStatusRcvd
			if len(p) >= 2 {
				code = ws.StatusCode(binary.BigEndian.Uint16(p))
			}
			return nil, fail(fmt.Sprintf("open_close_%d", code))
		case ws.OpContinuation:
			frag = append(frag, p...)
			if !h.Fin {
				continue
			}
			p, frag = frag, nil
		case ws.OpText, ws.OpBinary:
			if !h.Fin {
				frag, otherOp = p, h.OpCode
				continue
			}
			otherOp = h.OpCode
		}
		if h.Rsv1() {
			d := deflaters.Get().(*deflater)
			raw, err := d.decompress(p, o.maxMessage)
			p = append([]byte(nil), raw...)
			deflaters.Put(d)
			if err != nil {
				return nil, fail("open_deflate_error")
			}
		}
		if otherOp == ws.OpText && !utf8.Valid(p) {
			return nil, fail("open_invalid_utf8")
		}
		if o.packets == nil {
			oc.queue = append(oc.queue, p)
			continue
		}
		// A protocol's packets: cut what has come so far.
		oc.pend = append(oc.pend, p...)
		for len(oc.pend) > 0 {
			n, err := o.packets.Next(oc.pend)
			if err != nil || n > len(oc.pend) {
				return nil, fail("open_packet_error")
			}
			if n == 0 {
				break
			}
			oc.queue = append(oc.queue, oc.pend[:n:n])
			oc.pend = append([]byte(nil), oc.pend[n:]...)
		}
	}
}

// readKind names a failed read of the opening: the expect timed out (with
// other messages come meanwhile: a mismatch), or the connection ended.
func (o *opening) readKind(err error, sawOther bool) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout() && sawOther:
		return "open_mismatch"
	case errors.As(err, &ne) && ne.Timeout():
		return "open_timeout"
	}
	return "open_" + readErrorKind(err).Error()
}

// fail keeps m as the run's first opening failure.
func (o *opening) fail(err error) string {
	var eo *errOpen
	if !errors.As(err, &eo) {
		return "open_error"
	}
	if eo.m != nil {
		o.first.CompareAndSwap(nil, eo.m)
	}
	return eo.kind
}

// matchRule is the first of rules that matches p (nil: none).
func matchRule(rules []flow.Rule, p []byte) *flow.Rule {
	for i := range rules {
		if rules[i].When.Matches(p) {
			return &rules[i]
		}
	}
	return nil
}

// clip is a copy of p's first excerptLen bytes.
func clip(p []byte) []byte {
	if p == nil {
		return nil
	}
	return append([]byte{}, p[:min(len(p), excerptLen)]...)
}

// serverFrame is p as an unmasked binary frame, as a server sends it: the
// protocol packets an opening read past its last expected one go to the
// event loop in front of the connection's carry, which cuts them again.
func serverFrame(p []byte) []byte {
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(len(p))}
	buf := make([]byte, wire.MaxHeaderSize+len(p))
	hn := wire.PutHeader(buf, h)
	return buf[:hn+copy(buf[hn:], p)]
}

// writeFrame writes p as one masked frame of opcode op, in one write.
func writeFrame(w io.Writer, op ws.OpCode, p []byte, mask [4]byte) error {
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Length: int64(len(p)), Mask: mask}
	buf := make([]byte, wire.MaxHeaderSize+len(p))
	hn := wire.PutHeader(buf, h)
	copy(buf[hn:], p)
	ws.Cipher(buf[hn:hn+len(p)], h.Mask, 0)
	_, err := w.Write(buf[:hn+len(p)])
	return err
}

// dataRow is the variables of each slot's templates: row slot mod len of
// the scenario's data file (nil: none).
func dataRow(c *scenario.Compiled) func(slot int) [][]byte {
	data := c.Data
	return func(slot int) [][]byte {
		if len(data) == 0 {
			return nil
		}
		return data[slot%len(data)]
	}
}

// nameCount is how many template variables c's run has.
func nameCount(c *scenario.Compiled) int {
	if c.Names == nil {
		return 0
	}
	return len(c.Names.List())
}
