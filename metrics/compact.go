package metrics

import (
	"encoding/binary"
	"fmt"
	"math"

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

// Sparse is a histogram's non-zero buckets, packed: for each, the gap from
// the previous one's index and its count, as unsigned varints (a few bytes a
// bucket); and its clamped count.
type Sparse struct {
	Packed  []byte
	Buckets int
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
	var buf []byte
	last := 0
	for i, n := range h.h.Export().Counts {
		if n != 0 {
			buf = binary.AppendUvarint(buf, uint64(i-last))
			buf = binary.AppendUvarint(buf, uint64(n))
			last = i
			sp.Buckets++
		}
	}
	sp.Packed = append([]byte(nil), buf...) // exactly its size: it is kept
	return sp
}

// histogram rebuilds the histogram sp was made from.
func (sp *Sparse) histogram() (*Histogram, error) {
	geometry := hdrhistogram.New(LowestUs, HighestUs, SigFigs).Export()
	b, idx := sp.Packed, 0
	for k := 0; k < sp.Buckets; k++ {
		gap, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("metrics: sparse histogram: bucket %d unreadable", k)
		}
		count, m := binary.Uvarint(b[n:])
		if m <= 0 || count > math.MaxInt64 {
			return nil, fmt.Errorf("metrics: sparse histogram: bucket %d unreadable", k)
		}
		b = b[n+m:]
		if gap >= uint64(len(geometry.Counts)) || idx+int(gap) >= len(geometry.Counts) {
			return nil, fmt.Errorf("metrics: sparse histogram: bucket %d outside 0..%d", idx+int(gap), len(geometry.Counts)-1)
		}
		idx += int(gap)
		geometry.Counts[idx] = int64(count)
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
