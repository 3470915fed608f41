package results

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// shardStart is the common start (--start-at) of the test's shards.
var shardStart = time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)

// shardValue is one thing a shard measured: a latency of a metric, or an
// error of a kind.
type shardValue struct {
	metric metrics.Metric
	d      time.Duration
	err    string
}

// shardSet is a made-up sharded run: every value it measured, and which
// shard measured each; counts are made from the values, so the shards'
// counts add up to the whole's exactly when the merge is exact.
type shardSet struct {
	n      int
	values []shardValue
	owner  []int // shard of each value
}

// randomShardSet measures up to a few thousand values (latencies spread
// over the histogram's whole range, some out of it, some errors) and deals
// them to n shards at random.
func randomShardSet(rng *rand.Rand, n int) shardSet {
	s := shardSet{n: n}
	metricsUsed := []metrics.Metric{metrics.RTT, metrics.RTTUncorrected, metrics.Connect, metrics.Handshake, metrics.SendLag}
	for range rng.IntN(3000) + 1 {
		v := shardValue{metric: metricsUsed[rng.IntN(len(metricsUsed))]}
		switch rng.IntN(20) {
		case 0:
			v.err = []string{"timeout", "read", "closed_1006"}[rng.IntN(3)]
		case 1:
			v.d = time.Duration(rng.Int64N(int64(2 * time.Minute))) // past 60 s: clamped, and counted so
		default:
			// Log-uniform from 1 µs to 10 s, where latencies live.
			v.d = time.Duration(float64(time.Microsecond) * math.Pow(10, rng.Float64()*7))
		}
		s.values = append(s.values, v)
		s.owner = append(s.owner, rng.IntN(n))
	}
	return s
}

// measure records the values of shard k (all of them when k < 0) as one
// process with one recorder would (its connections each on a recorder
// shard of their own, as the driver's workers record).
func (s shardSet) measure(k int) *metrics.Measurement {
	rec := metrics.NewRecorder()
	workers := []*metrics.Shard{rec.NewShard(), rec.NewShard(), rec.NewShard()}
	var c metrics.Counts
	for i, v := range s.values {
		if k >= 0 && s.owner[i] != k {
			continue
		}
		w := workers[i%len(workers)]
		switch {
		case v.err != "":
			w.Error(v.err)
		case v.metric == metrics.RTT:
			w.Record(v.metric, v.d)
			c.Sent++
			c.Received++
			c.BytesSent += 70
			c.BytesReceived += 66
		case v.metric == metrics.Connect:
			w.Record(v.metric, v.d)
			c.ConnsAttempted++
			c.ConnsOpened++
		default:
			w.Record(v.metric, v.d)
		}
	}
	snap, err := rec.Snapshot()
	if err != nil {
		panic(err)
	}
	snap.Counts = c
	// Each shard started a little off the common start, by its own clock.
	off := time.Duration(max(k, 0)) * time.Millisecond
	return &metrics.Measurement{
		Started: shardStart.Add(off), MeasureStart: shardStart.Add(off), MeasureEnd: shardStart.Add(10*time.Second + off),
		StopReason: "completed", Snapshot: snap, Processes: 1, GOMAXPROCS: 2, IO: "syscalls", Timestamps: "read",
		CPU: metrics.Usage{User: 100 * time.Millisecond, System: 50 * time.Millisecond, MaxRSSKiB: 10240},
	}
}

// shardSpec is the scenario every test shard runs.
func shardSpec() scenario.Spec {
	s := scenario.Default()
	s.Conns = 40
	return s
}

