package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/wsbench/wsbench/metrics"
)

// The HTML pages (WriteHTML, CompareHTML, CapacityHTML) are one file each
// that opens offline: styles inline, plots inline SVG drawn here with
// gonum/plot, no script, no font or image from anywhere, and a
// Content-Security-Policy that would block any such load if one crept in.
// They are also well-formed XML, which the tests check with a strict parser.

// htmlCell is one cell of a table; Class styles it (num, good, bad, change-better …).
type htmlCell struct {
	Text  string
	Class string
}

// htmlTable is a table whose first column names its rows.
type htmlTable struct {
	Class string
	Head  []string
	Rows  [][]htmlCell
}

// HeadCells are the column heads, each aligned as the first row's cell
// below it (numbers to the right).
func (t htmlTable) HeadCells() []htmlCell {
	out := make([]htmlCell, len(t.Head))
	for i, h := range t.Head {
		out[i].Text = h
		if len(t.Rows) > 0 && i < len(t.Rows[0]) && strings.Contains(t.Rows[0][i].Class, "num") {
			out[i].Class = "num"
		}
	}
	return out
}

// htmlFigure is one plot on a page.
type htmlFigure struct {
	ID      string
	Title   string
	SVG     template.HTML
	Caption string
}

// htmlPage is what every page has: its title, its header lines and the
// version that made it.
type htmlPage struct {
	Title   string
	Heading string
	Lines   []string
	Version string
}

type reportPage struct {
	htmlPage
	Summary     htmlTable
	Harness     htmlHarness
	Latency     htmlTable
	LatencyNote string
	Stages      htmlTable
	Steps       htmlTable // flowrun: a flow's steps
	Groups      htmlTable
	ShardLine   string    // merge part: the shards
	Shards      htmlTable // merge part
	Errors      htmlTable
	Thresholds  htmlTable
	Warnings    []string
	Spectra     []htmlFigure
	OverTime    []htmlFigure
	NoIntervals string
	Settings    htmlTable
	Run         htmlTable
}

// htmlHarness is the harness verdict: whether the client may have set the
// figures, and why.
type htmlHarness struct {
	Known     bool // CPU was measured
	Saturated bool
	Line      string
	Reasons   []string
}

func cells(class string, texts ...string) []htmlCell {
	out := make([]htmlCell, len(texts))
	for i, t := range texts {
		out[i] = htmlCell{Text: t, Class: class}
	}
	return out
}

// WriteHTML writes the report as one self-contained HTML page: the summary
// (the figures of the text summary), the harness verdict and warnings, the
// percentile spectrum of every latency metric, the figures over time from
// the intervals, and the settings.
func WriteHTML(w io.Writer, r *Report) error {
	pg := reportPage{htmlPage: htmlPage{Title: "wsbench: " + r.Target, Heading: "wsbench report", Version: r.ToolVersion}}
	target, load := textHeader(r)
	pg.Lines = append(pg.Lines, target, load, "started "+r.StartedAt.Format(time.RFC3339))
	if r.Failure != "" {
		pg.Lines = append(pg.Lines, "FAILED: "+r.Failure)
	}
	pg.Summary = summaryTable(r)
	pg.Harness = harnessVerdict(r)
	pg.Latency, pg.LatencyNote = latencyTable(r)
	pg.Stages = stagesTable(r)
	pg.Steps = stepsTable(r) // flowrun
	pg.Groups = groupsTable(r)
	pg.ShardLine = shardLine(r) // merge part: the shards
	if head, rows := shardRows(r); len(rows) > 0 {
		pg.Shards = numTable("shards", head, rows)
	}
	if s := r.Shards; s != nil && s.Partial {
		pg.Lines = append(pg.Lines, "PARTIAL: "+PartialLine(s))
	}
	pg.Errors = errorsTable(r)
	pg.Thresholds = thresholdsTable(r)
	pg.Warnings = r.Warnings
	var err error
	if pg.Spectra, err = reportSpectra(r); err != nil {
		return err
	}
	if len(r.Intervals) == 0 {
		pg.NoIntervals = "This result has no intervals (the run had --interval 0), so there is nothing to plot over time."
		if iv := r.Scenario.Interval; iv > 0 {
			pg.NoIntervals = fmt.Sprintf("This result has no intervals: the run measured %.2fs (stop: %s), not one whole --interval of %s, so there is nothing to plot over time.",
				r.DurationS, r.StopReason, iv)
		}
	} else if pg.OverTime, err = overTime(r); err != nil {
		return err
	}
	if pg.Settings, err = settingsTable(r); err != nil {
		return err
	}
	pg.Run = runTable(r)
	return execute(w, "report", pg)
}

