//go:build linux

package driver

// closedPacer is the closed model (no --rate): each connection sends its
// first message as the loop begins and every next one when the reply to
// the last arrives, measured from that moment; with --think the next send
// is due that long after the reply, on a heap of due sends.
type closedPacer struct {
	w    *worker
	heap dueHeap // --think: connections thinking before their next send
}

func (p *closedPacer) begin() {
	w := p.w
	now := w.now()
	for _, c := range w.conns {
		if c.state == stateOpen && w.load.sends(c) {
			w.send(c, now, now)
		}
	}
}

func (p *closedPacer) replied(c *conn, now int64) {
	w := p.w
	switch next := now + w.run.think; {
	case next >= w.run.stopAt.Load():
	case w.run.think == 0:
		w.send(c, now, now)
	default:
		// Think, then send: the send is due at the end of the thinking,
		// and measured from there.
		c.due = next
		p.heap.push(c)
	}
}

// joined starts a connection that opened mid-run at once. With --think
// it does not start: it would wait for a reply to nothing, so it sends
// nothing (as a staged run always did).
func (p *closedPacer) joined(c *conn, now int64) {
	if p.w.run.think == 0 {
		p.w.send(c, now, now)
	}
}

func (p *closedPacer) due(now int64) int64 {
	w := p.w
	if w.run.think == 0 {
		return -1
	}
	// A connection held by --max-inflight is never released here: the
	// closed model has one message out.
	for n := 0; ; {
		c, wait := p.heap.take(w, now, &n)
		if c == nil {
			return wait
		}
		w.send(c, c.due, now)
		now = w.now()
	}
}

// behind: the heap only ever holds sends due before the stop.
func (p *closedPacer) behind(int64) bool { return p.heap.len() > 0 }
func (p *closedPacer) sendBefore(int64)  {}
func (p *closedPacer) unsent()           {} // the closed model has no schedule to fall behind
func (p *closedPacer) lagged() bool      { return p.w.run.think > 0 }
