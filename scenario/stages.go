package scenario

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Payload fillers.
const (
	PayloadPattern = "pattern"
	PayloadRandom  = "random"
)

// Stage is one step of a staged run. Its targets are where the load stands
// at the stage's end: from the previous stage's targets (zero before the
// first stage) the connection count and the message rate ramp linearly over
// Duration. A stage of duration 0 jumps to its targets at once, so a run can
// start at full load:
//
//	stages:
//	  - {duration: 0s, conns: 100, rate: 1000}   # start with 100 connections at 1,000 msg/s
//	  - {name: ramp, duration: 30s, conns: 1000, rate: 20000}
//	  - {name: hold, duration: 60s, conns: 1000, rate: 20000}
//	  - {name: down, duration: 10s, conns: 0, rate: 0}
type Stage struct {
	Name     string   `json:"name,omitempty"`
	Duration Duration `json:"duration"`
	// Conns is the connection count at the stage's end. Connections open
	// as the target rises (no faster than the run's connect_rate) and close
	// gracefully, after their replies, as it falls.
	Conns int `json:"conns"`
	// Rate is the open model's total message rate at the stage's end (the
	// closed model when every stage's rate is 0).
	Rate float64 `json:"rate,omitempty"`
}

// Staged reports whether s is a staged run.
func (s Spec) Staged() bool { return len(s.Stages) > 0 }

// StageName is stage i's name: its own, or "stage N" (1-based).
func (s Spec) StageName(i int) string {
	if n := s.Stages[i].Name; n != "" {
		return n
	}
	return fmt.Sprintf("stage %d", i+1)
}

// ApplyStages sets the run-wide fields a staged run implies: the measured
// window is the stages (no warm-up), the connection count is the most any
// stage asks for, and the rate is the highest (so the model is open if any
// stage sends at a rate).
func (s *Spec) ApplyStages() {
	if !s.Staged() {
		return
	}
	var total Duration
	conns, rate := 0, 0.0
	for _, st := range s.Stages {
		total += st.Duration
		conns = max(conns, st.Conns)
		rate = max(rate, st.Rate)
	}
	s.Duration, s.Conns, s.Rate, s.Warmup = total, conns, rate, 0
}

// validateStages checks the stages on their own.
func (s Spec) validateStages(bad func(key, format string, a ...any)) {
	if !s.Staged() {
		return
	}
	var total Duration
	for i, st := range s.Stages {
		name := fmt.Sprintf("stages[%d]", i)
		if st.Duration < 0 {
			bad(name+".duration", "must not be negative, got %s", st.Duration)
		}
		if st.Conns < 0 {
			bad(name+".conns", "must not be negative, got %d", st.Conns)
		}
		if st.Rate < 0 || math.IsNaN(st.Rate) || math.IsInf(st.Rate, 0) {
			bad(name+".rate", "must be a non-negative number, got %g", st.Rate)
		}
		total += st.Duration
	}
	if total <= 0 {
		bad("stages", "the stages last 0s in all: give at least one a duration")
	}
	switch s.Kind {
	case "", KindEcho, KindPing, KindHold, KindRequest: // (rpc: request runs on the same pacers)
	default:
		bad("stages", "a %s run cannot be staged (stages apply to the echo, ping, hold and request kinds)", s.Kind)
	}
}

// Plan is a staged run's targets over time: the connection count C(t) and
// the total message rate R(t), each piecewise linear, and the open model's
// message times, which follow R: message n is due when the integral of R
// from the start reaches n (or, with Poisson arrivals, a Poisson process of
// intensity R).
type Plan struct {
	stages []Stage
	start  []time.Duration // start of each stage
	c0, r0 []float64       // targets at each stage's start
	msgs   []float64       // messages due before each stage's start
}

// Plan returns s's staged plan; a run that is not staged is one stage at
// its connection count and rate from the start.
func (s Spec) Plan() Plan {
	stages := s.Stages
	if !s.Staged() {
		stages = []Stage{{Duration: s.Warmup + s.Duration, Conns: s.Conns, Rate: s.Rate}}
		return newPlan(stages, float64(s.Conns), s.Rate)
	}
	return newPlan(stages, 0, 0)
}

func newPlan(stages []Stage, c, r float64) Plan {
	p := Plan{stages: stages}
	var at time.Duration
	var m float64
	for _, st := range stages {
		p.start = append(p.start, at)
		p.c0 = append(p.c0, c)
		p.r0 = append(p.r0, r)
		p.msgs = append(p.msgs, m)
		m += (r + st.Rate) / 2 * time.Duration(st.Duration).Seconds()
		at += time.Duration(st.Duration)
		c, r = float64(st.Conns), st.Rate
	}
	return p
}

// Stages is how many stages the plan has.
func (p Plan) Stages() int { return len(p.stages) }

// Bounds are stage i's start and end, from the start of the run.
func (p Plan) Bounds(i int) (start, end time.Duration) {
	return p.start[i], p.start[i] + time.Duration(p.stages[i].Duration)
}

// End is when the last stage ends.
func (p Plan) End() time.Duration {
	if len(p.stages) == 0 {
		return 0
	}
	_, e := p.Bounds(len(p.stages) - 1)
	return e
}

// StageAt is the stage running at t (the last one past the end; of stages
// that touch t, the last to start).
func (p Plan) StageAt(t time.Duration) int { return p.stageAt(t) }

