package live

import (
	"fmt"
	"maps"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
)

// Shard places a run among the shards of a larger one (`wsbench run
// --shard I/N`): every series then carries shard="I" and shards="N". The
// zero Shard (Count 0) is a run that is not sharded: no such labels.
type Shard struct {
	Index, Count int
}

// Client is the Prometheus view of one `wsbench run`: counters and gauges
// of what the run has measured so far and a latency histogram per metric.
// Interval adds each measured interval as the driver hands it out, so a
// scrape sees the run live; Finish then sets everything to the run's
// result, so that at the end a scrape equals the result exactly. Its
// methods may be called from any goroutine.
type Client struct {
	reg *prometheus.Registry
	cpu func() (time.Duration, bool) // the process's CPU time so far; false: unknown here

	mu         sync.Mutex
	counts     metrics.Counts
	inFlight   int64 // set by Finish; before, derived from counts
	errors     map[string]int64
	hist       [metrics.NumMetrics]*metrics.Histogram // nil: nothing recorded yet
	open       int
	measured   time.Duration
	finished   bool
	busy       float64 // cores the process kept busy over the last interval (-1: unknown)
	saturated  bool    // the result found the client the bottleneck (set by Finish)
	lastCPU    time.Duration
	lastWall   time.Time
	cores      int
	histErrors int64 // interval merges that failed (cannot happen; counted, not hidden)
}

// NewClient returns the exporter of a run, its registry holding the run's
// metrics and the standard process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes, process_open_fds …), all with shard's
// labels. Serve its Registry with promserve.Listen.
func NewClient(shard Shard) *Client {
	c := &Client{reg: prometheus.NewRegistry(), cpu: processCPU, errors: map[string]int64{},
		busy: -1, cores: runtime.GOMAXPROCS(0), lastWall: time.Now()}
	c.lastCPU, _ = c.cpu()
	var r prometheus.Registerer = c.reg
	if shard.Count > 0 {
		r = prometheus.WrapRegistererWith(prometheus.Labels{
			"shard": strconv.Itoa(shard.Index), "shards": strconv.Itoa(shard.Count)}, r)
	}
	r.MustRegister(clientCollector{c}, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return c
}

// Registry is the registry to serve (promserve.Listen) or gather.
func (c *Client) Registry() *prometheus.Registry { return c.reg }

// Chain returns an OnInterval callback (orchestrate.Plan.OnInterval) that
// adds each interval to c and then calls next, when not nil.
func (c *Client) Chain(next func(metrics.Interval)) func(metrics.Interval) {
	return func(iv metrics.Interval) {
		c.Interval(iv)
		if next != nil {
			next(iv)
		}
	}
}

// Interval adds one measured interval, as the driver hands it out (its
// Snapshot set), to the totals; it keeps nothing of iv. Intervals cover
// the measured window only: connections opened before it, and replies a
// loop reports after handing its last interval out, count once Finish
// sets the result.
func (c *Client) Interval(iv metrics.Interval) {
	snap := iv.Snapshot
	if snap == nil {
		return
	}
	cpu, cpuOK := c.cpu()
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	c.counts.Add(snap.Counts)
	for k, v := range snap.Errors {
		c.errors[k] += v
	}
	for m, h := range snap.Hist {
		if h == nil || h.Count() == 0 {
			continue
		}
		if c.hist[m] == nil {
			c.hist[m] = metrics.NewHistogram()
		}
		if err := c.hist[m].Merge(h); err != nil {
			c.histErrors++
		}
	}
	c.open = iv.Open
	c.measured = max(c.measured, iv.End)
	if wall := now.Sub(c.lastWall); cpuOK && wall > 0 {
		c.busy = float64(cpu-c.lastCPU) / float64(wall)
	}
	c.lastCPU, c.lastWall = cpu, now
}

// Finish sets every figure to the run's result: its counts, errors and
// exact histograms (decoded from rep's latency), no connection open,
// wsbench_saturated as the result judged the client, and
// wsbench_run_finished 1. Intervals that come after are ignored. It fails
// only on a histogram rep cannot have written, and then sets the rest.
func (c *Client) Finish(rep *results.Report) error {
	var hist [metrics.NumMetrics]*metrics.Histogram
	var bad error
	for name, l := range rep.Latency {
		m, err := metrics.ParseMetric(name)
		if err != nil || l.HDR == "" {
			continue // a metric of a later version, or none recorded
		}
		h, err := metrics.DecodeHistogram(l.HDR)
		if err == nil {
			err = h.AddClamped(l.Clamped)
		}
		if err != nil {
			bad = fmt.Errorf("live: latency %s: %w", name, err)
			continue
		}
		hist[m] = h
	}
	var k metrics.Counts
	k.ConnsAttempted, k.ConnsOpened, k.ConnsFailed = rep.Connections.Attempted, rep.Connections.Opened, rep.Connections.Failed
	k.ConnsDropped, k.Reconnects = rep.Connections.Dropped, rep.Connections.Reconnects
	msg := rep.Messages
	k.Sent, k.Received, k.Lost, k.InFlight, k.Unsent = msg.Sent, msg.Received, msg.Lost, msg.InFlight, msg.Unsent
	k.NoReply, k.TimedOut, k.Failed, k.Unsolicited = msg.NoReply, msg.TimedOut, msg.Failed, msg.Unsolicited
	k.BytesSent, k.BytesReceived = rep.Bytes.Sent, rep.Bytes.Received

	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts, c.inFlight = k, msg.InFlight
	c.errors = maps.Clone(rep.Errors)
	if c.errors == nil {
		c.errors = map[string]int64{}
	}
	for m := range hist {
		if hist[m] != nil || bad == nil {
			c.hist[m] = hist[m]
		}
	}
	c.open, c.measured, c.finished = 0, time.Duration(rep.DurationS*float64(time.Second)), true
	if rep.Harness.Cores > 0 {
		c.busy = rep.Harness.CPUCores // over the whole window
	}
	c.saturated = rep.Harness.Saturated
	return bad
}
