//go:build linux

package driver

import (
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// TestIntervalCutAcrossSleptBoundaries: a loop that sleeps through interval
// boundaries (a long wait with no traffic, a busy machine) must still cut
// each interval at its boundary: what it recorded before the sleep stays in
// the interval it was recorded in, each interval slept through shows the
// connections that stayed open and nothing recorded, and nothing moves to a
// later interval. The loop's clock is set by moving the run's origin, so the
// sleep is exact and the test deterministic.
func TestIntervalCutAcrossSleptBoundaries(t *testing.T) {
	const ms = int64(time.Millisecond)
	r := &run{measureStart: 100 * ms, interval: 100 * ms}
	r.stopAt.Store(100*ms + 600*ms) // six intervals: 0.1-0.7s
	sh := metrics.NewRecorder().NewShard()
	sh.Windowed()
	parts := make(chan checkpoint, 64)
	w := &worker{run: r, shard: sh, intervals: parts, nextInterval: r.measureStart, intervalIdx: -1, live: 5}
	at := func(now int64) { r.origin = time.Now().Add(-time.Duration(now)) } // w.now() reads about now
	pass := func(now int64) {
		at(now)
		if now >= w.nextInterval {
			w.checkpoint(false)
		}
	}

	sh.Counts.Sent += 7 // warm-up: dropped
	pass(20 * ms)
	pass(105 * ms)
	sh.Counts.Sent += 3 // in interval 0
	// The loop sleeps from 0.15s to 0.45s: the boundaries at 0.2, 0.3 and
	// 0.4s pass while it waits.
	pass(150 * ms)
	pass(450 * ms)
	sh.Counts.Sent += 4 // in interval 3
	w.live = 2          // three connections close in interval 3
	pass(520 * ms)
	sh.Counts.Sent++ // in interval 4
	// Sending stops at 0.7s; the loop sleeps from 0.65s to 0.91s, past the
	// window's end, into the grace period, whose replies belong to the last
	// interval; the connections open at its end count once.
	pass(650 * ms)
	sh.Counts.Received += 9
	pass(910 * ms)
	sh.Counts.Received += 2
	w.live = 0
	at(960 * ms)
	w.checkpoint(true)
	close(parts)

	got := collectIntervals(parts, 1, 100*time.Millisecond, nil)
	want := []struct {
		sent, received int64
		open           int
	}{
		{3, 0, 5}, // interval 0: cut when the loop woke at 0.45s, not moved to interval 3
		{0, 0, 5}, // slept through: the connections stayed open
		{0, 0, 5},
		{4, 0, 2},
		{1, 0, 2},
		{0, 11, 2}, // its replies and the grace period's
	}
	if len(got) != len(want) {
		t.Errorf("%d intervals, want %d (the window's six)", len(got), len(want))
	}
	for i, iv := range got[:min(len(got), len(want))] {
		c := iv.Data.Counts
		if iv.Start != time.Duration(i)*100*time.Millisecond || c.Sent != want[i].sent || c.Received != want[i].received || iv.Open != want[i].open {
			t.Errorf("interval %d (%v..%v): sent %d received %d open %d, want %d, %d, %d",
				i, iv.Start, iv.End, c.Sent, c.Received, iv.Open, want[i].sent, want[i].received, want[i].open)
		}
	}
}
