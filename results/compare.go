package results

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// A Side of a comparison: one server (or setting), measured one or more times.
type Side struct {
	Label   string
	Reports []*Report
}

// Alpha is the significance level of Compare's Mann-Whitney U test.
const Alpha = 0.05

// Comparison is a side-by-side table: one Row per figure, one Cell per side.
type Comparison struct {
	Sides []string `json:"sides"`
	Runs  []int    `json:"runs"` // runs per side
	Rows  []Row    `json:"rows"`
}

// Row is one figure across the sides.
type Row struct {
	Name  string `json:"name"`
	Unit  string `json:"unit"` // "µs", "msg/s", "count"
	Lower bool   `json:"lower_is_better"`
	Cells []Cell `json:"cells"`
}

// Cell is one side's value of a figure: the median of its runs, their
// spread, and against the first side the relative change and whether it is
// significant (two-sided Mann-Whitney U, p < Alpha; with one run per side,
// never: one run says nothing about noise).
type Cell struct {
	Median      float64   `json:"median"`
	Spread      float64   `json:"spread"` // (max - min) / 2 / median: the ± of the runs
	Values      []float64 `json:"values"`
	Change      float64   `json:"change"` // (median - first side's median) / first side's median
	P           float64   `json:"p"`      // Mann-Whitney p-value against the first side (1 for the first side)
	Significant bool      `json:"significant"`
}

// figure reads one value from a report; ok false when the report lacks it.
type figure struct {
	name, unit string
	lower      bool
	get        func(*Report) (float64, bool)
}

func latencyFigure(metric, stat string) figure {
	return figure{metric + " " + stat, "µs", true, func(r *Report) (float64, bool) {
		l, ok := r.Latency[metric]
		if !ok || l.Count == 0 {
			return 0, false
		}
		return latencyStats[stat](l.Summary), true
	}}
}

func figures() []figure {
	fs := []figure{
		{"messages/s received", "msg/s", false, func(r *Report) (float64, bool) { return r.Rates.Received, true }},
		{"errors", "count", true, func(r *Report) (float64, bool) { return float64(r.ErrorCount()), true }},
		{"client CPU per message", "µs", true, func(r *Report) (float64, bool) {
			return r.Harness.CPUPerMessageUs, r.Harness.CPUPerMessageUs > 0
		}},
		// rpc: a request run's requests that timed out or failed.
		{"requests timed out", "count", true, func(r *Report) (float64, bool) {
			return float64(r.Messages.TimedOut), r.Scenario.Kind == scenario.KindRequest
		}},
		{"requests failed", "count", true, func(r *Report) (float64, bool) {
			return float64(r.Messages.Failed), r.Scenario.Kind == scenario.KindRequest
		}},
		// stream part: a server's stream, where the runs measured one.
		{"stream messages/s", "msg/s", false, func(r *Report) (float64, bool) {
			return streamField(r, func(s *Stream) float64 { return s.PerSecond }), r.Stream != nil
		}},
		{"stream gaps", "count", true, func(r *Report) (float64, bool) {
			return streamField(r, func(s *Stream) float64 { return float64(s.Gaps) }), r.Stream != nil
		}},
		{"stream stalls", "count", true, func(r *Report) (float64, bool) {
			return streamField(r, func(s *Stream) float64 { return float64(s.Stalls) }), r.Stream != nil
		}},
	}
	for _, m := range metrics.Metrics() { // a metric no side recorded has no row
		for _, st := range []string{"p50", "p90", "p99", "p999", "max"} {
			fs = append(fs, latencyFigure(m.String(), st))
		}
	}
	return fs
}

// Compare builds the table for sides; every side needs at least one report.
func Compare(sides []Side) (*Comparison, error) {
	if len(sides) < 2 {
		return nil, fmt.Errorf("compare: want at least two sides, got %d", len(sides))
	}
	c := &Comparison{}
	for _, s := range sides {
		if len(s.Reports) == 0 {
			return nil, fmt.Errorf("compare: side %q has no results", s.Label)
		}
		c.Sides = append(c.Sides, s.Label)
		c.Runs = append(c.Runs, len(s.Reports))
	}
	for _, f := range append(figures(), stepFigures(sides)...) { // flowrun: a flow's steps
		row := Row{Name: f.name, Unit: f.unit, Lower: f.lower}
		present := true
		for _, s := range sides {
			var vals []float64
			for _, r := range s.Reports {
				v, ok := f.get(r)
				if !ok {
					present = false
					break
				}
				vals = append(vals, v)
			}
			if !present {
				break
			}
			row.Cells = append(row.Cells, cell(vals))
		}
		if !present {
			continue
		}
		base := row.Cells[0]
		row.Cells[0].P = 1
		for i := 1; i < len(row.Cells); i++ {
			cl := &row.Cells[i]
			if base.Median != 0 {
				cl.Change = (cl.Median - base.Median) / base.Median
			}
			cl.P = MannWhitneyP(base.Values, cl.Values)
			cl.Significant = cl.P < Alpha
		}
		c.Rows = append(c.Rows, row)
	}
	return c, nil
}

