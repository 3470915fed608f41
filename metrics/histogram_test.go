package metrics

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// checkOrdered fails t unless s is internally consistent: zero when empty,
// otherwise min <= p50 <= p90 <= p99 <= p999 <= max and min <= mean <= max.
func checkOrdered(t *testing.T, s Summary) {
	t.Helper()
	if s.Count == 0 {
		if s != (Summary{}) {
			t.Errorf("empty summary not zero: %+v", s)
		}
		return
	}
	chain := []float64{s.MinUs, s.P50Us, s.P90Us, s.P99Us, s.P999Us, s.MaxUs}
	for i := 1; i < len(chain); i++ {
		if chain[i-1] > chain[i] {
			t.Errorf("summary out of order at step %d: %+v", i, s)
		}
	}
	if s.MeanUs < s.MinUs || s.MeanUs > s.MaxUs {
		t.Errorf("mean %v outside [min %v, max %v]", s.MeanUs, s.MinUs, s.MaxUs)
	}
}

// within reports whether got is within rel (a fraction) of want.
func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func TestRecordRounding(t *testing.T) {
	tests := []struct {
		name        string
		d           time.Duration
		wantUs      int64
		wantClamped int64
	}{
		// Zero is recordable and not clamped.
		{"zero", 0, 0, 0},
		// Just under half a microsecond rounds down to 0.
		{"499ns", 499 * time.Nanosecond, 0, 0},
		// Half a microsecond rounds up.
		{"500ns", 500 * time.Nanosecond, 1, 0},
		// Whole microseconds are exact.
		{"1us", time.Microsecond, 1, 0},
		// Round to nearest, not truncate: 1.5 µs is 2.
		{"1500ns", 1500 * time.Nanosecond, 2, 0},
		// Round to nearest: 1.499 µs is 1.
		{"1499ns", 1499 * time.Nanosecond, 1, 0},
		// Values in bucket 0 (below 2048 µs) are exact.
		{"1234us", 1234 * time.Microsecond, 1234, 0},
		// Any negative duration records 0 and is clamped, even one that
		// would round to 0.
		{"-1ns", -time.Nanosecond, 0, 1},
		// Large negative durations are clamped too.
		{"minInt64", math.MinInt64, 0, 1},
		// Exactly 60 s is in range.
		{"60s", 60 * time.Second, HighestUs, 0},
		// 60 s plus less than half a microsecond rounds to 60 s: in range.
		{"60s+499ns", 60*time.Second + 499*time.Nanosecond, HighestUs, 0},
		// 60 s plus half a microsecond rounds above the range: clamped.
		{"60s+500ns", 60*time.Second + 500*time.Nanosecond, HighestUs, 1},
		// An hour is clamped to 60 s.
		{"1h", time.Hour, HighestUs, 1},
		// The largest duration must not overflow while rounding.
		{"maxInt64", math.MaxInt64, HighestUs, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram()
			h.Record(tt.d)
			if h.Count() != 1 {
				t.Fatalf("Count = %d, want 1", h.Count())
			}
			if h.Clamped() != tt.wantClamped {
				t.Errorf("Clamped = %d, want %d", h.Clamped(), tt.wantClamped)
			}
			// Min is the lowest value equivalent to what was recorded.
			if got := h.Raw().Min(); !h.Raw().ValuesAreEquivalent(got, tt.wantUs) {
				t.Errorf("recorded %d µs, want %d µs", got, tt.wantUs)
			}
			if tt.wantUs < 2048 && h.Raw().Min() != tt.wantUs {
				t.Errorf("recorded %d µs, want exactly %d µs", h.Raw().Min(), tt.wantUs)
			}
		})
	}
}

func TestRecordUsClamping(t *testing.T) {
	tests := []struct {
		name        string
		values      []int64
		wantEdgeUs  int64 // the value every record must be equivalent to
		wantClamped int64
	}{
		// In-range values are not clamped.
		{"inRange", []int64{0, 1, HighestUs}, -1, 0},
		// Negative values record 0 and each is counted.
		{"negative", []int64{-1, -5, math.MinInt64}, 0, 3},
		// Values past 60 s record HighestUs and each is counted.
		{"tooLarge", []int64{HighestUs + 1, 2 * HighestUs, math.MaxInt64}, HighestUs, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram()
			for _, v := range tt.values {
				h.RecordUs(v)
			}
			if got, want := h.Clamped(), tt.wantClamped; got != want {
				t.Errorf("Clamped = %d, want %d", got, want)
			}
			// Clamped values are still recorded: Count and Summary.Count
			// include them.
			if got, want := h.Count(), int64(len(tt.values)); got != want {
				t.Errorf("Count = %d, want %d", got, want)
			}
			if got, want := h.Summary().Count, int64(len(tt.values)); got != want {
				t.Errorf("Summary.Count = %d, want %d", got, want)
			}
			if tt.wantEdgeUs >= 0 {
				raw := h.Raw()
				if !raw.ValuesAreEquivalent(raw.Min(), tt.wantEdgeUs) || !raw.ValuesAreEquivalent(raw.Max(), tt.wantEdgeUs) {
					t.Errorf("recorded [%d, %d], want all at %d", raw.Min(), raw.Max(), tt.wantEdgeUs)
				}
			}
		})
	}
}

