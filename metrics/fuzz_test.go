package metrics

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// fuzzValues reads data as a sequence of varints, so small and huge, positive
// and negative values all come easily.
func fuzzValues(data []byte) []int64 {
	var vs []int64
	for len(data) > 0 {
		v, n := binary.Varint(data)
		if n <= 0 {
			break
		}
		vs = append(vs, v)
		data = data[n:]
	}
	return vs
}

func fuzzSeed(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func FuzzHistogramRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add(fuzzSeed(1, 2, 3, 1000, 5000))
	f.Add(fuzzSeed(-1, 0, HighestUs, HighestUs+1, math.MaxInt64, math.MinInt64))
	f.Add(fuzzSeed(2047, 2048, 2049, 4095, 4096, 1_000_000))
	f.Fuzz(func(t *testing.T, data []byte) {
		vs := fuzzValues(data)
		h := NewHistogram()
		var clamped int64
		for _, v := range vs {
			if v < 0 || v > HighestUs {
				clamped++
			}
			h.RecordUs(v)
		}
		if h.Count() != int64(len(vs)) || h.Clamped() != clamped {
			t.Fatalf("Count, Clamped = %d, %d, want %d, %d", h.Count(), h.Clamped(), len(vs), clamped)
		}
		s := h.Summary()
		checkOrdered(t, s)

		enc, err := h.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		got, err := DecodeHistogram(enc)
		if err != nil {
			t.Fatalf("DecodeHistogram(Encode()): %v", err)
		}
		if got.Summary() != s {
			t.Fatalf("Summary after round trip = %+v, want %+v", got.Summary(), s)
		}
		if !got.Raw().Equals(h.Raw()) {
			t.Fatalf("counts differ after round trip")
		}
	})
}

func FuzzDecodeHistogram(f *testing.F) {
	for _, vs := range [][]int64{nil, {1}, {0, 17, 2500, HighestUs, -3}} {
		enc, err := record(vs).Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	// A valid encoding of another geometry, which DecodeHistogram rejects.
	other := hdrhistogram.New(1, 1000, 2)
	if err := other.RecordValue(5); err != nil {
		f.Fatal(err)
	}
	b, err := other.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("")
	f.Add("not a histogram")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := DecodeHistogram(s)
		if err != nil {
			if h != nil {
				t.Fatalf("DecodeHistogram returned a histogram with error %v", err)
			}
			return
		}
		sum := h.Summary()
		checkOrdered(t, sum)
		if sum.MaxUs > HighestUs && !h.Raw().ValuesAreEquivalent(int64(sum.MaxUs), HighestUs) {
			t.Fatalf("decoded max %v beyond the range", sum.MaxUs)
		}
		enc, err := h.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded histogram: %v", err)
		}
		h2, err := DecodeHistogram(enc)
		if err != nil {
			t.Fatalf("DecodeHistogram of a re-encoding: %v", err)
		}
		if h2.Summary() != sum {
			t.Fatalf("Summary after re-encoding = %+v, want %+v", h2.Summary(), sum)
		}
	})
}
