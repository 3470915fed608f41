//go:build linux

package driver

import (
	"math"
	"time"
)

// stagedPacer is the open model of a staged run (and of --reconnect): every
// loop walks one message sequence. Message n of the whole run is due when
// the integral of the plan's rate R(t) reaches n (or at the n-th point of a
// Poisson process of intensity R), and goes to slot n mod ⌊C(t)⌋ at that
// moment, so the active connections take turns. Each loop sends the
// messages of the slots it owns (stagedState.owns), so no loop waits for
// another and a run split over processes sends exactly what one would. A
// message whose slot has no open connection (not open yet, failed,
// retiring, or at --max-inflight) counts as unsent.
type stagedPacer struct {
	w *worker
	// The next message, its value of the rate's integral, and its due
	// time, exact and quantized (math.MaxInt64: none).
	seq   uint64
	x     float64
	exact float64
	at    int64
}

// begin finds the sequence's first message; the sequence drives every
// send, so none is made here.
func (p *stagedPacer) begin() { p.advance() }

// advance moves the message sequence to its next message.
func (p *stagedPacer) advance() {
	r := p.w.run
	if r.sched.Poisson {
		p.x += r.sched.Exp(0, p.seq)
	} else {
		p.x = float64(p.seq)
	}
	p.exact = r.plan.MessageTime(p.x)
	if math.IsInf(p.exact, 1) {
		p.at = math.MaxInt64
		return
	}
	p.at = int64(r.sched.Quantize(p.exact))
}

func (p *stagedPacer) due(now int64) int64 {
	w := p.w
	stop := w.run.stopAt.Load()
	for n := 0; ; n++ {
		if p.at >= stop {
			return -1
		}
		if p.at > now {
			return p.at - now
		}
		if n == sendBudget {
			return 0
		}
		p.take(true, now)
		now = w.now()
	}
}

// take makes (send) or counts as unsent the sequence's current message, if
// this loop owns its slot, and moves to the next.
func (p *stagedPacer) take(send bool, now int64) {
	w := p.w
	s, r := w.staged, w.run
	measured := p.at >= r.measureStart
	slot, planned := p.slot()
	switch {
	case !planned:
		// No connection is planned: the first loop of the part holding
		// slot 0 counts it, once.
		if measured && s.first == 0 && s.idx == 0 {
			w.shard.Counts.Unsent++
		}
	default:
		if !s.owns(slot) {
			break
		}
		c := s.slots[slot-s.first]
		switch {
		case !send, c == nil, c.state != stateOpen, c.retiring,
			r.maxInflight > 0 && c.outstanding() >= r.maxInflight:
			if measured {
				w.shard.Counts.Unsent++
			}
		default:
			w.send(c, p.at, now)
		}
	}
	p.seq++
	p.advance()
}

// slot is the slot the sequence's current message goes to: seq mod the
// connections active at its time, the same in every process of the run;
// planned is false when none is.
func (p *stagedPacer) slot() (slot int, planned bool) {
	k := p.w.run.plan.Active(time.Duration(p.exact))
	if k <= 0 {
		return 0, false
	}
	return int(p.seq % uint64(k)), true
}

func (p *stagedPacer) sendBefore(t int64) {
	stop := p.w.run.stopAt.Load()
	for p.at < t && p.at < stop {
		p.take(true, p.w.now())
	}
}

// unsent counts the messages due before the stop that were never taken.
func (p *stagedPacer) unsent() {
	stop := p.w.run.stopAt.Load()
	for p.at < stop {
		p.take(false, 0)
	}
}

func (p *stagedPacer) behind(stop int64) bool { return p.at < stop }
func (p *stagedPacer) replied(*conn, int64)   {} // the sequence, not replies, drives sends
func (p *stagedPacer) joined(*conn, int64)    {}
func (p *stagedPacer) lagged() bool           { return true }
