//go:build linux

package driver

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/internal/heap"
	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/scenario"
)

// flowLoad is --kind flow: every connection runs a scripted flow
// (scenario steps, compiled into a flow.Script) in a flow.Session, the
// sans-IO interpreter. The loop feeds each session what arrives (data
// messages, pongs) and its timers, from a heap of deadlines the flow pacer
// drains each pass (so a ticking loop wakes for a deadline too); the
// session's actions go on the wire (send: a masked frame through the
// outbox, ping, close 1000) or into the metrics: a named step done records
// its latency in the step's histogram, a step failed counts in the step's
// errors by kind.
//
// Sessions run on long-lived connections, each looping its steps for the
// whole run (a script that ends starts again at once, on the next pass),
// or, with a session rate (run.flowOnce), on a connection of their own
// that the staged planner opens at the session's arrival time and that
// closes when the steps end.
//
// Counting: every send in the measured window is Sent, and is settled by
// the step after it: answered (Received) when the expect after it is done,
// TimedOut when it times out, Failed when it matched a message a capture
// could not read, lost when the connection dies, in flight when the run
// ends first, and NoReply when what follows waits for no reply (a think,
// a receive, a ping, a close, the script's end). So Sent = Received +
// TimedOut + Failed + Lost + InFlight + NoReply. A message no step took is
// the protocol's rules' (answered or silenced), else its stream's, else
// unsolicited.
type flowLoad struct {
	w      *worker
	script *flow.Script
	steps  []int // per Script.StepNames: the shard's step index
	acts   []flow.Action
	// timers holds connections by when they need the loop: at most one
	// entry each, its earliest (flowConn.queued). A session's next
	// deadline is almost always later than the last, so the entry is left
	// where it is and, when it comes due, pushed on to the deadline of the
	// moment: the heap holds a connection per waiting session, not one
	// per deadline it ever had.
	timers heap.Heap[*conn]
	// unmatched is the start of the last message no step took while one
	// waited (unmatchedLen its length, unmatchedOp its opcode), for the
	// run's failure line.
	unmatched    []byte
	unmatchedLen int
	unmatchedOp  ws.OpCode
	// off is Unix time minus run time, fixed as the loop's flows begin:
	// sessions keep Unix time ({{now_ns}}, their deadlines), the loop its
	// run time.
	off int64
}

// wall is run time t as a session's Unix time.
func (f *flowLoad) wall(t int64) int64 {
	if f.off == 0 {
		f.off = time.Now().UnixNano() - f.w.now()
	}
	return t + f.off
}

// run is a session's Unix time t (0: none) as run time.
func (f *flowLoad) run(t int64) int64 {
	if t == 0 {
		return 0
	}
	return t - f.off
}

// flowConn is one connection's flow: its session and the deadline it is
// on the timer heap for.
type flowConn struct {
	sess     flow.Session
	deadline int64 // when the session (or its restart) needs the loop (0: never)
	queued   int64 // its entry on the timer heap is for this time (0: none)
	restart  bool  // the deadline is a restart of the script, not the session's
	closed   bool  // the script closed the connection, or it ended at a session rate
}

func newFlow(w *worker) workload {
	f := &flowLoad{w: w, script: w.run.script}
	for _, name := range f.script.StepNames {
		f.steps = append(f.steps, w.shard.Step(name))
	}
	return f
}

// adopt gives c its session; it starts when the loop begins (or the
// connection joins a running loop).
func (f *flowLoad) adopt(c *conn) {
	c.flow = &flowConn{}
	f.init(c)
}

// init (re)sets c's session at the start of its script, with its data row.
func (f *flowLoad) init(c *conn) {
	var row [][]byte
	if data := f.w.run.flowData; len(data) > 0 {
		row = data[c.slot%len(data)]
	}
	if c.vars != nil {
		row = c.vars // rpc: its opening captured values (over its data row)
	}
	c.flow.sess.Init(f.script, uint64(c.slot), row)
}

// sends: every connection runs its flow (the flow pacer starts it).
func (f *flowLoad) sends(*conn) bool { return true }
func (f *flowLoad) stopped()         {}
func (f *flowLoad) arrived() bool    { return true }
func (f *flowLoad) missed() int64    { return 0 }

