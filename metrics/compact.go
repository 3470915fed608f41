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
// encoding, and two merge without expanding either: cheap enough to do every
// second on the side of a run.
type Compact struct {
	Counts Counts
	Errors map[string]int64
	// Hist holds each metric's non-empty buckets (nil where empty).
	Hist [NumMetrics]*Sparse
	// Steps are a flow's named steps, compact (see [StepStats]).
	Steps []CompactStep
}

// Sparse is a histogram's non-zero buckets in ascending order, packed: for
// each, the gap from the previous bucket's value (the lowest value the bucket
// holds, in microseconds) and its count, as unsigned varints (a few bytes a
// bucket); and its clamped count. A Sparse is never changed once made, so
// compact snapshots may share one.
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
	var scan *hdrhistogram.PackedHistogram
	for m, h := range s.Hist {
		if h == nil || h.Count() == 0 && h.Clamped() == 0 {
			continue
		}
		if scan == nil {
			scan = newScan()
		}
		c.Hist[m] = h.sparse(scan)
	}
	c.Steps = s.compactSteps()
	return c, nil
}

// newScan returns the sparse histogram sparse lists buckets through: the
// library's own scan of a dense histogram's counts, which copies nothing.
func newScan() *hdrhistogram.PackedHistogram {
	return hdrhistogram.NewPacked(LowestUs, HighestUs, SigFigs)
}

// sparse lists h's non-zero buckets, through scan (emptied first).
func (h *Histogram) sparse(scan *hdrhistogram.PackedHistogram) *Sparse {
	scan.Reset()
	scan.MergeFrom(h.h)
	sp := &Sparse{Clamped: h.clamped}
	buf := make([]byte, 0, 3*int(scan.Populated()))
	var last int64
	for v, n := range scan.ForEachBucket {
		buf = binary.AppendUvarint(buf, uint64(v-last))
		buf = binary.AppendUvarint(buf, uint64(n))
		last = v
		sp.Buckets++
	}
	sp.Packed = append([]byte(nil), buf...) // exactly its size: it is kept
	return sp
}

// sparseReader walks a Sparse's buckets.
type sparseReader struct {
	b     []byte
	k, n  int
	value int64
	count int64
}

// next reads the next bucket into value and count; false at the end. A
// malformed Sparse sets err.
func (r *sparseReader) next() (bool, error) {
	if r.k == r.n {
		return false, nil
	}
	gap, n := binary.Uvarint(r.b)
	if n <= 0 {
		return false, fmt.Errorf("metrics: sparse histogram: bucket %d unreadable", r.k)
	}
	count, m := binary.Uvarint(r.b[n:])
	if m <= 0 || count > math.MaxInt64 || count == 0 {
		return false, fmt.Errorf("metrics: sparse histogram: bucket %d unreadable", r.k)
	}
	if gap > HighestUs || r.value+int64(gap) > HighestUs || r.k > 0 && gap == 0 {
		return false, fmt.Errorf("metrics: sparse histogram: bucket %d at %d µs, outside 0..%d or out of order", r.k, r.value+int64(gap), HighestUs)
	}
	r.b = r.b[n+m:]
	r.value += int64(gap)
	r.count = int64(count)
	r.k++
	return true, nil
}

// Histogram rebuilds the histogram sp was made from.
func (sp *Sparse) Histogram() (*Histogram, error) {
	h := NewHistogram()
	r := sparseReader{b: sp.Packed, n: sp.Buckets}
	for {
		ok, err := r.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if err := h.h.RecordValues(r.value, r.count); err != nil {
			return nil, fmt.Errorf("metrics: sparse histogram: bucket %d: %w", r.k-1, err)
		}
	}
	h.clamped = sp.Clamped
	return h, nil
}

// merge returns a and b merged, bucket by bucket (either may be nil: then
// the other, shared). Both list their buckets by the same geometry, so a
// bucket of one is either a bucket of the other or between two of them.
func (a *Sparse) merge(b *Sparse) (*Sparse, error) {
	if a == nil {
		return b, nil
	}
	if b == nil {
		return a, nil
	}
	out := &Sparse{Clamped: a.Clamped + b.Clamped}
	buf := make([]byte, 0, len(a.Packed)+len(b.Packed))
	ra, rb := sparseReader{b: a.Packed, n: a.Buckets}, sparseReader{b: b.Packed, n: b.Buckets}
	okA, err := ra.next()
	if err != nil {
		return nil, err
	}
	okB, err := rb.next()
	if err != nil {
		return nil, err
	}
	var last int64
	emit := func(v, n int64) {
		buf = binary.AppendUvarint(buf, uint64(v-last))
		buf = binary.AppendUvarint(buf, uint64(n))
		last = v
		out.Buckets++
	}
	for okA || okB {
		switch {
		case okA && (!okB || ra.value < rb.value):
			emit(ra.value, ra.count)
			okA, err = ra.next()
		case okB && (!okA || rb.value < ra.value):
			emit(rb.value, rb.count)
			okB, err = rb.next()
		default: // the same bucket in both
			if ra.count > math.MaxInt64-rb.count {
				return nil, fmt.Errorf("metrics: sparse histogram: bucket at %d µs overflows", ra.value)
			}
			emit(ra.value, ra.count+rb.count)
			if okA, err = ra.next(); err == nil {
				okB, err = rb.next()
			}
		}
		if err != nil {
			return nil, err
		}
	}
	out.Packed = append([]byte(nil), buf...)
	return out, nil
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
		h, err := sp.Histogram()
		if err != nil {
			return nil, fmt.Errorf("%v: %w", Metric(m), err)
		}
		s.Hist[m] = h
	}
	if err := c.expandSteps(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Merge returns c and o merged (either may be nil), compact: bucket lists
// are merged as they are, nothing is expanded, and a metric only one of
// them holds is shared with it.
func (c *Compact) Merge(o *Compact) (*Compact, error) {
	out := &Compact{Errors: make(map[string]int64)}
	for _, x := range []*Compact{c, o} {
		if x == nil {
			continue
		}
		out.Counts.Add(x.Counts)
		for k, v := range x.Errors {
			out.Errors[k] += v
		}
	}
	for m := range NumMetrics {
		var a, b *Sparse
		if c != nil {
			a = c.Hist[m]
		}
		if o != nil {
			b = o.Hist[m]
		}
		sp, err := a.merge(b)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", Metric(m), err)
		}
		out.Hist[m] = sp
	}
	var a, b []CompactStep
	if c != nil {
		a = c.Steps
	}
	if o != nil {
		b = o.Steps
	}
	steps, err := mergeCompactSteps(a, b)
	if err != nil {
		return nil, err
	}
	out.Steps = steps
	return out, nil
}
