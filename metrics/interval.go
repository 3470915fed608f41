package metrics

import (
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Checkpoint is a copy of a shard's measurements at one moment, taken by its
// owner. Two checkpoints differ by what was recorded between them: an
// interval (see [Between]), so interval snapshots cost the hot path nothing.
type Checkpoint struct {
	Counts Counts
	Errors map[string]int64
	Hist   [NumMetrics]*Histogram // nil where nothing was recorded yet
	Steps  []*StepStats           // by the shard's step index; Hist nil where nothing was recorded yet
}

// Checkpoint copies the shard's counts, errors and histograms. A histogram
// that recorded nothing since prev (the shard's previous checkpoint, or nil)
// is shared with it rather than copied: an idle metric costs no copy. Only
// the shard's owner may call it.
func (s *Shard) Checkpoint(prev *Checkpoint) Checkpoint {
	cp := Checkpoint{Counts: s.Counts, Errors: make(map[string]int64, len(s.errors))}
	for k, v := range s.errors {
		cp.Errors[k] = v
	}
	for m, h := range s.hist {
		switch {
		case h == nil:
		case prev != nil && prev.Hist[m] != nil && prev.Hist[m].Count() == h.Count() && prev.Hist[m].clamped == h.clamped:
			cp.Hist[m] = prev.Hist[m]
		default:
			cp.Hist[m] = h.Clone()
		}
	}
	cp.Steps = s.checkpointSteps(prev)
	return cp
}

// Between is what was recorded from checkpoint a to the later checkpoint b
// of the same shard, as a snapshot whose histograms are nil where nothing
// was recorded in between (unlike NewSnapshot's: a live histogram holds
// ~150 KiB of counts, and intervals are cut every second). Merge it into a
// snapshot (it may share histograms with b, which neither may change).
func Between(a, b Checkpoint) (*Snapshot, error) {
	s := &Snapshot{Errors: make(map[string]int64)}
	s.Counts = b.Counts
	s.Counts.Sub(a.Counts)
	for k, v := range b.Errors {
		if d := v - a.Errors[k]; d > 0 {
			s.Errors[k] = d
		}
	}
	for m := range NumMetrics {
		switch {
		case b.Hist[m] == nil:
		case a.Hist[m] == nil:
			s.Hist[m] = b.Hist[m] // shared with b: read only
		case a.Hist[m] == b.Hist[m]: // shared: nothing recorded in between
		default:
			d, err := b.Hist[m].Sub(a.Hist[m])
			if err != nil {
				return nil, fmt.Errorf("%v: %w", Metric(m), err)
			}
			s.Hist[m] = d
		}
	}
	steps, err := betweenSteps(a, b)
	if err != nil {
		return nil, err
	}
	s.Steps = steps
	return s, nil
}

// Sub returns h minus o, bucket by bucket: what was recorded into h after it
// held what o holds. It fails if o holds something h does not.
func (h *Histogram) Sub(o *Histogram) (*Histogram, error) {
	hs, os := h.h.Export(), o.h.Export()
	if len(os.Counts) > len(hs.Counts) {
		return nil, fmt.Errorf("metrics: subtract a larger histogram")
	}
	counts := make([]int64, len(hs.Counts))
	for i := range hs.Counts {
		var ov int64
		if i < len(os.Counts) {
			ov = os.Counts[i]
		}
		if counts[i] = hs.Counts[i] - ov; counts[i] < 0 {
			return nil, fmt.Errorf("metrics: subtract a histogram that is not an earlier state of this one")
		}
	}
	d := &Histogram{h: hdrhistogram.Import(&hdrhistogram.Snapshot{
		LowestTrackableValue: hs.LowestTrackableValue, HighestTrackableValue: hs.HighestTrackableValue,
		SignificantFigures: hs.SignificantFigures, Counts: counts,
	}), clamped: h.clamped - o.clamped}
	return d, nil
}