// shardReport is shard k's result file as `wsbench run --shard k/n` writes
// it (built, then written and read back as JSON).
func shardReport(t *testing.T, m *metrics.Measurement, k, n int, plan string) *Report {
	t.Helper()
	spec := shardSpec()
	first, conns := k*spec.Conns/n, (k+1)*spec.Conns/n-k*spec.Conns/n
	spec.Conns = conns
	r, err := Build(About{ToolVersion: "test", Spec: spec, Target: "ws://127.0.0.1:9999/", Ended: m.MeasureEnd}, m)
	if err != nil {
		t.Fatal(err)
	}
	r.Shard = &ShardResult{Shard: ShardInfo{Index: k, Count: n, Plan: plan, StartAt: shardStart, StartedAt: m.MeasureStart,
		SkewNs: m.MeasureStart.Sub(shardStart).Nanoseconds(), FirstSlot: first, Conns: conns, Host: fmt.Sprintf("node-%d", k)}, Measurement: m}
	b, err := r.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// reports are the shards' results of s, shard 0 first.
func (s shardSet) reports(t *testing.T, plan string) []*Report {
	out := make([]*Report, s.n)
	for k := range s.n {
		out[k] = shardReport(t, s.measure(k), k, s.n, plan)
	}
	return out
}

// sameMeasured says how merged differs from one, the result of one
// recorder fed every value ("" if in nothing measured).
func sameMeasured(merged, one *Report) string {
	var diffs []string
	if merged.Messages != one.Messages {
		diffs = append(diffs, fmt.Sprintf("messages %+v, one recorder %+v", merged.Messages, one.Messages))
	}
	if merged.Bytes != one.Bytes {
		diffs = append(diffs, fmt.Sprintf("bytes %+v, one recorder %+v", merged.Bytes, one.Bytes))
	}
	if merged.Connections.Attempted != one.Connections.Attempted || merged.Connections.Opened != one.Connections.Opened {
		diffs = append(diffs, fmt.Sprintf("connections %+v, one recorder %+v", merged.Connections, one.Connections))
	}
	if !reflect.DeepEqual(merged.Errors, one.Errors) {
		diffs = append(diffs, fmt.Sprintf("errors %v, one recorder %v", merged.Errors, one.Errors))
	}
	for name, l := range one.Latency {
		if merged.Latency[name] != l {
			m := merged.Latency[name]
			diffs = append(diffs, fmt.Sprintf("%s: count %d p99 %.0fµs clamped %d, one recorder %d %.0fµs %d", name,
				m.Count, m.P99Us, m.Clamped, l.Count, l.P99Us, l.Clamped))
		}
	}
	return strings.Join(diffs, "; ")
}

// TestMergeShardsExact: however the values of a run fall to its shards
// (1 to 7 of them, 10 random splits) and in whatever order the results are given, the merge
// counts every message, connection and error once and its histograms are
// bucket for bucket (encoded HDR and summary) the one histogram a single
// recorder fed every value makes. Orders and splits being free is the
// merge's commutativity and associativity. FuzzMergeShards explores more.
func TestMergeShardsExact(t *testing.T) {
	// 10 random splits: each takes about a second under the race detector
	// on a busy 2-core machine; FuzzMergeShards (make fuzz-smoke) and
	// metrics' TestMergeAssociativeCommutative cover more.
	for seed := range uint64(10) {
		checkMergeExact(t, seed, 0)
	}
}

// FuzzMergeShards: TestMergeShardsExact's property for any seed and shard
// count (up to 40, the test run's connections).
func FuzzMergeShards(f *testing.F) {
	f.Add(uint64(1), uint8(3))
	f.Add(uint64(99), uint8(1))
	f.Add(uint64(7), uint8(40))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		checkMergeExact(t, seed, 1+int(n)%shardSpec().Conns)
	})
}

