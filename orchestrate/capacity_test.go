package orchestrate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/results"
)

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
			good, err := Capacity(&res, Bounds{Start: 1000, Max: 1e6, Precision: 0.05}, measure,
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
