package metrics

import (
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Compact is a snapshot at rest: its counts and errors, and each histogram
// that recorded something as its non-zero buckets only — a few KiB instead of
// the ~150 KiB of counts one live histogram holds for its whole range. A long
// run keeps its interval snapshots this way, so its memory stays flat however
// many intervals it has. Making one is a scan of the buckets, not an
// encoding: cheap enough to do every second on the side of a run.
type Compact struct {
	Counts Counts
	Errors map[string]int64
	// Hist holds each metric's non-empty buckets (nil where empty).
	Hist [NumMetrics]*Sparse
}

// Sparse is a histogram's non-zero buckets, by index into its counts, and
// its clamped count.
type Sparse struct {
	Index   []int32
	Count   []int64
	Clamped int64
}

// Compact makes s compact.
func (s *Snapshot) Compact() (*Compact, error) {
	c := &Compact{Counts: s.Counts, Errors: make(map[string]int64, len(s.Errors))}
	for k, v := range s.Errors {
		c.Errors[k] = v
	}
	for m, h := range s.Hist {
		if h == nil || h.Count() == 0 && h.Clamped() == 0 {
			continue
		}
		c.Hist[m] = h.sparse()
	}
	return c, nil
}

// sparse lists h's non-zero buckets.
func (h *Histogram) sparse() *Sparse {
	sp := &Sparse{Clamped: h.clamped}
	for i, n := range h.h.Export().Counts {
		if n != 0 {
			sp.Index = append(sp.Index, int32(i))
			sp.Count = append(sp.Count, n)
		}
	}
	return sp
}

// histogram rebuilds the histogram sp was made from.
func (sp *Sparse) histogram() (*Histogram, error) {
	geometry := hdrhistogram.New(LowestUs, HighestUs, SigFigs).Export()
	for k, i := range sp.Index {
		if i < 0 || int(i) >= len(geometry.Counts) {
			return nil, fmt.Errorf("metrics: sparse histogram: bucket %d outside 0..%d", i, len(geometry.Counts)-1)
		}
		geometry.Counts[i] = sp.Count[k]
	}
	return &Histogram{h: hdrhistogram.Import(geometry), clamped: sp.Clamped}, nil
}

// Expand rebuilds the snapshot c was made from.
func (c *Compact) Expand() (*Snapshot, error) {
	s := NewSnapshot()
	s.Counts = c.Counts
	for k, v := range c.Errors {
		s.Errors[k] = v
	}
	for m, sp := range c.Hist {
		if sp == nil {
			continue
		}
		h, err := sp.histogram()
		if err != nil {
			return nil, fmt.Errorf("%v: %w", Metric(m), err)
		}
		s.Hist[m] = h
	}
	return s, nil
}

// Merge returns c and o merged (either may be nil), compact again: a merge
// of intervals that holds only two expanded at a time.
func (c *Compact) Merge(o *Compact) (*Compact, error) {
	s := NewSnapshot()
	for _, x := range []*Compact{c, o} {
		if x == nil {
			continue
		}
		e, err := x.Expand()
		if err != nil {
			return nil, err
		}
		if err := s.Merge(e); err != nil {
			return nil, err
		}
	}
	return s.Compact()
}
