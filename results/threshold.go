package results

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// A Threshold is a pass/fail check on a finished run, written as
// SUBJECT OP VALUE, for example "rtt.p99<20ms", "errors.rate<0.1%" or
// "messages.rate>50000". Subjects:
//
//   - METRIC.STAT: a latency figure, METRIC one of rtt, rtt_uncorrected,
//     send_lag, connect, handshake, read_lag and STAT one of min, mean, max
//     or a percentile: p50, p90, p99, p999 (99.9, as before) or any pN,
//     pN.N, p(N), p(N.N) with 0 <= N <= 100 (p95, p99.9, p(99.99)), read
//     from the exact HDR histogram; VALUE a duration (500us, 20ms, 1.5s).
//   - messages.rate (received per second), messages.sent_rate,
//     messages.lost, messages.unsent, messages.in_flight;
//   - errors.count, errors.rate: errors over messages sent plus connections
//     attempted, VALUE a fraction or a percentage (0.001 or 0.1%);
//   - connections.failed, connections.opened, connections.opened_per_s;
//   - step.NAME.STAT, a flow's step NAME (kind flow): STAT a latency
//     statistic as above (step.login.p99<50ms), count (times done), errors
//     (times failed) or errors.KIND (step.login.errors.timeout<1);
//   - the server's stream (stream part): stream.messages, stream.rate,
//     stream.rate_per_conn, stream.gaps, stream.late, stream.duplicates,
//     stream.stalls, stream.silent; its gaps and one-way latency are the metrics gap
//     (gap.max<1s) and delivery (delivery.p99<50ms).
//
// OP is <, <=, > or >=. A suffix ":abort" (as k6's abortOnFail) lets the
// threshold stop the run as soon as it has failed for good, which only a
// count that can only grow, held below a bound, can do: errors.count with <
// or <=, checked against the errors the event loops record on open
// connections in each interval (failed opens count at the end). Rates,
// percentiles and the rest are judged at the end only.
type Threshold struct {
	Expr       string  // as written
	Subject    string  // e.g. "rtt.p99"
	Op         string  // <, <=, >, >=
	Value      float64 // durations in microseconds, fractions for rates
	Percentile float64 // for METRIC.pN subjects outside latencyStats: N (0–100)
	Abort      bool    // ":abort": stop the run once it has failed for good
}

// abortSubjects are the counts that only grow during a run, and that the
// intervals carry as they go: a bound below them that fails once has failed
// for good. (connections.failed grows too, but failed opens are counted by
// the dialers, whose figures reach the result only at the end.)
var abortSubjects = map[string]bool{"errors.count": true}

// ThresholdResult is a threshold checked against a report.
type ThresholdResult struct {
	Threshold string  `json:"threshold"`
	Actual    float64 `json:"actual"` // in the threshold's unit: µs for durations, a fraction for errors.rate
	Pass      bool    `json:"pass"`
}

var latencyStats = map[string]func(metrics.Summary) float64{
	"min": func(s metrics.Summary) float64 { return s.MinUs }, "mean": func(s metrics.Summary) float64 { return s.MeanUs },
	"p50": func(s metrics.Summary) float64 { return s.P50Us }, "p90": func(s metrics.Summary) float64 { return s.P90Us },
	"p99": func(s metrics.Summary) float64 { return s.P99Us }, "p999": func(s metrics.Summary) float64 { return s.P999Us },
	"max": func(s metrics.Summary) float64 { return s.MaxUs },
}

// counterSubjects read plain figures from a report.
var counterSubjects = map[string]func(*Report) float64{
	"messages.rate":      func(r *Report) float64 { return r.Rates.Received },
	"messages.sent_rate": func(r *Report) float64 { return r.Rates.Sent },
	"messages.lost":      func(r *Report) float64 { return float64(r.Messages.Lost) },
	"messages.unsent":    func(r *Report) float64 { return float64(r.Messages.Unsent) },
	"messages.in_flight": func(r *Report) float64 { return float64(r.Messages.InFlight) },
	// rpc
	"messages.timed_out":       func(r *Report) float64 { return float64(r.Messages.TimedOut) },
	"messages.failed":          func(r *Report) float64 { return float64(r.Messages.Failed) },
	"messages.unsolicited":     func(r *Report) float64 { return float64(r.Messages.Unsolicited) },
	"errors.count":             func(r *Report) float64 { return float64(r.ErrorCount()) },
	"errors.rate":              errorRate,
	"connections.failed":       func(r *Report) float64 { return float64(r.Connections.Failed) },
	"connections.opened":       func(r *Report) float64 { return float64(r.Connections.Opened) },
	"connections.opened_per_s": func(r *Report) float64 { return r.Connections.OpenedPerS },
}