// checkMergeExact deals random values to n shards (0: 1 to 7, from the
// seed), merges their results in two random orders and checks both against
// one recorder fed every value.
func checkMergeExact(t *testing.T, seed uint64, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 16))
	if n == 0 {
		n = 1 + rng.IntN(7)
	}
	set := randomShardSet(rng, n)
	one, err := Build(About{ToolVersion: "test", Spec: shardSpec(), Target: "ws://127.0.0.1:9999/"}, set.measure(-1))
	if err != nil {
		t.Fatal(err)
	}
	reps := set.reports(t, "sha256:aaaa")
	rng.Shuffle(len(reps), func(i, j int) { reps[i], reps[j] = reps[j], reps[i] })
	merged, err := MergeShards(reps, false)
	if err != nil {
		t.Fatalf("seed %d, %d shards: %v", seed, n, err)
	}
	if d := sameMeasured(merged, one); d != "" {
		t.Errorf("seed %d, %d shards: %s", seed, n, d)
	}
	if merged.Scenario.Conns != shardSpec().Conns {
		t.Errorf("seed %d: merged scenario has %d connections, the run %d", seed, merged.Scenario.Conns, shardSpec().Conns)
	}
	if s := merged.Shards; s == nil || s.Partial || len(s.Missing) != 0 || len(s.Present) != n || s.Count != n || s.Plan != "sha256:aaaa" {
		t.Errorf("seed %d: shards %+v", seed, merged.Shards)
	}
	// Merged again in another order, the result is the same document
	// (but for when it was made).
	rng.Shuffle(len(reps), func(i, j int) { reps[i], reps[j] = reps[j], reps[i] })
	again, err := MergeShards(reps, false)
	if err != nil {
		t.Fatal(err)
	}
	again.Environment, again.EndedAt = merged.Environment, merged.EndedAt
	a, _ := merged.MarshalIndent()
	b, _ := again.MarshalIndent()
	if !bytes.Equal(a, b) {
		t.Errorf("seed %d: the merge depends on the order of its inputs", seed)
	}
}

// TestMergeShardsProcesses: each shard is judged on its own (its own
// result, on its own machine) and listed by its index; the whole's cores
// are those of the machines the shards ran on, each machine once.
func TestMergeShardsProcesses(t *testing.T) {
	set := randomShardSet(rand.New(rand.NewPCG(1, 2)), 3)
	reps := set.reports(t, "p")
	reps[2].Harness.Saturated, reps[2].Harness.Cores = true, 8
	reps[0].Harness.Cores = 8
	reps[1].Shard.Shard.Host, reps[1].Harness.Cores = "node-0", 8 // beside shard 0
	merged, err := MergeShards([]*Report{reps[2], reps[0], reps[1]}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Processes) != 3 {
		t.Fatalf("processes %+v", merged.Processes)
	}
	for k, p := range merged.Processes {
		r := reps[k]
		if p.Index != k || p.FirstSlot != r.Shard.Shard.FirstSlot || p.Conns != r.Shard.Shard.Conns || p.Sent != r.Messages.Sent || p.Saturated != (k == 2) {
			t.Errorf("process %d: %+v, shard result %+v %+v", k, p, r.Shard.Shard, r.Messages)
		}
	}
	if merged.Harness.Cores != 16 {
		t.Errorf("cores %d, want 16 (two machines of 8)", merged.Harness.Cores)
	}
	if !merged.Harness.Saturated || !strings.Contains(strings.Join(merged.Harness.Saturation, "\n"), "shard 2 of 3 was saturated") {
		t.Errorf("saturation %v", merged.Harness.Saturation)
	}
}