func TestUniformKnownPercentiles(t *testing.T) {
	h := NewHistogram()
	for us := int64(1); us <= 10000; us++ {
		h.RecordUs(us)
	}
	s := h.Summary()
	if s.Count != 10000 {
		t.Fatalf("Count = %d, want 10000", s.Count)
	}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		// The median of 1..10000 is 5000.
		{"p50", s.P50Us, 5000},
		// 90% of 1..10000 are at most 9000.
		{"p90", s.P90Us, 9000},
		// 99% are at most 9900.
		{"p99", s.P99Us, 9900},
		// 99.9% are at most 9990.
		{"p999", s.P999Us, 9990},
		// The mean of 1..10000 is 5000.5.
		{"mean", s.MeanUs, 5000.5},
		// The max is 10000, to the histogram's precision.
		{"max", s.MaxUs, 10000},
		// The min is exactly 1: bucket 0 has unit resolution.
		{"min", s.MinUs, 1},
	}
	for _, tt := range tests {
		if !within(tt.got, tt.want, 0.001) {
			t.Errorf("%s = %v, want %v within 0.1%%", tt.name, tt.got, tt.want)
		}
	}
	// Max is hdr's highest equivalent value, never below what was recorded.
	if s.MaxUs < 10000 || !h.Raw().ValuesAreEquivalent(int64(s.MaxUs), 10000) {
		t.Errorf("MaxUs = %v, want the highest value equivalent to 10000", s.MaxUs)
	}
	// Percentile agrees with Summary.
	if got, want := h.Percentile(50), time.Duration(s.P50Us)*time.Microsecond; got != want {
		t.Errorf("Percentile(50) = %v, Summary says %v", got, want)
	}
	if got, want := h.Percentile(100), time.Duration(s.MaxUs)*time.Microsecond; got != want {
		t.Errorf("Percentile(100) = %v, want max %v", got, want)
	}
	if got, want := h.Percentile(0), time.Duration(s.MinUs)*time.Microsecond; got != want {
		t.Errorf("Percentile(0) = %v, want min %v", got, want)
	}
	checkOrdered(t, s)
}

// randomValues returns n values in µs from the named distribution, including
// out-of-range ones for "wild".
func randomValues(r *rand.Rand, dist string, n int) []int64 {
	vs := make([]int64, n)
	for i := range vs {
		switch dist {
		case "uniform":
			vs[i] = r.Int64N(HighestUs + 1)
		case "exponential":
			vs[i] = int64(r.ExpFloat64() * 2000)
		case "lognormal":
			vs[i] = int64(math.Exp(r.NormFloat64()*2 + 7))
		case "bimodal":
			if r.IntN(100) == 0 {
				vs[i] = 1_000_000 + r.Int64N(1000)
			} else {
				vs[i] = 100 + r.Int64N(50)
			}
		case "wild":
			vs[i] = int64(r.Uint64())
		default:
			panic(dist)
		}
	}
	return vs
}

func TestSummaryOrderingRandom(t *testing.T) {
	tests := []struct {
		dist string
		n    int
	}{
		// Spread over the whole range, every bucket size in play.
		{"uniform", 10000},
		// Mostly small values with a tail.
		{"exponential", 10000},
		// Heavy tail over several decades.
		{"lognormal", 10000},
		// A rare slow mode between p99 and max.
		{"bimodal", 5000},
		// Arbitrary int64s: about half clamped at each edge.
		{"wild", 1000},
		// A single value: every statistic coincides.
		{"uniform", 1},
		// Two values.
		{"lognormal", 2},
	}
	for i, tt := range tests {
		t.Run(tt.dist, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 42))
			for trial := 0; trial < 20; trial++ {
				h := NewHistogram()
				for _, v := range randomValues(r, tt.dist, tt.n) {
					h.RecordUs(v)
				}
				s := h.Summary()
				if s.Count != int64(tt.n) {
					t.Fatalf("Count = %d, want %d", s.Count, tt.n)
				}
				checkOrdered(t, s)
			}
		})
	}
}

