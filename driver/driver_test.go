package driver

import (
	"context"
	"github.com/wsbench/wsbench/internal/iomode"
	"maps"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

func quickSpec(conns int, d time.Duration) scenario.Spec {
	s := scenario.Default()
	s.Conns = conns
	s.Duration = scenario.Duration(d)
	s.Warmup = scenario.Duration(100 * time.Millisecond)
	s.Grace = scenario.Duration(time.Second)
	s.ConnectTimeout = scenario.Duration(5 * time.Second)
	return s
}

// checkHealthy asserts what every clean run must show: every connection open,
// no errors, counts that add up with nothing lost, ordered latency summaries.
func checkHealthy(t *testing.T, res *Result, conns int, metricsWanted ...metrics.Metric) {
	t.Helper()
	snap := res.Snapshot
	c := snap.Counts
	if res.StopReason != StopCompleted {
		t.Errorf("stop reason %q", res.StopReason)
	}
	if c.ConnsAttempted != int64(conns) || c.ConnsOpened != int64(conns) || c.ConnsFailed != 0 {
		t.Errorf("connections %+v", c)
	}
	if len(snap.Errors) != 0 {
		t.Errorf("errors %v", snap.Errors)
	}
	if !c.Balanced() {
		t.Errorf("counts do not add up: %+v", c)
	}
	if c.Sent == 0 || c.Lost != 0 {
		t.Errorf("sent %d lost %d", c.Sent, c.Lost)
	}
	if c.Received != snap.Hist[metrics.RTT].Count() {
		t.Errorf("received %d but %d rtt samples", c.Received, snap.Hist[metrics.RTT].Count())
	}
	if c.BytesSent == 0 || c.BytesReceived == 0 {
		t.Errorf("bytes %d/%d", c.BytesSent, c.BytesReceived)
	}
	for _, m := range metricsWanted {
		s := snap.Hist[m].Summary()
		if s.Count == 0 {
			t.Errorf("%s: empty", m)
			continue
		}
		if !(s.MinUs <= s.P50Us && s.P50Us <= s.P99Us && s.P99Us <= s.MaxUs) {
			t.Errorf("%s: unordered %+v", m, s)
		}
	}
}

// eachIO runs f once per I/O mode the event loops have: both must behave the same.
func eachIO(t *testing.T, f func(t *testing.T, io iomode.Mode)) {
	for _, io := range []iomode.Mode{IOUring, IOSyscalls} {
		t.Run(string(io), func(t *testing.T) {
			if io == IOUring {
				if err := uring.Probe(); err != nil {
					t.Skipf("io_uring unavailable: %v", err)
				}
			}
			f(t, io)
		})
	}
}

func TestClosedModelAgainstTestServer(t *testing.T) { eachIO(t, testClosedModel) }

func testClosedModel(t *testing.T, io iomode.Mode) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(20, 500*time.Millisecond)
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), IO: io})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 20, metrics.RTT, metrics.RTTUncorrected, metrics.Connect, metrics.Handshake)
	if res.IO != io {
		t.Errorf("ran with I/O %q, asked for %q", res.IO, io)
	}
	// Closed model: nothing is late against a schedule, and with at most one
	// message in flight per connection nothing is in flight beyond that.
	if n := res.Snapshot.Hist[metrics.SendLag].Count(); n != 0 {
		t.Errorf("closed model recorded %d send-lag samples", n)
	}
	if res.Snapshot.Counts.InFlight > 20 {
		t.Errorf("in flight %d > conns", res.Snapshot.Counts.InFlight)
	}
	if got := res.Measured(); got < 450*time.Millisecond || got > 600*time.Millisecond {
		t.Errorf("measured window %v, want about 500ms", got)
	}
}

// TestOpenModelRate checks that an open-model run sends at --rate: the
// messages due in the window (sent, or unsent if a loop was still behind
// when sending stopped) are rate × duration, each connection's share
// rounded; nothing is left unsent unless the machine held the test up for
// a good part of the catch-up time.
func TestOpenModelRate(t *testing.T) { eachIO(t, testOpenModelRate) }

