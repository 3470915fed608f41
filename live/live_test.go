package live

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsbench/wsbench/internal/promserve"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// gather is c's families by name.
func gather(t *testing.T, c *Client) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := c.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// series is the one series of family name whose labels include want.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	for _, m := range f.GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == k && l.GetValue() == v
			}
			ok = ok && found
		}
		if ok {
			return m
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return nil
}

func num(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := series(t, fams, name, labels)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither counter nor gauge", name)
	return 0
}

// snapshot is an interval's snapshot: counts, errors, and rtt values in
// microseconds.
func snapshot(c metrics.Counts, errs map[string]int64, rttUs ...int64) *metrics.Snapshot {
	s := metrics.NewSnapshot()
	s.Counts = c
	s.Errors = errs
	for _, us := range rttUs {
		s.Hist[metrics.RTT].RecordUs(us)
	}
	return s
}

// TestClientLiveThenFinal: intervals add up as they come (counts, errors
// by kind, in flight, open connections, the rtt histogram with a value at
// 0, values on bucket bounds and one clamped at 60 s), every series carries
// the shard's labels; Finish then sets every figure to the result, exactly
// (histogram count = the result's rtt count), and later intervals are
// ignored.
func TestClientLiveThenFinal(t *testing.T) {
	c := NewClient(Shard{Index: 1, Count: 3})
	c.Interval(metrics.Interval{End: time.Second, Open: 5, Snapshot: snapshot(
		metrics.Counts{Sent: 10, Received: 7, Lost: 1, BytesSent: 640, BytesReceived: 448}, map[string]int64{"timeout": 1},
		0, 3, 3, 3, 3, 1000, 1000, 70_000_000)})
	c.Interval(metrics.Interval{Start: time.Second, End: 2 * time.Second, Open: 4, Snapshot: snapshot(
		metrics.Counts{Sent: 5, Received: 6, ConnsDropped: 1}, map[string]int64{"timeout": 2, "reset": 1}, 5, 5, 2001, 2001, 2001, 2001)})
	shard := map[string]string{"shard": "1", "shards": "3"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v, "shard": "1", "shards": "3"}
		return m
	}
	fams := gather(t, c)
	if fams["wsbench_saturated"] != nil {
		t.Error("wsbench_saturated before the run ended: only its result judges that")
	}
	for name, want := range map[string]float64{
		"wsbench_messages_sent_total":         15,
		"wsbench_messages_received_total":     13,
		"wsbench_messages_lost_total":         1,
		"wsbench_messages_in_flight":          1, // 15 - 13 - 1
		"wsbench_bytes_sent_total":            640,
		"wsbench_connections_dropped_total":   1,
		"wsbench_connections_open":            4, // the last interval's
		"wsbench_measured_seconds":            2,
		"wsbench_run_finished":                0,
		"wsbench_cpu_cores":                   float64(min(runtime.GOMAXPROCS(0), runtime.NumCPU())),
		"wsbench_connections_attempted_total": 0,
	} {
		if got := num(t, fams, name, shard); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := num(t, fams, "wsbench_errors_total", with("kind", "timeout")); got != 3 {
		t.Errorf("errors{timeout} = %v, want 3", got)
	}
	if got := num(t, fams, "wsbench_errors_total", with("kind", "reset")); got != 1 {
		t.Errorf("errors{reset} = %v, want 1", got)
	}
	if got := num(t, fams, "wsbench_latency_clamped_total", with("metric", "rtt")); got != 1 {
		t.Errorf("rtt clamped = %v, want 1 (the 70 s value)", got)
	}
	h := series(t, fams, "wsbench_latency_seconds", with("metric", "rtt")).GetHistogram()
	if h.GetSampleCount() != 14 {
		t.Errorf("rtt count %d, want 14", h.GetSampleCount())
	}
	// Classic buckets, cumulative: 0 µs is under 1 µs; 3 µs under 5 µs;
	// 1000 µs on the 1 ms bound counts in it; 2001 µs is above 2 ms; the
	// clamped value is 60 s, the last bound.
	wantCum := map[float64]uint64{1e-6: 1, 2e-6: 1, 5e-6: 7, 1e-3: 9, 2e-3: 9, 5e-3: 13, 50: 13, 60: 14}
	for _, b := range h.GetBucket() {
		if w, ok := wantCum[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%g: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if n := len(h.GetBucket()); n != len(bucketsUs) {
		t.Errorf("%d classic buckets, want %d", n, len(bucketsUs))
	}
	// Native: the 0 in the zero bucket, the rest in positive buckets.
	if h.GetSchema() != nativeSchema || h.GetZeroCount() != 1 {
		t.Errorf("native schema %d zero count %d, want %d and 1", h.GetSchema(), h.GetZeroCount(), nativeSchema)
	}
	var pos, run int64
	for _, d := range h.GetPositiveDelta() {
		run += d
		pos += run
	}
	if pos != 13 {
		t.Errorf("native positive buckets hold %d, want 13", pos)
	}
	wantSum := (0 + 4*3 + 2*1000 + 60e6 + 2*5 + 4*2001) / 1e6
	if s := h.GetSampleSum(); math.Abs(s-wantSum) > wantSum*1e-3 {
		t.Errorf("rtt sum %v s, want %v within 0.1%%", s, wantSum)
	}
	if runtime.GOOS == "linux" {
		series(t, fams, "process_cpu_seconds_total", shard) // the process metrics carry the labels too
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["shard"] != "1" || labels["shards"] != "3" {
				t.Errorf("%s%v lacks the shard labels", name, labels)
			}
		}
	}

	// The result: more than the intervals said (replies of the grace
	// period, connections opened before the window).
	final := snapshot(metrics.Counts{ConnsAttempted: 6, ConnsOpened: 5, ConnsFailed: 1, ConnsDropped: 1,
		Sent: 15, Received: 14, Lost: 1, BytesSent: 960, BytesReceived: 896},
		map[string]int64{"timeout": 3, "reset": 1}, 0, 3, 3, 3, 3, 1000, 1000, 70_000_000, 5, 5, 2001, 2001, 2001, 2001, 9)
	final.Hist[metrics.Connect].RecordUs(120)
	start := time.Now()
	rep, err := results.Build(results.About{Spec: scenario.Default(), Target: "ws://127.0.0.1:1/"},
		&metrics.Measurement{Started: start, MeasureStart: start, MeasureEnd: start.Add(2 * time.Second), Snapshot: final,
			StopReason: metrics.StopCompleted, GOMAXPROCS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(rep); err != nil {
		t.Fatal(err)
	}
	c.Interval(metrics.Interval{End: 3 * time.Second, Open: 9, Snapshot: snapshot(metrics.Counts{Sent: 100}, nil, 7)})
	fams = gather(t, c)
	for name, want := range map[string]int64{
		"wsbench_messages_sent_total":         rep.Messages.Sent,
		"wsbench_messages_received_total":     rep.Messages.Received,
		"wsbench_messages_lost_total":         rep.Messages.Lost,
		"wsbench_messages_in_flight":          rep.Messages.InFlight,
		"wsbench_bytes_sent_total":            rep.Bytes.Sent,
		"wsbench_bytes_received_total":        rep.Bytes.Received,
		"wsbench_connections_attempted_total": rep.Connections.Attempted,
		"wsbench_connections_opened_total":    rep.Connections.Opened,
		"wsbench_connections_failed_total":    rep.Connections.Failed,
		"wsbench_connections_open":            0,
		"wsbench_run_finished":                1,
		"wsbench_measured_seconds":            2,
		"wsbench_saturated":                   0,
	} {
		if got := num(t, fams, name, shard); got != float64(want) {
			t.Errorf("after Finish: %s = %v, want %v", name, got, want)
		}
	}
	for name, l := range rep.Latency {
		h := series(t, fams, "wsbench_latency_seconds", with("metric", name)).GetHistogram()
		if int64(h.GetSampleCount()) != l.Count {
			t.Errorf("after Finish: %s count %d, result %d", name, h.GetSampleCount(), l.Count)
		}
	}
	if rep.Latency["rtt"].Count != 15 || rep.Latency["connect"].Count != 1 {
		t.Fatalf("the result's counts are not what was recorded: %+v", rep.Latency)
	}
}

// TestClassicBucketsBound: for random values (bounds themselves among
// them), each classic bucket's cumulative count lies between the values
// at or under its bound and those under it plus HDR's precision (0.1%):
// HDR stores each value within that of what was recorded, never less.
func TestClassicBucketsBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := metrics.NewHistogram()
	var vals []int64
	for range 20000 {
		var v int64
		switch rng.IntN(3) {
		case 0:
			v = bucketsUs[rng.IntN(len(bucketsUs))] // on a bound
		case 1:
			v = int64(math.Exp(rng.Float64() * math.Log(metrics.HighestUs)))
		default:
			v = rng.Int64N(5000)
		}
		h.RecordUs(v)
		vals = append(vals, v)
	}
	slices.Sort(vals)
	m, err := histogramMetric(descLatency, h, "rtt")
	if err != nil {
		t.Fatal(err)
	}
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	hist := out.GetHistogram()
	if hist.GetSampleCount() != uint64(len(vals)) {
		t.Fatalf("count %d, want %d", hist.GetSampleCount(), len(vals))
	}
	atMost := func(x float64) uint64 {
		n, _ := slices.BinarySearchFunc(vals, x, func(v int64, x float64) int {
			if float64(v) <= x {
				return -1
			}
			return 1
		})
		return uint64(n)
	}
	for _, b := range hist.GetBucket() {
		le := b.GetUpperBound() * 1e6
		lo, hi := atMost(le), atMost(le*1.001+1)
		if got := b.GetCumulativeCount(); got < lo || got > hi {
			t.Errorf("le=%gµs: %d, want %d..%d", le, got, lo, hi)
		}
	}
	// Native: every value in a bucket, bucket i holding (2^((i-1)/8), 2^(i/8)].
	for _, v := range []float64{1e-6, 1e-3, 0.0049, 1, 59.9} {
		i := nativeIndex(v)
		if lo, up := math.Pow(2, float64(i-1)/8), math.Pow(2, float64(i)/8); !(lo < v && v <= up) {
			t.Errorf("native bucket %d of %v spans (%v, %v]", i, v, lo, up)
		}
	}
}

// TestEachBarIsDistribution: eachBar's buckets are hdrhistogram-go's own
// (Distribution's bars that hold values), for values over the whole range.
func TestEachBarIsDistribution(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	h := metrics.NewHistogram()
	for range 50000 {
		h.RecordUs(int64(math.Exp(rng.Float64()*math.Log(metrics.HighestUs))) - 1)
	}
	h.RecordUs(0)
	h.RecordUs(metrics.HighestUs)
	var want [][3]int64
	for _, b := range h.Raw().Distribution() {
		if b.Count > 0 {
			want = append(want, [3]int64{b.From, b.To, b.Count})
		}
	}
	var got [][3]int64
	eachBar(h, func(from, to, n int64) { got = append(got, [3]int64{from, to, n}) })
	if !slices.Equal(got, want) {
		t.Fatalf("eachBar gave %d buckets, Distribution %d; first difference: %v", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b [][3]int64) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("#%d %v vs %v", i, a[i], b[i])
		}
	}
	return "one is longer"
}

// TestScrapeNativeOverHTTP: over HTTP, a scraper that asks for Prometheus'
// protobuf format (as one with native histograms enabled does) gets the
// latency as a native histogram with its classic buckets beside; one that
// asks for text gets the classic buckets.
func TestScrapeNativeOverHTTP(t *testing.T) {
	c := NewClient(Shard{})
	c.Interval(metrics.Interval{End: time.Second, Open: 1, Snapshot: snapshot(metrics.Counts{Sent: 3, Received: 3}, nil, 100, 200, 300)})
	ep, err := promserve.Listen("127.0.0.1:0", c.Registry())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	req, _ := http.NewRequest("GET", ep.URL(), nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	found := false
	for {
		var f dto.MetricFamily
		if err := dec.Decode(&f); err != nil {
			break
		}
		if f.GetName() != "wsbench_latency_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() != "rtt" {
				continue
			}
			h := m.GetHistogram()
			found = true
			if h.GetSampleCount() != 3 || h.GetSchema() != nativeSchema || len(h.GetPositiveSpan()) == 0 || len(h.GetBucket()) != len(bucketsUs) {
				t.Errorf("rtt over protobuf: count %d schema %d spans %d classic buckets %d", h.GetSampleCount(), h.GetSchema(), len(h.GetPositiveSpan()), len(h.GetBucket()))
			}
		}
	}
	if !found {
		t.Fatal("no rtt histogram in the protobuf scrape")
	}
	resp2, err := http.Get(ep.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(resp2.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := num(t, fams, "wsbench_messages_sent_total", nil); got != 3 {
		t.Errorf("text scrape: sent %v, want 3", got)
	}
}

// BenchmarkGather is one scrape's work: every metric's histogram turned
// into classic and native buckets, with rtt and send_lag holding 100,000
// values spread over the whole range.
func BenchmarkGather(b *testing.B) {
	c := NewClient(Shard{Index: 3, Count: 8})
	s := metrics.NewSnapshot()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		v := int64(math.Exp(rng.Float64() * math.Log(metrics.HighestUs)))
		s.Hist[metrics.RTT].RecordUs(v)
		s.Hist[metrics.SendLag].RecordUs(v / 2)
	}
	c.Interval(metrics.Interval{End: time.Second, Snapshot: s})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
