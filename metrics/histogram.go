package metrics

import (
	"fmt"
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The range and precision of every [Histogram]. Values are microseconds.
const (
	// LowestUs is the lowest discernible value, in microseconds. Zero is
	// still recordable; it is what sub-half-microsecond durations round to.
	LowestUs = 1
	// HighestUs is the highest recordable value, in microseconds (60 s).
	// Larger values are recorded as HighestUs and counted as clamped.
	HighestUs = 60_000_000
	// SigFigs is the number of significant decimal digits kept: a recorded
	// value is reported within 0.1% of what was recorded.
	SigFigs = 3
)

// Histogram is a latency distribution in microseconds over
// [LowestUs]..[HighestUs] at [SigFigs] significant digits. It wraps an
// hdrhistogram.Histogram and makes its traps explicit: out-of-range values are
// clamped to the range edge and counted (see [Histogram.Clamped]) rather than
// rejected with an error that is easy to ignore, and a lossy merge is an
// error.
//
// A Histogram holds about 140 KB of counts whatever it records. It has no
// internal locking: a goroutine that records into it must own it, and reads
// must not race with writes. The zero value is not usable; call
// [NewHistogram]. Copy with [Histogram.Clone], not by value.
type Histogram struct {
	h       *hdrhistogram.Histogram
	clamped int64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(LowestUs, HighestUs, SigFigs)}
}

// Record records d rounded to the nearest microsecond (half a microsecond
// rounds up; anything shorter records as 0). A negative d records 0 and a d
// that rounds above [HighestUs] records HighestUs; both are counted in
// [Histogram.Clamped].
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		h.RecordUs(-1) // clamps to 0 and counts
		return
	}
	us := int64(d / time.Microsecond)
	if d%time.Microsecond >= time.Microsecond/2 {
		us++
	}
	h.RecordUs(us)
}

// RecordUs records us microseconds. A negative us records 0 and one above
// [HighestUs] records HighestUs; both are counted in [Histogram.Clamped].
func (h *Histogram) RecordUs(us int64) {
	if us < 0 {
		us = 0
		h.clamped++
	} else if us > HighestUs {
		us = HighestUs
		h.clamped++
	}
	if err := h.h.RecordValue(us); err != nil {
		// In range, so only a total count past math.MaxInt64 can fail.
		panic("metrics: " + err.Error())
	}
}

// Merge adds every value recorded in o, and o's clamped count, to h. A nil o
// adds nothing; h.Merge(h) doubles h.
//
// hdrhistogram's merge drops values it cannot record (here only counts that
// would push the total past math.MaxInt64); if any were dropped, Merge returns
// an error saying how many, and h holds the rest.
func (h *Histogram) Merge(o *Histogram) error {
	if o == nil {
		return nil
	}
	src, clamped := o.h, o.clamped
	if o == h {
		src = o.h.Clone() // never iterate a histogram while adding to it
	}
	if clamped > math.MaxInt64-h.clamped {
		return fmt.Errorf("metrics: histogram merge: clamped count %d + %d overflows int64", h.clamped, clamped)
	}
	h.clamped += clamped
	if dropped := h.h.Merge(src); dropped > 0 {
		return fmt.Errorf("metrics: histogram merge dropped %d of %d values", dropped, src.TotalCount())
	}
	return nil
}

// Count returns the number of values recorded, clamped ones included.
func (h *Histogram) Count() int64 {
	return h.h.TotalCount()
}

// Clamped returns how many of the recorded values were outside
// 0..[HighestUs] and were recorded at the nearest edge instead.
//
// The clamped count is not part of the HdrHistogram encoding: a histogram from
// [DecodeHistogram] reports 0 until [Histogram.AddClamped] restores the count.
func (h *Histogram) Clamped() int64 {
	return h.clamped
}