func testOpenModelRate(t *testing.T, io iomode.Mode) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(50, time.Second)
	spec.Rate = 2000
	spec.Binary = true
	stop := schedwatch.Watch()
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), IO: io})
	sched := stop()
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 50, metrics.RTT, metrics.RTTUncorrected, metrics.SendLag)
	c := res.Snapshot.Counts
	want := spec.Rate * res.Measured().Seconds()
	if due := float64(c.Sent + c.Unsent); due < want-50 || due > want+50 {
		t.Errorf("sent %d and unsent %d in %v, want %v due (±1 a connection)", c.Sent, c.Unsent, res.Measured(), want)
	}
	if c.Unsent != 0 && sched.Max < time.Duration(catchUp)/2 {
		t.Errorf("unsent %d, though the longest scheduling delay seen was %v", c.Unsent, sched.Max)
	}
}

// TestCoordinatedOmissionCorrected runs the open model with --max-inflight 1
// against a server that stalls every reply once for 400ms. The sends that fell
// due during the stall could not be made; their latency, measured from when
// they were due, must show in the corrected histogram, while the uncorrected
// one sees only the one message per connection that was in flight.
func TestCoordinatedOmissionCorrected(t *testing.T) { eachIO(t, testCoordinatedOmission) }

func testCoordinatedOmission(t *testing.T, io iomode.Mode) {
	const (
		conns = 10
		rate  = 1000.0 // per connection: one every 10ms
		stall = 400 * time.Millisecond
	)
	srv := startTestServer(t, 500*time.Millisecond, stall)
	spec := quickSpec(conns, 2*time.Second)
	spec.Warmup = 0
	spec.Rate = rate
	spec.MaxInflight = 1
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), IO: io})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, conns, metrics.RTT, metrics.RTTUncorrected, metrics.SendLag)
	snap := res.Snapshot
	// Every send due during the stall waited at least half the stall on
	// average: count corrected samples above stall/4.
	corrected := countAbove(snap.Hist[metrics.RTT], stall/4)
	uncorrected := countAbove(snap.Hist[metrics.RTTUncorrected], stall/4)
	dueInStall := int64(rate * stall.Seconds())
	t.Logf("sent %d; above %v: corrected %d, uncorrected %d; p99 corrected %v uncorrected %v; lag p99 %v",
		snap.Counts.Sent, stall/4, corrected, uncorrected, snap.Hist[metrics.RTT].Percentile(99),
		snap.Hist[metrics.RTTUncorrected].Percentile(99), snap.Hist[metrics.SendLag].Percentile(99))
	if corrected < dueInStall/2 {
		t.Errorf("corrected: %d samples above %v, want at least %d (sends due in the stall)", corrected, stall/4, dueInStall/2)
	}
	if uncorrected > 2*conns {
		t.Errorf("uncorrected: %d samples above %v, want at most %d (messages in flight)", uncorrected, stall/4, 2*conns)
	}
	// Below the messages in flight in the stall, the uncorrected histogram
	// sees no stall at all. (Its p99 would too, unless a loaded machine made
	// so few sends that those messages are more than 1% of them.)
	below := 100 * (1 - float64(2*conns)/float64(max(snap.Counts.Sent, 4*conns)))
	if p99c, pu := snap.Hist[metrics.RTT].Percentile(99), snap.Hist[metrics.RTTUncorrected].Percentile(below); p99c < stall/2 || pu > stall/4 {
		t.Errorf("p99 corrected %v (want ≥ %v), uncorrected p%.1f %v (want ≤ %v)", p99c, stall/2, below, pu, stall/4)
	}
	// The late sends show as send lag too.
	if lag := snap.Hist[metrics.SendLag].Percentile(99); lag < stall/2 {
		t.Errorf("send lag p99 %v, want ≥ %v", lag, stall/2)
	}
}

// TestBacklogSurvivesFullSocket: the server stops reading for half a second
// while the open model keeps sending 128 KiB messages, far more than the
// socket buffers hold. The client must queue what the socket refuses, send it
// when it drains, and end with every echo matched.
func TestBacklogSurvivesFullSocket(t *testing.T) { eachIO(t, testBacklog) }

func testBacklog(t *testing.T, io iomode.Mode) {
	srv := startTestServer(t, 200*time.Millisecond, 500*time.Millisecond)
	spec := quickSpec(2, time.Second)
	spec.Warmup = 0
	spec.Rate = 200
	spec.Size = 128 << 10
	spec.Binary = true
	// 26 MB each way through a test server under the race detector takes
	// over 20 s on a busy 2-core machine (10 s failed there): the grace period
	// ends as soon as every reply is in, so a long one costs nothing.
	spec.Grace = scenario.Duration(60 * time.Second)
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), IO: io})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 2, metrics.RTT)
	c := res.Snapshot.Counts
	t.Logf("sent %d received %d unsent %d; socket full %d times; the server received %d", c.Sent, c.Received, c.Unsent, res.SendBufferFull, srv.received.Load())
	if c.Received != c.Sent || c.InFlight != 0 {
		t.Errorf("sent %d received %d in flight %d: every message should come back", c.Sent, c.Received, c.InFlight)
	}
	if res.SendBufferFull == 0 {
		t.Error("the send buffer never filled: the test did not exercise the backlog")
	}
}

