package results

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/wsbench/wsbench/metrics"
)

// The plots' size on the SVG canvas; the page scales them to its width.
const (
	plotWidth  = 17 * vg.Centimeter
	plotHeight = 8 * vg.Centimeter
)

// plotFont is the plots' typeface: Liberation Sans, whose metrics gonum/plot
// lays text out with, and which is metric-compatible with Arial and
// Helvetica, the fallbacks named in the SVG (fonts are not embedded: each
// would add hundreds of KB to every plot).
var plotFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

const svgFontFamily = "font-family:Liberation Sans;"
const svgFontFallback = "font-family:Liberation Sans,Arial,Helvetica,sans-serif;"

// palette gives each series of a plot its own colour, distinct also in
// print and for the common colour-vision deficiencies (Okabe-Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{0, 0, 0, 255},       // black
	color.RGBA{240, 228, 66, 255},  // yellow
}

func seriesColor(i int) color.Color { return palette[i%len(palette)] }

var (
	sloColor   = color.RGBA{200, 0, 0, 255}
	limitColor = color.RGBA{0, 130, 60, 255}
	stageColor = color.RGBA{110, 110, 110, 255}
)

// newPlot is an empty plot with the page's fonts, a grid and axis labels.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(plotFont, 12)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(plotFont, 10)
		a.Tick.Label.Font = font.From(plotFont, 9)
	}
	p.Legend.TextStyle.Font = font.From(plotFont, 9)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(6)
	p.Legend.YOffs = -vg.Points(4)
	p.Legend.Padding = vg.Points(2)
	p.Add(plotter.NewGrid())
	return p
}

// addLine adds one series to p, in colour i, with its points marked when it
// has few of them (a line through one point draws nothing), and names it in
// the legend when name is not empty.
func addLine(p *plot.Plot, name string, i int, xys plotter.XYs, dashed bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("plot %q: %w", name, err)
	}
	l.LineStyle.Color = seriesColor(i)
	l.LineStyle.Width = vg.Points(1.5)
	if dashed {
		l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	p.Add(l)
	if len(xys) <= 40 {
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("plot %q: %w", name, err)
		}
		s.GlyphStyle.Color = seriesColor(i)
		s.GlyphStyle.Radius = vg.Points(2)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(s)
	}
	if name != "" {
		p.Legend.Add(name, l)
	}
	return nil
}

// addRule adds a straight dashed line from (x0, y0) to (x1, y1) in colour
// c, an SLO or a limit, and writes its name beside it, at its end (x1, y1),
// in the same colour: right-aligned above a horizontal line, beside a
// vertical one's top (to its left when labelLeft: at the plot's right edge).
func addRule(p *plot.Plot, name string, c color.Color, x0, y0, x1, y1 float64, labelLeft bool) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y1}})
	if err != nil {
		return fmt.Errorf("plot %q: %w", name, err)
	}
	l.LineStyle.Color = c
	l.LineStyle.Width = vg.Points(1.2)
	l.LineStyle.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	p.Add(l)
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x1, Y: y1}}, Labels: []string{name}})
	if err != nil {
		return fmt.Errorf("plot %q: %w", name, err)
	}
	st := &lb.TextStyle[0]
	st.Font, st.Color = font.From(plotFont, 9), c
	if y0 == y1 {
		st.XAlign, st.YAlign = draw.XRight, draw.YBottom
		lb.Offset = vg.Point{X: -vg.Points(2), Y: vg.Points(2)}
	} else if labelLeft {
		st.XAlign, st.YAlign = draw.XRight, draw.YTop
		lb.Offset = vg.Point{X: -vg.Points(3), Y: -vg.Points(2)}
	} else {
		st.XAlign, st.YAlign = draw.XLeft, draw.YTop
		lb.Offset = vg.Point{X: vg.Points(3), Y: -vg.Points(2)}
	}
	p.Add(lb)
	return nil
}

// renderSVG draws p as an SVG element to inline into a page. gonum/plot
// panics on some impossible inputs (a log axis reaching 0); that becomes an
// error here rather than a crash of the report.
func renderSVG(p *plot.Plot, label string) (svg template.HTML, err error) {
	defer func() {
		if e := recover(); e != nil {
			err = fmt.Errorf("plot %q: %v", label, e)
		}
	}()
	c := vgsvg.New(plotWidth, plotHeight)
	drawBesideLegend(p, draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("plot %q: %w", label, err)
	}
	s := b.String()
	// An XML declaration belongs at the start of a file, not inside a page.
	if strings.HasPrefix(s, "<?xml") {
		s = s[strings.Index(s, "?>")+2:]
	}
	s = strings.TrimSpace(strings.Replace(s, "<svg ", `<svg class="plot" role="img" aria-label="`+html.EscapeString(label)+`" `, 1))
	s = strings.ReplaceAll(s, svgFontFamily, svgFontFallback)
	return template.HTML(s), nil
}

// drawBesideLegend draws p on c with its legend, if it has one, in a column
// of its own at the right, so that no legend ever covers the data.
func drawBesideLegend(p *plot.Plot, c draw.Canvas) {
	legend := p.Legend
	width := legend.Rectangle(c).Size().X
	if width == 0 {
		p.Draw(c)
		return
	}
	const gap = 8 // points between the plot's frame and the legend
	width += vg.Points(gap)
	p.Legend = plot.NewLegend() // none inside the plot
	p.Draw(draw.Crop(c, 0, -width, 0, 0))
	p.Legend = legend
	top := p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding + vg.Points(6)
	legend.Left, legend.Top, legend.XOffs, legend.YOffs = true, true, 0, 0
	legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-width+vg.Points(gap), 0, 0, -top))
}

