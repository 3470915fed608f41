package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/wsbench/wsbench/results"
)

// Result is the part of a wsbench result file (README: "The JSON result",
// whose field names are a contract) or capacity result that the kit reads.
type Result struct {
	StopReason string `json:"stop_reason"`
	Failure    string `json:"failure"`
	Scenario   struct {
		Kind string `json:"kind"`
	} `json:"scenario"`
	Connections struct {
		Attempted  int64   `json:"attempted"`
		Opened     int64   `json:"opened"`
		Failed     int64   `json:"failed"`
		DialS      float64 `json:"dial_s"`
		OpenedPerS float64 `json:"opened_per_s"`
	} `json:"connections"`
	Messages struct {
		Sent     int64 `json:"sent"`
		Received int64 `json:"received"`
		Balanced bool  `json:"balanced"`
	} `json:"messages"`
	Rates struct {
		Received float64 `json:"received_msgs_per_s"`
	} `json:"rates"`
	Errors  map[string]int64 `json:"errors"`
	Latency map[string]struct {
		Count  int64   `json:"count"`
		P50Us  float64 `json:"p50_us"`
		P90Us  float64 `json:"p90_us"`
		P99Us  float64 `json:"p99_us"`
		P999Us float64 `json:"p999_us"`
		MaxUs  float64 `json:"max_us"`
	} `json:"latency"`
	Harness struct {
		Saturated  bool     `json:"saturated"`
		Saturation []string `json:"saturation"`
	} `json:"harness"`
	Broadcast   *Broadcast `json:"broadcast"`
	ServerUsage *struct {
		CPUSeconds   float64 `json:"cpu_s"`
		CPUCores     float64 `json:"cpu_cores"`
		RSSBeforeKiB int64   `json:"rss_before_kib"`
		MaxRSSKiB    int64   `json:"max_rss_kib"`
	} `json:"server_usage"`

	// Capacity's result (the knee case) shares the file format's top level.
	MaxRate         float64 `json:"max_sustainable_rate"`
	ClientBound     bool    `json:"stopped_client_saturated"`
	ClientLimitedAt float64 `json:"client_limited_at"`
	Steps           []Step  `json:"steps"`
}

// Step is one load step of a knee search.
type Step struct {
	Offered float64 `json:"offered_rate"`
	P99Us   float64 `json:"rtt_p99_us"`
	Pass    bool    `json:"pass"`
}

// Broadcast is a broadcast run's delivery accounting.
type Broadcast struct {
	Deliveries int64   `json:"deliveries"`
	Reach      float64 `json:"reach"`
	Gaps       int64   `json:"gaps"`
	PerSecond  float64 `json:"deliveries_per_s"`
}

func readResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// saturated says why wsbench reported itself the limit in r, or "".
func (r *Result) saturated() string {
	switch {
	case r.Harness.Saturated:
		return "client saturated: " + strings.Join(r.Harness.Saturation, "; ")
	case r.ClientBound:
		return fmt.Sprintf("client-limited at %.0f msg/s", r.ClientLimitedAt)
	}
	return ""
}

// failed says why r does not count as a measurement, or "".
func (r *Result) failed(c Case) string {
	switch {
	case c.Capacity:
		if len(r.Steps) == 0 {
			return "no step ran"
		}
		return ""
	case r.Failure != "":
		return r.Failure
	case r.StopReason != "completed":
		return "stop reason " + r.StopReason
	}
	return ""
}

// incomplete says why r measured less than the case asked for (some
// connections never opened), or "". A storm counts its failures as its
// figure, and a knee search has none.
func (r *Result) incomplete(c Case) string {
	if c.Capacity || r.Scenario.Kind == "connect" || r.Connections.Failed == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d connections failed to open (%s)", r.Connections.Failed, r.Connections.Attempted, errorText(r.Errors))
}

// Trial is one run of one case against one fresh server.
type Trial struct {
	Case, Server string
	N            int
	File         string // the raw result, relative to the output folder
	Err          string // why there is no result (the run's last error line)
}

// Row is one server in one case's table.
type Row struct {
	Server    string
	Rank      int // 0: not ranked
	Trials    int // trials with a result that counts
	Saturated []string
	// Incomplete: trials in which some connections never opened. Their
	// figures are shown, for fewer connections than asked: not ranked.
	Incomplete []string
	Failed     []string
	Values     map[string][]float64 // by figure name, one per counted trial
	Errors     map[string]int64     // summed over the counted trials
	P          float64              // Mann-Whitney p against rank 1 (NaN: not tested)
}