func countAbove(h *metrics.Histogram, d time.Duration) int64 {
	var n int64
	for _, b := range h.Raw().Distribution() {
		if b.From >= d.Microseconds() {
			n += b.Count
		}
	}
	return n
}

// TestInterruptStopsGracefully cancels the context mid-run: the run stops
// early, says so, and its counts still add up.
func TestInterruptStopsGracefully(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(10, 30*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("interrupted run took %v", el)
	}
	if res.StopReason != StopInterrupted {
		t.Errorf("stop reason %q", res.StopReason)
	}
	c := res.Snapshot.Counts
	if !c.Balanced() || c.Sent == 0 {
		t.Errorf("counts %+v", c)
	}
}

// TestNoServer: nothing listens, so no connection opens; the run says why.
func TestNoServer(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	url := srv.url()
	srv.close()
	res, err := Run(context.Background(), Config{Spec: quickSpec(3, time.Second), Target: url})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != StopNoConnections || res.Snapshot.Counts.ConnsFailed != 3 || res.Snapshot.Errors["connect_refused"] != 3 {
		t.Fatalf("reason %q counts %+v errors %v", res.StopReason, res.Snapshot.Counts, res.Snapshot.Errors)
	}
}

// TestOpenModelSendsOnlyInsideWindow: at 5 msg/s over 10 connections, the
// first sends fall due at 0, 200, 400, 600 … ms. A 550ms window holds three of
// them; the one due at 600ms lies past the window (though within the catch-up
// allowance) and must not be sent, let alone counted as measured.
func TestOpenModelSendsOnlyInsideWindow(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(10, 550*time.Millisecond)
	spec.Warmup = 0
	spec.Rate = 5
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 10, metrics.RTT)
	if c := res.Snapshot.Counts; c.Sent != 3 || c.Unsent != 0 {
		t.Errorf("sent %d unsent %d, want 3 and 0", c.Sent, c.Unsent)
	}
	if got := srv.received.Load(); got != 3 {
		t.Errorf("server received %d messages, want 3", got)
	}
}

// TestSourceIPPool spreads 8 connections over 4 loopback source addresses:
// the server sees each address twice, and the run is as clean as any.
func TestSourceIPPool(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(8, 300*time.Millisecond)
	spec.SourceIP = "127.0.0.1-127.0.0.4"
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 8, metrics.RTT)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	want := map[string]int{"127.0.0.1": 2, "127.0.0.2": 2, "127.0.0.3": 2, "127.0.0.4": 2}
	if !maps.Equal(srv.sources, want) {
		t.Errorf("server saw connections from %v, want %v", srv.sources, want)
	}
}

// TestSplitRunSchedule: two parts of a split open-model run (as --procs 2
// makes them), run one after the other, send exactly what the whole run sends
// in one process, and their connections keep the whole run's slots.
func TestSplitRunSchedule(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(10, 500*time.Millisecond)
	spec.Warmup = 0
	spec.Rate = 400
	whole, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, whole, 10, metrics.RTT)
	var sent int64
	for _, p := range []struct{ first, n int }{{0, 6}, {6, 4}} {
		part := spec
		part.Conns = p.n
		res, err := Run(context.Background(), Config{Spec: part, Target: srv.url(), Part: Part{First: p.first, Total: 10}})
		if err != nil {
			t.Fatal(err)
		}
		checkHealthy(t, res, p.n, metrics.RTT)
		sent += res.Snapshot.Counts.Sent
	}
	if got := whole.Snapshot.Counts.Sent; sent != got || got != 200 {
		t.Errorf("parts sent %d, the whole run %d, want both 200 (400/s for 0.5s)", sent, got)
	}
}

