package driver

import (
	"context"
	"fmt"
	"github.com/wsbench/wsbench/internal/iomode"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

func stagedSpec(stages ...scenario.Stage) scenario.Spec {
	s := quickSpec(1, time.Second)
	s.Warmup = 0
	s.Interval = scenario.Duration(100 * time.Millisecond)
	s.Stages = stages
	s.ApplyStages()
	return s
}

func sec(f float64) scenario.Duration { return scenario.Duration(f * float64(time.Second)) }

// handshakeTimes returns when srv completed each opening handshake, in
// order, as offsets from origin.
func handshakeTimes(srv *testServer, origin time.Time) []time.Duration {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var at []time.Duration
	for _, h := range srv.handshakes {
		at = append(at, h.at.Sub(origin))
	}
	slices.Sort(at)
	return at
}

// planLag is how late a staged run's connections may follow their plan: a
// dial, a handshake and a loop's wake-up, each of which a busy machine can
// hold up by the scheduling delay the test saw.
func planLag(d schedwatch.Delay) time.Duration { return 100*time.Millisecond + 4*d.Max }

// checkFollowsPlan checks a staged run's connections against its plan: the
// k-th handshake the server completed neither before the plan's k-th open
// (no run opens faster than its plan; those open at the start are opened
// before the run's clock starts) nor later than lag after it; and at
// the end of every interval and stage, as many connections open as the plan
// had at some moment within lag of that end (before it, or after it when a
// loop's pass was stalled: see check).
func checkFollowsPlan(t *testing.T, res *Result, spec scenario.Spec, srv *testServer, lag time.Duration) {
	t.Helper()
	plan := spec.Plan()
	evs := plan.ConnEvents(spec.ConnectRate)
	var opens []time.Duration
	for _, ev := range evs {
		if ev.Open {
			opens = append(opens, ev.At)
		}
	}
	at := handshakeTimes(srv, res.MeasureStart.Add(-time.Duration(spec.Warmup)))
	if len(at) != len(opens) {
		t.Errorf("server saw %d handshakes, the plan opens %d", len(at), len(opens))
	}
	for k := range min(len(at), len(opens)) {
		if (opens[k] > 0 && at[k] < opens[k]) || at[k] > opens[k]+lag {
			t.Errorf("handshake %d at %v, planned at %v (lag allowed %v)", k+1, at[k], opens[k], lag)
		}
	}
	planned := func(t time.Duration) int { // open in the plan at t
		n := 0
		for _, ev := range evs {
			if ev.At <= t {
				n += map[bool]int{true: 1, false: -1}[ev.Open]
			}
		}
		return n
	}
	// A loop counts its connections when its first pass after end begins,
	// and a pass stalled by the machine after that moment still takes the
	// connections the planner opened meanwhile before the next pass counts
	// them: the count can also be as high as the plan a stall after end.
	check := func(what string, end time.Duration, open int) {
		lo, hi := planned(end), planned(end)
		for d := -lag; d <= lag; d += time.Millisecond {
			if d >= 0 {
				lo = min(lo, planned(end-d))
			}
			hi = max(hi, planned(end-d))
		}
		if open < lo || open > hi {
			t.Errorf("%s: %d connections open at %v, the plan had %d to %d within %v of it", what, open, end, lo, hi, lag)
		}
	}
	for i, iv := range res.Intervals {
		check(fmt.Sprintf("interval %d", i), iv.End, iv.Open)
	}
	for i, st := range res.Stages {
		_, end := plan.Bounds(i)
		check("stage "+st.Name, end, st.Open)
	}
}

// TestStagedOpenModel: a ramp up, a hold and a ramp down of connections and
// rate. Each stage sends what the plan's rate integrates to, the
// connections follow the plan, and the stage counts add up to the run's.
func TestStagedOpenModel(t *testing.T) { eachIO(t, testStagedOpen) }

func testStagedOpen(t *testing.T, io iomode.Mode) {
	srv := startTestServer(t, 0, 0)
	spec := stagedSpec(
		scenario.Stage{Name: "start", Duration: 0, Conns: 4, Rate: 80},
		scenario.Stage{Name: "up", Duration: sec(1), Conns: 20, Rate: 400},
		scenario.Stage{Name: "hold", Duration: sec(0.6), Conns: 20, Rate: 400},
		scenario.Stage{Name: "down", Duration: sec(0.6), Conns: 6, Rate: 160},
	)
	// Rates and grace leave room for the race detector on a busy machine:
	// connections closed on the way down wait for their replies.
	spec.Grace = scenario.Duration(3 * time.Second)
	stop := schedwatch.Watch()
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), IO: io})
	sched := stop()
	if err != nil {
		t.Fatal(err)
	}
	c := res.Snapshot.Counts
	if !c.Balanced() || c.Lost != 0 || len(res.Snapshot.Errors) != 0 {
		t.Fatalf("counts %+v errors %v", c, res.Snapshot.Errors)
	}
	// 20 slots opened (4 at the start, 16 on the ramp) and 14 closed on the way down.
	if c.ConnsOpened != 20 || c.ConnsFailed != 0 || c.ConnsDropped != 0 {
		t.Errorf("connections %+v", c)
	}
	if len(res.Stages) != 4 {
		t.Fatalf("%d stages", len(res.Stages))
	}
	want := []float64{0, 240, 240, 168} // the rate's integral over each stage
	var sent, received, samples int64
	for i, st := range res.Stages {
		n := float64(st.Snapshot.Counts.Sent + st.Snapshot.Counts.Unsent)
		if math.Abs(n-want[i]) > 0.1*want[i]+3 {
			t.Errorf("stage %s: %g messages due, want %g (sent %d unsent %d)", st.Name, n, want[i], st.Snapshot.Counts.Sent, st.Snapshot.Counts.Unsent)
		}
		sent += st.Snapshot.Counts.Sent
		received += st.Snapshot.Counts.Received
		samples += st.Snapshot.Hist[metrics.RTT].Count()
	}
	if sent != c.Sent || received != c.Received || samples != c.Received {
		t.Errorf("stages sent %d received %d (%d samples); the run %d and %d", sent, received, samples, c.Sent, c.Received)
	}
	// The connections over time rise and fall with the plan, in every
	// interval and stage (the 20th opens as the ramp ends).
	t.Logf("scheduling delay seen: max %v, mean %v", sched.Max, sched.Mean)
	if len(res.Intervals) != 22 {
		t.Errorf("%d intervals, want 22", len(res.Intervals))
	}
	checkFollowsPlan(t, res, spec, srv, planLag(sched))
	// Almost nothing unsent: the connections were there when their messages fell due.
	if c.Unsent > c.Sent/20 {
		t.Errorf("unsent %d of %d", c.Unsent, c.Sent)
	}
}

