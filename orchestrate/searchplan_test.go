package orchestrate

import (
	"context"
	"strings"
	"testing"

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
