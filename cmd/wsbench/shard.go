package main

import (
	"os"
	"time"

	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/scenario"
)

// shard part: wsbench run --shard I/N|auto/N [--shard-index-env NAME]
// [--start-at TIME].

// exitMissedStart: a shard (--shard) was not connected and ready by
// --start-at; its result is still written, marked missed_start. A
// Kubernetes Job's podFailurePolicy keys on it.
const exitMissedStart = 5

// missedStartError is a shard that missed the common start; the result
// has been written and says so.
type missedStartError struct{ line string }

func (e missedStartError) Error() string { return e.line }
func (missedStartError) exitCode() int   { return exitMissedStart }

// shardOf reads the shard flags: nil without --shard. A Poisson run's seed,
// when none was given, is derived from the plan, so that every shard draws
// the same schedule.
func shardOf(o *runOptions, spec *scenario.Spec, multi bool) (*orchestrate.Shard, error) {
	if *o.shard == "" {
		switch {
		case *o.startAt != "":
			return nil, usagef("--start-at: needs --shard I/N (--shard 0/1 for a run of one process)")
		case *o.shardIndexEnv != "":
			return nil, usagef("--shard-index-env: needs --shard auto/N")
		}
		return nil, nil
	}
	if multi {
		return nil, usagef("--shard: runs one shard of one run; not with --repeat or several targets")
	}
	envs := orchestrate.ShardIndexEnvs
	if *o.shardIndexEnv != "" {
		envs = []string{*o.shardIndexEnv}
	}
	index, count, err := orchestrate.ParseShard(*o.shard, envs, os.Getenv)
	if err != nil {
		return nil, usagef("--shard: %v", err)
	}
	if count > 1 && spec.Target == "" {
		// With no URL each shard would start a bundled server of its own:
		// N servers, each loaded by one shard, is not one run of N shards.
		return nil, usagef("--shard %s: needs the target URL that every shard loads (with none, each shard would start a bundled server of its own); start one with wsbench serve and give its URL", *o.shard)
	}
	sh := &orchestrate.Shard{Index: index, Count: count}
	if *o.startAt != "" {
		if sh.StartAt, err = orchestrate.ParseStartAt(*o.startAt, time.Now()); err != nil {
			return nil, usagef("--start-at: %v", err)
		}
	}
	if err := orchestrate.CheckShard(*spec, count); err != nil {
		return nil, usageError{withFlag(err)}
	}
	if spec.Arrival == scenario.ArrivalPoisson && spec.Seed == 0 {
		spec.Seed = scenario.PlanSeed(*spec, count)
	}
	return sh, nil
}