func cell(vals []float64) Cell {
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	var med float64
	if n := len(s); n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	c := Cell{Median: med, Values: vals}
	if med != 0 {
		c.Spread = (s[len(s)-1] - s[0]) / 2 / math.Abs(med)
	}
	return c
}

// MannWhitneyP is the two-sided p-value of the Mann-Whitney U test that a
// and b come from the same distribution: exact (by counting every ordering)
// when there are no ties and the samples are small, else the normal
// approximation with a tie correction. One value on either side gives 1.
func MannWhitneyP(a, b []float64) float64 {
	n1, n2 := len(a), len(b)
	if n1 < 2 || n2 < 2 {
		return 1
	}
	type obs struct {
		v    float64
		side int
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range a {
		all = append(all, obs{v, 0})
	}
	for _, v := range b {
		all = append(all, obs{v, 1})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	// Mid-ranks, and the tie correction term.
	var r1, tie float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1 … j
		for k := i; k < j; k++ {
			if all[k].side == 0 {
				r1 += rank
			}
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tie += t*t*t - t
		}
		i = j
	}
	u1 := r1 - float64(n1*(n1+1))/2
	u := math.Min(u1, float64(n1*n2)-u1)
	if !ties && n1+n2 <= 40 {
		// Exact: the number of orderings with U ≤ u, over all C(n1+n2, n1).
		cnt := uCounts(n1, n2)
		var le, total float64
		for k, c := range cnt {
			total += c
			if float64(k) <= u {
				le += c
			}
		}
		return math.Min(1, 2*le/total)
	}
	if ties && binomial(n1+n2, n1) <= 200000 {
		// Exact with ties: every split of the pooled mid-ranks into groups
		// of n1 and n2, as likely as each other under the null. (The normal
		// approximation would claim p < 0.05 for 3 runs against 3, which no
		// test of 3 against 3 can give.)
		ranks := make([]float64, len(all))
		for i := 0; i < len(all); {
			j := i
			for j < len(all) && all[j].v == all[i].v {
				j++
			}
			for k := i; k < j; k++ {
				ranks[k] = float64(i+j+1) / 2
			}
			i = j
		}
		mu := float64(n1*n2) / 2
		dev := math.Abs(u1 - mu)
		var le, total float64
		var walk func(from, left int, sum float64)
		walk = func(from, left int, sum float64) {
			if left == 0 {
				total++
				if math.Abs(sum-float64(n1*(n1+1))/2-mu) >= dev-1e-9 {
					le++
				}
				return
			}
			for k := from; k <= len(ranks)-left; k++ {
				walk(k+1, left-1, sum+ranks[k])
			}
		}
		walk(0, n1, 0)
		return math.Min(1, le/total)
	}
	n := float64(n1 + n2)
	mu := float64(n1*n2) / 2
	sigma := math.Sqrt(float64(n1*n2) / 12 * ((n + 1) - tie/(n*(n-1))))
	if sigma == 0 {
		return 1
	}
	z := (math.Abs(u1-mu) - 0.5) / sigma // continuity correction
	return math.Min(1, math.Erfc(math.Max(z, 0)/math.Sqrt2))
}

// binomial is C(n, k), saturating far above any size worth enumerating.
func binomial(n, k int) float64 {
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
		if c > 1e12 {
			return c
		}
	}
	return c
}

// uCounts[k] is the number of ways to order n1 a's and n2 b's so that
// U (the count of (a, b) pairs with a after b) is k.
func uCounts(n1, n2 int) []float64 {
	// f[i][j][k]: orderings of i a's and j b's with U = k.
	prev := make([][]float64, n2+1)
	for j := range prev {
		prev[j] = []float64{1} // i = 0: one ordering, U = 0
	}
	for i := 1; i <= n1; i++ {
		cur := make([][]float64, n2+1)
		cur[0] = []float64{1}
		for j := 1; j <= n2; j++ {
			// The last element is an a (after all j b's: adds j to U) or a b.
			a, b := prev[j], cur[j-1]
			out := make([]float64, max(len(a)+j, len(b)))
			for k, v := range a {
				out[k+j] += v
			}
			for k, v := range b {
				out[k] += v
			}
			cur[j] = out
		}
		prev = cur
	}
	return prev[n2]
}

