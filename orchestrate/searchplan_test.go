package orchestrate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// TestRunPlanNamesTheLimit: a step beyond the machine's limits ends the
// search before anything is measured, its reason in the names the caller
// gives the settings.
func TestRunPlanNamesTheLimit(t *testing.T) {
	spec := scenario.Default()
	spec.Target = "ws://127.0.0.1:1/"
	th, err := results.ParseThreshold("rtt.p99<10ms")
	if err != nil {
		t.Fatal(err)
	}
	s := Search{Spec: spec, Dimension: results.DimensionConns, ConnRate: 1, SLOs: []results.Threshold{th},
		Bounds: Bounds{Start: 1e7, Max: 1e7, Precision: 0.05}}
	compiled, err := scenario.Compile(s.At(10))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	measured := false
	p := Plan{Compiled: compiled, Target: spec.Target, Driver: driver.Config{IO: driver.IOSyscalls}}
	res, err := s.RunPlan(context.Background(), context.Background(), p, func(k string) string { return "<" + k + ">" },
		func(l string) { lines = append(lines, l); measured = measured || !strings.Contains(l, "beyond") })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Limit, "<conns> 10000000") || len(res.Steps) != 0 || measured || res.MaxConns != 0 {
		t.Errorf("limit %q, steps %d, lines %q", res.Limit, len(res.Steps), lines)
	}
}

func TestBoundsCheck(t *testing.T) {
	flag := func(k string) string { return "--" + k }
	for _, tc := range []struct {
		b    Bounds
		step time.Duration
		want string
	}{
		{Bounds{Start: 10, Max: 100, Precision: 0.05}, time.Second, ""},
		{Bounds{Start: 0, Max: 100, Precision: 0.05}, time.Second, "--start: must be positive, got 0"},
		{Bounds{Start: 10, Max: 5, Precision: 0.05}, time.Second, "--max: 5 is below --start 10"},
		{Bounds{Start: 10, Max: 100, Precision: 1}, time.Second, "--precision: want a fraction between 0 and 1, got 1"},
		{Bounds{Start: 10, Max: 100, Precision: 0.05}, 0, "--step: must be positive, got 0s"},
	} {
		got := ""
		if err := tc.b.Check(tc.step); err != nil {
			got = NameFields(err, flag).Error()
		}
		if got != tc.want {
			t.Errorf("%+v %s: got %q, want %q", tc.b, tc.step, got, tc.want)
		}
	}
}
