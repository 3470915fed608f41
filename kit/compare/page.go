package main

import (
	"context"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
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
func writeIndex(path string, h Header, tables []Table, pages map[string]string) error {
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
	fmt.Fprintf(&b, `<svg width="%d" height="%d" role="img"><title>%s</title>`, labelW+barW+110, rowH*len(t.Rows)+4, html.EscapeString(f.Name))
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
