package orchestrate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/scenario"
)

// fakeClock is a clock that moves only when slept on (or told to).
type fakeClock struct {
	now    time.Time
	slept  []time.Duration
	cancel context.CancelFunc // called on the first sleep, when set
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	if c.cancel != nil {
		c.cancel()
		return ctx.Err()
	}
	c.now = c.now.Add(d)
	return nil
}

// TestWaitStart: ready before the start, a shard sleeps exactly until it;
// ready at or after it, it has missed it (exit 5 later); no start is now;
// an interruption while waiting is the context's error, not a miss.
func TestWaitStart(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)
	start := t0.Add(1500 * time.Millisecond)

	c := &fakeClock{now: t0}
	got, err := waitStart(context.Background(), c, start)
	if err != nil || !got.Equal(start) || len(c.slept) != 1 || c.slept[0] != 1500*time.Millisecond {
		t.Errorf("ready 1.5s early: woke at %v (slept %v), %v; want a sleep of 1.5s to the start", got, c.slept, err)
	}

	for _, late := range []time.Duration{0, time.Nanosecond, 2 * time.Second} {
		c = &fakeClock{now: start.Add(late)}
		got, err = waitStart(context.Background(), c, start)
		var missed *MissedStartError
		if !errors.As(err, &missed) || len(c.slept) != 0 || !got.Equal(start.Add(late)) || !missed.Ready.Equal(start.Add(late)) || !missed.StartAt.Equal(start) {
			t.Errorf("ready %v after the start: %v at %v (slept %v); want a missed start, no sleep", late, err, got, c.slept)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "2026-12-03T23:00:01.5Z") || !strings.Contains(msg, "late") {
			t.Errorf("missed start says %q; want the start and how late", msg)
		}
	}

	c = &fakeClock{now: t0}
	if got, err = waitStart(context.Background(), c, time.Time{}); err != nil || !got.Equal(t0) || len(c.slept) != 0 {
		t.Errorf("no start: %v, %v (slept %v); want now, no sleep", got, err, c.slept)
	}

	ctx, cancel := context.WithCancel(context.Background())
	c = &fakeClock{now: t0, cancel: cancel}
	_, err = waitStart(ctx, c, start)
	if !errors.Is(err, context.Canceled) || errors.As(err, new(*MissedStartError)) {
		t.Errorf("interrupted while waiting: %v; want the context's error", err)
	}
}

// TestSystemClockSleep: the real clock's sleep ends with the context.
func TestSystemClockSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (systemClock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep on a cancelled context: %v", err)
	}
	if err := (systemClock{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("short sleep: %v", err)
	}
}

func TestParseShard(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	ok := []struct {
		in          string
		env         func(string) string
		index, want int
	}{
		{"0/1", env(), 0, 1},
		{"3/4", env(), 3, 4},
		{"auto/3", env("JOB_COMPLETION_INDEX", "2"), 2, 3},
		{"auto/3", env("NOMAD_ALLOC_INDEX", "1"), 1, 3},
		{"auto/3", env("AWS_BATCH_JOB_ARRAY_INDEX", "0"), 0, 3},
		{"auto/3", env("SLURM_ARRAY_TASK_ID", "2"), 2, 3},
		{"auto/3", env("SLURM_ARRAY_TASK_ID", "12", "SLURM_ARRAY_TASK_MIN", "10"), 2, 3},
		// The first set wins: a Kubernetes pod's index, not Slurm's.
		{"auto/3", env("JOB_COMPLETION_INDEX", "1", "SLURM_ARRAY_TASK_ID", "2"), 1, 3},
	}
	for _, tc := range ok {
		i, n, err := ParseShard(tc.in, ShardIndexEnvs, tc.env)
		if err != nil || i != tc.index || n != tc.want {
			t.Errorf("%q: %d/%d, %v; want %d/%d", tc.in, i, n, err, tc.index, tc.want)
		}
	}
	if i, n, err := ParseShard("auto/5", []string{"MY_INDEX"}, env("MY_INDEX", "4", "JOB_COMPLETION_INDEX", "0")); err != nil || i != 4 || n != 5 {
		t.Errorf("auto/5 from $MY_INDEX: %d/%d, %v", i, n, err)
	}
	bad := []struct {
		in   string
		env  func(string) string
		want string
	}{
		{"3", env(), "want I/N"},
		{"1/0", env(), "shard count"},
		{"x/2", env(), "shard index I"},
		{"2/2", env(), "not one of 0 … 1"},
		{"-1/2", env(), "not one of 0 … 1"},
		{"1/200000", env(), "at most"},
		{"auto/2", env(), "none of $JOB_COMPLETION_INDEX"},
		{"auto/2", env("JOB_COMPLETION_INDEX", "two"), `$JOB_COMPLETION_INDEX is "two"`},
		{"auto/2", env("JOB_COMPLETION_INDEX", "2"), "not one of 0 … 1"},
		{"auto/2", env("SLURM_ARRAY_TASK_ID", "1", "SLURM_ARRAY_TASK_MIN", "x"), "SLURM_ARRAY_TASK_MIN"},
	}
	for _, tc := range bad {
		if _, _, err := ParseShard(tc.in, ShardIndexEnvs, tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error saying %q", tc.in, err, tc.want)
		}
	}
}