// Table is one case's rows, in the stable server order.
type Table struct {
	Case Case
	Rows []*Row
}

// minTrialsForP is the fewest trials per side at which Mann-Whitney can
// reach p < 0.05 (three per side never can).
const minTrialsForP = 4

// Merge reads every trial's result (dir is the output folder) and builds one
// table per case: medians of the counted trials, a rank by the case's
// primary figure among the servers none of whose trials failed or was
// saturated, and each ranked server's Mann-Whitney p against rank 1.
func Merge(dir string, cases []Case, servers []string, trials []Trial) []Table {
	var tables []Table
	for _, c := range cases {
		t := Table{Case: c}
		for _, s := range servers {
			row := &Row{Server: s, Values: map[string][]float64{}, Errors: map[string]int64{}, P: math.NaN()}
			for _, tr := range trials {
				if tr.Case != c.Name || tr.Server != s {
					continue
				}
				if tr.File == "" {
					row.Failed = append(row.Failed, tr.Err)
					continue
				}
				r, err := readResult(dir + "/" + tr.File)
				if err != nil {
					row.Failed = append(row.Failed, err.Error())
					continue
				}
				if why := r.failed(c); why != "" {
					row.Failed = append(row.Failed, why)
					continue
				}
				if why := r.saturated(); why != "" {
					row.Saturated = append(row.Saturated, why)
				}
				if why := r.incomplete(c); why != "" {
					row.Incomplete = append(row.Incomplete, why)
				}
				row.Trials++
				for k, v := range r.Errors {
					row.Errors[k] += v
				}
				for _, f := range figuresOf(c) {
					if v, ok := get(f, r); ok {
						row.Values[f.Name] = append(row.Values[f.Name], v)
					}
				}
			}
			t.Rows = append(t.Rows, row)
		}
		rank(&t)
		tables = append(tables, t)
	}
	return tables
}

func figuresOf(c Case) []Figure {
	fs := slices.Clone(c.Columns)
	if !slices.ContainsFunc(fs, func(f Figure) bool { return f.Name == c.Primary.Name }) {
		fs = append(fs, c.Primary)
	}
	return fs
}

func get(f Figure, r *Result) (float64, bool) {
	if f.Name == kneeRate.Name {
		// 0 is a finding: even the first step broke the SLO.
		return r.MaxRate, len(r.Steps) > 0
	}
	return f.Get(r)
}

