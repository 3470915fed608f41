package results

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

type capacityPage struct {
	htmlPage
	Knee         []htmlFigure
	Steps        htmlTable
	Verdict      string
	VerdictClass string
}

// CapacityHTML writes a capacity search as one self-contained HTML page:
// the knee plot (rtt p50, p90, p99 and max against the offered load, on a
// log latency axis, with each rtt SLO as a line and the maximum sustainable
// load marked) and the table of steps.
func CapacityHTML(w io.Writer, c *Capacity, version string) error {
	pg := capacityPage{htmlPage: htmlPage{Title: "wsbench capacity: " + strings.Join(c.SLOs, " and "), Heading: "wsbench capacity",
		Lines: []string{"SLO: " + strings.Join(c.SLOs, " and "), capacityDimensionLine(c)}, Version: version}}
	pg.Verdict = c.Conclusion()
	pg.VerdictClass = "good"
	if c.MaxRate == 0 || c.ClientBound {
		pg.VerdictClass = "bad"
	}
	pg.Steps = capacitySteps(c)
	if len(c.Steps) > 0 {
		fig, err := kneeFigure(c)
		if err != nil {
			return err
		}
		pg.Knee = []htmlFigure{fig}
	}
	return execute(w, "capacity", pg)
}

func capacityDimensionLine(c *Capacity) string {
	if c.Dimension == DimensionConns {
		return fmt.Sprintf("The search raised the number of connections, each sending %s msg/s (open model).", fmtNum(c.ConnRate))
	}
	return "The search raised the total message rate (open model) over a fixed number of connections."
}

func capacitySteps(c *Capacity) htmlTable {
	t := htmlTable{Class: "steps", Head: []string{"step"}}
	if c.Dimension == DimensionConns {
		t.Head = append(t.Head, "conns")
	}
	t.Head = append(t.Head, "offered msg/s", "achieved msg/s", "rtt p50", "rtt p90", "rtt p99", "rtt p99.9", "rtt max", "errors", "SLO")
	for i, s := range c.Steps {
		row := []htmlCell{{Text: fmt.Sprint(i + 1)}}
		if c.Dimension == DimensionConns {
			row = append(row, htmlCell{Text: fmt.Sprint(s.Conns), Class: "num"})
		}
		row = append(row, cells("num", fmt.Sprintf("%.0f", s.Offered), fmt.Sprintf("%.0f", s.Achieved), fmtUs(s.P50Us), fmtUs(s.P90Us),
			fmtUs(s.P99Us), fmtUs(s.P999Us), fmtUs(s.MaxUs), fmt.Sprint(s.Errors))...)
		class := "num good"
		if !s.Held() || s.Saturated {
			class = "num bad"
		}
		t.Rows = append(t.Rows, append(row, htmlCell{Text: s.verdict(), Class: class}))
	}
	return t
}

// clientLimitedColor marks the steps where the client, not the server, ran out.
var clientLimitedColor = color.RGBA{230, 159, 0, 255}