// TestKernelTimestampsKeepReadLagOutOfRTT: with kernel timestamps an
// open-model loop on a 20ms tick reads echoes only when it wakes on its own
// (a tick, at most maxReadDelay), up to 10ms after they arrived; dated by the
// kernel, the round trips stay far
// below that wait, which shows as read_lag instead. Dated by the read, the
// loop must wake for every echo instead, and the round trips stay small too.
// (Small: 5ms, plus four times the mean wake-up delay the test saw on a busy
// machine; the tick's wait averages 10ms.)
func TestKernelTimestampsKeepReadLagOutOfRTT(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(5, time.Second)
	spec.Rate = 50 // 10 per connection per second: one send per tick at most
	spec.Tick = scenario.Duration(20 * time.Millisecond)
	for _, stamps := range []string{TimestampsKernel, TimestampsRead} {
		t.Run(stamps, func(t *testing.T) {
			stop := schedwatch.Watch()
			res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), Timestamps: stamps})
			small := 5*time.Millisecond + 4*stop().Mean
			if err != nil {
				t.Fatal(err)
			}
			checkHealthy(t, res, 5, metrics.RTT, metrics.RTTUncorrected)
			h := res.Snapshot.Hist
			rtt, lag := h[metrics.RTTUncorrected].Percentile(50), h[metrics.ReadLag].Percentile(50)
			t.Logf("%s: rtt_uncorrected p50 %v, read_lag p50 %v (%d samples)", stamps, rtt, lag, h[metrics.ReadLag].Count())
			if res.Timestamps != stamps {
				t.Errorf("result says %q", res.Timestamps)
			}
			switch stamps {
			case TimestampsKernel:
				if h[metrics.ReadLag].Count() != res.Snapshot.Counts.Received {
					t.Errorf("read_lag has %d samples for %d echoes", h[metrics.ReadLag].Count(), res.Snapshot.Counts.Received)
				}
				if lag < 5*time.Millisecond || rtt > small {
					t.Errorf("rtt p50 %v, read_lag p50 %v: want the tick's wait in read_lag (≥5ms), not in rtt (<%v)", rtt, lag, small)
				}
			case TimestampsRead:
				if h[metrics.ReadLag].Count() != 0 {
					t.Errorf("read_lag recorded without kernel timestamps")
				}
				if rtt > small {
					t.Errorf("rtt p50 %v dated by the read: the loop must wake for echoes, not wait for the tick (want <%v)", rtt, small)
				}
			}
		})
	}
}

// TestReadLagWithinATickAtLowRates: at a low rate the gap between sends is
// far longer than the tick, and an echo must still be read within about a
// tick of its arrival (the loop wakes every tick while replies are awaited),
// not when the loop next wakes to send or after maxReadDelay. The bound is
// scaled to how late the loop's own wake-ups were (send_lag).
func TestReadLagWithinATickAtLowRates(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(2, time.Second)
	spec.Rate = 20 // one send every 50ms, each connection every 100ms
	tick := time.Millisecond
	spec.Tick = scenario.Duration(tick)
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), Timestamps: TimestampsKernel})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 2, metrics.RTT)
	h := res.Snapshot.Hist
	lag, late := h[metrics.ReadLag].Percentile(50), h[metrics.SendLag].Percentile(90)
	bound := 2*tick + 2*late
	t.Logf("read_lag p50 %v, send_lag p90 %v: bound %v (%d echoes)", lag, late, bound, h[metrics.ReadLag].Count())
	if h[metrics.ReadLag].Count() == 0 {
		t.Fatal("no read_lag recorded with kernel timestamps")
	}
	if bound >= time.Duration(maxReadDelay)-tick {
		t.Skipf("wake-ups %v late: too busy a machine to tell a tick from maxReadDelay", late)
	}
	if lag > bound {
		t.Errorf("read_lag p50 %v, want within %v (2 ticks of %v + twice send_lag p90): echoes wait for the next send", lag, bound, tick)
	}
}

