package results

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// The steps of a scripted flow (kind flow; the flowrun part): each named
// step's latency and failures in the report (Report.Steps), a row each in
// the summary (text and HTML alike), figures for compare, and thresholds
// step.NAME.STAT.

// Step is one named step of a flow: its latency each time it was done
// (Latency.Count: how many times) and the times it failed, by kind.
type Step struct {
	Name       string           `json:"name"`
	Latency    Latency          `json:"latency"`
	Errors     map[string]int64 `json:"errors"`
	ErrorCount int64            `json:"error_count"`
}

// stepReports encodes the steps of snap, in its order.
func stepReports(snap *metrics.Snapshot) ([]Step, error) {
	var out []Step
	for _, st := range snap.Steps {
		h := st.Hist
		if h == nil {
			h = metrics.NewHistogram()
		}
		enc, err := h.Encode()
		if err != nil {
			return nil, fmt.Errorf("encode step %q histogram: %w", st.Name, err)
		}
		s := Step{Name: st.Name, Latency: Latency{Summary: h.Summary(), Clamped: h.Clamped(), HDR: enc},
			Errors: map[string]int64{}, ErrorCount: st.ErrorCount()}
		for k, v := range st.Errors {
			s.Errors[k] = v
		}
		out = append(out, s)
	}
	return out, nil
}

// Step returns the report's step named name, nil if it has none.
func (r *Report) Step(name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// StepHistogram decodes the named step's histogram from the report.
func (r *Report) StepHistogram(name string) (*metrics.Histogram, error) {
	st := r.Step(name)
	if st == nil {
		return nil, fmt.Errorf("no step %q in the result", name)
	}
	h, err := metrics.DecodeHistogram(st.Latency.HDR)
	if err != nil {
		return nil, fmt.Errorf("step %q histogram: %w", name, err)
	}
	if st.Latency.Clamped > 0 {
		if err := h.AddClamped(st.Latency.Clamped); err != nil {
			return nil, fmt.Errorf("step %q histogram: %w", name, err)
		}
	}
	return h, nil
}

// stepRows is the table of a flow's steps the text summary and the HTML
// page show: a row per step, how many times it was done and failed, the
// failures by kind and its latency.
func stepRows(r *Report) (head []string, rows [][]string) {
	head = []string{"Step", "done", "failed", "min", "mean", "p50", "p90", "p99", "p99.9", "max"}
	for _, st := range r.Steps {
		l := st.Latency
		failed := fmt.Sprint(st.ErrorCount)
		if len(st.Errors) > 0 {
			kinds := make([]string, 0, len(st.Errors))
			for k, v := range st.Errors {
				kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
			}
			sort.Strings(kinds)
			failed += " (" + strings.Join(kinds, ", ") + ")"
		}
		row := []string{st.Name, fmt.Sprint(l.Count), failed}
		if l.Count == 0 {
			row = append(row, "-", "-", "-", "-", "-", "-", "-")
		} else {
			row = append(row, fmtUs(l.MinUs), fmtUs(l.MeanUs), fmtUs(l.P50Us), fmtUs(l.P90Us), fmtUs(l.P99Us), fmtUs(l.P999Us), fmtUs(l.MaxUs))
		}
		rows = append(rows, row)
	}
	return head, rows
}

// stepsTable is the text summary's table of a flow's steps.
func stepsTable(r *Report) htmlTable {
	head, rows := stepRows(r)
	return numTable("steps", head, rows)
}

// stepFigures are compare's rows for a flow's steps: each step's count,
// failures and percentiles (a step no side has has no row).
func stepFigures(sides []Side) []figure {
	var names []string
	for _, s := range sides {
		for _, r := range s.Reports {
			for _, st := range r.Steps {
				if !slices.Contains(names, st.Name) {
					names = append(names, st.Name)
				}
			}
		}
	}
	var fs []figure
	for _, name := range names {
		fs = append(fs, figure{"step " + name + " failed", "count", true, func(r *Report) (float64, bool) {
			st := r.Step(name)
			if st == nil {
				return 0, false
			}
			return float64(st.ErrorCount), true
		}})
		for _, stat := range []string{"p50", "p90", "p99", "p999", "max"} {
			fs = append(fs, figure{"step " + name + " " + stat, "µs", true, func(r *Report) (float64, bool) {
				st := r.Step(name)
				if st == nil || st.Latency.Count == 0 {
					return 0, false
				}
				return latencyStats[stat](st.Latency.Summary), true
			}})
		}
	}
	return fs
}

// stepCounters are the plain figures of a step a threshold may name
// (step.NAME.count, step.NAME.errors); its latency statistics are those
// of every metric (step.NAME.p99, step.NAME.p(99.9), …).
var stepCounters = map[string]func(*Step) float64{
	"count":  func(s *Step) float64 { return float64(s.Latency.Count) },
	"errors": func(s *Step) float64 { return float64(s.ErrorCount) },
}

// parseStepThreshold reads the subject and value of a threshold on a
// flow's step: step.NAME.STAT, STAT a latency statistic (VALUE a duration)
// or count or errors (VALUE a number), or errors.KIND (one kind of
// failure). NAME is up to the first dot after "step.".
func parseStepThreshold(t Threshold, rest string, bad func(string, ...any) (Threshold, error)) (Threshold, error) {
	name, stat, ok := strings.Cut(strings.TrimPrefix(t.Subject, "step."), ".")
	if !ok || name == "" || stat == "" {
		return bad("want step.NAME.STAT, such as step.login.p99 or step.login.errors")
	}
	if t.Abort {
		return bad(":abort applies to errors.count only")
	}
	if kind, isKind := strings.CutPrefix(stat, "errors."); stat == "count" || stat == "errors" || isKind && kind != "" {
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("want a number, got %q", rest)
		}
		t.Value = v
		return t, nil
	}
	if latencyStats[stat] == nil {
		p, ok := parsePercentile(stat)
		if !ok {
			return bad("%q is no statistic of a step: want count, errors, errors.KIND, min, mean, max or a percentile such as p99 or p(99.9)", stat)
		}
		t.Percentile = p
	}
	v, err := latencyValue(rest)
	if err != nil {
		return bad("%s is a latency: want a duration such as 50ms, got %q", t.Subject, rest)
	}
	t.Value = v
	return t, nil
}

