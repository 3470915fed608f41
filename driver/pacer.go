//go:build linux

package driver

// pacer says when the connections of one event loop send: the loop calls
// it each pass to make the sends that are due, and the workload's replies
// go through it. One file each: pacer_closed.go (send on reply, after
// --think), pacer_open.go (the open model's schedule on a heap of due
// sends), pacer_staged.go (a staged run's message sequence).
type pacer interface {
	// begin makes the first sends, as the loop starts.
	begin()
	// due makes the sends due by now, at most sendBudget of them, and
	// returns how long until the next (0: more are due already; -1: none
	// pending). The loop calls it only while sending.
	due(now int64) int64
	// replied is told that a reply to one of c's messages came in while
	// the loop is sending and c is open.
	replied(c *conn, now int64)
	// joined is told that c, which sends (workload.sends), opened while
	// the run goes on (a staged run's planner).
	joined(c *conn, now int64)
	// sendBefore makes the sends due before t (and before the stop) now: a
	// stage owns the messages due in it, however late the loop is.
	sendBefore(t int64)
	// behind reports whether sends due before stop are still to be made:
	// then sending goes on, up to catchUp past the stop.
	behind(stop int64) bool
	// unsent counts, once sending stops, the sends that fell due in the
	// measured window but were never made.
	unsent()
	// lagged reports whether sends have an intended time of their own, so
	// their send lag is recorded.
	lagged() bool
}

// newPacer is the pacer of loop w's run: the open model's (staged or not),
// or the closed model's.
func newPacer(w *worker) pacer {
	switch {
	case w.run.script != nil: // flowrun: a flow paces itself
		return &flowPacer{w: w, load: w.load.(*flowLoad)}
	case w.run.open && w.staged != nil:
		return &stagedPacer{w: w}
	case w.run.open:
		return &openPacer{w: w}
	}
	return &closedPacer{w: w}
}

// pacing is the loop's pacer, chosen on first use: by then the run and
// the loop (its staged part) are set up.
func (w *worker) pacing() pacer {
	if w.pace == nil {
		w.pace = newPacer(w)
	}
	return w.pace
}
