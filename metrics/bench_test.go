package metrics

import (
	"math/rand/v2"
	"testing"
	"time"
)

func BenchmarkShardRecord(b *testing.B) {
	var s Shard
	s.Record(RTT, time.Millisecond) // the lazy allocation, outside the timing
	r := rand.New(rand.NewPCG(1, 2))
	ds := make([]time.Duration, 1024)
	for i := range ds {
		ds[i] = time.Duration(r.ExpFloat64() * float64(2*time.Millisecond))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Record(RTT, ds[i&1023])
	}
}

func BenchmarkMerge(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	src := record(randomValues(r, "lognormal", 100_000))
	dst := NewHistogram()
	b.ReportAllocs()
	for b.Loop() {
		if err := dst.Merge(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshot(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	rec := NewRecorder()
	for i := 0; i < 8; i++ {
		s := rec.NewShard()
		for _, v := range randomValues(r, "lognormal", 10_000) {
			s.RecordUs(RTT, v)
			s.RecordUs(RTTUncorrected, v)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rec.Snapshot(); err != nil {
			b.Fatal(err)
		}
	}
}