// TestHandshakeOptions: the subprotocols offered, extra headers and Origin
// reach the server; the one it picks is accepted; when it picks none and the
// run requires one, every connection fails with handshake_no_subprotocol.
func TestHandshakeOptions(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	srv.pick = "chat"
	spec := quickSpec(3, 200*time.Millisecond)
	spec.Subprotocols = []string{"v2.json", "chat"}
	spec.RequireSubprotocol = true
	spec.Headers = []string{"X-Token: abc", "Authorization: Bearer t"}
	spec.Origin = "http://origin.test"
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 3, metrics.RTT)
	srv.mu.Lock()
	hs := srv.handshakes
	srv.mu.Unlock()
	if len(hs) != 3 {
		t.Fatalf("server saw %d handshakes", len(hs))
	}
	for _, h := range hs {
		if h.headers["X-Token"] != "abc" || h.headers["Authorization"] != "Bearer t" || h.headers["Origin"] != "http://origin.test" ||
			!slices.Equal(h.protocols, []string{"v2.json", "chat"}) {
			t.Errorf("server saw headers %v, protocols %v", h.headers, h.protocols)
		}
	}

	srv.pick = "" // picks none
	res, err = Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != StopNoConnections || res.Snapshot.Errors["handshake_no_subprotocol"] != 3 {
		t.Errorf("stop %q errors %v: want every connection refused for want of a subprotocol", res.StopReason, res.Snapshot.Errors)
	}
}

// TestFragmentedMessages: each message goes out as 4 frames (a first frame
// and three continuations, each masked with its own key); the server
// reassembles and echoes them, and the bytes on the wire count 4 headers.
func TestFragmentedMessages(t *testing.T) {
	for _, binary := range []bool{false, true} {
		srv := startTestServer(t, 0, 0)
		spec := quickSpec(4, 300*time.Millisecond)
		spec.Fragment = 4
		spec.Binary = binary
		spec.Size = 100
		res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
		if err != nil {
			t.Fatal(err)
		}
		checkHealthy(t, res, 4, metrics.RTT)
		c := res.Snapshot.Counts
		if want := c.Sent * (100 + 4*6); c.BytesSent != want { // 4 frames: 2-byte header + 4-byte mask each
			t.Errorf("binary=%v: %d bytes for %d messages, want %d", binary, c.BytesSent, c.Sent, want)
		}
	}
}

// TestPoissonArrivals: an open-model run with Poisson arrivals sends about
// rate × duration messages (within 10%: the count is itself random) and
// ends clean; with a fixed seed two runs send exactly the same number.
func TestPoissonArrivals(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(20, time.Second)
	spec.Rate = 2000
	spec.Arrival = scenario.ArrivalPoisson
	spec.Seed = 7
	var due []int64
	for range 2 {
		res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
		if err != nil {
			t.Fatal(err)
		}
		checkHealthy(t, res, 20, metrics.RTT)
		c := res.Snapshot.Counts
		if want := spec.Rate * res.Measured().Seconds(); float64(c.Sent+c.Unsent) < 0.9*want || float64(c.Sent+c.Unsent) > 1.1*want {
			t.Errorf("sent %d unsent %d, want about %.0f due", c.Sent, c.Unsent, want)
		}
		due = append(due, c.Sent+c.Unsent)
	}
	// What falls due follows from the seed alone; what a loaded machine
	// could not send in time is unsent, not missing.
	if due[0] != due[1] {
		t.Errorf("the same seed made %d messages due, then %d", due[0], due[1])
	}
}

// TestClosedModelThinkTime: with 50ms of think time each connection sends
// once per 50ms plus a round trip plus how late its loop woke, not as fast
// as it can; the sends are measured from when the thinking ended (send lag
// recorded). A cycle is never shorter than the think time, so 1s holds at
// most 20 per connection; how many fewer follows from the round trips and
// send lags the run measured itself.
func TestClosedModelThinkTime(t *testing.T) {
	const conns, think = 5, 50 * time.Millisecond
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(conns, time.Second)
	spec.Think = scenario.Duration(think)
	stop := schedwatch.Watch()
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	sched := stop()
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, conns, metrics.RTT, metrics.SendLag)
	h := res.Snapshot.Hist
	lag, rtt := h[metrics.SendLag].Raw().Mean(), h[metrics.RTTUncorrected].Raw().Mean() // µs
	cycle := think + time.Duration((lag+rtt)*float64(time.Microsecond))
	least := int64(0.9*float64(conns)*res.Measured().Seconds()/cycle.Seconds()) - conns
	c := res.Snapshot.Counts
	t.Logf("sent %d; mean send lag %.0fµs, rtt %.0fµs: a cycle of %v; scheduling delay seen: max %v, mean %v", c.Sent, lag, rtt, cycle, sched.Max, sched.Mean)
	if most := int64(conns*res.Measured().Seconds()/think.Seconds()) + conns; c.Sent < least || c.Sent > most {
		t.Errorf("sent %d in 1s over %d connections thinking %v (a cycle of %v), want %d to %d", c.Sent, conns, think, cycle, least, most)
	}
	// Measured from the previous reply, the lag would hold the think time.
	if p50, most := h[metrics.SendLag].Percentile(50), 10*time.Millisecond+4*sched.Mean; p50 > most {
		t.Errorf("send lag p50 %v, want at most %v", p50, most)
	}
}