// rank numbers the eligible rows by the primary figure's median, best first
// (equal medians share a rank), and tests each against rank 1.
func rank(t *Table) {
	p := t.Case.Primary
	var eligible []*Row
	for _, r := range t.Rows {
		if r.Trials > 0 && len(r.Failed) == 0 && len(r.Saturated) == 0 && len(r.Incomplete) == 0 && len(r.Values[p.Name]) == r.Trials {
			eligible = append(eligible, r)
		}
	}
	sort.SliceStable(eligible, func(i, j int) bool {
		a, b := median(eligible[i].Values[p.Name]), median(eligible[j].Values[p.Name])
		if p.Higher {
			return a > b
		}
		return a < b
	})
	for i, r := range eligible {
		r.Rank = i + 1
		if i > 0 && median(r.Values[p.Name]) == median(eligible[i-1].Values[p.Name]) {
			r.Rank = eligible[i-1].Rank
		}
		if i > 0 {
			a, b := eligible[0].Values[p.Name], r.Values[p.Name]
			if len(a) >= minTrialsForP && len(b) >= minTrialsForP {
				r.P = results.MannWhitneyP(a, b)
			}
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// spread is (max - min) / 2 / median, the ± of the trials, as wsbench
// compare gives it.
func spread(v []float64) float64 {
	m := median(v)
	if len(v) < 2 || m == 0 {
		return 0
	}
	return (slices.Max(v) - slices.Min(v)) / 2 / math.Abs(m)
}

// Header is what summary.md says about the whole run before its tables.
type Header struct {
	Title    string
	Lines    []string // facts: machine, CPUs, trials, versions, command
	Excluded map[string]string
}

// WriteSummary writes summary.md: the header, then per case a table in the
// stable server order with its rank column.
func WriteSummary(w io.Writer, h Header, tables []Table) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", h.Title)
	for _, l := range h.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	b.WriteString("\nEach table lists the servers in the kit's order. **rank** orders them by the case's first figure " +
		"(median of the trials; ± beside it is half their range over the median). A server with a failed or client-saturated trial " +
		"is marked and not ranked (saturated: wsbench, not the server, may have set the figures), and so is one that did not open " +
		"every connection asked for (INCOMPLETE; its figures are for fewer connections). **vs #1** is the Mann-Whitney " +
		"U test of its trials against rank 1's (p < 0.05: a real difference; `~`: not shown to differ), given only with " +
		fmt.Sprintf("%d or more trials each. Per server CPU-s: work done (messages echoed, deliveries, connections) per "+
			"second of server CPU; per MiB: per MiB of the server's peak resident memory (a proxy: proxy and gorilla summed).\n", minTrialsForP))
	if len(h.Excluded) > 0 {
		b.WriteString("\nNot measured (failed the conformance smoke check):\n\n")
		for _, s := range sortedKeys(h.Excluded) {
			fmt.Fprintf(&b, "- %s: %s\n", s, h.Excluded[s])
		}
	}
	for _, t := range tables {
		fmt.Fprintf(&b, "\n## %s\n\n%s. %s\n\n", t.Case.Name, t.Case.Title, rankedBy(t.Case))
		head, rows := cells(t)
		b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
		for range head {
			b.WriteString(" --- |")
		}
		b.WriteString("\n")
		for _, r := range rows {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cells is a table as text, the same for summary.md and index.html: the
// header, then a row per server in the stable order.
func cells(t Table) (head []string, rows [][]string) {
	cols := figuresOf(t.Case)
	head = []string{"rank", "server", "trials"}
	for _, f := range cols {
		head = append(head, f.Name)
		if f.Name == t.Case.Primary.Name {
			head = append(head, "±")
		}
	}
	head = append(head, "vs #1", "errors", "note")
	for _, r := range t.Rows {
		rk := "–"
		if r.Rank > 0 {
			rk = fmt.Sprint(r.Rank)
		}
		row := []string{rk, r.Server, fmt.Sprint(r.Trials)}
		for _, f := range cols {
			v := r.Values[f.Name]
			cell := "–"
			if len(v) > 0 {
				cell = format(median(v), f.Unit)
			}
			row = append(row, cell)
			if f.Name == t.Case.Primary.Name {
				pm := ""
				if len(v) > 1 {
					pm = fmt.Sprintf("±%.0f%%", 100*spread(v))
				}
				row = append(row, pm)
			}
		}
		vs := ""
		switch {
		case r.Rank == 1:
			vs = "—"
		case r.Rank > 0 && !math.IsNaN(r.P) && r.P < results.Alpha:
			vs = fmt.Sprintf("p=%.3f", r.P)
		case r.Rank > 0 && !math.IsNaN(r.P):
			vs = fmt.Sprintf("~ (p=%.3f)", r.P)
		case r.Rank > 0:
			vs = fmt.Sprintf("n/a (<%d trials)", minTrialsForP)
		}
		rows = append(rows, append(row, vs, errorText(r.Errors), note(r)))
	}
	return head, rows
}

// rankedBy says which figure ranks a case's servers, and which way.
func rankedBy(c Case) string {
	way := "lower is better"
	if c.Primary.Higher {
		way = "higher is better"
	}
	return fmt.Sprintf("Ranked by %s (%s).", c.Primary.Name, way)
}

func note(r *Row) string {
	var parts []string
	if n := len(r.Failed); n > 0 {
		parts = append(parts, fmt.Sprintf("**FAILED** %d of %d trials: %s", n, n+r.Trials, oneLine(r.Failed[0])))
	}
	if n := len(r.Incomplete); n > 0 {
		parts = append(parts, fmt.Sprintf("**INCOMPLETE** in %d of %d trials: %s", n, r.Trials, oneLine(r.Incomplete[0])))
	}
	if n := len(r.Saturated); n > 0 {
		parts = append(parts, fmt.Sprintf("**SATURATED** (wsbench was the limit) in %d of %d trials: %s", n, r.Trials, oneLine(r.Saturated[0])))
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 160 {
		s = s[:157] + "…"
	}
	return s
}

func errorText(errs map[string]int64) string {
	if len(errs) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range sortedKeys(errs) {
		parts = append(parts, fmt.Sprintf("%s %d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// format prints a value in its unit: latency as µs or ms, rates as whole
// numbers, small ratios with three significant digits.
func format(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case unit == "µs" && v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case unit == "µs" && v >= 100000:
		return fmt.Sprintf("%.0fms", v/1000)
	case unit == "µs" && v >= 1000:
		return fmt.Sprintf("%.3gms", v/1000)
	case unit == "µs":
		return fmt.Sprintf("%.0fµs", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
