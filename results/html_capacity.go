package results

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot/plotter"
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
	if c.MaxRate == 0 {
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
		if !s.Pass || s.Saturated {
			class = "num bad"
		}
		t.Rows = append(t.Rows, append(row, htmlCell{Text: s.verdict(), Class: class}))
	}
	return t
}

// kneeFigure is the latency percentiles against the load, with the rtt
// SLOs and the highest load that held.
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
			x0, x1 = x0*0.9, x1*1.1
		}
		if err := addRule(p, "SLO "+expr, sloColor, x0, y, x1, y, false); err != nil {
			return htmlFigure{}, err
		}
		slos = append(slos, expr)
	}
	logLatencyAxis(p, ymin, ymax)
	caption := "rtt percentiles at each step, by load."
	if len(slos) > 0 {
		caption += " Dashed red: the SLO " + strings.Join(slos, " and ") + "."
	}
	if c.MaxRate > 0 {
		best := c.MaxRate
		name := fmt.Sprintf("max sustainable: %.0f msg/s", c.MaxRate)
		if c.Dimension == DimensionConns {
			best = float64(c.MaxConns)
			name = fmt.Sprintf("max sustainable: %d conns", c.MaxConns)
		}
		if err := addRule(p, name, limitColor, best, p.Y.Min, best, p.Y.Max, best >= xmax); err != nil {
			return htmlFigure{}, err
		}
		caption += " Dashed green: the highest load at which every SLO held."
	}
	svg, err := renderSVG(p, title)
	if err != nil {
		return htmlFigure{}, err
	}
	return htmlFigure{ID: "knee", Title: title, SVG: svg, Caption: caption}, nil
}
