package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/results"
)

// TestCapacityConns: the conns dimension against the bundled server, 20
// msg/s per connection, 300 ms steps. With an SLO on the received rate that
// 6 connections meet (120 msg/s) and 7 do not (140), the search doubles 2,
// 4, 8, then bisects 6 and 7 and stops, no whole count being left between
// them: the maximum is 6 connections. The JSON gives every step's
// connections and rate; the text table has a conns column.
func TestCapacityConns(t *testing.T) {
	base := []string{"capacity", "--dimension", "conns", "--conn-rate", "20", "--start", "2", "--max", "16",
		"--step", "300ms", "--warmup", "0s", "--grace", "500ms"}
	code, out, errOut := runCLI(append(base, "--slo", "messages.rate<130", "--format", "json")...)
	var res results.Capacity
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	var conns []int
	for _, s := range res.Steps {
		conns = append(conns, s.Conns)
		if s.Offered != 20*float64(s.Conns) {
			t.Errorf("step of %d connections offered %g msg/s, want %d", s.Conns, s.Offered, 20*s.Conns)
		}
		if s.Pass != (s.Conns <= 6) {
			t.Errorf("step of %d connections: pass %v (achieved %.1f msg/s)", s.Conns, s.Pass, s.Achieved)
		}
	}
	if got := fmt.Sprint(conns); got != "[2 4 8 6 7]" {
		t.Errorf("steps at %s connections, want [2 4 8 6 7]", got)
	}
	if res.Dimension != "conns" || res.ConnRate != 20 || res.MaxConns != 6 || res.MaxRate != 120 || res.HitCeiling {
		t.Errorf("result %+v: want a maximum of 6 connections, 120 msg/s", res)
	}
	if !strings.Contains(errOut, "wsbench capacity: 6 connections (120 msg/s): holds") ||
		!strings.Contains(errOut, "Maximum sustainable load: 6 connections at 20 msg/s each (120 msg/s).") {
		t.Errorf("progress and verdict on stderr:\n%s", errOut)
	}

	// Text: a conns column; an impossible SLO stops at the first step, exit 3.
	code, out, _ = runCLI(append(base, "--max", "4", "--slo", "rtt.p99<1us")...)
	if code != exitThresh || !strings.HasPrefix(strings.TrimSpace(out), "conns  offered msg/s") ||
		!strings.Contains(out, "Even the first connection count breaks the SLO.") || strings.Count(out, "fails: rtt.p99<1us") != 1 {
		t.Errorf("impossible SLO: exit %d\n%s", code, out)
	}
}

