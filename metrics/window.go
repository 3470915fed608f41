package metrics

import "github.com/HdrHistogram/hdrhistogram-go"

// window is what a windowed shard recorded since its last cut: a second set
// of histograms that every record also goes to, and the counts and errors
// at the cut.
type window struct {
	hist   [NumMetrics]*Histogram
	counts Counts
	errors map[string]int64
	scan   *hdrhistogram.PackedHistogram
	steps  []windowStep // by the shard's step index (steps.go)
}

func (w *window) histogram(m Metric) *Histogram {
	h := w.hist[m]
	if h == nil {
		h = NewHistogram()
		w.hist[m] = h
	}
	return h
}

// Windowed makes the shard keep, besides its totals, what was recorded since
// the last [Shard.Cut]. Every record then goes to two histograms (a few
// nanoseconds more); in exchange a cut costs a scan of the buckets, not a
// copy of the shard's histograms. Call it before recording.
func (s *Shard) Windowed() {
	if s.win == nil {
		s.win = &window{errors: make(map[string]int64), scan: newScan()}
		for range s.steps {
			s.win.steps = append(s.win.steps, windowStep{errors: map[string]int64{}})
		}
	}
}

// Cut returns what the shard recorded since the previous cut (or since
// Windowed), compact, and starts the next window. Only the shard's owner may
// call it, and only on a windowed shard.
func (s *Shard) Cut() *Compact {
	w := s.win
	c := &Compact{Counts: s.Counts, Errors: make(map[string]int64)}
	c.Counts.Sub(w.counts)
	w.counts = s.Counts
	for k, v := range s.errors {
		if d := v - w.errors[k]; d > 0 {
			c.Errors[k] = d
		}
		w.errors[k] = v
	}
	for m, h := range w.hist {
		if h == nil || h.Count() == 0 && h.clamped == 0 {
			continue
		}
		c.Hist[m] = h.sparse(w.scan)
		h.Reset()
	}
	c.Steps = s.cutSteps()
	return c
}
