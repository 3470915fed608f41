package driver

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

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

// TestStagedOpenModel: a ramp up, a hold and a ramp down of connections and
// rate. Each stage sends what the plan's rate integrates to, the
// connections follow the plan, and the stage counts add up to the run's.
func TestStagedOpenModel(t *testing.T) { eachIO(t, testStagedOpen) }

func testStagedOpen(t *testing.T, io string) {
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
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), IO: io})
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
	if res.Stages[1].Open < 19 || res.Stages[2].Open != 20 { // the 20th opens as the ramp ends
		t.Errorf("open at the end of up %d, hold %d; want 19-20 and 20", res.Stages[1].Open, res.Stages[2].Open)
	}
	if o := res.Stages[3].Open; o < 6 || o > 8 {
		t.Errorf("open at the end of down: %d, want 6 (or a closing one more)", o)
	}
	// Almost nothing unsent: the connections were there when their messages fell due.
	if c.Unsent > c.Sent/20 {
		t.Errorf("unsent %d of %d", c.Unsent, c.Sent)
	}
	// The connections over time rise with the ramp.
	if len(res.Intervals) < 20 {
		t.Fatalf("%d intervals", len(res.Intervals))
	}
	if first, mid := res.Intervals[0].Open, res.Intervals[12].Open; first > 8 || mid != 20 {
		t.Errorf("connections open at 0.1s %d, at 1.3s %d", first, mid)
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
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Snapshot.Counts
	if c.ConnsOpened != 30 || !c.Balanced() || c.Lost != 0 || len(res.Snapshot.Errors) != 0 {
		t.Fatalf("counts %+v errors %v", c, res.Snapshot.Errors)
	}
	// Slot k opens at k/50 s: the server saw the 5th to the 25th handshake
	// over 20/50 = 0.4 s (the rate within 10%; a dialling delay common to
	// all cancels out).
	srv.mu.Lock()
	var at []time.Time
	for _, h := range srv.handshakes {
		at = append(at, h.at)
	}
	srv.mu.Unlock()
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	if len(at) != 30 {
		t.Fatalf("server saw %d handshakes", len(at))
	}
	if span := at[24].Sub(at[4]); span < 360*time.Millisecond || span > 440*time.Millisecond {
		t.Errorf("handshakes 5 to 25 took %v, want 400ms (50/s)", span)
	}
	// The 30th connection opens at 29/50 s = 0.58 s: count them per interval.
	reached := time.Duration(-1)
	for _, iv := range res.Intervals {
		if iv.Open >= 30 {
			reached = iv.End
			break
		}
	}
	if reached < 500*time.Millisecond || reached > 700*time.Millisecond {
		t.Errorf("30 connections open by %v, want about 0.6s (50/s)", reached)
	}
	if res.Stages[0].Snapshot.Counts.Received == 0 || res.Stages[1].Snapshot.Counts.Received == 0 {
		t.Errorf("closed loops idle: %+v / %+v", res.Stages[0].Snapshot.Counts, res.Stages[1].Snapshot.Counts)
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
