//go:build linux

package driver

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/metrics"
)

// worker is one event loop: an epoll instance (and io_uring ring), the
// connections it owns, its metrics shard, its workload and its pacer. It
// moves bytes: sends what is queued, reads what is ready, hands whole
// messages to the workload (message) and asks the pacer what is due;
// it moves through the phases and takes the checkpoints. Nothing in it is
// shared with other goroutines except through run's atomics.
type worker struct {
	run   *run
	poll  *netpoll.Poller
	ring  *uring.Ring // nil: one read(2) or write(2) per operation
	conns []*conn
	byFD  []*conn
	shard *metrics.Shard
	rbuf  []byte

	load workload // what the connections do with their messages
	pace pacer    // when they send (nil until first use: see pacing)
	out  outbox   // frames built into the connections' send queues

	// zip compresses and decompresses messages when permessage-deflate is
	// on (nil: off); zWire is the wire size of the message being handled.
	zip   *deflater
	zWire int
	// in decodes what the servers send (clientcodec.go).
	in clientCodec

	ready    []*conn // connections epoll reported readable, read in one batch
	writable []*conn // connections that waited for their socket and may write again: queued to flush
	stats    LoopStats

	stamps rxStamps // receives with kernel timestamps
	// intervals receives a checkpoint of the shard at the start of the
	// measured window and at every interval boundary after it; nil: none.
	intervals    chan<- checkpoint
	nextInterval int64
	intervalIdx  int // -1 until the window's starting checkpoint is taken
	// passNow is when the current pass began (ns since origin).
	passNow int64

	// staged is the loop's part of a staged run (nil: not staged).
	staged *stagedState

	// rpc: the session layer (nil: no Protocol), and the workload's
	// optional parts (nil: it has none; see protocol_linux.go).
	proto   *protoLoop
	timed   timed
	sender  sender
	settler settler

	phase         int
	live          int    // connections not yet closed
	outstanding   uint64 // messages awaiting replies, over all live connections
	closeDeadline int64
}

func newWorker(r *run, shard *metrics.Shard, useRing bool) (*worker, error) {
	newPoller := netpoll.New
	if r.ticking {
		newPoller = netpoll.NewTicking
	}
	p, err := newPoller(512)
	if err != nil {
		return nil, err
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		p.Close()
		return nil, fmt.Errorf("seed mask generator: %w", err)
	}
	w := &worker{
		run:   r,
		poll:  p,
		shard: shard,
		rbuf:  make([]byte, readBufSize),
		out:   outbox{rng: rand.NewChaCha8(seed)},
	}
	w.load = newWorkload(w)
	// rpc: the session layer, and what the workload does its own way.
	w.proto = newProtoLoop(w)
	w.timed, _ = w.load.(timed)
	w.sender, _ = w.load.(sender)
	w.settler, _ = w.load.(settler)
	if r.deflate {
		w.zip = newDeflater()
	}
	w.in = clientCodec{maxMessage: r.maxMessage, zip: w.zip}
	if useRing {
		if w.ring, err = uring.New(ringEntries); err != nil {
			p.Close()
			return nil, err
		}
	}
	if r.rxStamps {
		n := 1
		if useRing {
			n = min(ringEntries, readBufSize/minReadSlot)
		}
		w.stamps = rxStamps{msgs: make([]unix.Msghdr, n), iovs: make([]unix.Iovec, n), ctl: make([]byte, n*ctlSize)}
	}
	return w, nil
}

// release frees the worker's kernel objects. Run calls it once every worker
// has returned: Run may still Wake the poller until then, and a closed
// eventfd's number could already belong to a new socket.
func (w *worker) release() {
	w.poll.Close()
	if w.ring != nil {
		w.ring.Close()
	}
}

// adopt takes a connected, upgraded socket. carry holds bytes the server sent
// right after its handshake response.
func (w *worker) adopt(fd, slot int, carry []byte) error { return w.adoptWith(fd, slot, carry, nil) }

// adoptWith is adopt of a connection whose opening captured vars, its
// template variables (rpc: the session layer; nil: its slot's data row).
func (w *worker) adoptWith(fd, slot int, carry []byte, vars [][]byte) error {
	c := &conn{fd: fd, slot: slot, sched: w.run.schedIndex(slot), pub: -1, firstMeasured: noSeq}
	c.carry, c.vars = carry, vars
	if w.run.stream != nil { // stream part
		w.startStream(c)
	}
	w.load.adopt(c)
	if w.proto != nil {
		w.proto.adopt(c) // rpc
	}
	if w.run.rxStamps {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fmt.Errorf("enable kernel receive timestamps: %w", err)
		}
	}
	if err := w.poll.Add(fd, netpoll.In|netpoll.RdHup); err != nil {
		return err
	}
	for fd >= len(w.byFD) {
		w.byFD = append(w.byFD, nil)
	}
	w.byFD[fd] = c
	w.conns = append(w.conns, c)
	w.live++
	return nil
}

// The read path: from the bytes a read returned to whole messages, handed
// to message; and the ends of a connection (settle, fail, closeFD).

