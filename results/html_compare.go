package results

import (
	"fmt"
	"io"
	"strings"

	"github.com/wsbench/wsbench/metrics"
)

type comparePage struct {
	htmlPage
	Sides   htmlTable
	Table   htmlTable
	Note    string
	Spectra []htmlFigure
}

// CompareHTML writes the comparison c of sides as one self-contained HTML
// page: what each side ran, the table CompareText prints (medians, spreads,
// changes against the first side and their significance), and for each
// latency metric the percentile spectra of every side overlaid, each side's
// runs merged into one histogram.
func CompareHTML(w io.Writer, c *Comparison, sides []Side) error {
	if len(sides) != len(c.Sides) {
		return fmt.Errorf("html: comparison of %d sides, given %d", len(c.Sides), len(sides))
	}
	version := ""
	if len(sides) > 0 && len(sides[0].Reports) > 0 {
		version = sides[0].Reports[0].ToolVersion
	}
	pg := comparePage{htmlPage: htmlPage{Title: "wsbench compare: " + strings.Join(c.Sides, " vs "), Heading: "wsbench comparison",
		Lines: []string{strings.Join(c.Sides, " vs ")}, Version: version}}
	pg.Sides = sidesTable(sides)
	pg.Table, pg.Note = comparisonTable(c)
	var err error
	if pg.Spectra, err = compareSpectra(sides); err != nil {
		return err
	}
	return execute(w, "compare", pg)
}

// sidesTable says what each side ran: its target and load, how long, and
// how many of its runs found the client saturated.
func sidesTable(sides []Side) htmlTable {
	t := htmlTable{Class: "sides", Head: []string{"side", "runs", "target", "load", "measured", "client saturated"}}
	for _, s := range sides {
		targets, loads := map[string]bool{}, map[string]bool{}
		var tl, ll []string
		saturated := 0
		secs := 0.0
		for _, r := range s.Reports {
			if !targets[r.Target] {
				targets[r.Target] = true
				tl = append(tl, r.Target)
			}
			if _, l := textHeader(r); !loads[l] {
				loads[l] = true
				ll = append(ll, l)
			}
			if r.Harness.Saturated {
				saturated++
			}
			secs += r.DurationS
		}
		sat := htmlCell{Text: fmt.Sprintf("%d of %d", saturated, len(s.Reports)), Class: "num good"}
		if saturated > 0 {
			sat.Class = "num bad"
		}
		t.Rows = append(t.Rows, []htmlCell{{Text: s.Label}, {Text: fmt.Sprint(len(s.Reports)), Class: "num"},
			{Text: strings.Join(tl, ", ")}, {Text: strings.Join(ll, " | ")}, {Text: fmt.Sprintf("%.1fs", secs), Class: "num"}, sat})
	}
	return t
}

// comparisonTable is CompareText's table, cell for cell, with changes that
// are significant marked better or worse.
func comparisonTable(c *Comparison) (htmlTable, string) {
	t := htmlTable{Class: "comparison", Head: []string{"figure"}}
	for i, s := range c.Sides {
		t.Head = append(t.Head, fmt.Sprintf("%s (%d run%s)", s, c.Runs[i], plural(c.Runs[i])))
		if i > 0 {
			t.Head = append(t.Head, "vs "+c.Sides[0])
		}
	}
	for _, r := range c.Rows {
		row := []htmlCell{{Text: r.Name}}
		for i, cl := range r.Cells {
			v := formatValue(r.Unit, cl.Median)
			if len(cl.Values) > 1 {
				v += fmt.Sprintf(" ±%.0f%%", 100*cl.Spread)
			}
			row = append(row, htmlCell{Text: v, Class: "num"})
			if i == 0 {
				continue
			}
			change := htmlCell{Class: "num"}
			switch {
			case len(cl.Values) < 2 || c.Runs[0] < 2:
				change.Text = fmt.Sprintf("%+.1f%%", 100*cl.Change)
			case cl.Significant:
				change.Text = fmt.Sprintf("%+.1f%% (p=%.3f)", 100*cl.Change, cl.P)
				if better := (cl.Change < 0) == r.Lower; better && cl.Change != 0 {
					change.Class = "num better"
				} else if cl.Change != 0 {
					change.Class = "num worse"
				}
			default:
				change.Text = fmt.Sprintf("~ (p=%.3f)", cl.P)
			}
			row = append(row, change)
		}
		t.Rows = append(t.Rows, row)
	}
	minRuns := c.Runs[0]
	for _, n := range c.Runs {
		minRuns = min(minRuns, n)
	}
	var note string
	switch {
	case minRuns < 2:
		note = "One run per side shows no noise: the changes above are not tested. Repeat each side (e.g. 5 runs) for a verdict."
	case minRuns < 4:
		note = fmt.Sprintf("~: no significant difference (Mann-Whitney U, p ≥ %.2f). With %d runs per side no difference can reach p < %.2f: use at least 4.", Alpha, minRuns, Alpha)
	default:
		note = fmt.Sprintf("~: no significant difference (Mann-Whitney U, p ≥ %.2f); a change is shown only when p < %.2f.", Alpha, Alpha)
	}
	return t, note
}

// compareSpectra plots, for each latency metric any side recorded, the
// spectra of the sides that recorded it, overlaid.
func compareSpectra(sides []Side) ([]htmlFigure, error) {
	var figs []htmlFigure
	for _, m := range metrics.Metrics() {
		name := m.String()
		var labels []string
		var hists []*metrics.Histogram
		var caption []string
		for _, s := range sides {
			merged, n, err := mergedHistogram(s, name)
			if err != nil {
				return nil, err
			}
			if merged == nil {
				continue
			}
			label := s.Label
			if n > 1 {
				label = fmt.Sprintf("%s (%d runs)", s.Label, n)
			}
			labels = append(labels, label)
			hists = append(hists, merged)
			caption = append(caption, fmt.Sprintf("%s p99 %s, max %s", label, fmtDur(merged.Percentile(99)), fmtDur(merged.Percentile(100))))
		}
		if len(hists) == 0 {
			continue
		}
		fig, err := spectrumFigure(name, labels, hists, name+": "+strings.Join(caption, "; ")+".")
		if err != nil {
			return nil, err
		}
		figs = append(figs, fig)
	}
	return figs, nil
}

// mergedHistogram is the named metric's histogram over all of a side's
// runs that recorded it, and how many did; nil when none did.
func mergedHistogram(s Side, metric string) (*metrics.Histogram, int, error) {
	var merged *metrics.Histogram
	n := 0
	for _, r := range s.Reports {
		if l, ok := r.Latency[metric]; !ok || l.Count == 0 {
			continue
		}
		h, err := r.Histogram(metric)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", s.Label, err)
		}
		n++
		if merged == nil {
			merged = h
			continue
		}
		if err := merged.Merge(h); err != nil {
			return nil, 0, fmt.Errorf("%s: %s: %w", s.Label, metric, err)
		}
	}
	return merged, n, nil
}
