package orchestrate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// TestSearchBuildsSteps drives Search.Run with a fake measure: a server
// whose rtt p99 breaks 10ms from failAt on (a load in the search's
// dimension), a client saturated from saturateAt on, a machine whose limits
// stop at fitsBelow connections. Each row checks which steps were measured,
// with which scenario (rate, or connections and rate), what each step's
// progress line said, and the result's maximum.
func TestSearchBuildsSteps(t *testing.T) {
	cases := []struct {
		name       string
		dimension  string
		start, max float64
		failAt     float64 // load whose rtt p99 breaks the SLO (0: none)
		saturateAt float64 // load from which the client is saturated (0: never)
		fitsBelow  int     // connections the machine allows (0: any)
		steps      string  // the measured steps' (conns, rate)
		lines      []string
		maxRate    float64
		maxConns   int
		limit      string
	}{
		// rate: doubling to the first failure, bisecting to within 5%; the
		// connection count stays the scenario's
		{"rate: double, then bisect", results.DimensionRate, 1000, 1e6, 12000, 0, 0,
			"[50@1000 50@2000 50@4000 50@8000 50@16000 50@12000 50@10000 50@11000 50@11500]",
			[]string{"1000 msg/s: holds", "16000 msg/s: fails rtt.p99<10ms", "11500 msg/s: holds"}, 11500, 0, ""},
		// rate: every step held up to --max
		{"rate: held up to max", results.DimensionRate, 1000, 3000, 0, 0, 0,
			"[50@1000 50@2000 50@3000]", []string{"3000 msg/s: holds"}, 3000, 0, ""},
		// conns: each step sets the connections and the rate (conns × 10),
		// bisected to whole connections
		{"conns: whole connections at 10 msg/s each", results.DimensionConns, 10, 10000, 300, 0, 0,
			"[10@100 20@200 40@400 80@800 160@1600 320@3200 240@2400 280@2800 300@3000 290@2900]",
			[]string{"10 connections (100 msg/s): holds", "320 connections (3200 msg/s): fails rtt.p99<10ms"}, 2900, 290, ""},
		// conns: a step the machine's limits cannot hold ends the search
		// before it is measured, saying why
		{"conns: beyond the machine's limits", results.DimensionConns, 10, 10000, 0, 0, 100,
			"[10@100 20@200 40@400 80@800]",
			[]string{"160 connections: beyond this machine's limits: 160 connections need more files"}, 800, 80, "160 connections need more files"},
		// a saturated client ends the search, named with its reason
		{"rate: client-limited", results.DimensionRate, 1000, 1e6, 0, 4000, 0,
			"[50@1000 50@2000 50@4000]", []string{"4000 msg/s: client-limited: client CPU 97%"}, 2000, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			slo, err := results.ParseThreshold("rtt.p99<10ms")
			if err != nil {
				t.Fatal(err)
			}
			spec := scenario.Default()
			spec.Conns, spec.Duration = 50, scenario.Duration(3*time.Second)
			s := Search{Spec: spec, Dimension: tc.dimension, ConnRate: 10, SLOs: []results.Threshold{slo},
				Bounds: Bounds{Start: tc.start, Max: tc.max, Precision: 0.05}}
			var steps []string
			measure := func(step scenario.Spec) (*results.Report, error) {
				if step.Duration != spec.Duration || step.Kind != spec.Kind {
					t.Errorf("step %+v lost the scenario's other settings", step)
				}
				steps = append(steps, fmt.Sprintf("%d@%g", step.Conns, step.Rate))
				load := step.Rate
				if tc.dimension == results.DimensionConns {
					load = float64(step.Conns)
				}
				p99 := 1000.0
				if tc.failAt > 0 && load >= tc.failAt {
					p99 = 20000
				}
				rep := &results.Report{StopReason: driver.StopCompleted,
					Latency: map[string]results.Latency{"rtt": {Summary: metrics.Summary{P99Us: p99}}}}
				if tc.saturateAt > 0 && load >= tc.saturateAt {
					rep.Harness.Saturated, rep.Harness.Saturation = true, []string{"client CPU 97%"}
				}
				return rep, nil
			}
			fits := func(step scenario.Spec) error {
				if tc.fitsBelow > 0 && step.Conns >= tc.fitsBelow {
					return fmt.Errorf("%d connections need more files", step.Conns)
				}
				return nil
			}
			var lines []string
			res, err := s.Run(measure, fits, func() bool { return false }, func(l string) { lines = append(lines, l) })
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(steps); got != tc.steps {
				t.Errorf("steps %s, want %s", got, tc.steps)
			}
			for _, want := range tc.lines {
				found := false
				for _, l := range lines {
					found = found || l == want
				}
				if !found {
					t.Errorf("no progress line %q in\n%s", want, strings.Join(lines, "\n"))
				}
			}
			if res.MaxRate != tc.maxRate || res.MaxConns != tc.maxConns || res.Limit != tc.limit || len(res.Steps) != len(steps) {
				t.Errorf("max %g msg/s, %d conns, limit %q, %d steps; want %g, %d, %q, %d",
					res.MaxRate, res.MaxConns, res.Limit, len(res.Steps), tc.maxRate, tc.maxConns, tc.limit, len(steps))
			}
			if fmt.Sprint(res.SLOs) != "[rtt.p99<10ms]" || res.Dimension != tc.dimension || (res.ConnRate == 10) != (tc.dimension == results.DimensionConns) {
				t.Errorf("slos %v, dimension %q, conn rate %g", res.SLOs, res.Dimension, res.ConnRate)
			}
		})
	}
}

// TestSearchErrors: a measure that fails, and a server that does not echo
// (no step can pass), end the search with that error and no result.
func TestSearchErrors(t *testing.T) {
	s := Search{Spec: scenario.Default(), Dimension: results.DimensionRate, Bounds: Bounds{Start: 1000, Max: 1e6, Precision: 0.05}}
	never := func() bool { return false }
	for _, tc := range []struct {
		name    string
		measure func(scenario.Spec) (*results.Report, error)
		want    string
	}{
		{"measure fails", func(scenario.Spec) (*results.Report, error) { return nil, errors.New("dial: refused") }, "dial: refused"},
		{"not an echo server", func(scenario.Spec) (*results.Report, error) {
			return &results.Report{StopReason: driver.StopNotEcho, Failure: "the server does not echo"}, nil
		}, "the server does not echo"},
	} {
		res, err := s.Run(tc.measure, nil, never, nil)
		if err == nil || err.Error() != tc.want || res != nil {
			t.Errorf("%s: %v, %v; want %q", tc.name, res, err, tc.want)
		}
	}
}
