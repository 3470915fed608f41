package orchestrate

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// Bounds are a capacity search's: its first and highest load, the gap
// between held and failed (a fraction of the held load) at which bisection
// stops, and whether loads are whole (connection counts).
type Bounds struct {
	Start, Max, Precision float64
	Whole                 bool
}

// Capacity doubles the load from b.Start until a step fails (or b.Max),
// then bisects between the last step that held and the first that failed.
// A step where the client was saturated ends the search there: it is
// recorded as client-limited (res.ClientBound, res.ClientLimitedAt) and
// never counts as the server's failure. A step whose rtt SLO failed only
// through the client's send lag held for the server (CapacityStep.Held).
// It returns the highest load that held (0: none). measure runs one step;
// fits says whether the machine allows a step at a load; stopped says the
// run was interrupted. Capacity itself runs nothing: it is a pure function
// of what measure answers.
func Capacity(res *results.Capacity, b Bounds, measure func(load float64) (results.CapacityStep, error),
	fits func(load float64) bool, stopped func() bool) (float64, error) {
	// Double until a step fails, then bisect.
	good, bad := 0.0, 0.0
	for l := b.Start; ; l = math.Min(l*2, b.Max) {
		if !fits(l) {
			break
		}
		st, err := measure(l)
		if err != nil {
			return 0, err
		}
		if st.Saturated {
			res.ClientBound, res.ClientLimitedAt = true, l
			break
		}
		if !st.Held() {
			bad = l
			break
		}
		good = l
		if l >= b.Max {
			res.HitCeiling = true
			break
		}
		if stopped() {
			break
		}
	}
	for bad > 0 && good > 0 && (bad-good)/good > b.Precision && !stopped() && !res.ClientBound {
		mid := (good + bad) / 2
		if b.Whole {
			if mid = math.Floor(mid); mid <= good {
				break // no whole number of connections between them
			}
		}
		st, err := measure(mid)
		if err != nil {
			return 0, err
		}
		switch {
		case st.Saturated:
			res.ClientBound, res.ClientLimitedAt = true, mid
		case st.Held():
			good = mid
		default:
			bad = mid
		}
	}
	return good, nil
}

// Step judges the report of one capacity step, a run of spec, against the
// SLOs (applying them to rep): what was offered and achieved, whether it
// passed and which SLOs failed, whether the client was saturated (never
// with the server in this process, whose CPU the client shares by design),
// and, when an rtt SLO failed only through the client's send lag, why it
// still holds for the server. A server that does not echo or broadcast is
// an error: no step can pass.
func Step(rep *results.Report, spec scenario.Spec, slos []results.Threshold) (results.CapacityStep, error) {
	if rep.StopReason == driver.StopNotEcho || rep.StopReason == driver.StopNotBroadcast {
		return results.CapacityStep{}, errors.New(rep.Failure) // no step can pass: say why, once
	}
	results.ApplyThresholds(rep, slos)
	st := results.CapacityStep{Conns: spec.Conns, Offered: spec.Rate, Achieved: rep.Rates.Received, Errors: rep.ErrorCount(), Pass: true,
		Saturated: rep.Harness.Saturated && !rep.Harness.InProcessServer, ClientCPU: rep.Harness.CPUUtilization,
		Unsent: rep.Messages.Unsent}
	if st.Saturated {
		st.Saturation = rep.Harness.Saturation
	}
	if rep.Harness.ServerOnThisMachine {
		st.MachineCPU = rep.Harness.MachineCPUUtilization
	}
	if l, ok := rep.Latency["send_lag"]; ok {
		st.SendLagP50Us, st.SendLagP99Us = l.P50Us, l.P99Us
	}
	if l, ok := rep.Latency["rtt"]; ok {
		st.P50Us, st.P90Us, st.P99Us, st.P999Us, st.MaxUs = l.P50Us, l.P90Us, l.P99Us, l.P999Us, l.MaxUs
	}
	for _, t := range rep.Thresholds {
		if !t.Pass {
			st.Pass = false
			st.Failed = append(st.Failed, t.Threshold)
		}
	}
	if rep.StopReason != driver.StopCompleted {
		st.Pass = false
		st.Failed = append(st.Failed, "run "+string(rep.StopReason))
	} else if !st.Pass {
		st.SendLag = results.SendLagBreaks(rep, slos)
	}
	return st, nil
}