func TestParseStartAt(t *testing.T) {
	now := time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"+30s":                           now.Add(30 * time.Second),
		"+0s":                            now,
		"2026-12-04T01:02:03Z":           time.Date(2026, 12, 4, 1, 2, 3, 0, time.UTC),
		"2026-12-04T01:02:03.25+01:00":   time.Date(2026, 12, 4, 0, 2, 3, 250e6, time.UTC),
		"2026-12-04T01:02:03.123456789Z": time.Date(2026, 12, 4, 1, 2, 3, 123456789, time.UTC),
	} {
		got, err := ParseStartAt(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "30s", "+-1s", "+soon", "2026-12-04 01:02:03", "tomorrow"} {
		if _, err := ParseStartAt(in, now); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("%q: %v; want an error naming the forms", in, err)
		}
	}
}

// TestRunShardMissedStart: a shard whose clock says it was connected only
// after the start measures nothing and reports so: stop reason
// missed_start, a failure line naming the shard and how late, its place and
// skew, the connections it opened; no error (the caller writes the result
// and exits 5).
func TestRunShardMissedStart(t *testing.T) {
	url, stop, err := StartBundled(scenario.KindEcho)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	spec := scenario.Default()
	spec.Conns, spec.Rate, spec.Duration = 6, 100, scenario.Duration(time.Second)
	start := time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)
	clk := &fakeClock{now: start.Add(1500 * time.Millisecond)}
	p := Plan{Spec: spec, Target: url, Version: "test", Driver: driver.Config{IO: driver.IOSyscalls},
		Shard: &Shard{Index: 2, Count: 3, StartAt: start, Clock: clk}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopReason != driver.StopMissedStart || rep.Messages.Sent != 0 || rep.Connections.Opened != 2 {
		t.Errorf("stop %s, sent %d, opened %d; want missed_start, nothing sent, the shard's 2 connections opened", rep.StopReason, rep.Messages.Sent, rep.Connections.Opened)
	}
	if want := "shard 2/3 not connected and ready by the start 2026-12-03T23:00:00Z: ready 1.5s late"; !strings.HasPrefix(rep.Failure, want) {
		t.Errorf("failure %q, want it to start %q", rep.Failure, want)
	}
	s := rep.Shard
	if s == nil || s.Shard.Index != 2 || s.Shard.Count != 3 || s.Shard.FirstSlot != 4 || s.Shard.Conns != 2 || s.Shard.SkewNs != int64(1500*time.Millisecond) ||
		s.Shard.Plan != scenario.PlanHash(spec, 3) || s.Measurement == nil || s.Measurement.StopReason != driver.StopMissedStart {
		t.Errorf("shard section %+v", s)
	}
}