// TestMergeShardsRefuses: what is not the shards of one run, once each, is
// refused with the result at fault and why; --allow-partial lets only
// missing shards through.
func TestMergeShardsRefuses(t *testing.T) {
	set := randomShardSet(rand.New(rand.NewPCG(7, 7)), 3)
	fresh := func() []*Report { return set.reports(t, "sha256:plan-a") }
	plain := fixture(t, nil)
	cases := []struct {
		name    string
		reports func() []*Report
		partial bool   // --allow-partial
		at      int    // the result at fault (-1: none)
		want    string // in the reason
	}{
		// shard 1 of 3 never reported
		{"missing", func() []*Report { r := fresh(); return []*Report{r[0], r[2]} }, false, -1, "shard 1 of 3 missing"},
		// two missing are both named
		{"two missing", func() []*Report { return fresh()[2:] }, false, -1, "shards 0, 1 of 3 missing"},
		// the same shard twice (a retried pod, a copied file)
		{"duplicate", func() []*Report { r := fresh(); return []*Report{r[0], r[1], r[2], r[1]} }, false, 3, "shard 1/3 again (result 2 is that shard too)"},
		// --allow-partial does not make a duplicate right
		{"duplicate partial", func() []*Report { r := fresh(); return []*Report{r[1], r[1]} }, true, 1, "shard 1/3 again"},
		// a shard of another scenario
		{"other plan", func() []*Report {
			r := fresh()
			r[2].Shard.Shard.Plan = "sha256:plan-b"
			return r
		}, false, 2, "shard 2/3 of plan plan-b, not of the run of result 1 (plan plan-a, 3 shards)"},
		// --allow-partial does not mix plans either
		{"other plan partial", func() []*Report {
			r := fresh()
			r[0].Shard.Shard.Plan = "sha256:plan-b"
			return r
		}, true, 1, "not of the run of result 1"},
		// a shard of a run split in 4, beside shards of 3
		{"other count", func() []*Report {
			r := fresh()
			r[1].Shard.Shard.Count = 4
			return r
		}, false, 1, "shard 1/4 of plan plan-a, not of the run of result 1 (plan plan-a, 3 shards)"},
		// a shard of the same plan run at another time (another --start-at)
		{"other start", func() []*Report {
			r := fresh()
			r[2].Shard.Shard.StartAt = r[0].Shard.Shard.StartAt.Add(90 * time.Second)
			return r
		}, true, 2, "shard 2/3 was given the common start"},
		// one shard given no --start-at beside shards given one
		{"no start", func() []*Report {
			r := fresh()
			r[1].Shard.Shard.StartAt = time.Time{}
			return r
		}, false, 1, "was given the common start none (no --start-at)"},
		// a result of a run without --shard
		{"not a shard", func() []*Report { r := fresh(); return []*Report{r[0], plain, r[1], r[2]} }, true, 1, "not a shard's result"},
		// a merged result is not a shard's
		{"merged", func() []*Report {
			r := fresh()
			m, err := MergeShards(r, false)
			if err != nil {
				t.Fatal(err)
			}
			return []*Report{m}
		}, false, 0, "a merged result, not one shard's"},
		// a shard result without its measurement
		{"no measurement", func() []*Report {
			r := fresh()
			r[1].Shard.Measurement = nil
			return r
		}, false, 1, "shard 1/3 holds no measurement"},
		// an index past the count
		{"index out of range", func() []*Report {
			r := fresh()
			r[2].Shard.Shard.Index = 3
			return r
		}, false, 2, "shard 3/3 is not a shard of 3"},
		// no plan hash
		{"no plan", func() []*Report {
			r := fresh()
			for _, x := range r {
				x.Shard.Shard.Plan = ""
			}
			return r
		}, false, 0, "carries no plan hash"},
		// nothing at all
		{"none", func() []*Report { return nil }, true, -1, "no shard results"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := MergeShards(c.reports(), c.partial)
			var me *MergeError
			if !errors.As(err, &me) {
				t.Fatalf("merged (%v), want refused: %s", err, c.want)
			}
			if rep != nil || me.Report != c.at || !strings.Contains(me.Reason, c.want) || strings.Contains(me.Reason, "\n") {
				t.Errorf("refused at result %d: %q; want at %d: %q", me.Report, me.Reason, c.at, c.want)
			}
		})
	}
}