// CompareText writes the comparison as an aligned table: each side's
// median (± the spread of its runs) and, for the sides after the first, the
// change against the first, marked with its p-value when significant and
// "~" when not.
func CompareText(w io.Writer, c *Comparison) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "figure\t")
	for i, s := range c.Sides {
		fmt.Fprintf(tw, "%s (%d run%s)\t", s, c.Runs[i], plural(c.Runs[i]))
		if i > 0 {
			fmt.Fprint(tw, "vs "+c.Sides[0]+"\t")
		}
	}
	fmt.Fprintln(tw)
	for _, r := range c.Rows {
		fmt.Fprintf(tw, "%s\t", r.Name)
		for i, cl := range r.Cells {
			v := formatValue(r.Unit, cl.Median)
			if len(cl.Values) > 1 {
				v += fmt.Sprintf(" ±%.0f%%", 100*cl.Spread)
			}
			fmt.Fprintf(tw, "%s\t", v)
			if i == 0 {
				continue
			}
			switch {
			case len(cl.Values) < 2 || c.Runs[0] < 2:
				fmt.Fprintf(tw, "%+.1f%%\t", 100*cl.Change)
			case cl.Significant:
				fmt.Fprintf(tw, "%+.1f%% (p=%.3f)\t", 100*cl.Change, cl.P)
			default:
				fmt.Fprintf(tw, "~ (p=%.3f)\t", cl.P)
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	minRuns := c.Runs[0]
	for _, n := range c.Runs {
		minRuns = min(minRuns, n)
	}
	switch {
	case minRuns < 2:
		b.WriteString("\nOne run per side shows no noise: the changes above are not tested. Repeat each side (e.g. 5 runs) for a verdict.\n")
	case minRuns < 4:
		fmt.Fprintf(&b, "\n~: no significant difference (Mann-Whitney U, p ≥ %.2f). With %d runs per side no difference can reach p < %.2f: use at least 4.\n", Alpha, minRuns, Alpha)
	default:
		fmt.Fprintf(&b, "\n~: no significant difference (Mann-Whitney U, p ≥ %.2f); a change is shown only when p < %.2f.\n", Alpha, Alpha)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func formatValue(unit string, v float64) string {
	switch unit {
	case "µs":
		return fmtUs(v)
	case "msg/s":
		return fmtNum(v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// HGRM writes the named latency metric's histogram as HdrHistogram's
// percentile distribution ("hgrm"), values in milliseconds.
// A metric the run did not record (or recorded nothing in) is an error
// naming those it did.
func HGRM(w io.Writer, r *Report, metric string) error {
	if l, ok := r.Latency[metric]; !ok || l.Count == 0 {
		var have []string
		for _, m := range metrics.Metrics() {
			if r.Latency[m.String()].Count > 0 {
				have = append(have, m.String())
			}
		}
		if len(have) == 0 {
			return &AskError{fmt.Errorf("the result recorded no %q latency, nor any other", metric)}
		}
		return &AskError{fmt.Errorf("the result recorded no %q latency; it has %s", metric, strings.Join(have, ", "))}
	}
	h, err := r.Histogram(metric)
	if err != nil {
		return &AskError{err}
	}
	_, err = h.Raw().PercentilesPrint(w, 5, 1000) // recorded in µs: 1000 per ms
	return err
}

// CSV writes one row per interval: its bounds, rates, errors, and p50, p90,
// p99 and max of each latency metric the run recorded, in microseconds.
func CSV(w io.Writer, r *Report) error {
	if len(r.Intervals) == 0 {
		return errNoIntervals
	}
	var names []string
	for _, metric := range metrics.Metrics() {
		m := metric.String()
		for _, iv := range r.Intervals {
			if _, ok := iv.Latency[m]; ok {
				names = append(names, m)
				break
			}
		}
	}
	cw := csv.NewWriter(w)
	header := []string{"start_s", "end_s", "sent", "received", "received_per_s", "errors", "conns_open"}
	for _, m := range names {
		header = append(header, m+"_p50_us", m+"_p90_us", m+"_p99_us", m+"_max_us")
	}
	cw.Write(header)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, iv := range r.Intervals {
		row := []string{f(iv.StartS), f(iv.EndS), strconv.FormatInt(iv.Sent, 10), strconv.FormatInt(iv.Received, 10),
			f(math.Round(iv.RateS*1000) / 1000), strconv.FormatInt(iv.Errors, 10), strconv.Itoa(iv.Open)}
		for _, m := range names {
			l, ok := iv.Latency[m]
			if !ok {
				row = append(row, "", "", "", "")
				continue
			}
			row = append(row, f(l.P50Us), f(l.P90Us), f(l.P99Us), f(l.MaxUs))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}