// AddClamped adds n to the clamped count without recording anything. It
// exists to restore, after [DecodeHistogram], a clamped count that travelled
// beside the output of [Histogram.Encode]. Since clamped values are a subset
// of recorded ones, it returns an error, and changes nothing, if n is negative
// or the clamped count would exceed [Histogram.Count].
func (h *Histogram) AddClamped(n int64) error {
	if n < 0 || n > h.Count()-h.clamped {
		return fmt.Errorf("metrics: cannot add %d clamped values to a histogram of %d values, %d of them clamped", n, h.Count(), h.clamped)
	}
	h.clamped += n
	return nil
}

// Percentile returns the value at percentile p, where p is a percentage from
// 0 to 100 (99.9 is the 99.9th percentile, not 0.999). It is the highest value
// equivalent, at the histogram's precision, to the recorded value at that
// rank; p == 0 gives the lowest value equivalent to the minimum. An empty
// histogram returns 0.
//
// Percentile panics if p is NaN or outside [0, 100]: validate percentiles
// that come from users before asking.
func (h *Histogram) Percentile(p float64) time.Duration {
	if !(p >= 0 && p <= 100) {
		panic(fmt.Sprintf("metrics: percentile %v is outside [0, 100]", p))
	}
	return time.Duration(h.h.ValueAtPercentile(p)) * time.Microsecond
}

// Summary returns the histogram's count and main statistics in
// microseconds. An empty histogram gives the zero Summary.
func (h *Histogram) Summary() Summary {
	if h.h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count:  h.h.TotalCount(),
		MinUs:  float64(h.h.Min()),
		MeanUs: h.h.Mean(),
		P50Us:  float64(h.h.ValueAtPercentile(50)),
		P90Us:  float64(h.h.ValueAtPercentile(90)),
		P99Us:  float64(h.h.ValueAtPercentile(99)),
		P999Us: float64(h.h.ValueAtPercentile(99.9)),
		MaxUs:  float64(h.h.Max()),
	}
}

// Encode returns the histogram in the HdrHistogram V2 compressed encoding
// (hdrhistogram.V2CompressedEncodingCookieBase), base64 text that HdrHistogram
// tools in other languages read. It carries the counts but not the clamped
// count; see [Histogram.Clamped].
func (h *Histogram) Encode() (string, error) {
	b, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("metrics: encode histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHistogram decodes the output of [Histogram.Encode]. Besides the
// decoder's own errors, which it wraps, it rejects an encoding whose range or
// precision differs from this package's, one holding values beyond
// [HighestUs], and one whose integer-to-double conversion ratio is not 1 (its
// values would not be microseconds). The result's clamped count is 0.
func DecodeHistogram(s string) (*Histogram, error) {
	raw, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("metrics: decode histogram: %w", err)
	}
	if lo, hi, sig := raw.LowestTrackableValue(), raw.HighestTrackableValue(), raw.SignificantFigures(); lo != LowestUs || hi != HighestUs || sig != SigFigs {
		return nil, fmt.Errorf("metrics: decode histogram: range %d..%d at %d significant digits, want %d..%d at %d",
			lo, hi, sig, LowestUs, HighestUs, SigFigs)
	}
	if raw.TotalCount() > 0 {
		if max := raw.Max(); max > HighestUs && !raw.ValuesAreEquivalent(max, HighestUs) {
			return nil, fmt.Errorf("metrics: decode histogram: holds values up to %d, beyond the highest %d", max, HighestUs)
		}
	}
	if r := raw.Export().IntegerToDoubleConversionRatio; r != 0 && r != 1 {
		return nil, fmt.Errorf("metrics: decode histogram: integer-to-double conversion ratio %v, want 1", r)
	}
	return &Histogram{h: raw}, nil
}

// Reset empties the histogram and zeroes its clamped count, keeping its
// storage.
func (h *Histogram) Reset() {
	h.h.Reset()
	h.clamped = 0
}

// Clone returns an independent copy of h.
func (h *Histogram) Clone() *Histogram {
	return &Histogram{h: h.h.Clone(), clamped: h.clamped}
}

// Raw returns the underlying hdrhistogram, not a copy, for encoders that need
// what this type does not offer, such as iterating the percentile
// distribution. Callers must only read it: recording into it or merging into
// it bypasses clamping and its accounting.
func (h *Histogram) Raw() *hdrhistogram.Histogram {
	return h.h
}