func TestSummaryEmpty(t *testing.T) {
	h := NewHistogram()
	// An empty histogram summarises to all zeros.
	if got := h.Summary(); got != (Summary{}) {
		t.Errorf("Summary() = %+v, want zero", got)
	}
	// Every percentile of an empty histogram is 0.
	for _, p := range []float64{0, 50, 100} {
		if got := h.Percentile(p); got != 0 {
			t.Errorf("Percentile(%v) = %v, want 0", p, got)
		}
	}
}

func TestPercentileRange(t *testing.T) {
	h := NewHistogram()
	h.RecordUs(10)
	tests := []struct {
		p         float64
		wantPanic bool
	}{
		// The lower bound is valid.
		{0, false},
		// The upper bound is valid.
		{100, false},
		// A fraction below 1 is a valid (tiny) percentile.
		{0.999, false},
		// Negative percentiles are rejected, not clamped.
		{-0.001, true},
		// Above 100 is rejected, not clamped.
		{100.001, true},
		// NaN is rejected.
		{math.NaN(), true},
		// Infinity is rejected.
		{math.Inf(1), true},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if got := recover() != nil; got != tt.wantPanic {
					t.Errorf("Percentile(%v) panicked = %v, want %v", tt.p, got, tt.wantPanic)
				}
			}()
			h.Percentile(tt.p)
		}()
	}
}

// dataset is a named list of values in µs.
type dataset struct {
	name   string
	values []int64
}

func datasets() []dataset {
	r := rand.New(rand.NewPCG(7, 7))
	return []dataset{
		// Nothing recorded.
		{"empty", nil},
		// One value.
		{"single", []int64{1234}},
		// Zero only: the lowest bucket.
		{"zeros", []int64{0, 0, 0}},
		// Clamped at both edges.
		{"clamped", []int64{-1, HighestUs + 1, 5, math.MaxInt64}},
		// The exact top of the range.
		{"highest", []int64{HighestUs, HighestUs}},
		// Realistic latencies.
		{"lognormal", randomValues(r, "lognormal", 20000)},
		// The whole range.
		{"uniform", randomValues(r, "uniform", 20000)},
	}
}

func record(vs []int64) *Histogram {
	h := NewHistogram()
	for _, v := range vs {
		h.RecordUs(v)
	}
	return h
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, ds := range datasets() {
		t.Run(ds.name, func(t *testing.T) {
			h := record(ds.values)
			enc, err := h.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := DecodeHistogram(enc)
			if err != nil {
				t.Fatalf("DecodeHistogram: %v", err)
			}
			// Count, min, max, mean and the summary percentiles survive.
			if got.Summary() != h.Summary() {
				t.Errorf("Summary after round trip = %+v, want %+v", got.Summary(), h.Summary())
			}
			// So does every percentile, not just the summary's.
			for p := 0.0; p <= 100; p += 0.5 {
				if a, b := got.Percentile(p), h.Percentile(p); a != b {
					t.Errorf("Percentile(%v) = %v after round trip, want %v", p, a, b)
				}
			}
			// And so does every bucket.
			if !got.Raw().Equals(h.Raw()) {
				t.Errorf("decoded counts differ from the original")
			}
			// The clamped count does not travel in the encoding.
			if got.Clamped() != 0 {
				t.Errorf("decoded Clamped = %d, want 0", got.Clamped())
			}
			// Encoding is deterministic, so a re-encode matches.
			enc2, err := got.Encode()
			if err != nil {
				t.Fatalf("re-Encode: %v", err)
			}
			if enc2 != enc {
				t.Errorf("re-encoding differs")
			}
		})
	}
}

