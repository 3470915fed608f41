package results

import (
	"strings"
	"testing"
	"time"
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