// TestCapacityHTML: --format html -o writes the knee plot and the table to
// the file, and the verdict to stderr.
func TestCapacityHTML(t *testing.T) {
	page := filepath.Join(t.TempDir(), "capacity.html")
	code, out, errOut := runCLI("capacity", "-c", "2", "--step", "200ms", "--warmup", "0s", "--grace", "500ms", "--start", "100", "--max", "200",
		"--slo", "rtt.p99<5s", "--format", "html", "-o", page)
	if code != exitOK || out != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errOut)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<figure id="knee">`, "<svg ", ">SLO rtt.p99&lt;5s</text>", ">max sustainable: 200 msg/s</text>",
		"Held up to --max, 200 msg/s: the server&#39;s limit is higher."} {
		if !strings.Contains(string(b), want) {
			t.Errorf("page has no %q", want)
		}
	}
	if !strings.Contains(errOut, "wsbench capacity: Held up to --max, 200 msg/s") {
		t.Errorf("no verdict on stderr: %s", errOut)
	}
}

// TestCapacitySearchClientLimited drives the search with a fake measure: a
// server that holds below failAt and a client limited at the step at
// limitAt (a step may also fail its SLO there: the client's limit wins). A
// client-limited step ends the search, is recorded as such, and never
// becomes the server's limit: the conclusion says "client-limited at X;
// the server's limit is at least" the last step that held.
func TestCapacitySearchClientLimited(t *testing.T) {
	cases := []struct {
		name            string
		failAt, limitAt float64 // 0: none
		lagTo           float64 // steps up to this load fail their SLO only through send lag
		steps           string
		good, limited   float64
		conclusion      string
	}{
		{"client-limited while doubling", 0, 16000, 0, "[1000 2000 4000 8000 16000]", 8000, 16000,
			"Client-limited at 16000 msg/s; the server's limit is at least the last good step, 8000 msg/s."},
		{"client-limited and failing the SLO at once", 16000, 16000, 0, "[1000 2000 4000 8000 16000]", 8000, 16000,
			"Client-limited at 16000 msg/s; the server's limit is at least the last good step, 8000 msg/s."},
		{"client-limited while bisecting", 16000, 12000, 0, "[1000 2000 4000 8000 16000 12000]", 8000, 12000,
			"Client-limited at 12000 msg/s; the server's limit is at least the last good step, 8000 msg/s."},
		{"client-limited at the first step", 0, 1000, 0, "[1000]", 0, 1000,
			"Client-limited at the first rate, 1000 msg/s: it cannot measure this server here."},
		{"the server's limit, the client never limited", 12000, 0, 0, "[1000 2000 4000 8000 16000 12000 10000 11000 11500]", 11500, 0,
			"Maximum sustainable rate: 11500 msg/s."},
		{"steps broken by send lag alone hold for the server", 12000, 0, 4000, "[1000 2000 4000 8000 16000 12000 10000 11000 11500]", 11500, 0,
			"Maximum sustainable rate: 11500 msg/s. At 3 of 9 steps only the client's send lag broke an rtt SLO: they were judged by rtt_uncorrected (from the actual send)."},
		{"send lag and then the client's limit", 0, 8000, 2000, "[1000 2000 4000 8000]", 4000, 8000,
			"Client-limited at 8000 msg/s; the server's limit is at least the last good step, 4000 msg/s. At 2 of 4 steps only the client's send lag broke"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := results.Capacity{SLOs: []string{"rtt.p99<10ms"}, Dimension: results.DimensionRate}
			measure := func(l float64) (results.CapacityStep, error) {
				st := results.CapacityStep{Offered: l, Pass: tc.failAt == 0 || l < tc.failAt}
				if l <= tc.lagTo {
					st.Pass, st.Failed, st.SendLag = false, []string{"rtt.p99<10ms"}, "rtt.p99<10ms fails only through the client's send lag"
				}
				if l == tc.limitAt {
					st.Saturated = true
				}
				res.Steps = append(res.Steps, st)
				return st, nil
			}
			good, err := capacitySearch(&res, searchBounds{start: 1000, max: 1e6, precision: 0.05}, measure,
				func(float64) bool { return true }, func() bool { return false })
			if err != nil {
				t.Fatal(err)
			}
			res.MaxRate = good
			var loads []float64
			for _, s := range res.Steps {
				loads = append(loads, s.Offered)
			}
			if got := fmt.Sprint(loads); got != tc.steps {
				t.Errorf("steps at %s, want %s", got, tc.steps)
			}
			if good != tc.good || res.ClientBound != (tc.limited > 0) || res.ClientLimitedAt != tc.limited {
				t.Errorf("good %g, client-bound %v at %g; want %g, %v at %g", good, res.ClientBound, res.ClientLimitedAt, tc.good, tc.limited > 0, tc.limited)
			}
			if got := res.Conclusion(); !strings.HasPrefix(got, tc.conclusion) {
				t.Errorf("conclusion %q, want %q", got, tc.conclusion)
			}
			var text strings.Builder
			if err := results.CapacityText(&text, &res); err != nil {
				t.Fatal(err)
			}
			if tc.limited > 0 && (strings.Contains(text.String(), "aximum sustainable") || strings.Count(text.String(), " client-limited\n") != 1) {
				t.Errorf("a client-limited search's table:\n%s", text.String())
			}
			lagged := 0
			for _, l := range loads {
				if l <= tc.lagTo {
					lagged++
				}
			}
			if want := "holds from the actual send (client send lag broke rtt.p99<10ms)"; strings.Count(text.String(), want) != lagged {
				t.Errorf("table has not %d %q:\n%s", lagged, want, text.String())
			}
		})
	}
}
