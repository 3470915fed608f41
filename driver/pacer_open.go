//go:build linux

package driver

import "time"

// openPacer is the open model (--rate): message k of schedule index i is
// due at run.sched.At(i, k), computed from the absolute index so it never
// drifts (Poisson arrivals: Schedule.Gap added to conn.exact), whether or
// not replies come. Each connection's next send waits on the loop's heap of
// due sends; --max-inflight holds a connection (conn.blocked) until
// replies come.
type openPacer struct {
	w    *worker
	heap dueHeap
}

func (p *openPacer) begin() {
	w := p.w
	stop := w.run.stopAt.Load()
	for _, c := range w.conns {
		if c.state == stateOpen && c.sched >= 0 && w.load.sends(c) {
			p.schedule(c, stop)
		}
	}
}

func (p *openPacer) due(now int64) int64 {
	w := p.w
	stop := w.run.stopAt.Load()
	for n := 0; ; {
		c, wait := p.heap.take(w, now, &n)
		if c == nil {
			return wait
		}
		w.send(c, c.due, now)
		p.schedule(c, stop)
		now = w.now()
	}
}

// schedule queues c's next send if it falls before the stop.
func (p *openPacer) schedule(c *conn, stop int64) {
	c.exact, c.due = p.w.run.nextDue(c.sched, c.nextSeq, c.exact)
	if c.due < stop {
		p.heap.push(c)
	}
}

// nextDue is when message seq of schedule index idx is due (ns since the
// origin), and its exact time in a Poisson schedule, which follows from the
// exact time of the message before it (exact; 0 before the first): At
// would add up every gap again. Every process of a split run (and every
// shard) computes it alike from the whole run's schedule.
func (r *run) nextDue(idx int, seq uint64, exact float64) (float64, int64) {
	if sc := r.sched; sc.Poisson {
		exact += sc.Gap(idx, seq)
		return exact, int64(sc.Quantize(exact))
	}
	return exact, int64(r.sched.At(idx, seq))
}

// replied puts a connection held by --max-inflight back on the heap.
func (p *openPacer) replied(c *conn, _ int64) {
	if c.blocked && c.outstanding() < p.w.run.maxInflight {
		c.blocked = false
		p.heap.push(c)
	}
}

// unsent counts the messages due inside the measured window but never
// sent: the harness or a capped connection fell behind, or the connection
// died.
func (p *openPacer) unsent() {
	w := p.w
	stop := time.Duration(w.run.stopAt.Load())
	from := time.Duration(w.run.measureStart)
	for _, c := range w.conns {
		if c.sched < 0 {
			continue
		}
		dueBy := w.run.sched.Index(c.sched, stop)
		first := max(c.nextSeq, w.run.sched.Index(c.sched, from))
		if dueBy > first {
			w.shard.Counts.Unsent += int64(dueBy - first)
		}
	}
}

// behind: the heap only ever holds sends due before the stop (see schedule).
func (p *openPacer) behind(int64) bool   { return p.heap.len() > 0 }
func (p *openPacer) joined(*conn, int64) {} // a run that opens connections mid-run is staged
func (p *openPacer) sendBefore(int64)    {}
func (p *openPacer) lagged() bool        { return true }
