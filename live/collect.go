package live

import (
	"math"
	"runtime"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wsbench/wsbench/metrics"
)

// Namespace prefixes every metric of the client's.
const Namespace = "wsbench"

// counter is one of the client's counters: its name (after Namespace_),
// its help and the count it exports.
type counter struct {
	name, help string
	get        func(*metrics.Counts) int64
}

// counters are the client's counters, each a field of metrics.Counts (the
// result's messages, connections and bytes).
var counters = []counter{
	{"messages_sent_total", "Messages sent in the measured window.", func(c *metrics.Counts) int64 { return c.Sent }},
	{"messages_received_total", "Sent messages whose reply arrived.", func(c *metrics.Counts) int64 { return c.Received }},
	{"messages_lost_total", "Sent messages given up on: timed out, or their connection closed first.", func(c *metrics.Counts) int64 { return c.Lost }},
	{"messages_unsent_total", "Open model: sends that fell due but were never made.", func(c *metrics.Counts) int64 { return c.Unsent }},
	{"messages_timed_out_total", "Requests (kind request) given up on after their timeout.", func(c *metrics.Counts) int64 { return c.TimedOut }},
	{"messages_failed_total", "Requests (kind request) answered with an error reply.", func(c *metrics.Counts) int64 { return c.Failed }},
	{"messages_no_reply_total", "Flow sends that await no reply.", func(c *metrics.Counts) int64 { return c.NoReply }},
	{"messages_unsolicited_total", "Messages that answered no request in flight.", func(c *metrics.Counts) int64 { return c.Unsolicited }},
	{"bytes_sent_total", "WebSocket bytes of measured messages sent.", func(c *metrics.Counts) int64 { return c.BytesSent }},
	{"bytes_received_total", "WebSocket bytes of measured messages received.", func(c *metrics.Counts) int64 { return c.BytesReceived }},
	{"connections_attempted_total", "Connection attempts.", func(c *metrics.Counts) int64 { return c.ConnsAttempted }},
	{"connections_opened_total", "Connections that completed their opening handshake.", func(c *metrics.Counts) int64 { return c.ConnsOpened }},
	{"connections_failed_total", "Connection attempts that failed.", func(c *metrics.Counts) int64 { return c.ConnsFailed }},
	{"connections_dropped_total", "Opened connections that ended before the run closed them.", func(c *metrics.Counts) int64 { return c.ConnsDropped }},
	{"connections_reconnects_total", "Slots reopened after a drop or a failed open (--reconnect).", func(c *metrics.Counts) int64 { return c.Reconnects }},
}

// The classic buckets of the latency histograms, in microseconds: 1, 2, 5
// per decade over the HDR range, 1 µs to 60 s (metrics.HighestUs).
var bucketsUs = func() []int64 {
	var b []int64
	for d := int64(1); d < metrics.HighestUs; d *= 10 {
		for _, k := range []int64{1, 2, 5} {
			if k*d < metrics.HighestUs {
				b = append(b, k*d)
			}
		}
	}
	return append(b, metrics.HighestUs)
}()

// The native histograms' layout: schema 3 (8 buckets per power of two,
// each about 9% wide, client_golang's default factor of 1.1), and a zero
// bucket for what HDR holds as 0 µs (durations under half a microsecond).
const (
	nativeSchema        = 3
	nativeZeroThreshold = 0.5e-6
)

// clientCollector collects a Client's figures at each scrape.
type clientCollector struct{ c *Client }