// TestPingWorkload: --kind ping sends ping control frames stamped like
// messages; the server's pongs are matched and timed like echoes, in the
// closed and the open model.
func TestPingWorkload(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	for _, rate := range []float64{0, 500} {
		spec := quickSpec(5, 400*time.Millisecond)
		spec.Kind = scenario.KindPing
		spec.Size = 40
		spec.Rate = rate
		res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
		if err != nil {
			t.Fatal(err)
		}
		checkHealthy(t, res, 5, metrics.RTT)
		if got := srv.received.Load(); got != 0 {
			t.Errorf("rate %v: the server received %d data messages; pings are control frames", rate, got)
		}
		if c := res.Snapshot.Counts; c.BytesSent != c.Sent*(2+4+40) {
			t.Errorf("rate %v: %d bytes for %d pings of 40 bytes", rate, c.BytesSent, c.Sent)
		}
	}
}

// TestConnectStorm: --kind connect opens, echoes one message, closes with a
// close handshake and starts over, in 4 loops for half a second: every phase
// of every measured connection is timed, and nothing fails.
func TestConnectStorm(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(4, 500*time.Millisecond)
	spec.Kind = scenario.KindConnect
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	c, h := res.Snapshot.Counts, res.Snapshot.Hist
	t.Logf("%d connections in %v (%.0f/s); connect p50 %v handshake p50 %v rtt p50 %v close p50 %v", c.ConnsOpened, res.Dial,
		float64(c.ConnsOpened)/res.Dial.Seconds(), h[metrics.Connect].Percentile(50), h[metrics.Handshake].Percentile(50),
		h[metrics.RTT].Percentile(50), h[metrics.Close].Percentile(50))
	if c.ConnsOpened < 4 || c.ConnsFailed != 0 || len(res.Snapshot.Errors) != 0 { // at least one a loop, on any machine
		t.Fatalf("opened %d failed %d errors %v", c.ConnsOpened, c.ConnsFailed, res.Snapshot.Errors)
	}
	for _, m := range []metrics.Metric{metrics.Connect, metrics.Handshake, metrics.RTT, metrics.Close} {
		if n := h[m].Count(); n < c.ConnsOpened-4 || n > c.ConnsOpened {
			t.Errorf("%s: %d samples for %d connections", m, n, c.ConnsOpened)
		}
	}
	if !c.Balanced() || c.Sent != c.Received || c.Sent != c.ConnsOpened {
		t.Errorf("counts %+v: one message per connection, each echoed", c)
	}
	if res.StopReason != StopCompleted || res.Dial < 450*time.Millisecond {
		t.Errorf("stop %q window %v", res.StopReason, res.Dial)
	}
}

// TestHoldAndConnectRate: --kind hold opens 20 connections at 40 per second
// (a ramp of 475ms) and keeps them open sending nothing, each interval
// showing all of them; when the server goes away mid-run, every connection
// counts as dropped, with the reason among the errors.
func TestHoldAndConnectRate(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(20, 400*time.Millisecond)
	spec.Kind = scenario.KindHold
	spec.ConnectRate = 40
	spec.Interval = scenario.Duration(100 * time.Millisecond)
	start := time.Now()
	stop := schedwatch.Watch()
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	sched := stop()
	if err != nil {
		t.Fatal(err)
	}
	c := res.Snapshot.Counts
	if c.ConnsOpened != 20 || c.Sent != 0 || c.ConnsDropped != 0 || len(res.Snapshot.Errors) != 0 {
		t.Errorf("held: %+v errors %v", c, res.Snapshot.Errors)
	}
	// The 20th dial is due at 19/40 s: never sooner, and no later than a
	// busy machine's delay allows.
	if lag := planLag(sched); res.Dial < 475*time.Millisecond || res.Dial > 475*time.Millisecond+lag {
		t.Errorf("20 connections at 40/s opened in %v, want 475ms (+%v at most)", res.Dial, lag)
	}
	// Nothing happens in a hold run: a loop sleeps through interval
	// boundaries, and each interval must still show every connection.
	if len(res.Intervals) != 4 {
		t.Errorf("%d intervals, want 4", len(res.Intervals))
	}
	for i, iv := range res.Intervals {
		if iv.Open != 20 || iv.Data.Counts.Sent != 0 {
			t.Errorf("interval %d: %d open, %d sent; want 20 and 0", i, iv.Open, iv.Data.Counts.Sent)
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("run took %v", el)
	}

	// The server goes away once it has every connection, however long
	// the dials took.
	srv2 := startTestServer(t, 0, 0)
	spec.ConnectRate = 0
	spec.Duration = scenario.Duration(3 * time.Second)
	go func() {
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			srv2.mu.Lock()
			n := len(srv2.handshakes)
			srv2.mu.Unlock()
			if n == 20 {
				break
			}
		}
		srv2.close()
	}()
	res, err = Run(context.Background(), Config{Spec: spec, Target: srv2.url()})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Snapshot.Counts; c.ConnsDropped != 20 || !c.Balanced() {
		t.Errorf("server gone: dropped %d of 20, errors %v", c.ConnsDropped, res.Snapshot.Errors)
	}
}

