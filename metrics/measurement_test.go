package metrics

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// part is a measurement of one part of a run: n round trips of base+i µs
// over conns connections, every message accounted for, one interval and
// one stage recorded alike, all of it also recorded into all (the run as if
// one part had measured it).
func part(t *testing.T, all *Shard, conns, n int, base int64, start time.Time, u Usage) *Measurement {
	t.Helper()
	sh := NewRecorder().NewShard()
	for _, s := range []*Shard{sh, all} {
		s.Counts.ConnsAttempted += int64(conns)
		s.Counts.ConnsOpened += int64(conns)
		s.Counts.Sent += int64(n + 2)
		s.Counts.Received += int64(n)
		s.Counts.Lost++
		s.Counts.InFlight++
		s.Error("close_1011")
		for i := range n {
			s.RecordUs(RTT, base+int64(i))
		}
		s.RecordUs(Connect, base)
	}
	snap := NewSnapshot()
	if err := snap.AddShard(sh); err != nil {
		t.Fatal(err)
	}
	c, err := snap.Compact()
	if err != nil {
		t.Fatal(err)
	}
	stage := NewSnapshot()
	stage.Merge(snap)
	return &Measurement{
		Started: start, MeasureStart: start.Add(time.Second), MeasureEnd: start.Add(3 * time.Second),
		StopReason: "completed", Snapshot: snap, CPU: u, Processes: 1, IO: "syscalls", Timestamps: "kernel",
		GOMAXPROCS: 2, Dial: time.Duration(conns) * time.Millisecond, SendBufferFull: 1,
		Loops:     LoopStats{Passes: 10, Ready: 25, ReadyMax: int64(conns), FullReads: 1, Wakeups: 3},
		Intervals: []Interval{{Start: 0, End: time.Second, Data: c, Open: conns}},
		Stages:    []Stage{{Name: "ramp", Start: 0, End: 2 * time.Second, TargetConns: 9, Snapshot: stage, Open: conns}},
	}
}

// TestMerge: the merge of a run's parts is the run as one part would have
// recorded it (counts summed and balanced, histograms exact, intervals and
// stages too), the window spans the parts, and usage adds up over separate
// processes but is taken once within one.
func TestMerge(t *testing.T) {
	all := NewRecorder().NewShard()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	a := part(t, all, 3, 200, 100, t0, Usage{User: time.Second, System: time.Second, MaxRSSKiB: 100, GCPause: time.Millisecond, GCCycles: 2, Machine: 0.5})
	b := part(t, all, 5, 300, 5000, t0.Add(20*time.Millisecond), Usage{User: 3 * time.Second, MaxRSSKiB: 50, GCPause: time.Millisecond, GCCycles: 1, Machine: 0.7})
	want := NewSnapshot()
	if err := want.AddShard(all); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		sameProcess bool
		usage       Usage
		processes   int
		cores       int
	}{
		// processes of a split run: CPU, GC, memory and cores add up
		{"separate processes", false, Usage{User: 4 * time.Second, System: time.Second, MaxRSSKiB: 150, GCPause: 2 * time.Millisecond, GCCycles: 3, Machine: 0.7}, 2, 4},
		// groups of a mix: one process's usage, the largest reading once
		{"one process", true, Usage{User: 3 * time.Second, MaxRSSKiB: 100, GCPause: time.Millisecond, GCCycles: 1, Machine: 0.7}, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(tc.sameProcess, a, b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Snapshot.Counts != want.Counts || !got.Snapshot.Counts.Balanced() {
				t.Errorf("counts %+v, want %+v (balanced)", got.Snapshot.Counts, want.Counts)
			}
			if !reflect.DeepEqual(got.Snapshot.Errors, want.Errors) {
				t.Errorf("errors %v, want %v", got.Snapshot.Errors, want.Errors)
			}
			for _, m := range []Metric{RTT, Connect} {
				g, w := got.Snapshot.Hist[m], want.Hist[m]
				if g.Count() != w.Count() || g.Summary() != w.Summary() {
					t.Errorf("%v: %+v, want %+v", m, g.Summary(), w.Summary())
				}
			}
			if !got.MeasureStart.Equal(a.MeasureStart) || !got.MeasureEnd.Equal(b.MeasureEnd) || !got.Started.Equal(a.Started) {
				t.Errorf("window %v..%v, want %v..%v", got.MeasureStart, got.MeasureEnd, a.MeasureStart, b.MeasureEnd)
			}
			if got.CPU != tc.usage || got.Processes != tc.processes || got.GOMAXPROCS != tc.cores {
				t.Errorf("usage %+v, %d processes, %d cores; want %+v, %d, %d", got.CPU, got.Processes, got.GOMAXPROCS, tc.usage, tc.processes, tc.cores)
			}
			if l := got.Loops; l != (LoopStats{Passes: 20, Ready: 50, ReadyMax: 5, FullReads: 2, Wakeups: 6}) || got.SendBufferFull != 2 || got.Dial != 5*time.Millisecond {
				t.Errorf("loops %+v, send buffer full %d, dial %v", l, got.SendBufferFull, got.Dial)
			}
			if len(got.Intervals) != 1 || got.Intervals[0].Open != 8 {
				t.Fatalf("intervals %+v", got.Intervals)
			}
			iv, err := got.Intervals[0].Expanded()
			if err != nil {
				t.Fatal(err)
			}
			if iv.Counts != want.Counts || iv.Hist[RTT].Summary() != want.Hist[RTT].Summary() {
				t.Errorf("interval %+v, want %+v", iv.Counts, want.Counts)
			}
			if len(got.Stages) != 1 || got.Stages[0].Open != 8 || got.Stages[0].Name != "ramp" ||
				got.Stages[0].Snapshot.Counts != want.Counts || got.Stages[0].Snapshot.Hist[RTT].Summary() != want.Hist[RTT].Summary() {
				t.Errorf("stages %+v", got.Stages)
			}
		})
	}
	// The parts are left as they were.
	if a.Snapshot.Counts.Sent != 202 || a.Stages[0].Open != 3 || a.Intervals[0].Open != 3 {
		t.Errorf("merge changed a part: %+v", a.Snapshot.Counts)
	}
}