// start starts c's script, due at start.
func (f *flowLoad) start(c *conn, start, now int64) {
	if c.state != stateOpen || c.retiring || c.flow.closed {
		return
	}
	f.w.shard.Counts.Sessions++
	f.apply(c, c.flow.sess.Start(f.wall(start), f.wall(now), f.acts[:0]), now)
}

func (f *flowLoad) message(c *conn, op ws.OpCode, p []byte, wireLen int, rx, now int64) bool {
	fc := c.flow
	if op == ws.OpPong {
		f.apply(c, fc.sess.OnPong(f.wall(rx), f.acts[:0]), now)
		return false
	}
	if rx >= f.w.run.measureStart {
		f.w.shard.Counts.BytesReceived += int64(wireLen)
	}
	acts := fc.sess.OnMessage(p, f.wall(rx), f.acts[:0])
	if len(acts) > 0 {
		switch a := acts[0]; a.Kind {
		case flow.ActReceived:
			// What a receive step took is the stream's too when the
			// protocol has one (stream.go).
			f.w.streamMessage(c, p, wireLen, rx)
		case flow.ActUnmatched:
			f.unclaimed(c, op, p, wireLen, rx, a.Op >= 0)
		}
	}
	f.apply(c, acts, now)
	return false
}

// unclaimed handles a message no step took: the protocol's rules answer
// or silence it (a server's heartbeat), else its stream takes it, else it
// is unsolicited, and kept for the failure line when a step was waiting.
func (f *flowLoad) unclaimed(c *conn, op ws.OpCode, p []byte, wireLen int, rx int64, waiting bool) {
	w := f.w
	switch {
	case w.proto != nil && w.proto.rule(c, p):
	case w.streamMessage(c, p, wireLen, rx):
	default:
		if rx >= w.run.measureStart {
			w.shard.Counts.Unsolicited++
		}
		if waiting {
			f.unmatched = append(f.unmatched[:0], p[:min(len(p), excerptLen)]...)
			f.unmatchedLen, f.unmatchedOp = len(p), op
		}
	}
}

// dropped is told that c's connection died (worker.settle counted what it
// awaited as lost): its waiting step and the repeats around it fail as
// closed.
func (f *flowLoad) dropped(c *conn) {
	if c.flow != nil && !c.flow.sess.Ended() {
		f.apply(c, c.flow.sess.OnClosed(f.wall(f.w.now()), f.acts[:0]), f.w.now())
	}
}

// timer handles c's deadline, due by now.
func (f *flowLoad) timer(c *conn, now int64) {
	fc := c.flow
	if fc.restart {
		fc.restart = false
		f.init(c)
		f.start(c, fc.deadline, now)
		return
	}
	f.apply(c, fc.sess.OnTimer(f.wall(now), f.acts[:0]), now)
}

// apply carries out a session's actions on c.
func (f *flowLoad) apply(c *conn, acts []flow.Action, now int64) {
	w, fc := f.w, c.flow
	f.acts = acts[:0] // keep the grown slice
	for i := range acts {
		a := &acts[i]
		switch a.Kind {
		case flow.ActSend:
			if w.phase != phaseSending || c.state != stateOpen || c.retiring {
				// Sending has stopped: the script stops here (its steps
				// waiting are stopped, not failed).
				f.stop(c, now)
				return
			}
			f.send(c, a)
		case flow.ActPing:
			if w.phase == phaseSending && c.state == stateOpen {
				w.sendControl(c, ws.OpPing, nil)
			}
		case flow.ActClose:
			fc.closed = true
		case flow.ActStart:
			if k := f.script.Ops[a.Op].Kind; k != flow.StepSend && k != flow.StepExpect {
				f.settle(c, settleNoReply)
			}
		case flow.ActDone:
			op := &f.script.Ops[a.Op]
			if op.Kind == flow.StepExpect {
				f.settle(c, settleAnswered)
			}
			if k := op.Kind; (k == flow.StepExpect || k == flow.StepPing || k == flow.StepReceive && a.Count > 0) && f.run(a.At) >= w.run.measureStart {
				w.shard.Counts.Awaited++
			}
			if op.Metric >= 0 && f.run(a.At) >= w.run.measureStart {
				w.shard.RecordStep(f.steps[op.Metric], durationNs(a.Latency))
			}
		case flow.ActFailed:
			f.failed(c, a)
		case flow.ActEnd:
			f.ended(c, a, now)
		}
	}
	f.arm(c)
}