// TestMergeShardsPartial: with --allow-partial the shards given are merged
// exactly, and the result says which are missing and that its totals are
// partial: in Shards, a warning, and the text and HTML summaries.
func TestMergeShardsPartial(t *testing.T) {
	set := randomShardSet(rand.New(rand.NewPCG(3, 4)), 4)
	reps := set.reports(t, "sha256:p")
	merged, err := MergeShards([]*Report{reps[2], reps[0]}, true)
	if err != nil {
		t.Fatal(err)
	}
	s := merged.Shards
	if !s.Partial || !reflect.DeepEqual(s.Missing, []int{1, 3}) || len(s.Present) != 2 || s.Present[0].Index != 0 || s.Present[1].Index != 2 {
		t.Fatalf("shards %+v", s)
	}
	if want := reps[0].Messages.Sent + reps[2].Messages.Sent; merged.Messages.Sent != want {
		t.Errorf("sent %d, want shards 0 and 2's %d", merged.Messages.Sent, want)
	}
	if merged.Scenario.Conns != reps[0].Shard.Shard.Conns+reps[2].Shard.Shard.Conns {
		t.Errorf("scenario conns %d: not the %d merged", merged.Scenario.Conns, reps[0].Shard.Shard.Conns+reps[2].Shard.Shard.Conns)
	}
	line := "partial result: shards 1, 3 of 4 missing; totals cover 2 of 4 shards, not the whole run"
	if !containsString(merged.Warnings, line) {
		t.Errorf("warnings %q lack %q", merged.Warnings, line)
	}
	for _, format := range []string{"text", "html"} {
		var b bytes.Buffer
		if err := Encoders[format](&b, merged, Options{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), line) {
			t.Errorf("%s summary lacks %q", format, line)
		}
	}
	// Written and read back, it still says so.
	b, _ := merged.MarshalIndent()
	back, err := Parse(b)
	if err != nil || !back.Shards.Partial || !reflect.DeepEqual(back.Shards.Missing, []int{1, 3}) {
		t.Errorf("read back: %v %+v", err, back.Shards)
	}
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestMergeShardsSkew: the largest start skew is the largest |skew| of any
// shard (early or late), the spread the latest start minus the earliest.
func TestMergeShardsSkew(t *testing.T) {
	set := randomShardSet(rand.New(rand.NewPCG(5, 6)), 3)
	reps := set.reports(t, "p")
	for k, skew := range []time.Duration{-4 * time.Millisecond, 1500 * time.Microsecond, 2 * time.Millisecond} {
		si := &reps[k].Shard.Shard
		si.StartedAt, si.SkewNs = si.StartAt.Add(skew), skew.Nanoseconds()
	}
	merged, err := MergeShards(reps, false)
	if err != nil {
		t.Fatal(err)
	}
	if s := merged.Shards; s.SkewMaxNs != 4e6 || s.SpreadNs != 6e6 {
		t.Errorf("skew max %d ns, spread %d ns; want 4000000 and 6000000", s.SkewMaxNs, s.SpreadNs)
	}
}

// TestShardLine: a shard's own result says which shard of which plan it
// is, its connections and its start skew, and that it is to be merged.
func TestShardLine(t *testing.T) {
	set := randomShardSet(rand.New(rand.NewPCG(9, 9)), 3)
	r := set.reports(t, "sha256:feedfacecafe0000")[1]
	var b bytes.Buffer
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "Shard 1 of 3 · plan feedfacecafe · connections 13-25 on node-1 · started +1.00ms from the common start 2026-12-03T23:00:00Z · merge with the other shards' results: wsbench merge"
	if !strings.Contains(b.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, b.String())
	}
}

// missedShard is shard k's result when it was not connected and ready by
// the common start: ready late by lateBy, it measured nothing (the shard
// part writes it so and exits 5).
func missedShard(t *testing.T, k, n int, plan string, lateBy time.Duration) *Report {
	ready := shardStart.Add(lateBy)
	m := &metrics.Measurement{Started: ready, MeasureStart: ready, MeasureEnd: ready, StopReason: stopMissedStart,
		Snapshot: metrics.NewSnapshot(), Processes: 1, GOMAXPROCS: 2}
	r := shardReport(t, m, k, n, plan)
	r.Shard.Shard.StartedAt, r.Shard.Shard.SkewNs = ready, lateBy.Nanoseconds()
	r.Failure = "shard missed the start"
	return r
}

