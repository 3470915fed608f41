package orchestrate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
)

// Mix runs p's groups at once in this process, each on its own driver run
// with its own connections, and reports each group (Report.Groups) and the
// whole. Every group opens its connections first; then all their clocks
// start together, so their measured windows coincide. p.OnInterval gets
// each interval once every group has reported it, merged.
func Mix(ctx, abort context.Context, p Plan) (*results.Report, error) {
	spec, target, bundled := p.Spec, p.Target, p.Bundled
	n := len(spec.Groups)
	live := &mixIntervals{show: p.OnInterval, groups: n, length: time.Duration(spec.Interval), pending: map[int]*mixPending{}}
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
		cfg := p.Driver
		cfg.Spec, cfg.Target, cfg.Abort = spec.GroupSpec(i), target, abort
		if p.OnInterval != nil {
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
	whole := results.Input{ToolVersion: p.Version, Spec: spec, Target: target, Bundled: bundled, Ended: time.Now(), Snapshot: metrics.NewSnapshot(),
		ServerLocal: bundled || OnThisMachine(target)}
	var intervals []results.IntervalInput
	stops := make([]string, 0, n)
	for i, o := range outs {
		gs := spec.GroupSpec(i)
		if o.err != nil {
			return nil, fmt.Errorf("group %q: %w", spec.Groups[i].Name, o.err)
		}
		res := o.res
		in := p.input(gs, res)
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

// mixIntervals merges the intervals of a mix's groups, each handed over by
// its own run, and shows an interval once every group has reported it.
type mixIntervals struct {
	show    func(driver.Interval)
	groups  int
	length  time.Duration
	mu      sync.Mutex
	pending map[int]*mixPending
}

type mixPending struct {
	iv     driver.Interval
	groups int
}

func (m *mixIntervals) add(iv driver.Interval) {
	if m.show == nil || m.length <= 0 {
		return
	}
	k := int(iv.Start / m.length)
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending[k]
	if p == nil {
		p = &mixPending{iv: driver.Interval{Start: iv.Start, End: iv.End, Snapshot: metrics.NewSnapshot()}}
		m.pending[k] = p
	}
	p.iv.Snapshot.Merge(iv.Snapshot) // copies: the run compacts its own next
	p.iv.Open += iv.Open
	p.iv.End = max(p.iv.End, iv.End)
	if p.groups++; p.groups == m.groups {
		m.show(p.iv)
		delete(m.pending, k)
	}
}
