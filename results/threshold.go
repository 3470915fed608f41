package results

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// A Threshold is a pass/fail check on a finished run, written as
// SUBJECT OP VALUE, for example "rtt.p99<20ms", "errors.rate<0.1%" or
// "messages.rate>50000". Subjects:
//
//   - METRIC.STAT: a latency figure, METRIC one of rtt, rtt_uncorrected,
//     send_lag, connect, handshake, read_lag and STAT one of min, mean, p50,
//     p90, p99, p999, max; VALUE a duration (500us, 20ms, 1.5s).
//   - messages.rate (received per second), messages.sent_rate,
//     messages.lost, messages.unsent, messages.in_flight;
//   - errors.count, errors.rate: errors over messages sent plus connections
//     attempted, VALUE a fraction or a percentage (0.001 or 0.1%);
//   - connections.failed, connections.opened, connections.opened_per_s.
//
// OP is <, <=, > or >=.
type Threshold struct {
	Expr    string  // as written
	Subject string  // e.g. "rtt.p99"
	Op      string  // <, <=, >, >=
	Value   float64 // durations in microseconds, fractions for rates
}

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
	"messages.rate":            func(r *Report) float64 { return r.Rates.Received },
	"messages.sent_rate":       func(r *Report) float64 { return r.Rates.Sent },
	"messages.lost":            func(r *Report) float64 { return float64(r.Messages.Lost) },
	"messages.unsent":          func(r *Report) float64 { return float64(r.Messages.Unsent) },
	"messages.in_flight":       func(r *Report) float64 { return float64(r.Messages.InFlight) },
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

// ParseThreshold reads one --threshold expression.
func ParseThreshold(expr string) (Threshold, error) {
	bad := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("--threshold %q: %s", expr, fmt.Sprintf(format, a...))
	}
	s := strings.ReplaceAll(expr, " ", "")
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return bad("want SUBJECT<VALUE or SUBJECT>VALUE, such as rtt.p99<20ms")
	}
	t := Threshold{Expr: expr, Subject: s[:i], Op: s[i : i+1]}
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		t.Op += "="
		rest = rest[1:]
	}
	if rest == "" {
		return bad("no value after %s", t.Op)
	}
	if m, stat, ok := strings.Cut(t.Subject, "."); ok && latencyStats[stat] != nil {
		if _, err := metrics.ParseMetric(m); err == nil {
			d, err := time.ParseDuration(strings.ReplaceAll(rest, "µ", "u"))
			if err != nil {
				return bad("%s is a latency: want a duration such as 20ms, got %q", t.Subject, rest)
			}
			t.Value = float64(d) / float64(time.Microsecond)
			return t, nil
		}
	}
	if counterSubjects[t.Subject] == nil {
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

func subjectNames() []string {
	names := make([]string, 0, len(counterSubjects))
	for n := range counterSubjects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check evaluates t against r.
func (t Threshold) Check(r *Report) ThresholdResult {
	var actual float64
	if f := counterSubjects[t.Subject]; f != nil {
		actual = f(r)
	} else {
		m, stat, _ := strings.Cut(t.Subject, ".")
		actual = latencyStats[stat](r.Latency[m].Summary)
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

// formatActual prints a threshold's measured value in its subject's unit.
func formatActual(subject string, v float64) string {
	switch {
	case counterSubjects[subject] == nil:
		return fmtUs(v)
	case subject == "errors.rate":
		return fmt.Sprintf("%.3g%%", 100*v)
	default:
		return fmtNum(v)
	}
}
