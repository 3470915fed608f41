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
// each interval once every group has reported it, merged as the report's
// intervals are (metrics.Interval.Add, which metrics.Merge uses).
func Mix(ctx, abort context.Context, p Plan) (*results.Report, error) {
	spec, target := p.Spec, p.Target
	compiled, err := p.compiled()
	if err != nil {
		return nil, err
	}
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
		cfg.Scenario, cfg.Target, cfg.Abort = compiled.Groups[i], target, abort
		if p.OnInterval != nil {
			cfg.OnInterval = live.add // each interval is expanded for it
		}
		var once sync.Once
		cfg.Ready = func() (time.Time, error) { // zero: the clock starts when the groups are ready
			once.Do(arrive)
			select {
			case <-start:
				return time.Time{}, nil
			case <-abort.Done():
				return time.Time{}, abort.Err()
			}
		}
		wg.Go(func() {
			outs[i].res, outs[i].err = driver.Run(ctx, cfg)
			once.Do(arrive) // a group that opened nothing does not hold the others back
		})
	}
	wg.Wait()

	ms := make([]*metrics.Measurement, n)
	groups := make([]results.About, n)
	names := make([]string, n)
	for i, o := range outs {
		if o.err != nil {
			return nil, fmt.Errorf("group %q: %w", spec.Groups[i].Name, o.err)
		}
		ms[i], groups[i], names[i] = o.res, p.about(spec.GroupSpec(i)), spec.Groups[i].Name
	}
	return results.Mix(p.about(spec), groups, names, ms)
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
	// Only the expanded snapshot: the live line reads it. Add copies it
	// (the run compacts its own next).
	p.iv.Add(driver.Interval{Start: iv.Start, End: iv.End, Snapshot: iv.Snapshot, Open: iv.Open})
	if p.groups++; p.groups == m.groups {
		m.show(p.iv)
		delete(m.pending, k)
	}
}