// execute runs the named page template into w, whole or not at all.
func execute(w io.Writer, name string, data any) error {
	var b bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// textHeader is the text summary's first two lines, word for word: the
// target (without the tool's name and version) and the load.
func textHeader(r *Report) (target, load string) {
	var b bytes.Buffer
	Text(&b, r) // into memory: it cannot fail
	lines := strings.SplitN(b.String(), "\n", 3)
	if len(lines) < 2 {
		return r.Target, ""
	}
	target = strings.TrimPrefix(lines[0], "wsbench "+r.ToolVersion)
	return strings.TrimSpace(target), lines[1]
}

// summaryTable is the text summary's first table, row for row (summaryRows).
func summaryTable(r *Report) htmlTable {
	t := htmlTable{Class: "summary"}
	for _, row := range summaryRows(r) {
		cs := []htmlCell{{Text: row.Label}}
		for _, c := range row.Cells {
			if c != "" {
				cs = append(cs, htmlCell{Text: c})
			}
		}
		if row.Check != "" {
			class := "good"
			if !row.OK {
				class = "bad"
			}
			cs = append(cs, htmlCell{Text: row.Check, Class: class})
		}
		t.Rows = append(t.Rows, cs)
	}
	return t
}

// harnessVerdict is the text summary's Harness line and its reasons.
func harnessVerdict(r *Report) htmlHarness {
	h := r.Harness
	v := htmlHarness{Known: h.CPUUserS+h.CPUSysS > 0, Saturated: h.Saturated, Reasons: h.Saturation}
	v.Line = harnessLine(h)
	return v
}

// latencyTable is the text summary's latency table and the note under it.
func latencyTable(r *Report) (htmlTable, string) {
	head, rows := latencyRows(r)
	return numTable("latency", head, rows), latencyNote(r)
}

// stagesTable is the text summary's table of a staged run's stages.
func stagesTable(r *Report) htmlTable {
	head, rows := stageRows(r)
	return numTable("stages", head, rows)
}

// groupsTable is the text summary's table of a mix's groups.
func groupsTable(r *Report) htmlTable {
	head, rows := groupRows(r)
	return numTable("groups", head, rows)
}

// numTable is a table of figures: each row's first cell names it, the
// rest are numbers.
func numTable(class string, head []string, rows [][]string) htmlTable {
	t := htmlTable{Class: class, Head: head}
	for _, row := range rows {
		t.Rows = append(t.Rows, append([]htmlCell{{Text: row[0]}}, cells("num", row[1:]...)...))
	}
	return t
}

func errorsTable(r *Report) htmlTable {
	t := htmlTable{Class: "errors", Head: []string{"error", "count"}}
	for _, e := range errorRows(r) {
		t.Rows = append(t.Rows, []htmlCell{{Text: e[0]}, {Text: e[1], Class: "num bad"}})
	}
	return t
}

func thresholdsTable(r *Report) htmlTable {
	t := htmlTable{Class: "thresholds", Head: []string{"threshold", "verdict", "measured"}}
	for _, th := range thresholdRows(r) {
		verdict := htmlCell{Text: th.Verdict, Class: "good"}
		if !th.Pass {
			verdict.Class = "bad"
		}
		t.Rows = append(t.Rows, []htmlCell{{Text: th.Threshold}, verdict, {Text: th.Measured, Class: "num"}})
	}
	return t
}

// settingsTable lists the run's scenario, field by field, as the result
// document names them (so it reads like a scenario file).
func settingsTable(r *Report) (htmlTable, error) {
	t := htmlTable{Class: "settings"}
	b, err := json.Marshal(r.Scenario)
	if err != nil {
		return t, fmt.Errorf("html: settings: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return t, fmt.Errorf("html: settings: %w", err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return t, fmt.Errorf("html: settings: %w", err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return t, fmt.Errorf("html: settings: %w", err)
		}
		val := string(raw)
		var s string
		if json.Unmarshal(raw, &s) == nil {
			val = s
		}
		if key == "target" && val == "" {
			val = "(the bundled server)"
		}
		t.Rows = append(t.Rows, []htmlCell{{Text: fmt.Sprint(key)}, {Text: val, Class: "value"}})
	}
	return t, nil
}

// runTable says when, where and with what the run was made.
func runTable(r *Report) htmlTable {
	e := r.Environment
	t := htmlTable{Class: "settings"}
	row := func(k, v string) { t.Rows = append(t.Rows, []htmlCell{{Text: k}, {Text: v, Class: "value"}}) }
	row("target", r.Target)
	row("started", r.StartedAt.Format(time.RFC3339))
	row("ended", r.EndedAt.Format(time.RFC3339))
	row("measured", fmt.Sprintf("%.3fs", r.DurationS))
	row("stop reason", string(r.StopReason))
	row("interrupted", fmt.Sprint(r.Interrupted))
	row("tool", "wsbench "+r.ToolVersion)
	row("machine", fmt.Sprintf("%s %s/%s, %d CPUs, GOMAXPROCS %d, %s", e.Hostname, e.OS, e.Arch, e.CPUs, e.GOMAXPROCS, e.GoVersion))
	h := r.Harness
	// A run that opened no connection started no event loop: neither is known.
	var io []string
	if h.IO != "" {
		io = append(io, string(h.IO))
	}
	if h.RxTimestamps != "" {
		io = append(io, "arrival dated by "+h.RxTimestamps)
	}
	if len(io) > 0 {
		row("client I/O", strings.Join(io, ", "))
	}
	return t
}

// presentMetrics lists, in the metrics' order, those the report recorded.
func presentMetrics(r *Report) []string {
	var names []string
	for _, m := range metrics.Metrics() {
		if l, ok := r.Latency[m.String()]; ok && l.Count > 0 {
			names = append(names, m.String())
		}
	}
	return names
}

func reportSpectra(r *Report) ([]htmlFigure, error) {
	var figs []htmlFigure
	for _, name := range presentMetrics(r) {
		h, err := r.Histogram(name)
		if err != nil {
			return nil, err
		}
		fig, err := spectrumFigure(name, []string{name}, []*metrics.Histogram{h},
			fmt.Sprintf("%s: %d values, p50 %s, p99 %s, p99.9 %s, max %s.", name, h.Count(),
				fmtDur(h.Percentile(50)), fmtDur(h.Percentile(99)), fmtDur(h.Percentile(99.9)), fmtDur(h.Percentile(100))))
		if err != nil {
			return nil, err
		}
		figs = append(figs, fig)
	}
	return figs, nil
}

func spectrumFigure(metric string, names []string, hists []*metrics.Histogram, caption string) (htmlFigure, error) {
	title := metric + ": latency by percentile"
	p, err := spectrumPlot(title, names, hists)
	if err != nil {
		return htmlFigure{}, err
	}
	svg, err := renderSVG(p, title)
	if err != nil {
		return htmlFigure{}, err
	}
	return htmlFigure{ID: "spectrum-" + metric, Title: title, SVG: svg, Caption: caption}, nil
}

// overTime plots the intervals: each latency metric's p50, p99 and max,
// the message rates, the open connections and the errors.
func overTime(r *Report) ([]htmlFigure, error) {
	var figs []htmlFigure
	add := func(id, title, caption string, p *plot.Plot) error {
		svg, err := renderSVG(p, title)
		if err != nil {
			return err
		}
		figs = append(figs, htmlFigure{ID: id, Title: title, SVG: svg, Caption: caption})
		return nil
	}
	const xLabel = "time in the measured window (s)"
	for _, m := range metrics.Metrics() {
		name := m.String()
		var p50, p99, pmax plotter.XYs
		ymin, ymax := math.Inf(1), 0.0
		floor := func(us float64) float64 { return math.Max(us, 1) } // a log axis cannot show 0
		for _, iv := range r.Intervals {
			l, ok := iv.Latency[name]
			if !ok || l.Count == 0 {
				continue
			}
			p50 = append(p50, plotter.XY{X: iv.EndS, Y: floor(l.P50Us)})
			p99 = append(p99, plotter.XY{X: iv.EndS, Y: floor(l.P99Us)})
			pmax = append(pmax, plotter.XY{X: iv.EndS, Y: floor(l.MaxUs)})
			ymin, ymax = min(ymin, floor(l.P50Us)), max(ymax, floor(l.MaxUs))
		}
		if len(p50) == 0 {
			continue
		}
		title := name + " over time"
		p := newPlot(title, xLabel, "latency")
		for i, s := range []struct {
			label string
			xys   plotter.XYs
		}{{"p50", p50}, {"p99", p99}, {"max", pmax}} {
			if err := addLine(p, s.label, i, s.xys, false); err != nil {
				return nil, err
			}
		}
		logLatencyAxis(p, ymin, ymax)
		if err := addStageMarks(p, r); err != nil {
			return nil, err
		}
		if err := add("over-time-"+name, title, fmt.Sprintf("%s p50, p99 and max in each interval, plotted at the interval's end, on a log scale.%s", name, stageCaption(r)), p); err != nil {
			return nil, err
		}
	}
	var sent, received, open, errs plotter.XYs
	for _, iv := range r.Intervals {
		perS := 0.0
		if d := iv.EndS - iv.StartS; d > 0 {
			perS = float64(iv.Sent) / d
		}
		sent = append(sent, plotter.XY{X: iv.EndS, Y: perS})
		received = append(received, plotter.XY{X: iv.EndS, Y: iv.RateS})
		open = append(open, plotter.XY{X: iv.EndS, Y: float64(iv.Open)})
		errs = append(errs, plotter.XY{X: iv.EndS, Y: float64(iv.Errors)})
	}
	p := newPlot("message rate over time", xLabel, "messages/s")
	if err := addLine(p, "sent/s", 0, sent, false); err != nil {
		return nil, err
	}
	if err := addLine(p, "received/s", 1, received, true); err != nil {
		return nil, err
	}
	linearCountAxis(p)
	if err := addStageMarks(p, r); err != nil {
		return nil, err
	}
	if err := add("over-time-rate", "message rate over time", "Messages sent and received per second of each interval."+stageCaption(r), p); err != nil {
		return nil, err
	}
	p = newPlot("connections open over time", xLabel, "connections")
	if err := addLine(p, "", 0, open, false); err != nil {
		return nil, err
	}
	linearCountAxis(p)
	if err := addStageMarks(p, r); err != nil {
		return nil, err
	}
	if err := add("over-time-conns", "connections open over time", "Connections open at the end of each interval."+stageCaption(r), p); err != nil {
		return nil, err
	}
	p = newPlot("errors over time", xLabel, "errors per interval")
	if err := addLine(p, "", 1, errs, false); err != nil {
		return nil, err
	}
	linearCountAxis(p)
	if err := addStageMarks(p, r); err != nil {
		return nil, err
	}
	if err := add("over-time-errors", "errors over time", "Errors of every kind in each interval (see the errors table for the kinds)."+stageCaption(r), p); err != nil {
		return nil, err
	}
	return figs, nil
}

// stageCaption is what an over-time plot's caption adds for a staged run.
func stageCaption(r *Report) string {
	if len(r.Stages) < 2 {
		return ""
	}
	return " Dashed grey: where each stage begins, named at the top."
}

// pageTemplates are the pages' shared head and foot and each page's body.
var pageTemplates = template.Must(template.New("pages").Parse(`
{{- define "head" -}}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="generator" content="wsbench {{.Version}}"/>
<title>{{.Title}}</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; color: #222; background: #fff; margin: 0 auto; padding: 1em 2em 3em; max-width: 1200px; line-height: 1.4; }
h1 { font-size: 1.5em; margin: 0.2em 0; }
h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
header p { margin: 0.1em 0; color: #444; }
table { border-collapse: collapse; margin: 0.4em 0; font-variant-numeric: tabular-nums; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #bbb; }
th[scope=row] { white-space: nowrap; }
td.num, th.num { text-align: right; }
.good { color: #0a6b2d; }
.bad { color: #b00020; font-weight: bold; }
.better { color: #0a6b2d; font-weight: bold; }
.worse { color: #b00020; font-weight: bold; }
td.value { font-family: "Liberation Mono", "DejaVu Sans Mono", monospace; word-break: break-all; }
.verdict { padding: 0.5em 0.8em; border-radius: 4px; margin: 0.5em 0; }
.verdict.saturated { background: #fde8e8; border: 1px solid #b00020; }
.verdict.ok { background: #e8f6ec; border: 1px solid #0a6b2d; }
ul.warnings li { color: #8a4b00; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 1em 2em; }
.figures figure:only-child { grid-column: 1 / -1; max-width: 900px; }
figure { margin: 0.5em 0 1em; }
figure svg.plot { display: block; width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
</style>
</head>
<body>
<header>
<h1>{{.Heading}}</h1>
{{range .Lines}}<p>{{.}}</p>
{{end -}}
</header>
{{- end}}

{{- define "foot"}}
<footer><p>Made by wsbench {{.Version}}. This page is one self-contained file: it loads nothing from the network.</p></footer>
</body>
</html>
{{end}}

{{- define "table"}}
<table class="{{.Class}}">
{{- if .Head}}
<thead><tr>{{range .HeadCells}}<th{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</th>{{end}}</tr></thead>
{{- end}}
<tbody>
{{- range .Rows}}
<tr>{{range $i, $c := .}}{{if eq $i 0}}<th scope="row">{{$c.Text}}</th>{{else}}<td{{if $c.Class}} class="{{$c.Class}}"{{end}}>{{$c.Text}}</td>{{end}}{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- end}}

{{- define "figures"}}
<div class="figures">
{{- range .}}
<figure id="{{.ID}}">
{{.SVG}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{- end}}
</div>
{{- end}}

{{- define "report"}}{{template "head" .}}
<section id="summary">
<h2>Summary</h2>
{{template "table" .Summary}}
</section>
<section id="harness">
<h2>Harness</h2>
{{- if .Harness.Known}}
<div class="verdict {{if .Harness.Saturated}}saturated{{else}}ok{{end}}"><strong>Harness</strong> {{.Harness.Line}}</div>
{{- else}}
<p>The client's CPU was not measured.</p>
{{- end}}
{{- if .Harness.Reasons}}
<ul class="saturation">{{range .Harness.Reasons}}<li>{{.}}</li>{{end}}</ul>
{{- end}}
{{- if .Warnings}}
<ul class="warnings">{{range .Warnings}}<li>WARNING: {{.}}</li>{{end}}</ul>
{{- else}}
<p>No warnings.</p>
{{- end}}
</section>
<section id="latency">
<h2>Latency</h2>
{{- if .Latency.Rows}}
{{template "table" .Latency}}
{{- else}}
<p>No latency was recorded.</p>
{{- end}}
{{- if .LatencyNote}}
<p>{{.LatencyNote}}</p>
{{- end}}
</section>
{{- if .Steps.Rows}}
<section id="steps">
<h2>Steps</h2>
{{template "table" .Steps}}
</section>
{{- end}}
{{- if .Stages.Rows}}
<section id="stages">
<h2>Stages</h2>
{{template "table" .Stages}}
</section>
{{- end}}
{{- if .Groups.Rows}}
<section id="groups">
<h2>Groups</h2>
{{template "table" .Groups}}
</section>
{{- end}}
{{- if .ShardLine}}
<section id="shards">
<h2>Shards</h2>
<p>{{.ShardLine}}</p>
{{- if .Shards.Rows}}
{{template "table" .Shards}}
{{- end}}
</section>
{{- end}}
<section id="errors">
<h2>Errors</h2>
{{- if .Errors.Rows}}
{{template "table" .Errors}}
{{- else}}
<p>Errors: none</p>
{{- end}}
{{- if .Thresholds.Rows}}
<h2>Thresholds</h2>
{{template "table" .Thresholds}}
{{- end}}
</section>
<section id="spectra">
<h2>Latency by percentile</h2>
<p>Each metric's whole distribution, as HdrHistogram plots it: the percentile axis is 1/(1 − percentile) on a log scale, so the tail (99%, 99.9%, 99.99% …) gets as much room as the middle.</p>
{{- template "figures" .Spectra}}
</section>
<section id="over-time">
<h2>Over time</h2>
{{- if .NoIntervals}}
<p class="no-intervals">{{.NoIntervals}}</p>
{{- end}}
{{- template "figures" .OverTime}}
</section>
<section id="settings">
<h2>Settings</h2>
{{template "table" .Settings}}
<h2>Run</h2>
{{template "table" .Run}}
</section>
{{template "foot" .}}{{end}}

{{- define "compare"}}{{template "head" .}}
<section id="sides">
<h2>Sides</h2>
{{template "table" .Sides}}
</section>
<section id="comparison">
<h2>Comparison</h2>
{{template "table" .Table}}
<p>{{.Note}}</p>
</section>
<section id="spectra">
<h2>Latency by percentile</h2>
<p>Each side's distribution of each metric (its runs merged), overlaid; the percentile axis is 1/(1 − percentile) on a log scale.</p>
{{- template "figures" .Spectra}}
</section>
{{template "foot" .}}{{end}}

{{- define "capacity"}}{{template "head" .}}
<section id="knee">
<h2>Latency against load</h2>
{{- if .Knee}}
{{- template "figures" .Knee}}
{{- else}}
<p>No step was measured.</p>
{{- end}}
</section>
<section id="steps">
<h2>Steps</h2>
{{template "table" .Steps}}
<p class="{{.VerdictClass}}">{{.Verdict}}</p>
</section>
{{template "foot" .}}{{end}}
`))
