package metrics

import (
	"errors"
	"fmt"
	"sync"
)

// Recorder hands out shards and merges them. NewShard is safe for concurrent
// use; Snapshot must wait until the shards' owners stopped.
type Recorder struct {
	mu     sync.Mutex
	shards []*Shard
}

// NewRecorder returns a recorder with no shards.
func NewRecorder() *Recorder {
	return &Recorder{}
}

// NewShard returns a new empty shard, registered with r, for one goroutine to
// own. It is safe to call from several goroutines at once.
func (r *Recorder) NewShard() *Shard {
	s := &Shard{}
	r.mu.Lock()
	r.shards = append(r.shards, s)
	r.mu.Unlock()
	return s
}

// Snapshot merges every shard handed out so far into a new [Snapshot]. The
// shards are read, not reset, so a later Snapshot includes everything again.
//
// Snapshot reads shards without locks, so every write by a shard's owner must
// happen before the call, for example by having owners stop and calling
// Snapshot after sync.WaitGroup.Wait returns. Merge errors are returned,
// joined, with the snapshot holding everything that did merge.
func (r *Recorder) Snapshot() (*Snapshot, error) {
	r.mu.Lock()
	shards := append([]*Shard(nil), r.shards...)
	r.mu.Unlock()

	snap := NewSnapshot()
	var errs []error
	for i, sh := range shards {
		if err := snap.AddShard(sh); err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", i, err))
		}
	}
	return snap, errors.Join(errs...)
}

// Snapshot is the merged measurements of a run, or of part of one. Snapshots
// of worker processes combine exactly with [Snapshot.Merge].
type Snapshot struct {
	// Counts is the summed accounting.
	Counts Counts
	// Errors counts errors by kind. It is never nil.
	Errors map[string]int64
	// Hist holds a histogram for each metric, indexed by [Metric]. No entry
	// is nil: a metric with no records has an empty histogram.
	Hist [NumMetrics]*Histogram
	// Steps are a scripted flow's named steps, in the order they were
	// first named (see [StepStats]); each has its histogram and errors.
	Steps []*StepStats
}

// NewSnapshot returns an empty snapshot with every histogram allocated.
func NewSnapshot() *Snapshot {
	s := &Snapshot{Errors: make(map[string]int64)}
	for m := range s.Hist {
		s.Hist[m] = NewHistogram()
	}
	return s
}

// Merge adds o into s: counts and errors are summed and histograms merged
// exactly, so merging snapshots equals recording everything into one. A nil
// o, or nil histograms in o, add nothing. Merge errors are returned, joined
// and naming their metric, with s holding everything that did merge.
func (s *Snapshot) Merge(o *Snapshot) error {
	if o == nil {
		return nil
	}
	s.Counts.Add(o.Counts)
	s.addErrors(o.Errors)
	return errors.Join(s.mergeHists(&o.Hist), s.mergeSteps(o.Steps))
}

// AddShard adds the shard's counts, errors and histograms into s, as
// [Snapshot.Merge] does for a snapshot. The shard's owner must have stopped
// writing to it (see [Recorder.Snapshot]).
func (s *Snapshot) AddShard(sh *Shard) error {
	s.Counts.Add(sh.Counts)
	s.addErrors(sh.errors)
	return errors.Join(s.mergeHists(&sh.hist), s.addShardSteps(sh))
}

func (s *Snapshot) addErrors(errs map[string]int64) {
	if s.Errors == nil {
		s.Errors = make(map[string]int64, len(errs))
	}
	// Adding a map into itself (a self-merge) is well defined: ranging visits
	// each key once and only updates existing keys.
	for k, n := range errs {
		s.Errors[k] += n
	}
}

func (s *Snapshot) mergeHists(hs *[NumMetrics]*Histogram) error {
	var errs []error
	for m, h := range hs {
		if h == nil {
			continue
		}
		if s.Hist[m] == nil {
			s.Hist[m] = NewHistogram()
		}
		if err := s.Hist[m].Merge(h); err != nil {
			errs = append(errs, fmt.Errorf("%v: %w", Metric(m), err))
		}
	}
	return errors.Join(errs...)
}