// encodeRaw encodes a raw hdr histogram as Encode would.
func encodeRaw(t *testing.T, raw *hdrhistogram.Histogram) string {
	t.Helper()
	b, err := raw.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeHistogramRejects(t *testing.T) {
	beyond := hdrhistogram.New(LowestUs, HighestUs, SigFigs)
	// hdr accepts values up to the top of the last bucket (~67 s), past
	// HighestUs; Record never produces them.
	if err := beyond.RecordValue(HighestUs + 5_000_000); err != nil {
		t.Fatal(err)
	}
	ratio := hdrhistogram.New(LowestUs, HighestUs, SigFigs).Export()
	ratio.IntegerToDoubleConversionRatio = 0.5

	tests := []struct {
		name    string
		in      string
		wantMsg string // a substring of the error
		wantAs  any    // if set, an error type the chain must contain
	}{
		// Empty input is too short to hold a header.
		{"empty", "", "decode histogram", nil},
		// Not base64: the decoder's error is wrapped, not replaced.
		{"notBase64", "!!!not base64!!!", "decode histogram", new(base64.CorruptInputError)},
		// Valid base64, not a histogram.
		{"garbage", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")), "decode histogram", nil},
		// A histogram of another range: values would not mean microseconds
		// at this precision.
		{"otherRange", encodeRaw(t, hdrhistogram.New(1, 3_600_000_000, 3)), "range 1..3600000000", nil},
		// Another precision.
		{"otherPrecision", encodeRaw(t, hdrhistogram.New(LowestUs, HighestUs, 2)), "at 2 significant digits", nil},
		// This geometry, but holding a value beyond HighestUs.
		{"beyondHighest", encodeRaw(t, beyond), "beyond the highest", nil},
		// A conversion ratio other than 1.
		{"ratio", encodeRaw(t, hdrhistogram.Import(ratio)), "conversion ratio 0.5", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := DecodeHistogram(tt.in)
			if err == nil {
				t.Fatalf("DecodeHistogram succeeded with %d values, want an error", h.Count())
			}
			if h != nil {
				t.Errorf("DecodeHistogram returned a histogram with its error")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if tt.wantAs != nil && !errors.As(err, tt.wantAs) {
				t.Errorf("error %q does not wrap a %T", err, tt.wantAs)
			}
		})
	}
}

func TestMergeExact(t *testing.T) {
	for _, ds := range datasets() {
		for _, split := range []float64{0, 0.3, 1} {
			t.Run(fmt.Sprintf("%s/split=%v", ds.name, split), func(t *testing.T) {
				k := int(float64(len(ds.values)) * split)
				a, b := record(ds.values[:k]), record(ds.values[k:])
				all := record(ds.values)
				if err := a.Merge(b); err != nil {
					t.Fatalf("Merge: %v", err)
				}
				// Merging A and B equals recording everything into one.
				if a.Summary() != all.Summary() {
					t.Errorf("merged Summary = %+v, want %+v", a.Summary(), all.Summary())
				}
				if a.Count() != all.Count() {
					t.Errorf("merged Count = %d, want %d", a.Count(), all.Count())
				}
				if !a.Raw().Equals(all.Raw()) {
					t.Errorf("merged counts differ from recording everything into one")
				}
				// Clamped counts add.
				if a.Clamped() != all.Clamped() {
					t.Errorf("merged Clamped = %d, want %d", a.Clamped(), all.Clamped())
				}
			})
		}
	}
}

func TestMergeSpecialCases(t *testing.T) {
	vals := []int64{-1, 3, 700, HighestUs + 1}
	tests := []struct {
		name        string
		merge       func(h *Histogram) error
		wantCount   int64
		wantClamped int64
	}{
		// Merging nil adds nothing.
		{"nil", func(h *Histogram) error { return h.Merge(nil) }, 4, 2},
		// Merging an empty histogram adds nothing.
		{"empty", func(h *Histogram) error { return h.Merge(NewHistogram()) }, 4, 2},
		// Merging a histogram into itself doubles it.
		{"self", func(h *Histogram) error { return h.Merge(h) }, 8, 4},
		// Merging a clone is the same as merging itself.
		{"clone", func(h *Histogram) error { return h.Merge(h.Clone()) }, 8, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := record(vals)
			if err := tt.merge(h); err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if h.Count() != tt.wantCount || h.Clamped() != tt.wantClamped {
				t.Errorf("Count, Clamped = %d, %d, want %d, %d", h.Count(), h.Clamped(), tt.wantCount, tt.wantClamped)
			}
			// The distribution is vals recorded Count/len(vals) times.
			var want []int64
			for len(want) < int(tt.wantCount) {
				want = append(want, vals...)
			}
			if got, want := h.Summary(), record(want).Summary(); got != want {
				t.Errorf("Summary = %+v, want %+v", got, want)
			}
		})
	}
}

func TestMergeDroppedIsError(t *testing.T) {
	h := NewHistogram()
	// Fill h to one short of the int64 total, so of 3 more values only the
	// first fits.
	if err := h.Raw().RecordValues(5, math.MaxInt64-1); err != nil {
		t.Fatal(err)
	}
	o := record([]int64{1, 10, 100})
	err := h.Merge(o)
	if err == nil {
		t.Fatal("Merge succeeded although hdrhistogram dropped values")
	}
	// The error says how many were dropped.
	if !strings.Contains(err.Error(), "dropped 2 of 3") {
		t.Errorf("error %q does not say 2 of 3 were dropped", err)
	}
	// What fitted was merged.
	if h.Count() != math.MaxInt64 {
		t.Errorf("Count = %d, want MaxInt64", h.Count())
	}
}

func TestAddClamped(t *testing.T) {
	tests := []struct {
		name        string
		n           int64
		wantErr     bool
		wantClamped int64
	}{
		// Adding nothing is fine.
		{"zero", 0, false, 1},
		// Up to every unclamped value can be marked clamped.
		{"upToCount", 2, false, 3},
		// More clamped values than recorded ones is impossible.
		{"pastCount", 3, true, 1},
		// A negative count is rejected.
		{"negative", -1, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := record([]int64{-1, 2, 3}) // 3 values, 1 clamped
			err := h.AddClamped(tt.n)
			if (err != nil) != tt.wantErr {
				t.Errorf("AddClamped(%d) error = %v, want error %v", tt.n, err, tt.wantErr)
			}
			if h.Clamped() != tt.wantClamped {
				t.Errorf("Clamped = %d, want %d", h.Clamped(), tt.wantClamped)
			}
		})
	}
}

