package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// A sharded run (wsbench run --shard I/N): N processes, on one machine or
// many, each run shard I of the one plan: connections share(Conns, N, I) of
// the whole run (slots First … First+n-1 of Conns, driver.Part) and, as a
// --procs child does, the WHOLE run's schedule, of which it sends only its
// own slots' messages (open-model times, stages, rooms, source addresses are
// all placed by slot), so the N shards together send exactly what one
// process would. Each connects first; with a start (--start-at) it then
// waits until that absolute instant, which is also the schedule's epoch
// (driver.Config.Ready returns it), so intended send times line up across
// machines. A shard not connected and ready by then measures nothing: its
// result says so (StopMissedStart) and wsbench exits 5. Its result carries
// its place and raw measurement (Report.Shard) for wsbench merge.

// Shard is the shard of a run this process runs.
type Shard struct {
	// Index is the shard's number, 0 … Count-1.
	Index, Count int
	// StartAt is the common start (the schedule's epoch); zero: start once
	// connected, as an unsharded run does.
	StartAt time.Time
	// Plan is the plan hash (scenario.PlanHash of the whole scenario and
	// Count); empty: Shard computes it.
	Plan string
	// Clock is the clock the start is awaited on (nil: the system's); tests
	// inject one.
	Clock Clock
}

// Clock is what waiting for the start needs of a clock.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx is done (then returns its error).
	Sleep(ctx context.Context, d time.Duration) error
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MissedStartError is a shard that was not connected and ready by the
// common start: Ready is when it was.
type MissedStartError struct {
	StartAt, Ready time.Time
}

func (e *MissedStartError) Error() string {
	return fmt.Sprintf("not connected and ready by the start %s: ready %s late (start the shards earlier or give a later --start-at)",
		e.StartAt.UTC().Format(time.RFC3339Nano), e.Ready.Sub(e.StartAt).Round(time.Millisecond))
}

// waitStart waits on clk until start, once the connections are open, and
// returns when it woke (what the shard reports as StartedAt). A zero start
// is now. Ready at or after start is a MissedStartError.
func waitStart(ctx context.Context, clk Clock, start time.Time) (time.Time, error) {
	now := clk.Now()
	if start.IsZero() {
		return now, nil
	}
	if !now.Before(start) {
		return now, &MissedStartError{StartAt: start, Ready: now}
	}
	if err := clk.Sleep(ctx, start.Sub(now)); err != nil {
		return clk.Now(), err
	}
	return clk.Now(), nil
}

// ParseShard reads --shard: "I/N" (0 ≤ I < N), or "auto/N", whose index
// comes from the first of envs that is set in getenv (for SLURM_ARRAY_TASK_ID
// less SLURM_ARRAY_TASK_MIN when that is set).
func ParseShard(s string, envs []string, getenv func(string) string) (index, count int, err error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("want I/N (shard I of N, I from 0) or auto/N, got %q", s)
	}
	count, err = strconv.Atoi(ns)
	if err != nil || count < 1 {
		return 0, 0, fmt.Errorf("want a shard count N ≥ 1 after the /, got %q", ns)
	}
	if count > MaxShards {
		return 0, 0, fmt.Errorf("at most %d shards, got %d", MaxShards, count)
	}
	if is == "auto" {
		index, err = shardFromEnv(envs, getenv)
		if err != nil {
			return 0, 0, err
		}
	} else if index, err = strconv.Atoi(is); err != nil {
		return 0, 0, fmt.Errorf("want a shard index I (0 … N-1) or auto before the /, got %q", is)
	}
	if index < 0 || index >= count {
		return 0, 0, fmt.Errorf("shard index %d is not one of 0 … %d", index, count-1)
	}
	return index, count, nil
}

// MaxShards bounds --shard's N.
const MaxShards = 100000

// ShardIndexEnvs are the variables --shard auto/N reads its index from, the
// first set: Kubernetes Indexed Jobs, Nomad, AWS Batch array jobs, Slurm
// job arrays.
var ShardIndexEnvs = []string{"JOB_COMPLETION_INDEX", "NOMAD_ALLOC_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "SLURM_ARRAY_TASK_ID"}

func shardFromEnv(envs []string, getenv func(string) string) (int, error) {
	for _, name := range envs {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("auto: $%s is %q, not a shard index", name, v)
		}
		if name == "SLURM_ARRAY_TASK_ID" {
			if m := strings.TrimSpace(getenv("SLURM_ARRAY_TASK_MIN")); m != "" {
				lo, err := strconv.Atoi(m)
				if err != nil {
					return 0, fmt.Errorf("auto: $SLURM_ARRAY_TASK_MIN is %q, not a number", m)
				}
				i -= lo
			}
		}
		return i, nil
	}
	return 0, fmt.Errorf("auto: none of $%s is set (name the variable with --shard-index-env, or give I/N)", strings.Join(envs, ", $"))
}

// ParseStartAt reads --start-at: an RFC 3339 time, or "+D" (a Go duration)
// from now.
func ParseStartAt(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutPrefix(s, "+"); ok {
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return time.Time{}, fmt.Errorf("want an RFC 3339 time (2026-01-02T15:04:05Z) or +DURATION (+30s), got %q", s)
		}
		return now.Add(dur), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time (2026-01-02T15:04:05Z) or +DURATION (+30s), got %q", s)
	}
	return t, nil
}