// Search is a capacity search as decided: the scenario of its steps, what
// rises from step to step, its bounds and its SLOs.
type Search struct {
	// Spec is every step's scenario but its load: At sets Rate (and, in
	// the conns dimension, Conns) per step; Duration is a step's.
	Spec scenario.Spec
	// Dimension is what rises: results.DimensionRate (the total rate over
	// Spec.Conns connections) or results.DimensionConns (the connection
	// count, each at ConnRate msg/s).
	Dimension string
	ConnRate  float64
	// Bounds are in msg/s or, in the conns dimension, connections (Whole
	// is set there).
	Bounds Bounds
	// SLOs must all hold for a step to pass.
	SLOs []results.Threshold
}

func (s Search) conns() bool { return s.Dimension == results.DimensionConns }

// At is the scenario of the step at load.
func (s Search) At(load float64) scenario.Spec {
	spec := s.Spec
	if s.conns() {
		spec.Conns, spec.Rate = int(load), load*s.ConnRate
	} else {
		spec.Rate = load
	}
	return spec
}

// Run searches (Capacity) and returns its result, every step and the
// conclusion in it. measure runs one step's scenario and reports it (One);
// fits says whether the machine's limits allow a step (Preflight), asked
// only in the conns dimension, where each step has its own connection
// count: a step that does not fit ends the search there (Capacity.Limit).
// stopped says the search was interrupted. progress, when set, gets a line
// per step: its load and its verdict.
func (s Search) Run(measure func(scenario.Spec) (*results.Report, error), fits func(scenario.Spec) error,
	stopped func() bool, progress func(string)) (*results.Capacity, error) {
	if progress == nil {
		progress = func(string) {}
	}
	res := &results.Capacity{Dimension: s.Dimension, Steps: []results.CapacityStep{}}
	for _, th := range s.SLOs {
		res.SLOs = append(res.SLOs, th.Expr)
	}
	if s.conns() {
		res.ConnRate = s.ConnRate
	}
	step := func(load float64) (results.CapacityStep, error) {
		spec := s.At(load)
		rep, err := measure(spec)
		if err != nil {
			return results.CapacityStep{}, err
		}
		st, err := Step(rep, spec, s.SLOs)
		if err != nil {
			return results.CapacityStep{}, err
		}
		progress(stepLine(st, s.conns()))
		res.Steps = append(res.Steps, st)
		return st, nil
	}
	allowed := func(load float64) bool {
		if !s.conns() {
			return true
		}
		if err := fits(s.At(load)); err != nil {
			res.Limit = err.Error()
			progress(fmt.Sprintf("%.0f connections: beyond this machine's limits: %v", load, err))
			return false
		}
		return true
	}
	b := s.Bounds
	b.Whole = s.conns()
	good, err := Capacity(res, b, step, allowed, stopped)
	if err != nil {
		return nil, err
	}
	res.MaxRate = good
	if s.conns() {
		res.MaxConns, res.MaxRate = int(good), good*s.ConnRate
	}
	return res, nil
}

// stepLine is the progress line of a step: its load and its verdict.
func stepLine(st results.CapacityStep, conns bool) string {
	what := fmt.Sprintf("%.0f msg/s", st.Offered)
	if conns {
		what = fmt.Sprintf("%d connections (%.0f msg/s)", st.Conns, st.Offered)
	}
	verdict := "holds"
	switch {
	case st.Saturated:
		verdict = "client-limited: " + strings.Join(st.Saturation, "; ")
	case !st.Held():
		verdict = "fails " + strings.Join(st.Failed, ", ")
	case !st.Pass:
		verdict = "holds for the server: " + st.SendLag
	}
	return what + ": " + verdict
}