func TestCloneAndReset(t *testing.T) {
	h := record([]int64{-1, 10, 20})
	c := h.Clone()
	// The clone starts equal.
	if c.Summary() != h.Summary() || c.Clamped() != h.Clamped() {
		t.Fatalf("clone differs: %+v/%d vs %+v/%d", c.Summary(), c.Clamped(), h.Summary(), h.Clamped())
	}
	// Recording into the clone leaves the original alone.
	c.RecordUs(HighestUs + 1)
	if h.Count() != 3 || h.Clamped() != 1 {
		t.Errorf("original changed by clone: Count %d Clamped %d", h.Count(), h.Clamped())
	}
	// Reset empties both the counts and the clamped count.
	h.Reset()
	if h.Summary() != (Summary{}) || h.Clamped() != 0 || h.Count() != 0 {
		t.Errorf("after Reset: %+v, Clamped %d", h.Summary(), h.Clamped())
	}
	// And the clone is unaffected by the reset.
	if c.Count() != 4 || c.Clamped() != 2 {
		t.Errorf("clone changed by Reset: Count %d Clamped %d", c.Count(), c.Clamped())
	}
}

// TestCheckpointsMakeIntervals: the difference of two checkpoints of a shard
// holds exactly what was recorded between them, histogram, counts and errors.
func TestCheckpointsMakeIntervals(t *testing.T) {
	var s Shard
	for i := 1; i <= 100; i++ {
		s.Record(RTT, time.Duration(i)*time.Millisecond)
	}
	s.Counts.Sent, s.Counts.Received = 100, 100
	s.Error("timeout")
	a := s.Checkpoint(nil)
	for i := 1; i <= 50; i++ {
		s.Record(RTT, 5*time.Second)
	}
	s.Record(Connect, time.Millisecond)
	s.Counts.Sent += 50
	s.Counts.Received += 50
	s.Error("timeout")
	s.Error("close_1011")
	b := s.Checkpoint(&a)
	if b.Hist[Connect] == nil || b.Hist[RTT] == a.Hist[RTT] {
		t.Error("a histogram that changed was shared with the earlier checkpoint")
	}
	if c := s.Checkpoint(&b); c.Hist[RTT] != b.Hist[RTT] {
		t.Error("a histogram that did not change was copied")
	}
	d, err := Between(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if n := d.Hist[RTT].Count(); n != 50 || d.Hist[RTT].Percentile(50) < 4990*time.Millisecond {
		t.Errorf("interval rtt: %d samples, p50 %v; want the 50 five-second ones", n, d.Hist[RTT].Percentile(50))
	}
	if d.Hist[Connect].Count() != 1 || d.Counts.Sent != 50 || d.Counts.Received != 50 {
		t.Errorf("interval: connect %d, counts %+v", d.Hist[Connect].Count(), d.Counts)
	}
	if d.Errors["timeout"] != 1 || d.Errors["close_1011"] != 1 || len(d.Errors) != 2 {
		t.Errorf("interval errors %v", d.Errors)
	}
	if _, err := Between(b, a); err == nil {
		t.Error("a later checkpoint subtracted from an earlier one")
	}
}