// StepName is the step a threshold on a flow's step names ("" for any
// other threshold).
func (t Threshold) StepName() string {
	rest, ok := strings.CutPrefix(t.Subject, "step.")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ".")
	return name
}

// CheckSteps refuses a threshold on a step the flow does not have,
// naming the threshold and the steps there are (a FieldError on
// thresholds). names are the flow's step names.
func CheckSteps(ts []Threshold, names []string) error {
	for _, t := range ts {
		name := t.StepName()
		if name == "" || slices.Contains(names, name) {
			continue
		}
		have := "the run has no named steps (a flow's steps take a name:)"
		if len(names) > 0 {
			have = "its named steps are " + strings.Join(names, ", ")
		}
		return &scenario.FieldError{Err: fmt.Errorf("%s %q: no step named %q: %s", scenario.Ref("thresholds"), t.Expr, name, have)}
	}
	return nil
}

// checkStep is the value a threshold on a step measured; ok false when
// the report has no such step.
func (t Threshold) checkStep(r *Report) (float64, bool) {
	name := t.StepName()
	st := r.Step(name)
	if st == nil {
		return math.NaN(), false
	}
	stat := strings.TrimPrefix(t.Subject, "step."+name+".")
	if f := stepCounters[stat]; f != nil {
		return f(st), true
	}
	if kind, ok := strings.CutPrefix(stat, "errors."); ok {
		return float64(st.Errors[kind]), true
	}
	if f := latencyStats[stat]; f != nil {
		return f(st.Latency.Summary), true
	}
	h, err := r.StepHistogram(name)
	if err != nil {
		return math.NaN(), false
	}
	return float64(h.Percentile(t.Percentile)) / float64(time.Microsecond), true
}

// isStepCounter says whether a step threshold's subject is a count, not a
// latency (for how its measured value prints).
func isStepCounter(subject string) bool {
	rest, ok := strings.CutPrefix(subject, "step.")
	if !ok {
		return false
	}
	_, stat, _ := strings.Cut(rest, ".")
	return stepCounters[stat] != nil || strings.HasPrefix(stat, "errors.")
}

// flowFailure is a flow's failure line: its steps waited and nothing they
// waited for ever came (every expect timed out or mismatched, no reply
// answered), with what the first expect to time out waited for and the
// last message its loop got instead. A flow whose steps wait for nothing
// (sends and thinks) has nothing to fail.
func flowFailure(r *Report, in About, meas *metrics.Measurement) string {
	snap := meas.Snapshot
	failed := snap.Errors["step_timeout"] + snap.Errors["step_mismatch"]
	if failed == 0 || snap.Counts.Awaited > 0 {
		return ""
	}
	line := fmt.Sprintf("nothing was measured: no step of the flow got what it waited for (%d sessions, errors: %s)", snap.Counts.Sessions, ErrorCounts(snap.Errors))
	if m := meas.Mismatch; m != nil && m.Kind == "step_timeout" {
		line += fmt.Sprintf("; %s waited for a message matching %s", m.SentOp, excerpt(m.Sent, m.SentLen, in))
		if m.Got != nil {
			line += fmt.Sprintf(", got the %d-byte %s message %s", m.GotLen, m.GotOp, excerpt(m.Got, m.GotLen, in))
		} else {
			line += ", and no message came"
		}
	}
	return line
}

// describeFlow is the summary's word on a flow run: its steps, and how its
// sessions ran (long-lived connections looping them, or arriving at a
// rate, each on a connection of its own).
func describeFlow(r *Report) string {
	s := r.Scenario
	steps := fmt.Sprintf("scripted flow of %d steps", len(s.Steps))
	if s.SessionRate > 0 {
		return fmt.Sprintf("%s: sessions arriving at %s/s (%d scheduled), each on a connection of its own running the steps once; %d sessions started",
			steps, fmtNum(s.SessionRate), s.Conns, r.flowSessions())
	}
	return fmt.Sprintf("%s: %d long-lived connections looping the steps", steps, s.Conns)
}

// Flow is a flow run's sessions: how many started (every round of the
// steps on a long-lived connection, or one per arriving session), how
// many ended on a failed step, the waiting steps (expect, receive, ping)
// that got what they waited for, and the sends that awaited no reply.
type Flow struct {
	Sessions       int64 `json:"sessions"`
	SessionsFailed int64 `json:"sessions_failed"`
	Awaited        int64 `json:"steps_awaited"`
	NoReply        int64 `json:"no_reply"`
}

func (r *Report) flowSessions() int64 {
	if r.Flow == nil {
		return 0
	}
	return r.Flow.Sessions
}
