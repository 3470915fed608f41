//go:build linux

package driver

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
)

// echo is the default workload (--kind echo): every connection sends data
// messages and the server sends each back unchanged. A reply is matched to
// its message by the stamp it carries (codec.get), in order on its
// connection, and timed from the message's intended send time.
type echo struct {
	w *worker
	// echoed: this loop has told the run's verdict that it saw a matched echo.
	echoed bool
}

func newEcho(w *worker) workload { return &echo{w: w} }

func (e *echo) adopt(*conn)      {}
func (e *echo) sends(*conn) bool { return true }
func (e *echo) stopped()         {}
func (e *echo) arrived() bool    { return true }
func (e *echo) missed() int64    { return 0 }

func (e *echo) message(c *conn, op ws.OpCode, p []byte, wireLen int, rx, now int64) bool {
	s, stampOK, ok := e.w.run.codec.get(p, c.slot)
	return e.reply(c, op, p, wireLen, rx, now, s, stampOK, ok)
}

// reply accounts for a message that should be the echo of one of c's: s is
// its stamp, stampOK whether it had one, ok whether the rest of it is what
// was sent. It reports whether it was a reply c awaited.
func (e *echo) reply(c *conn, op ws.OpCode, p []byte, wireLen int, rx, now int64, s stamp, stampOK, ok bool) bool {
	w := e.w
	if !stampOK || op != w.run.op || s.seq < c.expected || s.seq >= c.nextSeq {
		w.shard.Error("echo_mismatch")
		if !stampOK || op != w.run.op {
			e.notEcho(c, op, p)
		}
		return false
	}
	if s.seq > c.expected {
		w.shard.Counts.Lost += c.measuredIn(c.expected, s.seq)
		w.shard.ErrorN("echo_skipped", int64(s.seq-c.expected))
	}
	w.outstanding -= s.seq + 1 - c.expected
	c.expected = s.seq + 1
	measured := s.seq >= c.firstMeasured
	switch {
	case !ok:
		w.shard.Error("echo_mismatch")
		e.notEcho(c, op, p)
		if measured {
			w.shard.Counts.Lost++
		}
	case measured:
		// An echo cannot arrive before it was sent: a stamp that says so
		// (a wall-clock step mid-pass) falls back to the read time.
		if rx < s.sent {
			rx = now
		}
		w.shard.Counts.Received++
		w.shard.Counts.BytesReceived += int64(wireLen)
		if w.zip != nil {
			w.shard.Counts.DeflateRawReceived += int64(len(p))
			w.shard.Counts.DeflateWireReceived += int64(w.zWire)
		}
		w.shard.Record(metrics.RTT, time.Duration(rx-s.intended))
		w.shard.Record(metrics.RTTUncorrected, time.Duration(rx-s.sent))
		if w.stamps.on() {
			w.shard.Record(metrics.ReadLag, time.Duration(max(now-rx, 0)))
		}
	}
	if ok {
		e.sawEcho()
	}
	return true
}

// sawEcho tells the run, once per loop, that a reply matched its message.
func (e *echo) sawEcho() {
	if !e.echoed {
		e.echoed = true
		e.w.run.verdict.echoes.Add(1)
		signal(e.w.run.verdict.firstEcho)
	}
}

// notEcho keeps, the first time in the run, what c received instead of the
// echo of its message c.expected: an excerpt of each, for the line that
// says the server does not echo.
func (e *echo) notEcho(c *conn, op ws.OpCode, p []byte) {
	r := e.w.run
	v := &r.verdict
	if v.first.Load() != nil {
		return
	}
	cd := r.codec
	st := stamp{seq: c.expected, pub: uint32(max(c.pub, 0)), conn: uint32(c.slot)}
	size := cd.size
	if cd.tmpl != nil {
		size = cd.renderLen(st)
	}
	sent := make([]byte, size)
	cd.put(sent, st)
	m := &Mismatch{Kind: "echo_mismatch", Sent: sent[:min(size, excerptLen)], SentLen: size,
		Got: append([]byte(nil), p[:min(len(p), excerptLen)]...), GotLen: len(p), SentOp: wire.OpName(r.op), GotOp: wire.OpName(op)}
	if v.first.CompareAndSwap(nil, m) {
		signal(v.firstMismatch)
	}
}
