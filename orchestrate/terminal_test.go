package orchestrate

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

func TestShowStatus(t *testing.T) {
	var b bytes.Buffer
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		w            io.Writer
		quiet, force bool
		want         bool
	}{
		{&b, false, false, false}, // not a terminal
		{f, false, false, false},  // a file, not a terminal
		{&b, false, true, true},   // --progress
		{f, true, true, false},    // --quiet wins
	} {
		if got := ShowStatus(tc.w, tc.quiet, tc.force); got != tc.want {
			t.Errorf("ShowStatus(%T, quiet %v, force %v) = %v", tc.w, tc.quiet, tc.force, got)
		}
	}
}

// TestAttend: the status takes the intervals and ticks when shown; a
// watch wraps the interval hook and the context; with neither, the plan
// and the context are left alone.
func TestAttend(t *testing.T) {
	ctx := context.Background()
	spec := scenario.Default()
	spec.Interval = scenario.Duration(time.Second)
	var b bytes.Buffer

	p := Plan{Spec: spec}
	got, st := Attend(ctx, &p, &b, false, nil)
	if got != ctx || st != nil || p.OnInterval != nil || p.OnTick != nil {
		t.Errorf("nothing to attend: ctx changed %v, status %v, hooks %v %v", got != ctx, st, p.OnInterval != nil, p.OnTick != nil)
	}
	p = Plan{Spec: spec}
	got, st = Attend(ctx, &p, &b, true, nil)
	if got != ctx || st == nil || p.OnInterval == nil || p.OnTick == nil {
		t.Errorf("status shown: ctx changed %v, status %v, hooks %v %v", got != ctx, st, p.OnInterval != nil, p.OnTick != nil)
	}
	st.Done()
	th, err := results.ParseThreshold("errors.count<100:abort")
	if err != nil {
		t.Fatal(err)
	}
	p = Plan{Spec: spec}
	got, st = Attend(ctx, &p, &b, false, results.NewWatch([]results.Threshold{th}))
	if got == ctx || st != nil || p.OnInterval == nil || p.OnTick != nil {
		t.Errorf("watched: ctx changed %v, status %v, hooks %v %v", got != ctx, st, p.OnInterval != nil, p.OnTick != nil)
	}
}