// ErrorCount is the number of errors of every kind in the report.
func (r *Report) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

func errorRate(r *Report) float64 {
	d := float64(r.Messages.Sent + r.Connections.Attempted)
	if d == 0 {
		return 0
	}
	return float64(r.ErrorCount()) / d
}

// ParseThreshold reads one threshold expression (the thresholds key). Its
// error names the setting by key (scenario.FieldError), the command line by
// its flag.
func ParseThreshold(expr string) (Threshold, error) {
	bad := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, &scenario.FieldError{Err: fmt.Errorf("%s %q: %s", scenario.Ref("thresholds"), expr, fmt.Sprintf(format, a...))}
	}
	s := strings.ReplaceAll(expr, " ", "")
	s, opt, hasOpt := strings.Cut(s, ":")
	if hasOpt && opt != "abort" {
		return bad("unknown option %q after ':' (the only one is :abort)", opt)
	}
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return bad("want SUBJECT<VALUE or SUBJECT>VALUE, such as rtt.p99<20ms")
	}
	t := Threshold{Expr: expr, Subject: s[:i], Op: s[i : i+1], Abort: hasOpt}
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		t.Op += "="
		rest = rest[1:]
	}
	if rest == "" {
		return bad("no value after %s", t.Op)
	}
	if strings.HasPrefix(t.Subject, "step.") { // flowrun: a flow's step
		return parseStepThreshold(t, rest, bad)
	}
	if t.Abort && !(abortSubjects[t.Subject] && t.Op[0] == '<') {
		return bad(":abort applies to errors.count with < or <= (a count that only grows, so a failure is final); %s is judged at the end of the run", t.Subject)
	}
	if m, stat, ok := strings.Cut(t.Subject, "."); ok && (latencyStats[stat] != nil || strings.HasPrefix(stat, "p")) {
		if _, err := metrics.ParseMetric(m); err == nil {
			if latencyStats[stat] == nil {
				p, ok := parsePercentile(stat)
				if !ok {
					return bad("%q is no percentile: want pN, pN.N, p(N) or p(N.N) with N from 0 to 100, such as p95, p99.9 or p(99.99)", stat)
				}
				t.Percentile = p
			}
			v, err := latencyValue(rest)
			if err != nil {
				return bad("%s is a latency: want a duration such as 20ms, got %q", t.Subject, rest)
			}
			t.Value = v
			return t, nil
		}
	}
	if counterSubjects[t.Subject] == nil && streamSubjects[t.Subject] == nil {
		return bad("unknown subject %q (want METRIC.STAT such as rtt.p99, or one of %s)", t.Subject, strings.Join(subjectNames(), ", "))
	}
	num, pct := strings.CutSuffix(rest, "%")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return bad("want a number, got %q", rest)
	}
	if pct {
		if t.Subject != "errors.rate" {
			return bad("a percentage applies to errors.rate only")
		}
		v /= 100
	}
	t.Value = v
	return t, nil
}

// parsePercentile reads the N of a stat pN, pN.N, p(N) or p(N.N).
func parsePercentile(stat string) (float64, bool) {
	n := strings.TrimPrefix(stat, "p")
	if inner, ok := strings.CutPrefix(n, "("); ok {
		if n, ok = strings.CutSuffix(inner, ")"); !ok {
			return 0, false
		}
	}
	if n == "" || strings.Trim(n, "0123456789.") != "" {
		return 0, false // digits only: no signs, exponents, inf or nan
	}
	p, err := strconv.ParseFloat(n, 64)
	return p, err == nil && p >= 0 && p <= 100
}

