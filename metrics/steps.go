package metrics

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Steps of a scripted flow (kind flow): each named step has a histogram of
// its latency, one value per time the step was done, and its failures by
// kind. They are kept by name, in the order the steps were first named
// (the scenario's, since every event loop names its steps before it
// records), and merge by name: across event loops, the processes of a split
// run, intervals and stages, exactly as the run's own histograms do.

// StepStats is what one named step measured: Hist holds the latency of
// each time it was done (same range and precision as every [Histogram]),
// Errors the times it failed, by kind ("timeout", "closed", …).
type StepStats struct {
	Name   string
	Hist   *Histogram
	Errors map[string]int64
}

// Count is how many times the step was done.
func (st *StepStats) Count() int64 { return st.Hist.Count() }

// ErrorCount is how many times the step failed, of every kind.
func (st *StepStats) ErrorCount() int64 {
	var n int64
	for _, v := range st.Errors {
		n += v
	}
	return n
}

func newStepStats(name string) *StepStats {
	return &StepStats{Name: name, Hist: NewHistogram(), Errors: map[string]int64{}}
}

// shardStep is a shard's record of one step: its histogram, allocated on
// the first record, and its failures.
type shardStep struct {
	name   string
	hist   *Histogram
	errors map[string]int64
}

// Step returns the index of the step named name in the shard, naming it
// (at the end) if it has no index yet. Name a flow's steps in order before
// recording, off the hot path; [Shard.RecordStep] and [Shard.StepError]
// take the index.
func (s *Shard) Step(name string) int {
	for i := range s.steps {
		if s.steps[i].name == name {
			return i
		}
	}
	s.steps = append(s.steps, shardStep{name: name})
	if s.win != nil {
		s.win.steps = append(s.win.steps, windowStep{errors: map[string]int64{}})
	}
	return len(s.steps) - 1
}

// RecordStep records one completion of step i (see [Shard.Step]) that took
// d. It panics if i is not a step of the shard.
func (s *Shard) RecordStep(i int, d time.Duration) {
	st := &s.steps[i]
	if st.hist == nil {
		st.hist = NewHistogram()
	}
	st.hist.Record(d)
	if s.win != nil {
		w := &s.win.steps[i]
		if w.hist == nil {
			w.hist = NewHistogram()
		}
		w.hist.Record(d)
	}
}

// StepError counts one failure of step i, of the given kind (a short
// stable name, as for [Shard.Error]). It panics if i is not a step of the
// shard.
func (s *Shard) StepError(i int, kind string) {
	st := &s.steps[i]
	if st.errors == nil {
		st.errors = make(map[string]int64)
	}
	st.errors[kind]++
}

// StepCount is how many completions of step i the shard recorded.
func (s *Shard) StepCount(i int) int64 {
	if h := s.steps[i].hist; h != nil {
		return h.Count()
	}
	return 0
}

// Step returns the step named name, nil if s has none.
func (s *Snapshot) Step(name string) *StepStats {
	for _, st := range s.Steps {
		if st.Name == name {
			return st
		}
	}
	return nil
}

// step returns the step named name, adding an empty one at the end if s has
// none.
func (s *Snapshot) step(name string) *StepStats {
	if st := s.Step(name); st != nil {
		return st
	}
	st := newStepStats(name)
	s.Steps = append(s.Steps, st)
	return st
}