// TestNoGoroutinesLeftBehind: after a run (open model, so the ticking
// poller, the samplers and the dialers all take part) and after its server
// is gone, the goroutine count is back where it started.
func TestNoGoroutinesLeftBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		srv := startTestServer(t, 0, 0)
		spec := quickSpec(8, 300*time.Millisecond)
		spec.Rate = 200
		if _, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()}); err != nil {
			t.Fatal(err)
		}
		// A staged run with --reconnect: the planner, its dialers and the
		// stage collector must end too.
		staged := stagedSpec(scenario.Stage{Duration: 0, Conns: 4, Rate: 100}, scenario.Stage{Duration: scenario.Duration(300 * time.Millisecond), Conns: 8, Rate: 200})
		staged.Reconnect = scenario.Duration(20 * time.Millisecond)
		if _, err := Run(context.Background(), Config{Spec: staged, Target: srv.url()}); err != nil {
			t.Fatal(err)
		}
		srv.close()
	}()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before the run, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestIntervals: a 1 s window in 250 ms intervals gives 4 of them, in order,
// each with the connections open at its end and the messages sent in it:
// together all of them. How many fall in each interval depends on how late
// the loops ran: a message due in an interval is sent in it unless the loop
// was late by more than the time left in it, and the run's own send lag says
// how late the loops were, so the count each interval must hold is what was
// due in it less what the largest lag could push out.
func TestIntervals(t *testing.T) {
	const conns, length = 10, 250 * time.Millisecond
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(conns, time.Second)
	spec.Rate = 400
	spec.Interval = scenario.Duration(length)
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, conns, metrics.RTT)
	if len(res.Intervals) != 4 {
		t.Fatalf("%d intervals, want 4", len(res.Intervals))
	}
	c := res.Snapshot.Counts
	// A pass that runs late past a boundary sends what fell due meanwhile
	// (with that lag) before the next cut: twice the largest lag bounds the
	// shift either way.
	lag := res.Snapshot.Hist[metrics.SendLag].Percentile(100)
	least := int64(spec.Rate*(length-2*lag).Seconds()) - conns // each connection's share rounds down
	var sent, received, samples int64
	for i, iv := range res.Intervals {
		if iv.Start != time.Duration(i)*length || iv.End <= iv.Start {
			t.Errorf("interval %d: %v..%v", i, iv.Start, iv.End)
		}
		if iv.Snapshot != nil || iv.Data == nil {
			t.Fatalf("interval %d is not compact", i)
		}
		snap, err := iv.Data.Expand()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("interval %d: sent %d received %d open %d (largest send lag %v)", i, snap.Counts.Sent, snap.Counts.Received, iv.Open, lag)
		if n := snap.Counts.Sent; c.Unsent == 0 && n < least {
			t.Errorf("interval %d sent %d, want at least %d (100 due, less what a send lag of %v could push out)", i, n, least, lag)
		}
		sent += snap.Counts.Sent
		received += snap.Counts.Received
		samples += snap.Hist[metrics.RTT].Count()
		if iv.Open != conns {
			t.Errorf("interval %d: %d connections open, want %d", i, iv.Open, conns)
		}
	}
	if sent != c.Sent || received != c.Received || samples != c.Received {
		t.Errorf("intervals hold %d sent, %d received and %d rtt samples; the run %d, %d", sent, received, samples, c.Sent, c.Received)
	}
}
