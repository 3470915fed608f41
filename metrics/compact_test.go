package metrics

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"
)

func TestCompactRoundTrip(t *testing.T) {
	s := NewSnapshot()
	s.Counts.Sent, s.Counts.Received = 7, 5
	s.Errors["close_1001"] = 2
	for i := range 1000 {
		s.Hist[RTT].Record(time.Duration(i*i) * time.Microsecond)
	}
	s.Hist[Delivery].Record(90 * time.Second) // clamped at the top
	c, err := s.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if c.Hist[SendLag] != nil || c.Hist[RTT] == nil || c.Hist[RTT].Buckets > 1000 || len(c.Hist[RTT].Packed) > 4*c.Hist[RTT].Buckets {
		t.Errorf("compact: send_lag %v, rtt %d buckets in %d bytes", c.Hist[SendLag], c.Hist[RTT].Buckets, len(c.Hist[RTT].Packed))
	}
	back, err := c.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if back.Counts != s.Counts || back.Errors["close_1001"] != 2 {
		t.Errorf("counts %+v errors %v", back.Counts, back.Errors)
	}
	for m := range NumMetrics {
		if back.Hist[m].Summary() != s.Hist[m].Summary() || back.Hist[m].Clamped() != s.Hist[m].Clamped() {
			t.Errorf("%v: %+v, want %+v", m, back.Hist[m].Summary(), s.Hist[m].Summary())
		}
	}
	merged, err := c.Merge(c)
	if err != nil {
		t.Fatal(err)
	}
	twice, _ := merged.Expand()
	if twice.Counts.Sent != 14 || twice.Hist[RTT].Count() != 2000 || twice.Hist[Delivery].Clamped() != 2 {
		t.Errorf("merged: sent %d rtt %d clamped %d", twice.Counts.Sent, twice.Hist[RTT].Count(), twice.Hist[Delivery].Clamped())
	}
	for _, sp := range []*Sparse{
		{Packed: binary.AppendUvarint(binary.AppendUvarint(nil, 1<<30), 1), Buckets: 1}, // outside the histogram
		{Packed: []byte{0x80}, Buckets: 1},                                              // truncated varint
		{Packed: nil, Buckets: 2},                                                       // fewer buckets than it says
	} {
		bad := &Compact{Hist: [NumMetrics]*Sparse{RTT: sp}}
		if _, err := bad.Expand(); err == nil {
			t.Errorf("%+v expanded", sp)
		}
	}
}

// benchSnapshot holds 2,000 rtt values over 700 buckets, as one second of a
// busy interval might.
func benchSnapshot() *Snapshot {
	s := NewSnapshot()
	for i := range 2000 {
		s.Hist[RTT].Record(time.Duration(100+i%700) * time.Microsecond)
	}
	return s
}

func BenchmarkCompact(b *testing.B) {
	s := benchSnapshot()
	b.ReportAllocs()
	for b.Loop() {
		s.Compact()
	}
}

func BenchmarkEncode(b *testing.B) {
	s := benchSnapshot()
	b.ReportAllocs()
	for b.Loop() {
		s.Hist[RTT].Encode()
	}
}

// TestSparseMergeEqualsDenseMerge: merging two compact snapshots bucket list
// by bucket list gives what merging them expanded gives, bucket for bucket.
func TestSparseMergeEqualsDenseMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		a, b := NewSnapshot(), NewSnapshot()
		for _, s := range []*Snapshot{a, b} {
			for range rng.IntN(3000) {
				s.Hist[RTT].Record(time.Duration(rng.ExpFloat64() * float64(time.Millisecond) * float64(1+trial)))
			}
			for range rng.IntN(50) {
				s.Hist[SendLag].RecordUs(rng.Int64N(HighestUs + 1000)) // some clamped
			}
			s.Counts.Sent = rng.Int64N(100)
			s.Errors["x"] = rng.Int64N(3)
		}
		ca, _ := a.Compact()
		cb, _ := b.Compact()
		m, err := ca.Merge(cb)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Expand()
		if err != nil {
			t.Fatal(err)
		}
		want := NewSnapshot()
		want.Merge(a)
		want.Merge(b)
		if got.Counts != want.Counts || got.Errors["x"] != want.Errors["x"] {
			t.Fatalf("trial %d: counts %+v errors %v, want %+v %v", trial, got.Counts, got.Errors, want.Counts, want.Errors)
		}
		for mt := range NumMetrics {
			if !got.Hist[mt].Raw().Equals(want.Hist[mt].Raw()) || got.Hist[mt].Clamped() != want.Hist[mt].Clamped() {
				t.Fatalf("trial %d %v: merged compact %+v (clamped %d), dense %+v (clamped %d)", trial, mt,
					got.Hist[mt].Summary(), got.Hist[mt].Clamped(), want.Hist[mt].Summary(), want.Hist[mt].Clamped())
			}
		}
	}
}

// TestShardCut: each cut of a windowed shard holds exactly what was recorded
// since the one before, and the cuts add up to the shard.
func TestShardCut(t *testing.T) {
	sh := NewRecorder().NewShard()
	sh.Windowed()
	var cuts []*Compact
	want := []*Histogram{NewHistogram(), NewHistogram(), NewHistogram()}
	for w := range 3 {
		for i := range 500 * (w + 1) {
			d := time.Duration(i*(w+1)) * time.Microsecond
			sh.Record(RTT, d)
			want[w].Record(d)
		}
		sh.Counts.Sent += int64(w + 1)
		sh.ErrorN("e", int64(w))
		cuts = append(cuts, sh.Cut())
	}
	var all *Compact
	for w, c := range cuts {
		if c.Counts.Sent != int64(w+1) || c.Errors["e"] != int64(w) {
			t.Errorf("cut %d: sent %d, errors %v", w, c.Counts.Sent, c.Errors)
		}
		s, err := c.Expand()
		if err != nil {
			t.Fatal(err)
		}
		if !s.Hist[RTT].Raw().Equals(want[w].Raw()) {
			t.Errorf("cut %d: %+v, want %+v", w, s.Hist[RTT].Summary(), want[w].Summary())
		}
		if c.Hist[SendLag] != nil {
			t.Errorf("cut %d: send_lag recorded nothing but is %+v", w, c.Hist[SendLag])
		}
		all, _ = all.Merge(c)
	}
	s, _ := all.Expand()
	if !s.Hist[RTT].Raw().Equals(sh.Histogram(RTT).Raw()) || s.Counts != sh.Counts {
		t.Errorf("cuts add up to %+v, shard holds %+v", s.Hist[RTT].Summary(), sh.Histogram(RTT).Summary())
	}
	if c := sh.Cut(); c.Hist[RTT] != nil || c.Counts.Sent != 0 || len(c.Errors) != 0 {
		t.Errorf("a cut with nothing recorded since the last: %+v", c)
	}
}

func BenchmarkShardCut(b *testing.B) {
	sh := NewRecorder().NewShard()
	sh.Windowed()
	b.ReportAllocs()
	for b.Loop() {
		for i := range 5000 {
			sh.RecordUs(RTT, int64(100+i%700))
			sh.RecordUs(SendLag, int64(i%300))
		}
		sh.Cut()
	}
}
