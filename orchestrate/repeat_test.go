package orchestrate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/scenario"
)

// TestRepeatInterleaves runs two bundled servers twice each: the runs come
// round by round (A B, A B), each side's reports in round order, every run
// against its own target, and a cancelled context ends it before the next.
func TestRepeatInterleaves(t *testing.T) {
	var targets []string
	for range 2 {
		url, stop, err := StartBundled(scenario.KindEcho)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		targets = append(targets, url)
	}
	spec := scenario.Default()
	spec.Conns, spec.Duration, spec.Warmup, spec.Interval = 2, scenario.Duration(200*time.Millisecond), 0, 0
	p := Plan{Spec: spec, Bundled: true, Version: "test", Driver: driver.Config{IO: driver.IOAuto, Timestamps: driver.TimestampsKernel}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var order []string
	sides, err := Repeat(ctx, context.Background(), p, targets, 2, func(o Outcome) {
		order = append(order, fmt.Sprintf("%d:%d", o.Round, o.Side))
		if o.Report.Target != targets[o.Side] || o.Label != Label(targets[o.Side], o.Side, targets) {
			t.Errorf("round %d side %d: target %s label %s, want %s", o.Round, o.Side, o.Report.Target, o.Label, targets[o.Side])
		}
		if o.Report.Messages.Received == 0 || o.Report.ToolVersion != "test" {
			t.Errorf("round %d side %d: %d received, tool %q", o.Round, o.Side, o.Report.Messages.Received, o.Report.ToolVersion)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(order); got != "[1:0 1:1 2:0 2:1]" {
		t.Errorf("runs in order %s, want round by round", got)
	}
	if len(sides) != 2 || len(sides[0].Reports) != 2 || len(sides[1].Reports) != 2 {
		t.Fatalf("sides %+v", sides)
	}

	// Cancelled before it starts: no run, no error.
	cancel()
	order = nil
	if _, err := Repeat(ctx, context.Background(), p, targets, 2, func(o Outcome) { order = append(order, "run") }); err != nil || order != nil {
		t.Errorf("cancelled: %v, runs %v", err, order)
	}
}
