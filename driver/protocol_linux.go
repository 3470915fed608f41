//go:build linux

package driver

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/internal/heap"
)

// The session layer in the event loop (rpc part): what every protocol
// kind (request, subscribe, flow) shares once a connection is open. Rules
// answer (or silence) what the server says on its own; Every sends a
// periodic message on every connection (heartbeats), from a due heap. The
// workloads send rendered templates through sendMessage and hand messages
// nothing else claimed to rule.

// protoLoop is an event loop's part of the session layer: nil when the
// run speaks no Protocol (the stamp workloads).
type protoLoop struct {
	w  *worker
	p  *flow.Protocol
	op ws.OpCode
	// every holds each open connection's next periodic send (Protocol.Every).
	every   heap.Heap[everyDue]
	started bool // the periodic sends of the connections adopted so far are on the heap
	vals    flow.Values
	buf     []byte
}

// everyDue is connection c's next send of periodic message i.
type everyDue struct {
	c *conn
	i int
}

func newProtoLoop(w *worker) *protoLoop {
	p := w.run.proto
	if p == nil {
		return nil
	}
	return &protoLoop{w: w, p: p, op: w.run.op}
}

// adopt starts c's periodic sends, if the loop has started them for the
// others (a staged run's connection opening mid-run).
func (s *protoLoop) adopt(c *conn) {
	if s.started {
		now := s.w.now()
		for i, e := range s.p.Every {
			s.every.Push(now+int64(e.Every), everyDue{c, i})
		}
	}
}

// timers makes the periodic sends due by now and returns how long until
// the next (-1: none). The first call starts every connection's.
func (s *protoLoop) timers(now int64) int64 {
	if len(s.p.Every) == 0 {
		return -1
	}
	if !s.started {
		s.started = true
		for _, c := range s.w.conns {
			for i, e := range s.p.Every {
				s.every.Push(now+int64(e.Every), everyDue{c, i})
			}
		}
	}
	for s.every.Len() > 0 {
		due := s.every.TopKey()
		if due > now {
			return due - now
		}
		d := s.every.Pop()
		if d.c.state != stateOpen || d.c.settled {
			continue // closed: its periodic sends end
		}
		s.send(d.c, s.p.Every[d.i].Send, 0)
		// From the due time, so the period does not drift with the loop's lateness.
		s.every.Push(max(due+int64(s.p.Every[d.i].Every), now), d)
	}
	return -1
}

// cut hands each whole packet of the protocol (Protocol.Packets: an MQTT
// packet may span messages, and a message hold several) in p, after what c
// kept of an earlier message, to worker.message as a message of its own,
// and keeps the start of an unfinished one. The message's wire length goes
// with its first packet. Bytes that cannot start a packet are counted
// (packet_error) and dropped with the rest of the message.
func (s *protoLoop) cut(c *conn, op ws.OpCode, p []byte, wireLen int, rx int64) {
	w := s.w
	buf := p
	if len(c.pkt) > 0 {
		c.pkt = append(c.pkt, p...)
		buf = c.pkt
	}
	for len(buf) > 0 && c.state != stateClosed {
		n, err := s.p.Packets.Next(buf)
		if err != nil || n > len(buf) {
			w.shard.Error("packet_error")
			buf = nil
			break
		}
		if n == 0 {
			break
		}
		w.message(c, op, buf[:n], wireLen, rx)
		wireLen, buf = 0, buf[n:]
	}
	switch {
	case len(buf) == 0:
		c.pkt = c.pkt[:0]
	case len(c.pkt) > 0:
		c.pkt = c.pkt[:copy(c.pkt, buf)] // buf is c.pkt's tail
	default:
		c.pkt = append(c.pkt[:0], buf...)
	}
}

// rule answers (or silences) p with the first rule that matches it, and
// reports whether one did.
func (s *protoLoop) rule(c *conn, p []byte) bool {
	r := matchRule(s.p.Rules, p)
	if r == nil {
		return false
	}
	if r.Reply != nil && c.state == stateOpen {
		s.send(c, r.Reply, 0)
	}
	return true
}

// send renders t for c (id: {{id}}) and queues it, unmeasured: the
// protocol's own traffic.
func (s *protoLoop) send(c *conn, t *flow.Template, id uint64) {
	w := s.w
	s.vals = flow.Values{Conn: uint64(c.slot), Seq: c.nextSeq, ID: id, Now: w.wallNow(w.now()), Vars: w.vars(c)}
	s.buf = t.Append(s.buf[:0], &s.vals)
	w.sendMessage(c, s.op, s.buf)
}

// sendMessage queues p as one data message of opcode op on c (compressed
// when permessage-deflate is on) and returns its bytes on the wire and,
// compressed, its compressed length.
func (w *worker) sendMessage(c *conn, op ws.OpCode, p []byte) (wireLen, zLen int) {
	if c.state == stateClosed {
		return 0, 0
	}
	if w.zip != nil {
		z := w.zip.compress(p)
		return w.out.frames(c, op, z, 1, true), len(z)
	}
	return w.out.frames(c, op, p, 1, false), 0
}

// vars are the values of c's template variables: what its opening
// captured, or its slot's data row.
func (w *worker) vars(c *conn) [][]byte {
	if c.vars != nil {
		return c.vars
	}
	return w.run.vars(c.slot)
}

// wallNow is the Unix time, ns, of run time now (for {{now_ns}}): the
// offset the pass took from the wall clock.
func (w *worker) wallNow(now int64) int64 {
	if w.stamps.wallOffset == 0 {
		return time.Now().UnixNano()
	}
	return now + w.stamps.wallOffset
}

// timers runs the loop's timers due by now (the session layer's periodic
// sends, the workload's own: request timeouts) and returns how long until
// the next (-1: none).
func (w *worker) timers(now int64) int64 {
	wait := int64(-1)
	if w.proto != nil {
		wait = w.proto.timers(now)
	}
	if w.timed != nil {
		if d := w.timed.timers(now); d >= 0 && (wait < 0 || d < wait) {
			wait = d
		}
	}
	return wait
}

// Optional parts of a workload (rpc part), looked up once per loop
// (newWorker): a workload implements them when the stamp codec's way does
// not fit it.
type (
	// timed workloads have timers of their own (request timeouts): the
	// loop calls timers each pass, in every phase, and wakes for the next.
	timed interface{ timers(now int64) int64 }
	// sender workloads make their own sends (request: a rendered
	// template, its timing kept in a table, not in the payload); the
	// pacers call worker.send, which hands them over.
	sender interface {
		send(c *conn, intended, now int64)
	}
	// settler workloads whose replies come in any order count c's
	// unanswered measured messages themselves (worker.settle), forgetting
	// them; conn.expected still counts the answered, so that
	// conn.outstanding is the number in flight.
	settler interface{ settle(c *conn) int64 }
)