// failed accounts for a step that failed: the sends an expect awaited
// timed out, failed (a mismatch) or were lost (the connection closed), or
// are still in flight (the run stopped); a named step counts the failure
// by kind, and a timeout or a mismatch is an error of the run (a closed
// connection's error is counted where it closed).
func (f *flowLoad) failed(c *conn, a *flow.Action) {
	w := f.w
	if a.Err == flow.ErrStopped {
		return // the run's end: its sends are in flight, settled as the connection closes
	}
	op := &f.script.Ops[a.Op]
	if op.Kind == flow.StepExpect {
		switch a.Err {
		case flow.ErrTimeout:
			f.settle(c, settleTimedOut)
			if w.run.flowMiss.Load() == nil {
				f.timedOut(op)
			}
		case flow.ErrMismatch:
			f.settle(c, settleFailed)
		default:
			f.settle(c, settleLost)
		}
	}
	if f.run(a.At) < w.run.measureStart {
		return
	}
	if op.Metric >= 0 {
		w.shard.StepError(f.steps[op.Metric], a.Err.String())
	}
	switch a.Err {
	case flow.ErrTimeout:
		w.shard.Error("step_timeout")
	case flow.ErrMismatch:
		w.shard.Error("step_mismatch")
	}
}

// timedOut keeps, the first time in the run, the expect step op that timed
// out and the last message the loop did not match (none: nothing came).
func (f *flowLoad) timedOut(op *flow.Op) {
	m := &Mismatch{Kind: "step_timeout", Sent: []byte(op.Match.Src), SentLen: len(op.Match.Src), SentOp: "expect " + op.Key}
	if op.Metric >= 0 {
		m.SentOp = "expect " + f.script.StepNames[op.Metric]
	}
	if f.unmatched != nil {
		m.Got, m.GotLen, m.GotOp = append([]byte(nil), f.unmatched...), f.unmatchedLen, wire.OpName(f.unmatchedOp)
	}
	f.w.run.flowMiss.CompareAndSwap(nil, m)
}

// ended handles the end of c's script: it closed the connection, or ran
// to its end (or failed) and starts again on a long-lived connection, or
// closes it at a session rate.
func (f *flowLoad) ended(c *conn, a *flow.Action, now int64) {
	w, fc := f.w, c.flow
	switch a.Err {
	case flow.ErrStopped, flow.ErrClosed:
		if a.Err == flow.ErrClosed {
			w.shard.Counts.SessionsFailed++
		}
		return
	case flow.ErrNone:
	default:
		w.shard.Counts.SessionsFailed++
	}
	f.settle(c, settleNoReply)
	if fc.closed || w.run.flowOnce {
		fc.closed = true
		f.close(c, now)
		return
	}
	if w.phase == phaseSending && c.state == stateOpen && !c.retiring {
		// Again, from where it ended; on the next pass, so a script that
		// waits for nothing cannot hold the loop.
		fc.restart = true
		f.schedule(c, now)
	}
}

// stop stops c's script as the run stops sending.
func (f *flowLoad) stop(c *conn, now int64) {
	c.flow.sess.Stop(f.wall(now), f.acts[:0])
	f.acts = f.acts[:0]
	c.flow.deadline = 0
}

// close closes c with 1000 once its script is over: through the staged
// run's retiring (a session rate), else at once.
func (f *flowLoad) close(c *conn, now int64) {
	w := f.w
	if c.state != stateOpen {
		return
	}
	if w.staged != nil {
		w.staged.retire(w, c, now)
		return
	}
	w.settle(c, false)
	w.sendClose(c, ws.StatusNormalClosure)
	c.state = stateClosing
}

// send puts a session's message on the wire: one masked frame, text or
// binary as the protocol says, counted if it is due in the measured
// window.
func (f *flowLoad) send(c *conn, a *flow.Action) {
	w := f.w
	n, _ := w.sendMessage(c, w.run.op, a.Data)
	if f.run(a.At) >= w.run.measureStart {
		if c.firstMeasured == noSeq {
			c.firstMeasured = c.nextSeq
		}
		w.shard.Counts.Sent++
		w.shard.Counts.BytesSent += int64(n)
	}
	c.nextSeq++
	w.outstanding++
}