// mergeSteps adds steps into s by name: histograms merged exactly, errors
// summed. A step s does not have yet is added after its own.
func (s *Snapshot) mergeSteps(steps []*StepStats) error {
	var errs []error
	for _, o := range steps {
		if o == nil {
			continue
		}
		if err := s.addStep(o.Name, o.Hist, o.Errors); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Snapshot) addStep(name string, h *Histogram, errs map[string]int64) error {
	st := s.step(name)
	for k, v := range errs {
		st.Errors[k] += v
	}
	if err := st.Hist.Merge(h); err != nil { // a nil h adds nothing
		return fmt.Errorf("step %q: %w", name, err)
	}
	return nil
}

// addShardSteps adds a shard's steps into s (see [Snapshot.AddShard]).
func (s *Snapshot) addShardSteps(sh *Shard) error {
	var errs []error
	for i := range sh.steps {
		st := &sh.steps[i]
		if err := s.addStep(st.name, st.hist, st.errors); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CompactStep is a step at rest (see [Compact]): its histogram's non-empty
// buckets (nil: none) and its failures by kind.
type CompactStep struct {
	Name   string           `json:"name"`
	Hist   *Sparse          `json:"hist,omitempty"`
	Errors map[string]int64 `json:"errors,omitempty"`
}

// compactSteps makes s's steps compact, through scan.
func (s *Snapshot) compactSteps() []CompactStep {
	if len(s.Steps) == 0 {
		return nil
	}
	var scan *hdrhistogram.PackedHistogram
	out := make([]CompactStep, 0, len(s.Steps))
	for _, st := range s.Steps {
		cs := CompactStep{Name: st.Name, Errors: maps.Clone(st.Errors)}
		if h := st.Hist; h != nil && (h.Count() > 0 || h.Clamped() > 0) {
			if scan == nil {
				scan = newScan()
			}
			cs.Hist = h.sparse(scan)
		}
		out = append(out, cs)
	}
	return out
}

// expandSteps adds c's steps to s.
func (c *Compact) expandSteps(s *Snapshot) error {
	for _, cs := range c.Steps {
		st := s.step(cs.Name)
		for k, v := range cs.Errors {
			st.Errors[k] += v
		}
		if cs.Hist == nil {
			continue
		}
		h, err := cs.Hist.Histogram()
		if err != nil {
			return fmt.Errorf("step %q: %w", cs.Name, err)
		}
		if err := st.Hist.Merge(h); err != nil {
			return fmt.Errorf("step %q: %w", cs.Name, err)
		}
	}
	return nil
}

// mergeCompactSteps is a and b's steps merged by name, compact (a's order,
// then b's steps a lacks).
func mergeCompactSteps(a, b []CompactStep) ([]CompactStep, error) {
	if len(a) == 0 && len(b) == 0 {
		return nil, nil
	}
	out := make([]CompactStep, 0, max(len(a), len(b)))
	index := map[string]int{}
	for _, list := range [][]CompactStep{a, b} {
		for _, cs := range list {
			i, ok := index[cs.Name]
			if !ok {
				index[cs.Name] = len(out)
				out = append(out, CompactStep{Name: cs.Name, Hist: cs.Hist, Errors: maps.Clone(cs.Errors)})
				continue
			}
			o := &out[i]
			sp, err := o.Hist.merge(cs.Hist)
			if err != nil {
				return nil, fmt.Errorf("step %q: %w", cs.Name, err)
			}
			o.Hist = sp
			if len(cs.Errors) > 0 && o.Errors == nil {
				o.Errors = map[string]int64{}
			}
			for k, v := range cs.Errors {
				o.Errors[k] += v
			}
		}
	}
	return out, nil
}

// windowStep is what a windowed shard recorded of a step since its last
// cut: a second histogram, and the failures at the cut.
type windowStep struct {
	hist   *Histogram
	errors map[string]int64
}

// cutSteps is what the shard recorded of its steps since the last cut,
// compact; it starts the next window. Every step the shard names is
// listed, so the intervals keep the scenario's order.
func (s *Shard) cutSteps() []CompactStep {
	if len(s.steps) == 0 {
		return nil
	}
	w := s.win
	out := make([]CompactStep, len(s.steps))
	for i := range s.steps {
		st, ws := &s.steps[i], &w.steps[i]
		cs := CompactStep{Name: st.name}
		for k, v := range st.errors {
			if d := v - ws.errors[k]; d > 0 {
				if cs.Errors == nil {
					cs.Errors = map[string]int64{}
				}
				cs.Errors[k] = d
			}
			ws.errors[k] = v
		}
		if h := ws.hist; h != nil && (h.Count() > 0 || h.clamped > 0) {
			cs.Hist = h.sparse(w.scan)
			h.Reset()
		}
		out[i] = cs
	}
	return out
}

// checkpointSteps copies the shard's steps for a [Checkpoint]; a histogram
// that recorded nothing since prev's is shared with it.
func (s *Shard) checkpointSteps(prev *Checkpoint) []*StepStats {
	if len(s.steps) == 0 {
		return nil
	}
	out := make([]*StepStats, len(s.steps))
	for i := range s.steps {
		st := &s.steps[i]
		cp := &StepStats{Name: st.name, Errors: maps.Clone(st.errors)}
		switch {
		case st.hist == nil:
		case prev != nil && i < len(prev.Steps) && prev.Steps[i].Hist != nil &&
			prev.Steps[i].Hist.Count() == st.hist.Count() && prev.Steps[i].Hist.clamped == st.hist.clamped:
			cp.Hist = prev.Steps[i].Hist
		default:
			cp.Hist = st.hist.Clone()
		}
		out[i] = cp
	}
	return out
}

// betweenSteps is what was recorded of each step from checkpoint a to b
// (histograms nil where nothing was, maybe shared with b: read only).
func betweenSteps(a, b Checkpoint) ([]*StepStats, error) {
	if len(b.Steps) == 0 {
		return nil, nil
	}
	out := make([]*StepStats, len(b.Steps))
	for i, bs := range b.Steps {
		d := &StepStats{Name: bs.Name, Errors: map[string]int64{}}
		var as *StepStats
		if i < len(a.Steps) {
			as = a.Steps[i]
		}
		for k, v := range bs.Errors {
			var prev int64
			if as != nil {
				prev = as.Errors[k]
			}
			if v-prev > 0 {
				d.Errors[k] = v - prev
			}
		}
		switch {
		case bs.Hist == nil:
		case as == nil || as.Hist == nil:
			d.Hist = bs.Hist
		case as.Hist == bs.Hist:
		default:
			h, err := bs.Hist.Sub(as.Hist)
			if err != nil {
				return nil, fmt.Errorf("step %q: %w", bs.Name, err)
			}
			d.Hist = h
		}
		out[i] = d
	}
	return out, nil
}