var (
	descErrors    = prometheus.NewDesc(Namespace+"_errors_total", "Failures by kind (see README: Error kinds).", []string{"kind"}, nil)
	descLatency   = prometheus.NewDesc(Namespace+"_latency_seconds", "Latency of each metric (rtt: corrected for coordinated omission, rtt_uncorrected, send_lag, connect, handshake, read_lag, delivery, close, spread, gap), from the run's HDR histograms: classic buckets 1-2-5 per decade from 1µs to 60s, and a native histogram (schema 3).", []string{"metric"}, nil)
	descInFlight  = prometheus.NewDesc(Namespace+"_messages_in_flight", "Sent messages awaiting a reply: sent - received - timed out - failed - lost - no reply.", nil, nil)
	descOpen      = prometheus.NewDesc(Namespace+"_connections_open", "Connections open at the end of the last measured interval (0 once the run ended).", nil, nil)
	descMeasured  = prometheus.NewDesc(Namespace+"_measured_seconds", "How much of the measured window has been measured.", nil, nil)
	descFinished  = prometheus.NewDesc(Namespace+"_run_finished", "1 once the run ended and every figure is its result's.", nil, nil)
	descCores     = prometheus.NewDesc(Namespace+"_cpu_cores", "Cores the client may use (GOMAXPROCS, at most the machine's CPUs).", nil, nil)
	descBusy      = prometheus.NewDesc(Namespace+"_cpu_busy_cores", "Cores the client process kept busy over the last interval (over the whole window once finished).", nil, nil)
	descUtil      = prometheus.NewDesc(Namespace+"_cpu_utilization", "wsbench_cpu_busy_cores / wsbench_cpu_cores: near 1, the client is saturated and its latency figures limited by itself.", nil, nil)
	descSaturated = prometheus.NewDesc(Namespace+"_saturated", "Once the run ended: 1 if its result found the client the bottleneck (harness.saturated: CPU, GC or send lag), 0 if not.", nil, nil)
	descClamped   = prometheus.NewDesc(Namespace+"_latency_clamped_total", "Latency values outside 1µs..60s, recorded at the nearer edge.", []string{"metric"}, nil)
	descCounters  = func() []*prometheus.Desc {
		d := make([]*prometheus.Desc, len(counters))
		for i, k := range counters {
			d[i] = prometheus.NewDesc(Namespace+"_"+k.name, k.help, nil, nil)
		}
		return d
	}()
)

func (cc clientCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descCounters {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{descErrors, descLatency, descInFlight, descOpen, descMeasured, descFinished, descCores, descBusy, descUtil, descSaturated, descClamped} {
		ch <- d
	}
}

func (cc clientCollector) Collect(ch chan<- prometheus.Metric) {
	c := cc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range counters {
		ch <- prometheus.MustNewConstMetric(descCounters[i], prometheus.CounterValue, float64(k.get(&c.counts)))
	}
	for kind, n := range c.errors {
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(n), kind)
	}
	inFlight := c.inFlight
	if !c.finished {
		inFlight = max(c.counts.Imbalance(), 0)
	}
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(inFlight))
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(c.open))
	ch <- prometheus.MustNewConstMetric(descMeasured, prometheus.GaugeValue, c.measured.Seconds())
	finished := 0.0
	if c.finished {
		finished = 1
	}
	ch <- prometheus.MustNewConstMetric(descFinished, prometheus.GaugeValue, finished)
	if c.finished {
		saturated := 0.0
		if c.saturated {
			saturated = 1
		}
		ch <- prometheus.MustNewConstMetric(descSaturated, prometheus.GaugeValue, saturated)
	}
	cores := min(c.cores, runtime.NumCPU())
	ch <- prometheus.MustNewConstMetric(descCores, prometheus.GaugeValue, float64(cores))
	if c.busy >= 0 {
		ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, c.busy)
		ch <- prometheus.MustNewConstMetric(descUtil, prometheus.GaugeValue, c.busy/float64(cores))
	}
	for m, h := range c.hist {
		name := metrics.Metric(m).String()
		if h == nil {
			h = empty
		}
		hm, err := histogramMetric(descLatency, h, name)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descLatency, err)
			continue
		}
		ch <- hm
		ch <- prometheus.MustNewConstMetric(descClamped, prometheus.CounterValue, float64(h.Clamped()), name)
	}
}

