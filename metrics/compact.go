package metrics

import "fmt"

// Compact is a snapshot at rest: its counts and errors, and each histogram
// that recorded something in HdrHistogram's compressed encoding — a few KiB
// instead of the ~150 KiB of counts one live histogram holds for its whole
// range. A long run keeps its interval snapshots this way, so its memory
// stays flat however many intervals it has.
type Compact struct {
	Counts Counts
	Errors map[string]int64
	// Hist is each metric's [Histogram.Encode] ("" where empty), Clamped
	// its clamped count.
	Hist    [NumMetrics]string
	Clamped [NumMetrics]int64
}

// Compact encodes s.
func (s *Snapshot) Compact() (*Compact, error) {
	c := &Compact{Counts: s.Counts, Errors: make(map[string]int64, len(s.Errors))}
	for k, v := range s.Errors {
		c.Errors[k] = v
	}
	for m, h := range s.Hist {
		if h == nil || h.Count() == 0 {
			continue
		}
		enc, err := h.Encode()
		if err != nil {
			return nil, fmt.Errorf("%v: %w", Metric(m), err)
		}
		c.Hist[m], c.Clamped[m] = enc, h.Clamped()
	}
	return c, nil
}

// Expand decodes c into a snapshot equal to the one it was made from.
func (c *Compact) Expand() (*Snapshot, error) {
	s := NewSnapshot()
	s.Counts = c.Counts
	for k, v := range c.Errors {
		s.Errors[k] = v
	}
	for m, enc := range c.Hist {
		if enc == "" {
			continue
		}
		h, err := DecodeHistogram(enc)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", Metric(m), err)
		}
		if c.Clamped[m] > 0 {
			if err := h.AddClamped(c.Clamped[m]); err != nil {
				return nil, err
			}
		}
		s.Hist[m] = h
	}
	return s, nil
}

// Summary is metric m's summary, decoded on the way (zero when empty).
func (c *Compact) Summary(m Metric) (Summary, error) {
	if c.Hist[m] == "" {
		return Summary{}, nil
	}
	h, err := DecodeHistogram(c.Hist[m])
	if err != nil {
		return Summary{}, err
	}
	if err := h.AddClamped(c.Clamped[m]); err != nil {
		return Summary{}, err
	}
	return h.Summary(), nil
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
