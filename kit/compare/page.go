package main

import (
	"context"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// comparePages writes html/CASE.html for every case with two or more
// servers measured: wsbench compare's own page (its table, and every
// server's latency spectra overlaid). It returns the pages written, by case.
func comparePages(ctx context.Context, o *options, tables []Table, trials []Trial) map[string]string {
	pages := map[string]string{}
	if err := os.MkdirAll(filepath.Join(o.out, "html"), 0o755); err != nil {
		return pages
	}
	for _, t := range tables {
		if t.Case.Capacity {
			continue
		}
		args := []string{"compare", "--format", "html"}
		sides := 0
		for _, r := range t.Rows {
			var files []string
			for _, tr := range trials {
				if tr.Case == t.Case.Name && tr.Server == r.Server && tr.File != "" {
					files = append(files, filepath.Join(o.out, tr.File))
				}
			}
			if len(files) > 0 {
				args = append(append(args, "--label", r.Server), files...)
				sides++
			}
		}
		if sides < 2 {
			continue
		}
		rel := filepath.Join("html", t.Case.Name+".html")
		args = append(args, "-o", filepath.Join(o.out, rel))
		if err := wsbench(ctx, o, "", args...); err != nil {
			fmt.Fprintf(o.stderr, "compare-servers: %s: %v\n", rel, err)
			continue
		}
		pages[t.Case.Name] = rel
	}
	return pages
}

// writeIndex writes index.html: one self-contained page (no script, no
// load from anywhere) with the summary's tables, a bar per server of each
// case's first figure, and links to wsbench compare's pages per case.
func writeIndex(path string, h Header, tables []Table, pages map[string]string, knees map[string]*Result) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8">` +
		`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` +
		`<title>` + html.EscapeString(h.Title) + `</title><style>` +
		`body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin:.5em 0}` +
		`td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:nth-child(2),th{text-align:left}` +
		`.bar{fill:#4a7ab5}.sat{fill:#c9a227}text{font:12px sans-serif}</style></head><body>`)
	fmt.Fprintf(&b, "<h1>%s</h1><ul>", html.EscapeString(h.Title))
	for _, l := range h.Lines {
		fmt.Fprintf(&b, "<li>%s</li>", html.EscapeString(strings.ReplaceAll(strings.ReplaceAll(l, "**", ""), "`", "")))
	}
	b.WriteString("</ul>")
	for s, why := range h.Excluded {
		fmt.Fprintf(&b, "<p><b>%s</b> failed the conformance smoke check and was not measured: %s</p>", html.EscapeString(s), html.EscapeString(why))
	}
	for _, t := range tables {
		fmt.Fprintf(&b, "<h2 id=%q>%s</h2><p>%s. %s", t.Case.Name, html.EscapeString(t.Case.Name), html.EscapeString(t.Case.Title), html.EscapeString(rankedBy(t.Case)))
		if p, ok := pages[t.Case.Name]; ok {
			fmt.Fprintf(&b, ` · <a href="%s">every figure and the latency spectra overlaid (wsbench compare)</a>`, html.EscapeString(p))
		}
		b.WriteString("</p>")
		if t.Case.Capacity {
			b.WriteString(kneePlot(t, knees))
		}
		b.WriteString(bars(t))
		head, rows := cells(t)
		b.WriteString("<table><tr>")
		for _, c := range head {
			fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(c))
		}
		b.WriteString("</tr>")
		for _, r := range rows {
			b.WriteString("<tr>")
			for _, c := range r {
				fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(strings.ReplaceAll(c, "**", "")))
			}
			b.WriteString("</tr>")
		}
		b.WriteString("</table>")
	}
	b.WriteString("</body></html>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// bars draws the case's first figure, one bar per server (its median; a
// saturated or failed server's bar in another colour), as inline SVG.
func bars(t Table) string {
	f := t.Case.Primary
	top := 0.0
	for _, r := range t.Rows {
		if v := median(r.Values[f.Name]); !math.IsNaN(v) {
			top = max(top, v)
		}
	}
	if top <= 0 {
		return ""
	}
	const rowH, labelW, barW = 18, 90, 420
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" role="img"><title>%s</title>`, labelW+barW+220, rowH*len(t.Rows)+4, html.EscapeString(f.Name))
	for i, r := range t.Rows {
		y := i*rowH + 2
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text>`, y+13, html.EscapeString(r.Server))
		v := median(r.Values[f.Name])
		if math.IsNaN(v) {
			continue
		}
		class := "bar"
		if r.Rank == 0 {
			class = "sat"
		}
		w := int(barW * v / top)
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="%d" width="%d" height="%d"/><text x="%d" y="%d">%s %s</text>`,
			class, labelW, y, max(w, 1), rowH-4, labelW+max(w, 1)+4, y+13, html.EscapeString(format(v, f.Unit)), html.EscapeString(f.Name))
	}
	b.WriteString("</svg>")
	return b.String()
}