// TestMergeShardsMissedStart: a shard that missed the common start
// measured nothing, so its share is missing from the totals: refused
// without --allow-partial (naming it and how late it was), and with it
// counted among the missing, out of the skew, and said so.
func TestMergeShardsMissedStart(t *testing.T) {
	set := randomShardSet(rand.New(rand.NewPCG(11, 12)), 3)
	reps := set.reports(t, "p")
	reps[1] = missedShard(t, 1, 3, "p", 2500*time.Millisecond)
	_, err := MergeShards(reps, false)
	var me *MergeError
	if !errors.As(err, &me) || me.Report != 1 || !strings.Contains(me.Reason, "shard 1/3 missed the common start (ready 2.50s late) and measured nothing") {
		t.Fatalf("merge without --allow-partial: %v", err)
	}
	merged, err := MergeShards(reps, true)
	if err != nil {
		t.Fatal(err)
	}
	s := merged.Shards
	if !s.Partial || !reflect.DeepEqual(s.Missing, []int{1}) || len(s.MissedStart) != 1 || s.MissedStart[0].Index != 1 || len(s.Present) != 2 {
		t.Errorf("shards %+v", s)
	}
	if s.SkewMaxNs >= int64(time.Second) {
		t.Errorf("skew max %d ns counts the shard that measured nothing", s.SkewMaxNs)
	}
	both, err := MergeShards([]*Report{reps[0], reps[2]}, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameMeasured(merged, both); d != "" {
		t.Errorf("the totals are not those of the shards that measured: %s", d)
	}
	var b bytes.Buffer
	Text(&b, merged)
	for _, want := range []string{
		"partial result: shard 1 of 3 missing (shard 1 missed the common start and measured nothing); totals cover 2 of 3 shards",
		"MISSED START: ready +2.50s",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	// Every shard late: nothing to merge, even partially.
	all := []*Report{missedShard(t, 0, 2, "p", time.Second), missedShard(t, 1, 2, "p", time.Second)}
	if _, err := MergeShards(all, true); !errors.As(err, &me) || !strings.Contains(me.Reason, "no shard of the 2 measured anything") {
		t.Errorf("every shard late: %v", err)
	}
}

// TestMergeShardsVersions: shards of one plan run by different wsbench
// versions are merged, with a warning naming which ran which.
func TestMergeShardsVersions(t *testing.T) {
	reps := randomShardSet(rand.New(rand.NewPCG(13, 14)), 3).reports(t, "p")
	reps[2].ToolVersion = "0.2.0"
	merged, err := MergeShards(reps, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "the shards ran different wsbench versions: test: shards 0, 1; 0.2.0: shard 2"; !containsString(merged.Warnings, want) {
		t.Errorf("warnings %q lack %q", merged.Warnings, want)
	}
}

// TestHTMLShards: a partial merge's page is well-formed and loads nothing,
// says at its top that it is partial, and has a shards section with a row
// per shard, the missing and the late ones marked.
func TestHTMLShards(t *testing.T) {
	reps := randomShardSet(rand.New(rand.NewPCG(15, 16)), 4).reports(t, "p")
	reps[3] = missedShard(t, 3, 4, "p", time.Second)
	merged, err := MergeShards([]*Report{reps[0], reps[1], reps[3]}, true)
	if err != nil {
		t.Fatal(err)
	}
	doc := checkWellFormed(t, writeHTML(t, merged))
	if !doc.sections["shards"] {
		t.Fatalf("no shards section; sections %v", doc.sections)
	}
	for _, want := range []string{
		"PARTIAL: partial result: shards 2, 3 of 4 missing (shard 3 missed the common start and measured nothing)",
		"Shards: 2 of 4 merged (PARTIAL: shards 2, 3 missing)",
		"MISSING", "MISSED START: ready +1.00s", "node-1",
	} {
		if !strings.Contains(doc.text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// BenchmarkMergeShards: merging the results of 10 and 100 shards, each
// with a few thousand values over five metrics (read from their files
// already).
func BenchmarkMergeShards(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("shards=%d", n), func(b *testing.B) {
			set := randomShardSet(rand.New(rand.NewPCG(1, 1)), n)
			set.values = append(set.values, set.values...)
			set.owner = append(set.owner, set.owner...)
			spec := shardSpec()
			reps := make([]*Report, n)
			for k := range n {
				m := set.measure(k)
				r, err := Build(About{ToolVersion: "test", Spec: spec, Target: "ws://127.0.0.1:9999/"}, m)
				if err != nil {
					b.Fatal(err)
				}
				r.Shard = &ShardResult{Shard: ShardInfo{Index: k, Count: n, Plan: "p", FirstSlot: k, Conns: 1}, Measurement: m}
				reps[k] = r
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := MergeShards(reps, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