func subjectNames() []string {
	names := make([]string, 0, len(counterSubjects))
	for n := range counterSubjects {
		names = append(names, n)
	}
	for n := range streamSubjects { // stream part
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check evaluates t against r.
func (t Threshold) Check(r *Report) ThresholdResult {
	var actual float64
	if strings.HasPrefix(t.Subject, "step.") { // flowrun: a flow's step (NaN, failing, if the report has none)
		actual, _ = t.checkStep(r)
	} else if f := counterSubjects[t.Subject]; f != nil {
		actual = f(r)
	} else if f := streamSubjects[t.Subject]; f != nil { // stream part
		actual = f(r)
	} else if m, stat, _ := strings.Cut(t.Subject, "."); latencyStats[stat] != nil {
		actual = latencyStats[stat](r.Latency[m].Summary)
	} else if h, err := r.Histogram(m); err == nil {
		actual = float64(h.Percentile(t.Percentile)) / float64(time.Microsecond)
	}
	var pass bool
	switch t.Op {
	case "<":
		pass = actual < t.Value
	case "<=":
		pass = actual <= t.Value
	case ">":
		pass = actual > t.Value
	case ">=":
		pass = actual >= t.Value
	}
	return ThresholdResult{Threshold: t.Expr, Actual: actual, Pass: pass}
}

// ApplyThresholds checks every threshold against r and records the outcome
// in r.Thresholds; it reports whether all passed.
func ApplyThresholds(r *Report, ts []Threshold) bool {
	r.Thresholds = r.Thresholds[:0]
	ok := true
	for _, t := range ts {
		res := t.Check(r)
		r.Thresholds = append(r.Thresholds, res)
		ok = ok && res.Pass
	}
	return ok
}

// Watch checks a run's :abort thresholds against its intervals as they come
// in (each interval's snapshot holds what was recorded in it), so that a
// threshold that has failed for good can stop the run. A nil Watch checks
// nothing.
type Watch struct {
	ts     []Threshold
	errors int64
}

// NewWatch returns a Watch over the thresholds of ts that have Abort set, or
// nil if none has.
func NewWatch(ts []Threshold) *Watch {
	var w Watch
	for _, t := range ts {
		if t.Abort {
			w.ts = append(w.ts, t)
		}
	}
	if len(w.ts) == 0 {
		return nil
	}
	return &w
}

// Add counts one interval's snapshot in and returns the first :abort
// threshold that the counts so far fail, if any.
func (w *Watch) Add(s *metrics.Snapshot) (Threshold, bool) {
	if w == nil || s == nil {
		return Threshold{}, false
	}
	for _, n := range s.Errors {
		w.errors += n
	}
	for _, t := range w.ts {
		v := float64(w.errors)
		if (t.Op == "<" && v >= t.Value) || (t.Op == "<=" && v > t.Value) {
			return t, true
		}
	}
	return Threshold{}, false
}

// StopThresholdAbort is the stop reason of a run that an :abort threshold
// stopped early.
const StopThresholdAbort = metrics.StopThresholdAbort

// formatActual prints a threshold's measured value in its subject's unit.
func formatActual(subject string, v float64) string {
	switch {
	case isStepCounter(subject): // flowrun
		return fmtNum(v)
	case counterSubjects[subject] == nil && streamSubjects[subject] == nil:
		return fmtUs(v)
	case subject == "errors.rate":
		return fmt.Sprintf("%.3g%%", 100*v)
	default:
		return fmtNum(v)
	}
}

// FailedThresholds counts r's thresholds that did not pass.
func (r *Report) FailedThresholds() int {
	n := 0
	for _, t := range r.Thresholds {
		if !t.Pass {
			n++
		}
	}
	return n
}

// latencyValue reads a latency threshold's value ("20ms", "500µs") in
// microseconds, the unit thresholds compare in.
func latencyValue(s string) (float64, error) {
	d, err := time.ParseDuration(strings.ReplaceAll(s, "µ", "u"))
	if err != nil {
		return 0, err
	}
	return float64(d) / float64(time.Microsecond), nil
}