// palette colours the servers of a plot, in the table's order.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// kneePlot draws each server's knee search as a curve: rtt p99 against the
// offered rate, both on log axes, a step that met the SLO filled, one that
// broke it hollow.
func kneePlot(t Table, knees map[string]*Result) string {
	const w, h, left, bottom, legendW = 520, 260, 60, 30, 110
	var lo, hi, ylo, yhi = math.Inf(1), 0.0, math.Inf(1), 0.0
	for _, r := range t.Rows {
		if k := knees[r.Server]; k != nil {
			for _, st := range k.Steps {
				if st.Offered > 0 && st.P99Us > 0 {
					lo, hi, ylo, yhi = min(lo, st.Offered), max(hi, st.Offered), min(ylo, st.P99Us), max(yhi, st.P99Us)
				}
			}
		}
	}
	if hi == 0 {
		return ""
	}
	lo, hi, ylo, yhi = math.Log10(lo)-0.05, math.Log10(hi)+0.05, math.Log10(ylo)-0.05, math.Log10(yhi)+0.05
	x := func(v float64) float64 { return left + (math.Log10(v)-lo)/(hi-lo)*(w-left-10) }
	y := func(v float64) float64 { return (h - bottom) - (math.Log10(v)-ylo)/(yhi-ylo)*(h-bottom-10) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" role="img"><title>knee: rtt p99 against offered msg/s</title>`, w+legendW, h)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/><line x1="%d" y1="10" x2="%d" y2="%d" stroke="#888"/>`,
		left, h-bottom, w, h-bottom, left, left, h-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d">offered msg/s (log): %s – %s</text>`, left, h-8, format(math.Pow(10, lo+0.05), "msg/s"), format(math.Pow(10, hi-0.05), "msg/s"))
	fmt.Fprintf(&b, `<text x="2" y="20">rtt p99</text><text x="2" y="34">%s</text><text x="2" y="%d">%s</text>`,
		format(math.Pow(10, yhi-0.05), "µs"), h-bottom, format(math.Pow(10, ylo+0.05), "µs"))
	for i, r := range t.Rows {
		k := knees[r.Server]
		if k == nil || len(k.Steps) == 0 {
			continue
		}
		colour := palette[i%len(palette)]
		steps := slices.Clone(k.Steps)
		slices.SortFunc(steps, func(a, b Step) int { return cmpFloat(a.Offered, b.Offered) })
		var pts []string
		for _, st := range steps {
			if st.Offered <= 0 || st.P99Us <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(st.Offered), y(st.P99Us)))
			fill := colour
			if !st.Pass {
				fill = "white"
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" stroke="%s" fill="%s"/>`, x(st.Offered), y(st.P99Us), colour, fill)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" points="%s"/>`, colour, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`, w+8, 20+16*i, colour, html.EscapeString(r.Server))
	}
	b.WriteString("</svg>")
	return b.String()
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