// kneeFigure is the latency percentiles against the load, on a log load
// axis (the search doubles), with the rtt SLOs, the highest load that held
// and each client-limited step marked.
func kneeFigure(c *Capacity) (htmlFigure, error) {
	steps := append([]CapacityStep(nil), c.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return c.Load(steps[i]) < c.Load(steps[j]) })
	xLabel := "offered load (msg/s)"
	if c.Dimension == DimensionConns {
		xLabel = fmt.Sprintf("connections (each %s msg/s)", fmtNum(c.ConnRate))
	}
	title := "rtt against load"
	p := newPlot(title, xLabel, "rtt")
	// A log axis cannot show 0: values under 1µs are drawn at 1µs.
	floor := func(us float64) float64 { return math.Max(us, 1) }
	ymin, ymax := math.Inf(1), 0.0
	xmin, xmax := c.Load(steps[0]), c.Load(steps[len(steps)-1])
	series := []struct {
		name string
		get  func(CapacityStep) float64
	}{
		{"p50", func(s CapacityStep) float64 { return s.P50Us }},
		{"p90", func(s CapacityStep) float64 { return s.P90Us }},
		{"p99", func(s CapacityStep) float64 { return s.P99Us }},
		{"max", func(s CapacityStep) float64 { return s.MaxUs }},
	}
	for i, se := range series {
		var xys plotter.XYs
		for _, s := range steps {
			y := floor(se.get(s))
			xys = append(xys, plotter.XY{X: c.Load(s), Y: y})
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
		if err := addLine(p, se.name, i, xys, false); err != nil {
			return htmlFigure{}, err
		}
	}
	var slos []string
	for _, expr := range c.SLOs {
		th, err := ParseThreshold(expr)
		if err != nil || !strings.HasPrefix(th.Subject, "rtt.") {
			continue // only rtt is plotted; the table lists every SLO
		}
		y := floor(th.Value)
		ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		x0, x1 := xmin, xmax
		if x0 == x1 {
			x0, x1 = x0/loadMargin, x1*loadMargin
		}
		if err := addRule(p, "SLO "+expr, sloColor, x0, y, x1, y, false); err != nil {
			return htmlFigure{}, err
		}
		slos = append(slos, expr)
	}
	logLatencyAxis(p, ymin, ymax)
	logLoadAxis(p, xmin, xmax)
	caption := "rtt percentiles at each step, by load (log scale: the search doubles)."
	if len(slos) > 0 {
		caption += " Dashed red: the SLO " + strings.Join(slos, " and ") + "."
	}
	unit := func(load float64) string {
		if c.Dimension == DimensionConns {
			return fmt.Sprintf("%.0f conns", load)
		}
		return fmt.Sprintf("%.0f msg/s", load)
	}
	if c.MaxRate > 0 {
		best := c.MaxRate
		if c.Dimension == DimensionConns {
			best = float64(c.MaxConns)
		}
		name, what := "max sustainable: "+unit(best), "the highest load at which every SLO held"
		if c.ClientBound {
			// The client ran out first: the server's limit is not known.
			name, what = "server held ≥ "+unit(best), "the highest load that held before the client ran out, a lower bound of the server's limit"
		}
		if err := addRule(p, name, limitColor, best, p.Y.Min, best, p.Y.Max, best >= xmax); err != nil {
			return htmlFigure{}, err
		}
		caption += " Dashed green: " + what + "."
	}
	// Client-limited steps: a dotted vertical line and a ring on each point,
	// named in the legend (a label in the plot would sit on the data).
	var limited plotter.XYs
	var limitedAt []string
	var rule *plotter.Line
	for _, s := range steps {
		if !s.Saturated {
			continue
		}
		x := c.Load(s)
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: p.Y.Min}, {X: x, Y: p.Y.Max}})
		if err != nil {
			return htmlFigure{}, err
		}
		l.LineStyle.Color, l.LineStyle.Width = clientLimitedColor, vg.Points(1.2)
		l.LineStyle.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		rule = l
		limitedAt = append(limitedAt, unit(x))
		for _, se := range series {
			limited = append(limited, plotter.XY{X: x, Y: floor(se.get(s))})
		}
	}
	if len(limited) > 0 {
		sc, err := plotter.NewScatter(limited)
		if err != nil {
			return htmlFigure{}, err
		}
		sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = clientLimitedColor, vg.Points(5), draw.RingGlyph{}
		p.Add(sc)
		p.Legend.Add("client-limited: "+strings.Join(limitedAt, ", "), rule, sc)
		caption += " Dotted orange, ringed: a step where the client, not the server, ran out (its figures are the client's)."
	}
	svg, err := renderSVG(p, title)
	if err != nil {
		return htmlFigure{}, err
	}
	return htmlFigure{ID: "knee", Title: title, SVG: svg, Caption: caption}, nil
}

// loadMargin widens the load axis on each side so that the first and last
// steps do not sit on the frame.
const loadMargin = 1.15

// logLoadAxis makes p's x axis logarithmic over [xmin, xmax] (loads, > 0),
// a little wider, with ticks at 1, 2 and 5 of each power of ten labelled as
// plain numbers.
func logLoadAxis(p *plot.Plot, xmin, xmax float64) {
	xmin, xmax = math.Max(xmin, 1)/loadMargin, math.Max(xmax, 1)*loadMargin
	p.X.Scale = plot.LogScale{}
	p.X.Min, p.X.Max = xmin, xmax
	var ticks []plot.Tick
	for d := math.Pow10(int(math.Floor(math.Log10(xmin)))); d <= xmax; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v >= xmin && v <= xmax {
				ticks = append(ticks, plot.Tick{Value: v, Label: plainNumber(v)})
			}
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
}
