package metrics

import (
	"fmt"
	"time"
)

// Shard is the part of a run's measurements that one goroutine records. It is
// owned by exactly one goroutine and has no locks: only its owner may touch
// it until the owner stops, after which [Recorder.Snapshot] or
// [Snapshot.AddShard] may read it.
//
// Histograms are allocated on a metric's first record (each is about 140 KB),
// so give a shard to each recording goroutine, never to each connection. Once
// allocated, recording does not allocate.
type Shard struct {
	// Counts is the shard's accounting; the owner updates its fields
	// directly.
	Counts Counts

	hist   [NumMetrics]*Histogram
	errors map[string]int64

	// win, when windowed, also records everything, and is emptied by Cut.
	win *window

	// steps are a scripted flow's named steps (steps.go), by index.
	steps []shardStep
}

// Record records d into metric m's histogram, as [Histogram.Record] does.
// It panics if m is not a metric.
func (s *Shard) Record(m Metric, d time.Duration) {
	s.histogram(m).Record(d)
	if s.win != nil {
		s.win.histogram(m).Record(d)
	}
}

// RecordUs records us microseconds into metric m's histogram, as
// [Histogram.RecordUs] does. It panics if m is not a metric.
func (s *Shard) RecordUs(m Metric, us int64) {
	s.histogram(m).RecordUs(us)
	if s.win != nil {
		s.win.histogram(m).RecordUs(us)
	}
}

// histogram returns m's histogram, allocating it on first use.
func (s *Shard) histogram(m Metric) *Histogram {
	if m >= NumMetrics {
		panic(fmt.Sprintf("metrics: %v is not a metric", m))
	}
	h := s.hist[m]
	if h == nil {
		h = NewHistogram()
		s.hist[m] = h
	}
	return h
}

// Error counts one error of the given kind, a short stable name such as
// "timeout" or "connect_refused".
func (s *Shard) Error(kind string) {
	s.ErrorN(kind, 1)
}

// ErrorTotal is the number of errors counted so far, of every kind.
func (s *Shard) ErrorTotal() int64 {
	var n int64
	for _, v := range s.errors {
		n += v
	}
	return n
}

// ErrorN counts n errors of the given kind. It panics if n is negative.
func (s *Shard) ErrorN(kind string, n int64) {
	if n < 0 {
		panic(fmt.Sprintf("metrics: negative error count %d for %q", n, kind))
	}
	if s.errors == nil {
		s.errors = make(map[string]int64)
	}
	s.errors[kind] += n
}

// Histogram returns metric m's histogram, or nil if nothing was recorded into
// it. The owner may read it; others only after the owner stopped. It panics
// if m is not a metric.
func (s *Shard) Histogram(m Metric) *Histogram {
	if m >= NumMetrics {
		panic(fmt.Sprintf("metrics: %v is not a metric", m))
	}
	return s.hist[m]
}