// Percentile spectrum, as HdrHistogram plots it: the value at each
// percentile against 1/(1 - percentile) on a log axis, so that 90%, 99%,
// 99.9% … are evenly spaced and the tail gets the room it needs.

// spectrumPointsPerDecade is how finely the spectrum is sampled.
const spectrumPointsPerDecade = 40

// spectrum is h's percentile spectrum: points (1/(1-q), value at q in µs)
// from q = 0 up to q = 1 - 1/count (finer percentiles than one value in the
// count cannot be told apart), ending on the maximum.
func spectrum(h *metrics.Histogram) plotter.XYs {
	n := float64(h.Count())
	last := math.Max(n, 2)
	var pts plotter.XYs
	for k := 0; ; k++ {
		x := math.Pow(10, float64(k)/spectrumPointsPerDecade)
		if x >= last {
			break
		}
		q := 100 * (1 - 1/x)
		pts = append(pts, plotter.XY{X: x, Y: float64(h.Percentile(q).Microseconds())})
	}
	return append(pts, plotter.XY{X: last, Y: float64(h.Percentile(100).Microseconds())})
}

// percentileTicks labels the spectrum's x axis: 0%, 50%, 90%, 99%, 99.9% …
// up to the decade that holds max.
func percentileTicks(max float64) []plot.Tick {
	ticks := []plot.Tick{{Value: 1, Label: "0%"}, {Value: 2, Label: "50%"}}
	for d := 1; d <= 12; d++ {
		x := math.Pow10(d)
		label := strconv.FormatFloat(100*(1-1/x), 'f', d-2, 64) + "%"
		if d == 1 {
			label = "90%"
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: label})
		if x >= max {
			break
		}
	}
	return ticks
}

// spectrumPlot is the plot of one metric's spectrum for each named series,
// overlaid, each in its own colour.
func spectrumPlot(title string, names []string, hists []*metrics.Histogram) (*plot.Plot, error) {
	p := newPlot(title, "percentile", "latency")
	p.X.Scale = plot.LogScale{}
	xmax, ymin, ymax := 10.0, math.Inf(1), 0.0
	for i, h := range hists {
		pts := spectrum(h)
		for k := range pts {
			pts[k].Y = math.Max(pts[k].Y, 1) // a log axis cannot show 0: under 1µs is drawn at 1µs
		}
		xmax = math.Max(xmax, pts[len(pts)-1].X)
		ymin, ymax = math.Min(ymin, pts[0].Y), math.Max(ymax, pts[len(pts)-1].Y)
		name := names[i]
		if len(hists) == 1 {
			name = ""
		}
		if err := addLine(p, name, i, pts, false); err != nil {
			return nil, err
		}
	}
	ticks := percentileTicks(xmax)
	p.X.Min, p.X.Max = 1, ticks[len(ticks)-1].Value
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	logLatencyAxis(p, ymin, ymax)
	return p, nil
}

// logLatencyAxis makes p's y axis logarithmic over [ymin, ymax] µs, with
// a labelled tick at each power of ten (1µs, 10µs … 1ms … 1s).
func logLatencyAxis(p *plot.Plot, ymin, ymax float64) {
	lo := math.Pow10(int(math.Floor(math.Log10(math.Max(ymin, 1)))))
	hi := math.Pow10(int(math.Ceil(math.Log10(math.Max(ymax, lo*10)))))
	if hi <= lo {
		hi = lo * 10
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Min, p.Y.Max = lo, hi
	var ticks []plot.Tick
	for v := lo; v <= hi*1.0001; v *= 10 {
		ticks = append(ticks, plot.Tick{Value: v, Label: tickDuration(v)})
		for m := 2.0; m < 10 && v*m < hi; m++ {
			ticks = append(ticks, plot.Tick{Value: v * m})
		}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
}

// addStageMarks marks on an over-time plot where each stage of a staged run
// after the first begins: a dashed grey line across the plot, named at its
// top. Call it once p's y range is set. Stage times count from the run's
// start, the plot's x axis from the measured window's: warmup apart.
func addStageMarks(p *plot.Plot, r *Report) error {
	warmup := time.Duration(r.Scenario.Warmup).Seconds()
	for i, st := range r.Stages {
		if i == 0 {
			continue
		}
		x := st.StartS - warmup
		if err := addRule(p, st.Name, stageColor, x, p.Y.Min, x, p.Y.Max, false); err != nil {
			return err
		}
	}
	return nil
}

// tickDuration labels an axis tick of us microseconds: 0, 250µs, 1.5ms, 2s.
func tickDuration(us float64) string {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	switch a := math.Abs(us); {
	case a == 0:
		return "0"
	case a < 1000:
		return g(us) + "µs"
	case a < 1e6:
		return g(us/1e3) + "ms"
	default:
		return g(us/1e6) + "s"
	}
}

// linearCountAxis makes p's y axis start at 0 and span at least 0..1, so
// that a series of zeros (no errors) lies on the axis instead of mid-plot,
// with ticks labelled as plain numbers (50, not 50.00), and a tenth over the
// highest point, which would otherwise sit on the frame under the labels of
// stage marks.
func linearCountAxis(p *plot.Plot) {
	p.Y.Min = 0
	p.Y.Max = math.Max(1.1*p.Y.Max, 1)
	p.Y.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(min, max)
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = plainNumber(ticks[i].Value)
			}
		}
		return ticks
	})
}

// plainNumber prints v to six significant digits without an exponent or
// trailing zeros: 50, 2.5, 1200000.
func plainNumber(v float64) string {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}
