package results

import (
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// TestClientSaturation table-tests the one rule that says the client could
// not keep the schedule: scheduler noise (late sends with the CPU low) is
// not saturation; its own CPU, most sends late, late sends while busy,
// unsent sends it alone explains, and GC are.
func TestClientSaturation(t *testing.T) {
	ms := time.Millisecond
	// open is the open model at rate msg/s over conns connections on a 1ms tick.
	open := func(rate float64, conns int) clientEvidence {
		return clientEvidence{Cores: 2, CPU: 0.05, Rate: rate, Interval: time.Duration(float64(conns) / rate * 1e9), Tick: ms}
	}
	with := func(e clientEvidence, f func(*clientEvidence)) clientEvidence { f(&e); return e }
	cases := []struct {
		name string
		e    clientEvidence
		want []string // substrings, one per reason, in order; none: not saturated
	}{
		{"closed model, idle", clientEvidence{Cores: 2, CPU: 0.1}, nil},
		{"open model on time", open(8000, 50), nil},
		// Issue 13's shared VM: 2000 msg/s over 50 connections, a 41.7ms
		// lag p99 from a busy neighbour, the client's CPU at 5%.
		{"noise: lag p99 far past the bound, CPU low", with(open(2000, 50), func(e *clientEvidence) { e.LagP50, e.LagP99 = 100*time.Microsecond, 41700*time.Microsecond }), nil},
		{"noise: lag p99 past the bound, CPU at the busy line", with(open(8000, 50), func(e *clientEvidence) { e.LagP99, e.CPU = 20*ms, SaturatedBusyCPU }), nil},
		{"lag p99 past the bound with the CPU busy", with(open(64000, 50), func(e *clientEvidence) { e.LagP99, e.CPU = 20*ms, 0.6 }),
			[]string{"send lag p99 20.0ms is over 10.0ms (the longer of 10 ticks and 10% of each connection's send interval) with the CPU at 60% of its cores"}},
		{"lag p99 within 10 ticks, CPU busy", with(open(64000, 50), func(e *clientEvidence) { e.LagP99, e.CPU = 10*ms, 0.8 }), nil},
		{"most sends late, CPU low (starved by another process)", with(open(4000, 50), func(e *clientEvidence) { e.LagP50, e.LagP99 = 30*ms, 200*ms }),
			[]string{"send lag p50 30.0ms is over 10.0ms (the longer of 10 ticks and 10% of each connection's send interval): most sends left late"}},
		{"a long interval widens the bound: 10% of 2s", with(open(100, 200), func(e *clientEvidence) { e.LagP50, e.LagP99 = 150*ms, 190*ms }), nil},
		{"past 10% of a long interval", with(open(100, 200), func(e *clientEvidence) { e.LagP50 = 250 * ms }),
			[]string{"send lag p50 250ms is over 200ms"}},
		{"no tick: the bound is 10ms all the same", with(open(8000, 50), func(e *clientEvidence) { e.Tick, e.LagP50 = 0, 11*ms }),
			[]string{"send lag p50 11.0ms is over 10.0ms"}},
		{"a 5ms tick: the bound is 50ms", with(open(8000, 50), func(e *clientEvidence) { e.Tick, e.LagP50 = 5*ms, 40*ms }), nil},
		{"unsent within the bound's worth (a hiccup at the stop)", with(open(10000, 50), func(e *clientEvidence) { e.Unsent = 100 }), nil},
		{"unsent past the bound's worth", with(open(10000, 50), func(e *clientEvidence) { e.Unsent = 101 }),
			[]string{"101 sends fell due but were never made (more than the 100 of 10.0ms of the schedule): the client fell behind"}},
		{"unsent that --max-inflight or lost connections explain", with(open(10000, 50), func(e *clientEvidence) { e.Unsent, e.UnsentNotOwn = 5000, true }), nil},
		{"CPU just under 90%", clientEvidence{Cores: 2, CPU: 0.899}, nil},
		{"CPU over 90%", clientEvidence{Cores: 2, CPU: 0.92}, []string{"CPU 92% of the 2 cores it could use"}},
		{"CPU over 90% of one core", clientEvidence{Cores: 1, CPU: 0.97}, []string{"CPU 97% of the 1 core it could use"}},
		{"GC over 1%", clientEvidence{Cores: 2, GC: 0.015}, []string{"GC pauses 1.5% of wall time"}},
		{"everything at once, in order", with(open(64000, 50), func(e *clientEvidence) {
			e.CPU, e.LagP50, e.LagP99, e.Unsent, e.GC = 0.95, 50*ms, 900*ms, 64000, 0.02
		}), []string{"CPU 95%", "send lag p50 50.0ms", "64000 sends fell due", "GC pauses 2.0%"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := clientSaturation(tc.e)
			if got == nil || len(got) != len(tc.want) {
				t.Fatalf("reasons %q, want %d: %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("reason %d %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestSendLagBreaks: a capacity step whose rtt SLO fails only because the
// client sent late (rtt, timed from the intended send, fails; the same SLO
// on rtt_uncorrected, from the actual send, holds) is the client's; any
// other failure is the server's.
func TestSendLagBreaks(t *testing.T) {
	report := func(rate, rttP99, uncorrectedP99, lagP99, errRate float64) *Report {
		r := &Report{Scenario: scenario.Spec{Rate: rate}, Latency: map[string]Latency{
			"rtt":             {Summary: metrics.Summary{P99Us: rttP99, P50Us: 100}},
			"rtt_uncorrected": {Summary: metrics.Summary{P99Us: uncorrectedP99, P50Us: 90}},
			"send_lag":        {Summary: metrics.Summary{P99Us: lagP99, P50Us: 10}},
		}}
		r.Messages.Sent = 1000
		r.Errors = map[string]int64{}
		if errRate > 0 {
			r.Errors["echo_mismatch"] = int64(errRate * 1000)
		}
		return r
	}
	parse := func(exprs ...string) []Threshold {
		var ts []Threshold
		for _, e := range exprs {
			th, err := ParseThreshold(e)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, th)
		}
		return ts
	}
	cases := []struct {
		name string
		r    *Report
		ts   []Threshold
		want string // substring; "" = not the client's
	}{
		{"all hold", report(4000, 5000, 4000, 1000, 0), parse("rtt.p99<20ms"), ""},
		// Issue 13's busy VM: rtt p99 43.9ms of which 43.0ms was send lag.
		{"rtt fails through send lag alone", report(4000, 43871, 900, 43039, 0), parse("rtt.p99<20ms"),
			"rtt.p99<20ms fails only through the client's send lag (p99 43.0ms): from the actual send it holds (900µs)"},
		{"the server is slow too", report(4000, 60000, 25000, 35000, 0), parse("rtt.p99<20ms"), ""},
		{"an error SLO fails as well", report(4000, 43871, 900, 43039, 0.01), parse("rtt.p99<20ms", "errors.rate<0.1%"), ""},
		{"only the error SLO fails", report(4000, 5000, 4000, 1000, 0.01), parse("rtt.p99<20ms", "errors.rate<0.1%"), ""},
		{"a failing percentile other than p99", report(4000, 43871, 900, 43039, 0), parse("rtt.max<1s", "rtt.p99<20ms"), "rtt.p99<20ms fails only"},
		{"--max-inflight: the server held the sends back", func() *Report { r := report(4000, 43871, 900, 43039, 0); r.Scenario.MaxInflight = 4; return r }(),
			parse("rtt.p99<20ms"), ""},
		{"closed model: no schedule to be late for", report(0, 43871, 900, 43039, 0), parse("rtt.p99<20ms"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := SendLagBreaks(tc.r, tc.ts)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCapacityConclusionNotes: the conclusion counts the steps judged by
// rtt_uncorrected and those run on a machine too busy to show the server
// alone (the server on this machine, its CPUs over 90% busy).
func TestCapacityConclusionNotes(t *testing.T) {
	c := &Capacity{SLOs: []string{"rtt.p99<20ms"}, Dimension: DimensionRate, MaxRate: 4000, Steps: []CapacityStep{
		{Offered: 1000, Pass: true, MachineCPU: 0.5},
		{Offered: 2000, Failed: []string{"rtt.p99<20ms"}, SendLag: "rtt.p99<20ms fails only through the client's send lag", MachineCPU: 0.95},
		{Offered: 4000, Pass: true},
		{Offered: 8000, Failed: []string{"rtt.p99<20ms"}, MachineCPU: 1},
	}}
	want := "Maximum sustainable rate: 4000 msg/s. At 1 of 4 steps only the client's send lag broke an rtt SLO: they were judged by rtt_uncorrected (from the actual send)." +
		" At 2 of 4 steps this machine's CPUs were over 90% busy with the server on it"
	if got := c.Conclusion(); !strings.HasPrefix(got, want) {
		t.Errorf("conclusion %q, want it to start %q", got, want)
	}
	c.Steps = c.Steps[2:3]
	if got := c.Conclusion(); got != "Maximum sustainable rate: 4000 msg/s." {
		t.Errorf("a clean search's conclusion %q", got)
	}
}
