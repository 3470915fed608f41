package orchestrate

import (
	"errors"
	"math"

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