// received handles the outcome of a read of n bytes into b, arrived at rx.
func (w *worker) received(c *conn, b []byte, n int, err error, rx int64) {
	if c.state == stateClosed {
		return
	}
	switch {
	case err != nil && errors.Is(err, unix.EAGAIN):
		return
	case err != nil:
		w.fail(c, errKindForSocket(err))
		return
	case n == 0:
		if c.state == stateClosing {
			w.shard.Error("close_no_reply")
			w.closeFD(c)
			return
		}
		w.fail(c, "unexpected_eof")
		return
	}
	if n == len(b) {
		w.stats.FullReads++
	}
	in := w.in.received(&c.readState, b, n)
	w.decode(c, &in, rx)
}

// consume handles the complete frames at the start of buf and keeps the rest
// in c.carry. inCarry says buf is c.carry itself.
func (w *worker) consume(c *conn, buf []byte, inCarry bool, rx int64) {
	in := frames{buf: buf, inCarry: inCarry}
	w.decode(c, &in, rx)
}

// decode acts on every event the client codec (clientcodec.go) finds in
// in, until it needs more bytes or c is closed.
func (w *worker) decode(c *conn, in *frames, rx int64) {
	for c.state != stateClosed {
		ev := w.in.next(&c.readState, in)
		switch ev.kind {
		case evMore:
			return
		case evMessage:
			w.zWire = ev.zWire
			if w.proto != nil && w.proto.p.Packets != nil {
				w.proto.cut(c, ev.op, ev.payload, ev.wireLen, rx) // rpc: the protocol's packets, each a message
				continue
			}
			w.message(c, ev.op, ev.payload, ev.wireLen, rx)
		case evPing:
			if c.state == stateOpen {
				w.sendControl(c, ws.OpPong, ev.payload)
			}
		case evPong:
			if w.run.op == ws.OpPing {
				w.message(c, ws.OpPing, ev.payload, ev.wireLen, rx)
			} else if w.run.script != nil { // flowrun: a flow's ping step
				w.message(c, ws.OpPong, ev.payload, ev.wireLen, rx)
			}
		case evClose:
			w.closeReceived(c, ev.code)
		case evViolation:
			w.violation(c, ev.code, ev.errKind)
		}
	}
}

// message hands a whole data message (or, in the ping workload, a pong)
// to the workload, and a reply c awaited to the pacer, which may send c's
// next message.
func (w *worker) message(c *conn, op ws.OpCode, p []byte, wireLen int, rx int64) {
	if c.settled {
		return
	}
	now := w.now()
	if !w.load.message(c, op, p, wireLen, rx, now) {
		return
	}
	w.answered(c, now)
}

// answered tells the pacer (or a retiring connection) that one of c's
// messages is done with: replied to, or (rpc) timed out.
func (w *worker) answered(c *conn, now int64) {
	if c.retiring {
		if c.outstanding() == 0 {
			w.staged.retireClose(w, c, now)
		}
		return
	}
	if w.phase != phaseSending || c.state != stateOpen {
		return
	}
	w.pacing().replied(c, now)
}

// closeReceived handles a close frame with status code (1005: none): the
// reply to ours, or the server closing.
func (w *worker) closeReceived(c *conn, code ws.StatusCode) {
	if c.state == stateClosing {
		w.closeFD(c)
		return
	}
	w.settle(c, true)
	w.shard.Error(fmt.Sprintf("close_%d", code))
	if code == ws.StatusNoStatusRcvd {
		w.sendControl(c, ws.OpClose, nil)
	} else {
		w.sendClose(c, code)
	}
	w.closeFD(c)
}

// violation closes c because the server broke the protocol.
func (w *worker) violation(c *conn, code ws.StatusCode, kind string) {
	w.settle(c, true)
	w.shard.Error(kind)
	if c.state == stateOpen {
		w.sendClose(c, code)
	}
	w.closeFD(c)
}

// fail closes c after a socket error or an unexpected end of stream.
func (w *worker) fail(c *conn, kind string) {
	w.settle(c, true)
	w.shard.Error(kind)
	w.closeFD(c)
}

// settle counts c's outstanding measured messages once: as lost when the
// connection died, as in flight when the run ended with them unanswered.
func (w *worker) settle(c *conn, lost bool) {
	if c.settled {
		return
	}
	c.settled = true
	n := c.measuredIn(c.expected, c.nextSeq)
	if w.settler != nil {
		n = w.settler.settle(c) // rpc: answered in any order
	}
	if lost {
		w.shard.Counts.ConnsDropped++
		w.shard.Counts.Lost += n
		if w.staged != nil {
			w.staged.dropped(w, c) // --reconnect: the planner reopens its slot
		}
	} else {
		w.shard.Counts.InFlight += n
	}
	w.outstanding -= c.outstanding()
	c.expected = c.nextSeq
	if f, ok := w.load.(*flowLoad); ok && lost { // flowrun: the flow's waiting step fails as closed
		f.dropped(c)
	}
}

func (w *worker) closeFD(c *conn) {
	if c.state == stateClosed {
		return
	}
	if len(c.pending) > 0 {
		// Last words, such as a close frame: one try, the socket closes anyway.
		netpoll.Write(c.fd, c.pending)
	}
	c.state = stateClosed
	unix.Close(c.fd)
	w.byFD[c.fd] = nil
	c.carry, c.frag, c.pending = nil, nil, nil
	w.live--
}

func errKindForSocket(err error) string {
	switch {
	case errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.EPIPE):
		return "connection_reset"
	case errors.Is(err, unix.ETIMEDOUT):
		return "timeout"
	default:
		return "socket_error"
	}
}
