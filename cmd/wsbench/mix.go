package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// runMix runs a scenario's groups at once in this process, each on its own
// driver run with its own connections, and reports each group and the whole.
// Every group opens its connections first; then all their clocks start
// together, so their measured windows coincide.
func runMix(ctx, abort context.Context, spec scenario.Spec, target string, bundled bool, opts driver.Config, st *status) (*results.Report, error) {
	n := len(spec.Groups)
	live := &mixIntervals{st: st, groups: n, length: time.Duration(spec.Interval), pending: map[int]*mixPending{}}
	var (
		mu      sync.Mutex
		arrived int
		start   = make(chan struct{})
	)
	arrive := func() {
		mu.Lock()
		defer mu.Unlock()
		if arrived++; arrived == n {
			close(start)
		}
	}
	type outcome struct {
		res *driver.Result
		err error
	}
	outs := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		cfg := opts
		cfg.Spec, cfg.Target, cfg.Abort = spec.GroupSpec(i), target, abort
		if st != nil {
			cfg.OnInterval = live.add // each interval is expanded for it
		}
		var once sync.Once
		cfg.Ready = func() error {
			once.Do(arrive)
			select {
			case <-start:
				return nil
			case <-abort.Done():
				return abort.Err()
			}
		}
		wg.Go(func() {
			outs[i].res, outs[i].err = driver.Run(ctx, cfg)
			once.Do(arrive) // a group that opened nothing does not hold the others back
		})
	}
	wg.Wait()

	var groups []*results.Report
	whole := results.Input{ToolVersion: version, Spec: spec, Target: target, Bundled: bundled, Ended: time.Now(), Snapshot: metrics.NewSnapshot(),
		ServerLocal: bundled || orchestrate.OnThisMachine(target)}
	var intervals []results.IntervalInput
	stops := make([]string, 0, n)
	for i, o := range outs {
		gs := spec.GroupSpec(i)
		if o.err != nil {
			return nil, fmt.Errorf("group %q: %w", spec.Groups[i].Name, o.err)
		}
		res := o.res
		in := inputOf(gs, target, bundled, res)
		rep, err := results.Build(in)
		if err != nil {
			return nil, err
		}
		rep.Group = spec.Groups[i].Name
		groups = append(groups, rep)
		if rep.Failure != "" && whole.Failure == "" {
			whole.Failure = fmt.Sprintf("group %q: %s", rep.Group, rep.Failure)
		}
		if err := whole.Snapshot.Merge(res.Snapshot); err != nil {
			return nil, err
		}
		stops = append(stops, res.StopReason)
		if res.StopReason == driver.StopNoConnections {
			continue
		}
		// One process: CPU, RSS and GC are the process's, the same for every
		// group, so the whole takes them once (the largest reading).
		if whole.Started.IsZero() || res.Started.Before(whole.Started) {
			whole.Started = res.Started
		}
		if whole.MeasureStart.IsZero() || res.MeasureStart.Before(whole.MeasureStart) {
			whole.MeasureStart = res.MeasureStart
		}
		if res.MeasureEnd.After(whole.MeasureEnd) {
			whole.MeasureEnd = res.MeasureEnd
		}
		if res.CPU.User+res.CPU.System > whole.CPUUser+whole.CPUSystem {
			whole.CPUUser, whole.CPUSystem, whole.GCPause, whole.GCCycles = res.CPU.User, res.CPU.System, res.CPU.GCPause, res.CPU.GCCycles
		}
		whole.MaxRSSKiB = max(whole.MaxRSSKiB, res.CPU.MaxRSSKiB)
		whole.IO, whole.Timestamps, whole.Cores = res.IO, res.Timestamps, res.GOMAXPROCS
		whole.Dial = max(whole.Dial, res.Dial)
		whole.SendBufferFull += res.SendBufferFull
		whole.ReadBacklog = whole.ReadBacklog.Add(rep.Harness.ReadBacklog)
		whole.MachineCPU = max(whole.MachineCPU, res.CPU.Machine)
		for k, iv := range intervalsOf(res) {
			for len(intervals) <= k {
				intervals = append(intervals, results.IntervalInput{Start: iv.Start, End: iv.End})
			}
			merged, err := intervals[k].Data.Merge(iv.Data)
			if err != nil {
				return nil, err
			}
			intervals[k].Data = merged
			intervals[k].End = max(intervals[k].End, iv.End)
			intervals[k].Open += iv.Open
		}
	}
	if whole.Started.IsZero() {
		now := time.Now()
		whole.Started, whole.MeasureStart, whole.MeasureEnd = now, now, now
	}
	whole.StopReason = results.CombineStops(stops)
	whole.Interrupted = whole.StopReason == driver.StopInterrupted || whole.StopReason == driver.StopAborted
	whole.Intervals = intervals
	rep, err := results.Build(whole)
	if err != nil {
		return nil, err
	}
	rep.Groups = groups
	return rep, nil
}

// mixServerKind is the kind the bundled server must serve for a mix: a
// broadcast server when every group is broadcast, an echo server when none
// is; a mix of both needs a target of the user's.
func mixServerKind(spec scenario.Spec) (string, error) {
	broadcast := 0
	for i := range spec.Groups {
		if spec.GroupSpec(i).Kind == scenario.KindBroadcast {
			broadcast++
		}
	}
	switch broadcast {
	case 0:
		return scenario.KindEcho, nil
	case len(spec.Groups):
		return scenario.KindBroadcast, nil
	}
	return "", fmt.Errorf("--groups: the bundled server serves either broadcast rooms or echo; a mix of both needs a target URL (a server that does both)")
}
