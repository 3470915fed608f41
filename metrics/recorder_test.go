package metrics

import (
	"fmt"
	"maps"
	"math"
	"sync"
	"testing"
	"time"
)

func TestShardLazy(t *testing.T) {
	var s Shard
	// A new shard has no histograms and no error map.
	for _, m := range Metrics() {
		if s.Histogram(m) != nil {
			t.Errorf("new shard has a %v histogram", m)
		}
	}
	if s.errors != nil {
		t.Errorf("new shard has an error map")
	}
	s.Record(SendLag, 1500*time.Microsecond)
	// Recording allocates only that metric's histogram.
	for _, m := range Metrics() {
		if got, want := s.Histogram(m) != nil, m == SendLag; got != want {
			t.Errorf("after recording SendLag, %v allocated = %v", m, got)
		}
	}
	if got := s.Histogram(SendLag).Percentile(50); got != 1500*time.Microsecond {
		t.Errorf("SendLag p50 = %v, want 1.5ms", got)
	}
	// RecordUs goes to the same histogram.
	s.RecordUs(SendLag, -4)
	if h := s.Histogram(SendLag); h.Count() != 2 || h.Clamped() != 1 {
		t.Errorf("SendLag Count, Clamped = %d, %d, want 2, 1", h.Count(), h.Clamped())
	}
}

func TestShardErrors(t *testing.T) {
	var s Shard
	s.Error("timeout")
	s.Error("timeout")
	s.ErrorN("refused", 5)
	s.ErrorN("zero", 0)
	want := map[string]int64{"timeout": 2, "refused": 5, "zero": 0}
	if fmt.Sprint(s.errors) != fmt.Sprint(want) {
		t.Errorf("errors = %v, want %v", s.errors, want)
	}
}

func TestShardPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func(s *Shard)
	}{
		// Recording into a value that is not a metric.
		{"Record", func(s *Shard) { s.Record(NumMetrics, time.Second) }},
		// Likewise in microseconds.
		{"RecordUs", func(s *Shard) { s.RecordUs(Metric(99), 1) }},
		// Asking for a histogram that cannot exist.
		{"Histogram", func(s *Shard) { s.Histogram(NumMetrics) }},
		// A negative error count would corrupt the totals.
		{"ErrorN", func(s *Shard) { s.ErrorN("x", -1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.f(&Shard{})
		})
	}
}

func TestShardRecordNoAllocs(t *testing.T) {
	var s Shard
	s.Record(RTT, time.Millisecond) // the lazy allocation
	d := time.Duration(0)
	allocs := testing.AllocsPerRun(1000, func() {
		d += 7919 * time.Nanosecond
		s.Record(RTT, d)
		s.RecordUs(RTT, -1)
		s.Counts.Sent++
	})
	if allocs != 0 {
		t.Errorf("Record allocates %v times per call after the first", allocs)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	const (
		workers = 8
		perW    = 5000
	)
	r := NewRecorder()
	ref := NewSnapshot() // everything, recorded in one place
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		// Compute the expected values up front, single-threaded.
		vals := make([]int64, perW)
		for i := range vals {
			vals[i] = int64((w*perW+i)*37%200_000) - 5 // a few negatives
		}
		for _, v := range vals {
			ref.Hist[RTT].RecordUs(v)
			ref.Hist[Connect].RecordUs(v / 2)
			ref.Errors[fmt.Sprint("kind", v%3)]++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := r.NewShard() // NewShard concurrently with other goroutines
			for _, v := range vals {
				s.RecordUs(RTT, v)
				s.Record(Connect, time.Duration(v/2)*time.Microsecond)
				s.Counts.Sent++
				s.Counts.Received++
				s.Error(fmt.Sprint("kind", v%3))
			}
			s.Counts.ConnsOpened++
		}()
	}
	wg.Wait()

	snap, err := r.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	total := int64(workers * perW)
	// Counts sum exactly over shards.
	if snap.Counts.Sent != total || snap.Counts.Received != total || snap.Counts.ConnsOpened != workers {
		t.Errorf("Counts = %+v, want Sent=Received=%d, ConnsOpened=%d", snap.Counts, total, workers)
	}
	if !snap.Counts.Balanced() {
		t.Errorf("Counts unbalanced by %d", snap.Counts.Imbalance())
	}
	// Errors sum exactly, kind by kind.
	if !maps.Equal(snap.Errors, ref.Errors) {
		t.Errorf("Errors = %v, want %v", snap.Errors, ref.Errors)
	}
	// Histograms equal recording everything into one.
	for _, m := range []Metric{RTT, Connect} {
		if got, want := snap.Hist[m].Summary(), ref.Hist[m].Summary(); got != want {
			t.Errorf("%v Summary = %+v, want %+v", m, got, want)
		}
		if got, want := snap.Hist[m].Clamped(), ref.Hist[m].Clamped(); got != want || got == 0 {
			t.Errorf("%v Clamped = %d, want %d (nonzero)", m, got, want)
		}
	}
	// Metrics nobody recorded are empty, not nil.
	if snap.Hist[Handshake] == nil || snap.Hist[Handshake].Count() != 0 {
		t.Errorf("Handshake histogram = %v, want empty", snap.Hist[Handshake])
	}
	// A second snapshot sees the same totals: shards are read, not reset.
	snap2, err := r.Snapshot()
	if err != nil {
		t.Fatalf("second Snapshot: %v", err)
	}
	if snap2.Counts != snap.Counts || snap2.Hist[RTT].Summary() != snap.Hist[RTT].Summary() {
		t.Errorf("second Snapshot differs from the first")
	}
}

