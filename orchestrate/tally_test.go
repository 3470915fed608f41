package orchestrate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
)

// TestTally: each outcome is judged against the thresholds and written as
// <label>-<round>.json; a run that opened no connection counts as
// unreachable, not as a failure; only the first failure is kept.
func TestTally(t *testing.T) {
	th, err := results.ParseThreshold("rtt.p99<10ms")
	if err != nil {
		t.Fatal(err)
	}
	rep := func(stop metrics.StopReason, failure string, p99 float64) *results.Report {
		return &results.Report{Schema: results.Schema, StopReason: stop, Failure: failure,
			Latency: map[string]results.Latency{"rtt": {Summary: metrics.Summary{P99Us: p99}}}}
	}
	dir := t.TempDir()
	tally := Tally{Thresholds: []results.Threshold{th}, Dir: dir}
	for _, o := range []Outcome{
		{Round: 1, Label: "a", Report: rep(driver.StopCompleted, "", 1000)},                     // passes
		{Round: 1, Label: "b", Report: rep(driver.StopCompleted, "", 20000)},                    // fails its threshold
		{Round: 2, Label: "a", Report: rep(driver.StopNoConnections, "no connection", 0)},       // unreachable
		{Round: 2, Label: "b", Report: rep(driver.StopNotEcho, "the server does not echo", 0)},  // failed though it ran
		{Round: 3, Label: "b", Report: rep(driver.StopNotEcho, "the server still does not", 0)}, // a later failure
	} {
		tally.Add(o)
	}
	// rtt.p99 is 0 in the unreachable and failed runs: they pass it.
	if tally.Failed != 1 || tally.Unreachable != 1 || tally.Failure != "b, round 2: the server does not echo" || tally.WriteErr != nil {
		t.Errorf("tally %+v", tally)
	}
	if err := tally.Err(); err == nil || err.Error() != "1 run(s) could open no connection" {
		t.Errorf("unreachable first: %v", err)
	}
	if err := (&Tally{Failure: "b, round 2: x"}).Err(); err == nil || err.Error() != "b, round 2: x" {
		t.Errorf("then the failure: %v", err)
	}
	if err := (&Tally{Failed: 2}).Err(); err != nil {
		t.Errorf("failed thresholds are not an Err: %v", err)
	}
	for _, name := range []string{"a-1.json", "b-1.json", "a-2.json", "b-2.json", "b-3.json"} {
		if _, err := results.Read(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A folder that cannot be written: the first error is kept, no more tried.
	bad := Tally{Dir: filepath.Join(dir, "missing")}
	bad.Add(Outcome{Round: 1, Label: "a", Report: rep(driver.StopCompleted, "", 1)})
	if !errors.Is(bad.WriteErr, os.ErrNotExist) {
		t.Errorf("write to a missing folder: %v", bad.WriteErr)
	}
}

func TestOutcomeLine(t *testing.T) {
	rep := &results.Report{StopReason: driver.StopCompleted, Rates: results.Rates{Received: 12345},
		Latency: map[string]results.Latency{"rtt": {Summary: metrics.Summary{P50Us: 150, P99Us: 2500}}}}
	got := Outcome{Round: 2, Label: "ws://127.0.0.1:1/", Report: rep}.Line()
	want := "round 2  ws://127.0.0.1:1/        " + fmt.Sprintf("%12s", results.FormatNum(12345)) + " msg/s  rtt p50 " +
		results.FormatUs(150) + " p99 " + results.FormatUs(2500) + "  errors 0  " + string(driver.StopCompleted)
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
