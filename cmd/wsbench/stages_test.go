package main

import (
	"testing"
)

// TestStagedRunSplitOverProcesses runs the same staged plan in one process
// and in two: each stage's messages due (sent + unsent) match exactly, and
// the merged stage histograms hold every reply.
func TestStagedRunSplitOverProcesses(t *testing.T) {
	_, url, _ := startServe(t)
	load := []string{"--stage", "0s:4:200:start", "--stage", "800ms:12:800:ramp", "--stage", "400ms:6:400:down", "--interval", "200ms", url}
	one := runJSON(t, load...)
	two := runJSON(t, append([]string{"--procs", "2"}, load...)...)
	if len(one.Stages) != 3 || len(two.Stages) != 3 {
		t.Fatalf("stages: %d and %d", len(one.Stages), len(two.Stages))
	}
	for i := range one.Stages {
		a, b := one.Stages[i], two.Stages[i]
		if a.Name != b.Name || a.TargetConns != b.TargetConns || a.TargetRate != b.TargetRate {
			t.Errorf("stage %d: %+v vs %+v", i, a, b)
		}
		dueA, dueB := a.Messages.Sent+a.Messages.Unsent, b.Messages.Sent+b.Messages.Unsent
		if dueA != dueB {
			t.Errorf("stage %s: %d due in one process, %d in two", a.Name, dueA, dueB)
		}
		if b.Latency["rtt"].Count != b.Messages.Received {
			t.Errorf("stage %s: %d replies but %d rtt samples", b.Name, b.Messages.Received, b.Latency["rtt"].Count)
		}
	}
	if due := one.Stages[1].Messages.Sent + one.Stages[1].Messages.Unsent; due < 380 || due > 420 {
		t.Errorf("ramp: %d messages due, want 400 (200→800 msg/s over 0.8s)", due)
	}
	if one.Stages[1].Open < 11 || two.Stages[1].Open < 11 { // the 12th opens as the ramp ends
		t.Errorf("open after the ramp: %d and %d, want 11-12", one.Stages[1].Open, two.Stages[1].Open)
	}
	for _, r := range [2]int64{one.Messages.Unsent, two.Messages.Unsent} {
		if r > 20 {
			t.Errorf("unsent %d", r)
		}
	}
	if !one.Messages.Balanced || !two.Messages.Balanced || one.Connections.Opened != 12 || two.Connections.Opened != 12 {
		t.Errorf("one %+v %+v; two %+v %+v", one.Messages, one.Connections, two.Messages, two.Connections)
	}
}