func (p Plan) stageAt(t time.Duration) int {
	i := sort.Search(len(p.start), func(i int) bool { return p.start[i] > t }) - 1
	return max(i, 0)
}

// frac is how far through stage i the time t is, in [0, 1].
func (p Plan) frac(i int, t time.Duration) float64 {
	d := time.Duration(p.stages[i].Duration)
	if d <= 0 {
		return 1
	}
	return min(max(float64(t-p.start[i])/float64(d), 0), 1)
}

// Conns is the target connection count at t (fractional on a ramp).
func (p Plan) Conns(t time.Duration) float64 {
	if len(p.stages) == 0 {
		return 0
	}
	i := p.stageAt(t)
	return p.c0[i] + (float64(p.stages[i].Conns)-p.c0[i])*p.frac(i, t)
}

// Active is how many connections should be open at t: slots 0 … Active-1.
func (p Plan) Active(t time.Duration) int {
	return int(math.Floor(p.Conns(t) + 1e-9))
}

// Rate is the target message rate at t.
func (p Plan) Rate(t time.Duration) float64 {
	if len(p.stages) == 0 {
		return 0
	}
	i := p.stageAt(t)
	return p.r0[i] + (p.stages[i].Rate-p.r0[i])*p.frac(i, t)
}

// Messages is the number of messages due before t: the integral of the
// rate from the start to t.
func (p Plan) Messages(t time.Duration) float64 {
	if len(p.stages) == 0 || t <= 0 {
		return 0
	}
	i := p.stageAt(t)
	d := time.Duration(p.stages[i].Duration).Seconds()
	tau := min(max(t-p.start[i], 0).Seconds(), d)
	a, b := p.r0[i], p.stages[i].Rate
	m := p.msgs[i] + a*tau
	if d > 0 {
		m += (b - a) * tau * tau / (2 * d)
	}
	return m
}

// MessageTime is when the integral of the rate reaches x: the due time
// (exact, in nanoseconds from the start) of message x. It returns +Inf when
// the plan never gets there.
func (p Plan) MessageTime(x float64) float64 {
	// The last stage whose messages start at or before x.
	i := sort.Search(len(p.msgs), func(i int) bool { return p.msgs[i] > x }) - 1
	for ; i >= 0 && i < len(p.stages); i++ {
		d := time.Duration(p.stages[i].Duration).Seconds()
		a, b := p.r0[i], p.stages[i].Rate
		in := (a + b) / 2 * d // messages in this stage
		rem := x - p.msgs[i]
		if rem >= in || (a == 0 && b == 0) || d == 0 {
			continue // past this stage (or nothing sent in it)
		}
		// Solve a·τ + (b-a)·τ²/(2d) = rem for τ in [0, d], in the form that
		// stays exact when b ≈ a.
		k := (b - a) / d
		disc := a*a + 2*k*rem
		tau := 2 * rem / (a + math.Sqrt(max(disc, 0)))
		if a+math.Sqrt(max(disc, 0)) == 0 {
			tau = 0
		}
		return float64(p.start[i]) + min(tau, d)*1e9
	}
	return math.Inf(1)
}

// ConnEvent opens or closes one connection slot at a time from the start.
type ConnEvent struct {
	At   time.Duration
	Slot int
	Open bool
}

// ConnEvents lists when each slot opens and closes so that the open
// connections follow C(t): slot k is open while C(t) ≥ k+1. Opens are paced
// at most connectRate per second (0: no limit), later ones waiting their
// turn; a slot whose close comes before its delayed open never opens. The
// slots open at the start (a jump stage at time 0, or a run that is not
// staged) are included, at time 0.
func (p Plan) ConnEvents(connectRate float64) []ConnEvent {
	var evs []ConnEvent
	for i, st := range p.stages {
		a, b := p.c0[i], float64(st.Conns)
		s, e := p.Bounds(i)
		at := func(k float64) time.Duration { // when the ramp crosses k
			if b == a {
				return s
			}
			return s + time.Duration(float64(e-s)*(k-a)/(b-a))
		}
		if i == 0 && a > 0 {
			for k := range int(a) {
				evs = append(evs, ConnEvent{At: 0, Slot: k, Open: true})
			}
		}
		switch {
		case b > a:
			for k := int(a) + 1; k <= int(b); k++ {
				evs = append(evs, ConnEvent{At: at(float64(k)), Slot: k - 1, Open: true})
			}
		case b < a:
			for k := int(a); k > int(b); k-- {
				evs = append(evs, ConnEvent{At: at(float64(k)), Slot: k - 1, Open: false})
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At < evs[j].At })
	if connectRate <= 0 {
		return evs
	}
	// Pace the opens; a close follows its own open.
	gap := time.Duration(float64(time.Second) / connectRate)
	var next time.Duration
	opened := map[int]time.Duration{} // slot → its (paced) open time
	out := evs[:0:0]
	for _, ev := range evs {
		if ev.Open {
			t := max(ev.At, next)
			opened[ev.Slot] = t
			next = t + gap
			ev.At = t
			out = append(out, ev)
			continue
		}
		if t, ok := opened[ev.Slot]; ok && t >= ev.At {
			// Closed before its turn to open came: it never opens.
			for j := len(out) - 1; j >= 0; j-- {
				if out[j].Slot == ev.Slot && out[j].Open {
					out = append(out[:j], out[j+1:]...)
					break
				}
			}
			continue
		}
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}