func TestNewSnapshotNeverNil(t *testing.T) {
	s := NewSnapshot()
	// Errors is an empty map, not nil.
	if s.Errors == nil {
		t.Error("Errors is nil")
	}
	// Every histogram exists and is empty.
	for m, h := range s.Hist {
		if h == nil || h.Count() != 0 {
			t.Errorf("Hist[%v] = %v, want empty", Metric(m), h)
		}
	}
	// An empty recorder gives the same.
	snap, err := NewRecorder().Snapshot()
	if err != nil || snap.Errors == nil || snap.Hist[RTT] == nil {
		t.Errorf("empty Recorder Snapshot = %+v, %v", snap, err)
	}
}

func TestSnapshotMerge(t *testing.T) {
	mk := func(sent int64, errs map[string]int64, vals ...int64) *Snapshot {
		s := NewSnapshot()
		s.Counts = Counts{Sent: sent, Received: sent, BytesSent: 10 * sent}
		for k, n := range errs {
			s.Errors[k] = n
		}
		for _, v := range vals {
			s.Hist[RTT].RecordUs(v)
			s.Hist[Handshake].RecordUs(2 * v)
		}
		return s
	}
	a := mk(3, map[string]int64{"timeout": 1, "closed": 2}, 10, 20, -1)
	b := mk(4, map[string]int64{"timeout": 5, "refused": 1}, 30, HighestUs+1)
	all := mk(7, nil, 10, 20, -1, 30, HighestUs+1)

	if err := a.Merge(b); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	// Counts sum field by field.
	if want := (Counts{Sent: 7, Received: 7, BytesSent: 70}); a.Counts != want {
		t.Errorf("Counts = %+v, want %+v", a.Counts, want)
	}
	// Errors sum by kind, keeping kinds only one side had.
	if got, want := fmt.Sprint(a.Errors), fmt.Sprint(map[string]int64{"timeout": 6, "closed": 2, "refused": 1}); got != want {
		t.Errorf("Errors = %v, want %v", got, want)
	}
	// Histograms merge exactly, clamped counts included.
	for _, m := range []Metric{RTT, Handshake} {
		if a.Hist[m].Summary() != all.Hist[m].Summary() || a.Hist[m].Clamped() != 2 {
			t.Errorf("%v = %+v (clamped %d), want %+v (clamped 2)", m, a.Hist[m].Summary(), a.Hist[m].Clamped(), all.Hist[m].Summary())
		}
	}
	// b is unchanged.
	if b.Counts.Sent != 4 || b.Hist[RTT].Count() != 2 || b.Errors["timeout"] != 5 {
		t.Errorf("Merge changed its argument: %+v", b)
	}

	// Merging a snapshot into itself doubles everything.
	if err := b.Merge(b); err != nil {
		t.Fatalf("self Merge: %v", err)
	}
	if b.Counts.Sent != 8 || b.Hist[RTT].Count() != 4 || b.Errors["timeout"] != 10 || b.Errors["refused"] != 2 {
		t.Errorf("self Merge: %+v", b)
	}

	// Merging nil, or a hand-built snapshot with nil parts, adds nothing
	// and does not panic.
	before := a.Hist[RTT].Summary()
	if err := a.Merge(nil); err != nil {
		t.Errorf("Merge(nil): %v", err)
	}
	if err := a.Merge(&Snapshot{}); err != nil {
		t.Errorf("Merge(&Snapshot{}): %v", err)
	}
	if a.Hist[RTT].Summary() != before || a.Counts.Sent != 7 {
		t.Errorf("merging nothing changed the snapshot")
	}
	// A hand-built receiver gets its nil parts filled in.
	var z Snapshot
	if err := z.Merge(a); err != nil {
		t.Fatalf("Merge into zero Snapshot: %v", err)
	}
	if z.Errors["timeout"] != 6 || z.Hist[RTT] == nil || z.Hist[RTT].Summary() != a.Hist[RTT].Summary() {
		t.Errorf("Merge into zero Snapshot = %+v", z)
	}
}

func TestSnapshotMergeReportsDrops(t *testing.T) {
	a := NewSnapshot()
	// One short of the int64 total: of two more values only one fits.
	if err := a.Hist[Connect].Raw().RecordValues(1, math.MaxInt64-1); err != nil {
		t.Fatal(err)
	}
	var sh Shard
	sh.RecordUs(Connect, 5)
	sh.RecordUs(Connect, 6)
	sh.RecordUs(RTT, 7)
	err := a.AddShard(&sh)
	// The dropped values are an error naming the metric; the rest merged.
	if err == nil {
		t.Fatal("AddShard succeeded although values were dropped")
	}
	if got := err.Error(); got != "connect: metrics: histogram merge dropped 1 of 2 values" {
		t.Errorf("error = %q", got)
	}
	if a.Hist[RTT].Count() != 1 {
		t.Errorf("RTT did not merge beside the failing metric")
	}
}