// empty stands for a metric nothing was recorded in: every metric is
// exported from the start, so a dashboard's queries find their series.
var empty = metrics.NewHistogram()

// histogramMetric is h as one Prometheus histogram with both classic
// buckets (bucketsUs) and native buckets (nativeSchema): each value HDR
// holds is taken at the lowest value of its HDR bucket (within 0.1% of
// what was recorded), so count is exact, and the sum is within HDR's
// precision.
func histogramMetric(desc *prometheus.Desc, h *metrics.Histogram, labels ...string) (prometheus.Metric, error) {
	classic := make([]uint64, len(bucketsUs))
	native := map[int]int64{}
	var zero, count uint64
	var sumUs float64
	if h.Count() > 0 {
		eachBar(h, func(from, to, n int64) {
			count += uint64(n)
			sumUs += float64(n) * float64(from+to) / 2
			if i := sort.Search(len(bucketsUs), func(i int) bool { return bucketsUs[i] >= from }); i < len(classic) {
				classic[i] += uint64(n)
			}
			if from == 0 {
				zero += uint64(n)
				return
			}
			native[nativeIndex(float64(from)/1e6)] += n
		})
	}
	nh, err := prometheus.NewConstNativeHistogram(desc, count, sumUs/1e6, native, nil, zero,
		nativeSchema, nativeZeroThreshold, time.Time{}, labels...)
	if err != nil {
		return nil, err
	}
	buckets := make([]*dto.Bucket, len(bucketsUs))
	var cum uint64
	for i, le := range bucketsUs {
		cum += classic[i]
		buckets[i] = &dto.Bucket{CumulativeCount: proto(cum), UpperBound: proto(float64(le) / 1e6)}
	}
	return withClassic{nh, buckets}, nil
}

// The layout of every metrics.Histogram's HDR counts (metrics.LowestUs,
// metrics.SigFigs), as hdrhistogram-go computes it: sub-buckets of
// 2^hdrHalfMagnitude+1 values, bucket b's values 2^(b+unit) apart.
// TestEachBarIsDistribution checks it against the library's Distribution.
var hdrHalfMagnitude, hdrUnitMagnitude = func() (int, int) {
	single := 2 * math.Pow(10, metrics.SigFigs) // largest value with single-unit resolution
	return max(int(math.Ceil(math.Log2(single))), 1) - 1, int(math.Floor(math.Log2(metrics.LowestUs)))
}()

// eachBar calls f with the lowest and highest value of every HDR bucket
// of h that holds values, and their count, in order: what
// hdrhistogram-go's Distribution gives, without building its ~17,000
// bars (2 MB) at each scrape; only the counts are copied (136 KB).
func eachBar(h *metrics.Histogram, f func(from, to, n int64)) {
	half := 1 << hdrHalfMagnitude
	for i, n := range h.Raw().Export().Counts {
		if n == 0 {
			continue
		}
		b, sub := 0, i
		if i >= 2*half {
			b = i>>hdrHalfMagnitude - 1
			sub = i - b*half
		}
		from := int64(sub) << (b + hdrUnitMagnitude)
		f(from, from+int64(1)<<(b+hdrUnitMagnitude)-1, n)
	}
}

// nativeIndex is the index of the native bucket (schema nativeSchema)
// holding v > 0: bucket i holds (2^((i-1)/8), 2^(i/8)].
func nativeIndex(v float64) int {
	return int(math.Ceil(math.Log2(v) * (1 << nativeSchema)))
}

// withClassic is a native histogram that also carries classic buckets,
// as client_golang's own histograms do when given both: a scraper that
// takes native histograms reads those, any other the classic buckets.
type withClassic struct {
	prometheus.Metric
	buckets []*dto.Bucket
}

func (w withClassic) Write(m *dto.Metric) error {
	if err := w.Metric.Write(m); err != nil {
		return err
	}
	m.Histogram.Bucket = w.buckets
	return nil
}

func proto[T any](v T) *T { return &v }
