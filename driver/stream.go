//go:build linux

package driver

import (
	"math"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
)

// This file is the stream accounting every protocol kind shares (the
// stream part): the server's pushed messages, matched by the run's
// flow.Stream, counted per connection with their gaps, their place in the
// stream's sequence and their one-way delivery latency. The subscribe
// workload hands it every message; the request workload hands it the
// messages no request claimed (after the protocol's rules), through
// worker.streamMessage.

// startStream starts c's stream state as c subscribes (worker.adopt does it
// for every connection of a run with a stream): a connection opened before
// the clock started counts its first gap from the clock's start (its
// subscription went out before it), a later one (a staged run's) from its
// adoption.
func (w *worker) startStream(c *conn) {
	r := w.run
	var at int64
	if !r.origin.IsZero() {
		at = w.now()
	}
	c.stream = new(flow.StreamConn)
	c.stream.Start(at, r.streamWindow)
}

// streamMessage accounts for data message p (wireLen bytes on the wire)
// arriving on c at rx as a message of the run's stream, and reports
// whether it was one (false: the run has no stream, or p does not match
// it; the caller counts it as its own: unsolicited, other). A stream
// message is never a reply: nothing for the pacer.
//
// It is the hook of the request workload (rpc part) for messages no
// request claimed: call it after the protocol's rules, with the message's
// arrival time. It allocates nothing.
func (w *worker) streamMessage(c *conn, p []byte, wireLen int, rx int64) bool {
	st := w.run.stream
	if st == nil {
		return false
	}
	if c.stream == nil {
		w.startStream(c)
	}
	a := st.Account(c.stream, p, rx, rx+w.stamps.wallOffset)
	if !a.Stream {
		return false
	}
	if !a.Measured || rx > w.run.stopAt.Load() {
		// Warm-up, or after the window's end (a stream has no grace: the
		// rate is over the window): its place in the sequence is kept.
		return true
	}
	cn := &w.shard.Counts
	if a.Dup {
		cn.StreamDups++
		return true
	}
	cn.Stream++
	cn.BytesReceived += int64(wireLen)
	if w.zip != nil {
		cn.DeflateRawReceived += int64(len(p))
		cn.DeflateWireReceived += int64(w.zWire)
	}
	cn.StreamGaps += int64(a.Skipped)
	if a.Late {
		cn.StreamLate++
		if !a.Before {
			cn.StreamGaps-- // counted missing when skipped; it came after all
		}
	}
	if a.BadSeq {
		w.shard.Error("stream_seq_unreadable")
	}
	if a.BadSent {
		w.shard.Error("stream_sent_unreadable")
	}
	w.shard.Record(metrics.Gap, time.Duration(a.Gap))
	if a.Stall {
		cn.StreamStalls++
	}
	if a.HasLatency {
		if a.Early {
			cn.StreamEarly++ // sent after it arrived: two clocks
		}
		w.shard.Record(metrics.Delivery, time.Duration(a.Latency))
	}
	return true
}

// stream is streamMessage in the form the request workload (rpc part)
// calls it, for a message no request claimed and no rule answered: whether
// the run's stream took p, which arrived on c at rx. (The message's wire
// length is taken as its payload's.)
func (w *worker) stream(c *conn, _ ws.OpCode, p []byte, rx, _ int64) bool {
	return w.streamMessage(c, p, len(p), rx)
}

// streamOther counts a message of a subscribe run that was not the
// stream's (arrived at rx inside the measured window) and keeps, the first
// time in the run, an excerpt of it for the line that says no stream
// message arrived.
func (w *worker) streamOther(c *conn, op ws.OpCode, p []byte, rx int64) {
	if rx >= w.run.streamWindow {
		w.shard.Counts.StreamOther++
	}
	r := w.run
	if r.streamOther.Load() != nil {
		return
	}
	m := &Mismatch{Reason: StopNoStream, Kind: "stream_other",
		Got: append([]byte(nil), p[:min(len(p), excerptLen)]...), GotLen: len(p), GotOp: wire.OpName(op)}
	r.streamOther.CompareAndSwap(nil, m)
}

// streamWindow is when a stream's measured window opens: the warm-up's
// end, or with no warm-up the subscription (messages that arrived as the
// connections opened, before the clock started, count too).
func streamWindow(warmup time.Duration) int64 {
	if warmup > 0 {
		return int64(warmup)
	}
	return math.MinInt64
}