// CheckShard refuses what a shard of spec cannot be: a run that has fewer
// connections than shards, a mix of groups, a split over processes.
func CheckShard(spec scenario.Spec, count int) error {
	switch {
	case spec.Mixed():
		return fieldErrorf("shard", "a mix of groups cannot be sharded (yet): shard one group's scenario per run")
	case spec.Procs > 1:
		return fieldErrorf("shard", "a shard runs in one process: drop --procs (run more shards instead)")
	case spec.SessionRate > 0:
		// Its sessions are slots in time order: a shard's slots would be a
		// stretch of the run at the whole rate, not a share of it.
		return fieldErrorf("shard", "a flow at a session rate cannot be sharded (yet): its sessions are slots in arrival order, so a shard would run a stretch of the run at the whole rate, not a share of it")
	case spec.Conns < count:
		return fieldErrorf("shard", "%d shards need at least %d connections, got %d", count, count, spec.Conns)
	}
	return nil
}

// shareSpec is the scenario of the part that runs n of spec's connections
// at target, one of parts (a shard, or a --procs child): its share of the
// opening rate and of the dial concurrency; the message rate stays the
// whole run's (the part sends its slots' share of the whole schedule).
func shareSpec(spec scenario.Spec, target string, n, parts int) scenario.Spec {
	c := spec
	c.Target, c.Conns, c.Procs, c.Thresholds = target, n, 1, nil // thresholds are the whole run's to check
	c.DialConcurrency = max(1, spec.DialConcurrency/parts)
	c.PushRate, c.PushCount = 0, 0 // stream part: the bundled server's, which the parent started
	if !spec.Staged() {
		// Each part its share of the opening rate; in a staged run every
		// part paces the whole plan's opens, then takes its own slots.
		c.ConnectRate = spec.ConnectRate / float64(parts)
	}
	return c
}

// RunShard runs shard p.Shard of p's scenario in this process and reports
// it, with Report.Shard set. A shard that missed the start reports that
// (StopMissedStart, a failure line) with what it had opened; its error is
// then nil: the caller writes the result and exits 5.
func RunShard(ctx, abort context.Context, p Plan) (*results.Report, error) {
	sh := *p.Shard
	spec := p.Spec
	if err := CheckShard(spec, sh.Count); err != nil {
		return nil, err
	}
	if sh.Plan == "" {
		sh.Plan = scenario.PlanHash(spec, sh.Count)
	}
	clk := sh.Clock
	if clk == nil {
		clk = systemClock{}
	}
	c, err := p.compiled()
	if err != nil {
		return nil, err
	}
	first, n := share(spec.Conns, sh.Count, sh.Index)
	own := shareSpec(spec, p.Target, n, sh.Count)
	cfg := p.Driver
	shared := c.Share(n)
	shared.Spec.ConnectRate, shared.Spec.DialConcurrency = own.ConnectRate, own.DialConcurrency
	rec := metrics.NewRecorder()
	var started time.Time
	cfg.Scenario, cfg.Target, cfg.Abort, cfg.OnInterval, cfg.Recorder = shared, p.Target, abort, p.OnInterval, rec
	cfg.Part = driver.Part{First: first, Total: spec.Conns}
	cfg.Ready = func() (time.Time, error) {
		var err error
		started, err = waitStart(ctx, clk, sh.StartAt)
		return sh.StartAt, err
	}
	info := results.ShardInfo{Index: sh.Index, Count: sh.Count, Plan: sh.Plan, StartAt: sh.StartAt, FirstSlot: first, Conns: n}
	info.Host, _ = os.Hostname()
	// The result names the whole run's scenario with this shard's
	// connections, as wsbench merge reads it back.
	whole := spec
	whole.Target, whole.Conns, whole.Procs = p.Target, n, 1
	a := p.about(whole)
	res, err := driver.Run(ctx, cfg)
	var missed *MissedStartError
	switch {
	case errors.As(err, &missed):
		now := clk.Now()
		res = &driver.Result{Started: now, MeasureStart: now, MeasureEnd: now, Processes: 1, StopReason: metrics.StopMissedStart}
		if res.Snapshot, err = rec.Snapshot(); err != nil {
			return nil, err
		}
		a.Failure = fmt.Sprintf("shard %d/%d %v", sh.Index, sh.Count, missed)
		started = missed.Ready
	case err != nil:
		return nil, err
	}
	if res.StopReason == driver.StopInterrupted && errors.As(context.Cause(ctx), &ThresholdAbort{}) {
		res.StopReason = results.StopThresholdAbort
	}
	info.StartedAt = started
	if !sh.StartAt.IsZero() && !started.IsZero() {
		info.SkewNs = started.Sub(sh.StartAt).Nanoseconds()
	}
	rep, err := results.Build(a, res)
	if err != nil {
		return nil, err
	}
	rep.Shard = &results.ShardResult{Shard: info, Measurement: res}
	return rep, nil
}