// TestMergeStops: a part that opened nothing adds its counts but, in one
// process, not its window; the merged stop reason is the worst.
func TestMergeStops(t *testing.T) {
	all := NewRecorder().NewShard()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	a := part(t, all, 3, 10, 100, t0, Usage{})
	none := &Measurement{Started: t0.Add(time.Hour), MeasureStart: t0.Add(time.Hour), MeasureEnd: t0.Add(time.Hour),
		StopReason: "no_connections", Snapshot: NewSnapshot(), Processes: 1}
	none.Snapshot.Counts.ConnsAttempted, none.Snapshot.Counts.ConnsFailed = 4, 4
	got, err := Merge(true, a, none)
	if err != nil {
		t.Fatal(err)
	}
	if got.StopReason != "completed" || !got.MeasureEnd.Equal(a.MeasureEnd) || got.Snapshot.Counts.ConnsFailed != 4 {
		t.Errorf("stop %q, end %v, failed %d", got.StopReason, got.MeasureEnd, got.Snapshot.Counts.ConnsFailed)
	}
	if got, _ := Merge(true, none, none); got.StopReason != "no_connections" || !got.MeasureEnd.Equal(none.MeasureEnd) {
		t.Errorf("nothing opened: stop %q, window %v..%v", got.StopReason, got.MeasureStart, got.MeasureEnd)
	}
	if _, err := Merge(false); err == nil {
		t.Error("a merge of nothing gave no error")
	}
}