// TestStagedClosedRampAtConnectRate: a closed-model ramp from 0 to 30
// connections, paced by connect_rate, reaches its target at that rate, and
// every connection runs the closed loop as soon as it opens.
func TestStagedClosedRampAtConnectRate(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := stagedSpec(
		scenario.Stage{Name: "ramp", Duration: sec(0.2), Conns: 30},
		scenario.Stage{Name: "hold", Duration: sec(0.8), Conns: 30},
	)
	spec.ConnectRate = 50 // 30 connections: 0.6 s, although the plan asks for 0.2 s
	stop := schedwatch.Watch()
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	sched := stop()
	if err != nil {
		t.Fatal(err)
	}
	c := res.Snapshot.Counts
	if c.ConnsOpened != 30 || !c.Balanced() || c.Lost != 0 || len(res.Snapshot.Errors) != 0 {
		t.Fatalf("counts %+v errors %v", c, res.Snapshot.Errors)
	}
	// Slot k opens at k/50 s: the server sees the k-th handshake no sooner
	// (faster than 50/s is a bug on any machine) and no later than a
	// busy machine's delay allows (a slower pace falls further behind
	// with every connection).
	lag := planLag(sched)
	t.Logf("scheduling delay seen: max %v, mean %v; lag allowed %v", sched.Max, sched.Mean, lag)
	checkFollowsPlan(t, res, spec, srv, lag)
	// The 30th connection opens at 29/50 s = 0.58 s: not in an interval
	// before 0.6 s, and in the interval of its handshake (or one more, when
	// the loop takes it in late).
	at := handshakeTimes(srv, res.MeasureStart)
	reached := time.Duration(-1)
	for _, iv := range res.Intervals {
		if iv.Open >= 30 {
			reached = iv.End
			break
		}
	}
	if len(at) == 30 && (reached < 600*time.Millisecond || reached > at[29]+100*time.Millisecond+lag) {
		t.Errorf("30 connections open by %v, the 30th handshake at %v (lag allowed %v)", reached, at[29], lag)
	}
	// Each stage in which a connection was open in time for a round trip
	// received replies.
	for i, st := range res.Stages {
		if _, end := spec.Plan().Bounds(i); len(at) > 0 && at[0]+lag < end && st.Snapshot.Counts.Received == 0 {
			t.Errorf("closed loops idle in stage %s: %+v", st.Name, st.Snapshot.Counts)
		}
	}
	// Opening them spans from the first dial to the 30th open (at 0.58 s),
	// not only the dials made before the clock started.
	if run := res.MeasureEnd.Sub(res.Started); res.Dial < 522*time.Millisecond || res.Dial > run+time.Second {
		t.Errorf("Dial %v, want from the first dial to the last open: at least 0.9 × 0.58s, at most the run (%v)", res.Dial, run)
	}
}

// TestStagedPoissonAndSplit: the staged sequence split over two processes
// sends exactly what one process sends, message for message.
func TestStagedSplitMatchesWhole(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := stagedSpec(
		scenario.Stage{Duration: 0, Conns: 6, Rate: 300},
		scenario.Stage{Duration: sec(0.8), Conns: 10, Rate: 600},
	)
	spec.Arrival = scenario.ArrivalPoisson
	spec.Seed = 42
	due := func(res *Result) int64 { return res.Snapshot.Counts.Sent + res.Snapshot.Counts.Unsent }
	whole, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	var parts int64
	for _, p := range []Part{{First: 0, Total: 10}, {First: 5, Total: 10}} {
		ps := spec
		ps.Conns = 5
		res, err := Run(context.Background(), Config{Spec: ps, Target: srv.url(), Part: p})
		if err != nil {
			t.Fatal(err)
		}
		parts += due(res)
	}
	if due(whole) != parts || due(whole) < 300 {
		t.Errorf("whole run: %d due, parts: %d", due(whole), parts)
	}
}
