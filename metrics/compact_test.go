package metrics

import (
	"encoding/binary"
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

func BenchmarkCompact(b *testing.B) {
	s := NewSnapshot()
	for i := range 2000 {
		s.Hist[RTT].Record(time.Duration(100+i%700) * time.Microsecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Compact()
	}
}

func BenchmarkEncode(b *testing.B) {
	s := NewSnapshot()
	for i := range 2000 {
		s.Hist[RTT].Record(time.Duration(100+i%700) * time.Microsecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Hist[RTT].Encode()
	}
}