// How the sends a step settles ended.
const (
	settleAnswered = iota
	settleTimedOut
	settleFailed
	settleLost
	settleNoReply
)

// settle counts c's sends not yet settled (measured ones) as how says.
func (f *flowLoad) settle(c *conn, how int) {
	if c.expected == c.nextSeq || c.settled {
		return
	}
	w := f.w
	n := c.measuredIn(c.expected, c.nextSeq)
	switch how {
	case settleAnswered:
		w.shard.Counts.Received += n
	case settleTimedOut:
		w.shard.Counts.TimedOut += n
	case settleFailed:
		w.shard.Counts.Failed += n
	case settleLost:
		w.shard.Counts.Lost += n
	case settleNoReply:
		w.shard.Counts.NoReply += n
	}
	w.outstanding -= c.outstanding()
	c.expected = c.nextSeq
}

// arm takes c's session deadline after a call into the session.
func (f *flowLoad) arm(c *conn) {
	if !c.flow.restart {
		f.schedule(c, f.run(c.flow.sess.Deadline()))
	}
}

// schedule sets when c needs the loop (0: never), on the timer heap unless
// an earlier entry of c's is there already.
func (f *flowLoad) schedule(c *conn, at int64) {
	fc := c.flow
	fc.deadline = at
	if at != 0 && (fc.queued == 0 || at < fc.queued) {
		f.timers.Push(at, c)
		fc.queued = at
	}
}

// flowPacer is the flow's pacer: it starts each connection's script as
// the loop begins (or as the connection joins) and, each pass, hands the
// sessions their timers that are due, at most sendBudget of them.
type flowPacer struct {
	w    *worker
	load *flowLoad
}

func (p *flowPacer) begin() {
	now := p.w.now()
	for _, c := range p.w.conns {
		p.load.start(c, p.arrival(c, now), now)
	}
}

func (p *flowPacer) joined(c *conn, now int64) { p.load.start(c, p.arrival(c, now), now) }

// arrival is when c's script is due to start: at a session rate, its
// session's arrival on the schedule (so the first step's latency holds
// what opening its connection took: a server slow to accept shows, as in
// any open model); on a long-lived connection, now.
func (p *flowPacer) arrival(c *conn, now int64) int64 {
	if r := p.w.run; r.flowOnce && r.sessionRate > 0 {
		return min(int64(float64(c.slot)/r.sessionRate*float64(time.Second)), now)
	}
	return now
}

func (p *flowPacer) due(now int64) int64 {
	t := &p.load.timers
	for n := 0; t.Len() > 0; {
		at := t.TopKey()
		if at > now {
			return at - now
		}
		if n == sendBudget {
			return 0
		}
		c := t.Pop()
		fc := c.flow
		if fc.queued == at {
			fc.queued = 0
		}
		switch {
		case c.state != stateOpen || c.retiring || fc.deadline == 0:
			continue // the connection closed, or its session waits for no time
		case fc.deadline > now:
			p.load.schedule(c, fc.deadline) // moved on since: its entry goes on to its deadline
			continue
		}
		n++
		p.load.timer(c, now)
		now = p.w.now()
	}
	return -1
}

func (p *flowPacer) replied(*conn, int64) {}
func (p *flowPacer) sendBefore(int64)     {}
func (p *flowPacer) behind(int64) bool    { return false }
func (p *flowPacer) unsent()              {}
func (p *flowPacer) lagged() bool         { return false }

// durationNs is ns as a time.Duration, never negative.
func durationNs(ns int64) time.Duration { return time.Duration(max(ns, 0)) }

// sessionArrivals are the planner's opens of a session_rate run of total
// sessions (the whole run's, every process alike): session i's connection
// opens at i/SessionRate; none closes on the plan (each closes when its
// steps end).
func sessionArrivals(spec scenario.Spec, total int) []scenario.ConnEvent {
	evs := make([]scenario.ConnEvent, total)
	for i := range evs {
		evs[i] = scenario.ConnEvent{At: spec.SessionAt(i), Slot: i, Open: true}
	}
	return evs
}