func TestCombineStops(t *testing.T) {
	for _, tc := range []struct {
		in   []StopReason
		want StopReason
	}{
		{[]StopReason{"completed", "completed"}, "completed"},
		{[]StopReason{"completed", "no_connections"}, "completed"},
		{[]StopReason{"no_connections", "no_connections"}, "no_connections"},
		{[]StopReason{"interrupted", "completed"}, "interrupted"},
		{[]StopReason{"interrupted", "aborted", "completed"}, "aborted"},
		{[]StopReason{"completed", "not_echo"}, "not_echo"},
	} {
		if got := CombineStops(tc.in); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMeasurementJSON: a measurement read back from its JSON (as a split
// run's process sends it) merges to the same as the original.
func TestMeasurementJSON(t *testing.T) {
	all := NewRecorder().NewShard()
	m := part(t, all, 3, 500, 100, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Usage{User: time.Second, Machine: -1})
	m.Snapshot.Hist[SendLag].RecordUs(HighestUs * 2) // clamped
	m.Mismatch = &Mismatch{Reason: "not_echo", Kind: "echo_mismatch", Sent: []byte{0, 1, 2}, SentLen: 3, SentOp: "binary"}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Measurement
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Snapshot.Counts != m.Snapshot.Counts || !reflect.DeepEqual(back.Snapshot.Errors, m.Snapshot.Errors) {
		t.Errorf("counts %+v, want %+v", back.Snapshot.Counts, m.Snapshot.Counts)
	}
	for metric := range NumMetrics {
		g, w := back.Snapshot.Hist[metric], m.Snapshot.Hist[metric]
		if g.Summary() != w.Summary() || g.Clamped() != w.Clamped() {
			t.Errorf("%v: %+v (%d clamped), want %+v (%d)", Metric(metric), g.Summary(), g.Clamped(), w.Summary(), w.Clamped())
		}
	}
	if !back.MeasureEnd.Equal(m.MeasureEnd) || back.CPU != m.CPU || back.Loops != m.Loops || !reflect.DeepEqual(back.Mismatch, m.Mismatch) ||
		!reflect.DeepEqual(back.Intervals, m.Intervals) || len(back.Stages) != 1 || back.Stages[0].Snapshot.Counts != m.Stages[0].Snapshot.Counts {
		t.Errorf("read back:\n%+v\nwant\n%+v", back, *m)
	}
	if err := json.Unmarshal([]byte(`{"Snapshot":{"counts":{},"hist":{"nope":{}}}}`), &back); err == nil {
		t.Error("an unknown metric read without error")
	}
}

// TestIntervalAdd: the live status adds expanded intervals; stored ones
// add compact; both give the sum.
func TestIntervalAdd(t *testing.T) {
	a, b := NewSnapshot(), NewSnapshot()
	a.Counts.Sent, b.Counts.Sent = 3, 4
	a.Hist[RTT].RecordUs(10)
	b.Hist[RTT].RecordUs(20)
	var live Interval
	for _, s := range []*Snapshot{a, b} {
		if err := live.Add(Interval{End: time.Second, Snapshot: s, Open: 2}); err != nil {
			t.Fatal(err)
		}
	}
	if live.Snapshot.Counts.Sent != 7 || live.Snapshot.Hist[RTT].Count() != 2 || live.Open != 4 || live.End != time.Second || live.Data != nil {
		t.Errorf("live %+v", live)
	}
	if a.Counts.Sent != 3 || a.Hist[RTT].Count() != 1 {
		t.Error("Add changed what it added")
	}
}

// TestMergeAssociativeCommutative: separate processes' measurements merged
// in any grouping and any order give the same measurement, so shards can
// be merged as they arrive (a merge of merges is the merge of all).
func TestMergeAssociativeCommutative(t *testing.T) {
	all := NewRecorder().NewShard()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	a := part(t, all, 3, 200, 100, t0, Usage{User: time.Second, MaxRSSKiB: 100, GCCycles: 2})
	b := part(t, all, 5, 300, 5000, t0.Add(20*time.Millisecond), Usage{User: 3 * time.Second, MaxRSSKiB: 50, GCCycles: 1})
	c := part(t, all, 2, 150, 70000, t0.Add(-5*time.Millisecond), Usage{System: 2 * time.Second, MaxRSSKiB: 70, GCCycles: 4})
	merge := func(ms ...*Measurement) *Measurement {
		t.Helper()
		m, err := Merge(false, ms...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	encode := func(m *Measurement) string {
		t.Helper()
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := encode(merge(a, b, c))
	for name, got := range map[string]*Measurement{
		"(a b) c": merge(merge(a, b), c),
		"a (b c)": merge(a, merge(b, c)),
		"c a b":   merge(c, a, b),
		"(c b) a": merge(merge(c, b), a),
		"b (a c)": merge(b, merge(a, c)),
	} {
		if g := encode(got); g != want {
			t.Errorf("%s differs from (a b c):\n%s\nwant\n%s", name, g, want)
		}
	}
}
