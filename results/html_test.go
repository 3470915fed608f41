package results

import (
	"bytes"
	"encoding/xml"
	"errors"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// withIntervals is fixture's input with n one-second intervals: rtt
// rising, one connection dropping, errors in the last.
func withIntervals(n int) func(*fixtureIn) {
	return func(in *fixtureIn) {
		for i := range n {
			snap := metrics.NewSnapshot()
			for k := 1; k <= 100; k++ {
				snap.Hist[metrics.RTT].Record(time.Duration(k*(i+1)) * 10 * time.Microsecond)
			}
			snap.Counts = metrics.Counts{Sent: 100, Received: 100}
			if i == n-1 {
				snap.Errors["close_1011"] = 2
			}
			in.Intervals = append(in.Intervals, metrics.Interval{Start: time.Duration(i) * time.Second,
				End: time.Duration(i+1) * time.Second, Snapshot: snap, Open: 50 - i/2})
		}
	}
}

// htmlDoc is what checkWellFormed learns of a page.
type htmlDoc struct {
	svgs       int               // <svg> elements
	figures    map[string]int    // figure id → <svg> elements inside it
	sections   map[string]bool   // section ids
	references map[string]string // attribute → value, of every attribute that can load something
	text       string            // the text outside the SVGs
}

// checkWellFormed parses page with a strict XML parser (so every element is
// closed and nested, every attribute quoted, every entity known) and
// returns what it found.
func checkWellFormed(t *testing.T, page []byte) htmlDoc {
	t.Helper()
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>\n<html")) {
		t.Errorf("page does not start with the HTML5 doctype: %.40q", page)
	}
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	doc := htmlDoc{figures: map[string]int{}, sections: map[string]bool{}, references: map[string]string{}}
	var stack []string
	figure, inSVG := "", 0
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			stack = append(stack, el.Name.Local)
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "src", "href", "action", "data", "poster", "srcset":
					doc.references[a.Name.Local] = a.Value
				case "style":
					if strings.Contains(a.Value, "url(") {
						doc.references["style"] = a.Value
					}
				case "id":
					switch el.Name.Local {
					case "figure":
						figure = a.Value
						doc.figures[figure] += 0
					case "section":
						doc.sections[a.Value] = true
					}
				}
			}
			switch el.Name.Local {
			case "svg":
				doc.svgs++
				inSVG++
				if figure != "" {
					doc.figures[figure]++
				}
			case "script", "link", "iframe", "object", "embed", "img":
				t.Errorf("page has a <%s> element", el.Name.Local)
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != el.Name.Local {
				t.Fatalf("</%s> closes %v", el.Name.Local, stack)
			}
			stack = stack[:len(stack)-1]
			switch el.Name.Local {
			case "svg":
				inSVG--
			case "figure":
				figure = ""
			}
		case xml.CharData:
			if inSVG == 0 {
				text.Write(el)
			}
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed elements %v", stack)
	}
	doc.text = text.String()
	// Nothing from the network: the only URLs allowed are the SVG namespace names.
	rest := strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "", `xmlns:xlink="http://www.w3.org/1999/xlink"`, "").Replace(string(page))
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|https?://`).FindString(rest); m != "" {
		t.Errorf("page refers to %q", m)
	}
	for _, bad := range []string{"@import", "@font-face", "url("} {
		if strings.Contains(rest, bad) {
			t.Errorf("page has %q", bad)
		}
	}
	for attr, v := range doc.references {
		t.Errorf("page loads something: %s=%q", attr, v)
	}
	return doc
}

func writeHTML(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("WSBENCH_ARTIFACTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-")+".html"), b.Bytes(), 0o644)
	}
	return b.Bytes()
}

// TestHTMLReport: the page is well-formed, loads nothing, has a spectrum
// per recorded latency metric and the plots over time, and shows every
// figure of the text summary.
func TestHTMLReport(t *testing.T) {
	cases := []struct {
		name      string
		mutate    func(*scenario.Spec, *metrics.Snapshot)
		input     func(*fixtureIn)
		spectra   []string
		overTime  []string
		intervals bool
	}{
		// a closed-model run with intervals: rtt, rtt_uncorrected, connect and handshake spectra; all four over-time plots and rtt's
		{"intervals", nil, withIntervals(5),
			[]string{"rtt", "rtt_uncorrected", "connect", "handshake"},
			[]string{"over-time-rtt", "over-time-rate", "over-time-conns", "over-time-errors"}, true},
		// one interval only: every over-time plot still has its one point
		{"one-interval", nil, withIntervals(1),
			[]string{"rtt", "rtt_uncorrected", "connect", "handshake"},
			[]string{"over-time-rtt", "over-time-rate", "over-time-conns", "over-time-errors"}, true},
		// no intervals (--interval 0): the spectra, and a note instead of the plots over time
		{"no-intervals", nil, nil, []string{"rtt", "rtt_uncorrected", "connect", "handshake"}, nil, false},
		// an open-model run that fell behind, saturated, with errors: send_lag gets its spectrum too
		{"open-behind", func(s *scenario.Spec, snap *metrics.Snapshot) {
			s.Rate, s.MaxInflight = 5000, 1
			snap.Counts.Unsent = 42
			for i := 0; i < 100; i++ {
				snap.Hist[metrics.SendLag].Record(50 * time.Millisecond)
			}
			snap.Errors["close_1011"] = 3
		}, func(in *fixtureIn) { in.CPU.User = 30 * time.Second },
			[]string{"rtt", "rtt_uncorrected", "send_lag", "connect", "handshake"}, nil, false},
		// a staged, compressed run over unverified TLS: the stages table, the compression row, the --insecure flag
		{"stages-deflate", func(s *scenario.Spec, snap *metrics.Snapshot) {
			s.Deflate, s.Insecure = true, true
			snap.Counts.DeflateRawSent, snap.Counts.DeflateWireSent = 64000, 16000
			snap.Counts.DeflateRawReceived, snap.Counts.DeflateWireReceived = 64000, 32000
		}, func(in *fixtureIn) {
			for i, name := range []string{"ramp", "hold"} {
				snap := metrics.NewSnapshot()
				for k := 1; k <= 50; k++ {
					snap.Hist[metrics.RTT].Record(time.Duration(k*(i+1)) * 20 * time.Microsecond)
				}
				snap.Counts = metrics.Counts{Sent: 500, Received: 490, Unsent: 3}
				snap.Errors["close_1011"] = int64(i)
				in.Stages = append(in.Stages, metrics.Stage{Name: name, Start: time.Duration(i) * 5 * time.Second, End: time.Duration(i+1) * 5 * time.Second,
					TargetConns: 50 * (i + 1), TargetRate: 100, Snapshot: snap, Open: 50 * (i + 1)})
			}
		}, []string{"rtt", "rtt_uncorrected", "connect", "handshake"}, nil, false},
		// a run with nothing measured: no spectrum at all, still a page
		{"empty", func(s *scenario.Spec, snap *metrics.Snapshot) {
			for m := range snap.Hist {
				snap.Hist[m] = metrics.NewHistogram()
			}
			snap.Counts = metrics.Counts{ConnsAttempted: 50, ConnsFailed: 50}
			snap.Errors["connect_refused"] = 50
		}, nil, nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureWith(t, tc.mutate, tc.input)
			page := writeHTML(t, r)
			doc := checkWellFormed(t, page)
			for _, s := range []string{"summary", "harness", "latency", "errors", "spectra", "over-time", "settings"} {
				if !doc.sections[s] {
					t.Errorf("no section %q", s)
				}
			}
			want := map[string]bool{}
			for _, m := range tc.spectra {
				want["spectrum-"+m] = true
			}
			for _, id := range tc.overTime {
				want[id] = true
			}
			for id, n := range doc.figures {
				if !want[id] {
					t.Errorf("unexpected figure %q", id)
				} else if n != 1 {
					t.Errorf("figure %q has %d <svg>, want 1", id, n)
				}
			}
			for id := range want {
				if _, ok := doc.figures[id]; !ok {
					t.Errorf("no figure %q", id)
				}
			}
			if doc.svgs != len(want) {
				t.Errorf("%d <svg> elements, want %d", doc.svgs, len(want))
			}
			if noIntervals := strings.Contains(doc.text, "has no intervals"); noIntervals == tc.intervals {
				t.Errorf("note on missing intervals shown: %v, intervals: %v", noIntervals, tc.intervals)
			}
			if len(r.Stages) > 0 && !doc.sections["stages"] {
				t.Errorf("a staged run without its stages table")
			}
			// The text summary's figures, every one: its header, table cells and latency figures.
			var txt bytes.Buffer
			if err := Text(&txt, r); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(txt.String(), "\n")
			if head := strings.TrimPrefix(lines[0], "wsbench test"); !strings.Contains(doc.text, strings.TrimSpace(head)) || !strings.Contains(doc.text, lines[1]) {
				t.Errorf("the text summary's header is not on the page:\n%s\n%s", lines[0], lines[1])
			}
			for _, line := range lines {
				for _, f := range summaryFigures(line) {
					if !strings.Contains(doc.text, f) {
						t.Errorf("figure %q of the text summary line %q is not on the page", f, line)
					}
				}
			}
			if r.Harness.Saturated != strings.Contains(doc.text, "SATURATED") {
				t.Errorf("saturated %v, page says SATURATED: %v", r.Harness.Saturated, !r.Harness.Saturated)
			}
			for _, w := range r.Warnings {
				if !strings.Contains(doc.text, w) {
					t.Errorf("warning %q is not on the page", w)
				}
			}
		})
	}
}

// TestHTMLFailedRun: a run that opened no connection had --interval 1s but
// measured too little for one interval: the page says so (not "--interval
// 0"), and leaves out the client I/O it never chose (no "client I/O: ,").
func TestHTMLFailedRun(t *testing.T) {
	r := fixtureWith(t, func(s *scenario.Spec, snap *metrics.Snapshot) {
		s.Interval = scenario.Duration(time.Second)
		for m := range snap.Hist {
			snap.Hist[m] = metrics.NewHistogram()
		}
		snap.Counts = metrics.Counts{ConnsAttempted: 2, ConnsFailed: 2}
		snap.Errors["connect_refused"] = 2
	}, func(in *fixtureIn) {
		in.StopReason, in.MeasureEnd, in.IO, in.Timestamps = "no_connections", in.MeasureStart, "", ""
	})
	doc := checkWellFormed(t, writeHTML(t, r))
	if want := "the run measured 0.00s (stop: no_connections), not one whole --interval of 1s"; !strings.Contains(doc.text, want) {
		t.Errorf("no %q on the page:\n%s", want, doc.text)
	}
	for _, bad := range []string{"--interval 0", "client I/O", "arrival dated by"} {
		if strings.Contains(doc.text, bad) {
			t.Errorf("the page says %q", bad)
		}
	}
	// A run that chose its I/O says which, and where arrivals were dated.
	r = fixtureWith(t, nil, nil)
	if doc := checkWellFormed(t, writeHTML(t, r)); !strings.Contains(doc.text, "io_uring, arrival dated by kernel") {
		t.Errorf("no client I/O on the page of a run that had it")
	}
}

// svgTexts are the <text> elements of figure id's SVG on page: each one's
// content and x, y (the SVG's y counts up: it is drawn flipped).
type svgText struct {
	text string
	x, y float64
}

func figureTexts(t *testing.T, page []byte, id string) []svgText {
	t.Helper()
	s := string(page)
	i := strings.Index(s, `<figure id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no figure %q", id)
	}
	end := i + strings.Index(s[i:], "</figure>")
	var out []svgText
	re := regexp.MustCompile(`(?s)<text x="([-0-9.e]+)" y="([-0-9.e]+)"[^>]*>([^<]*)</text>`)
	for _, m := range re.FindAllStringSubmatch(s[i:end], -1) {
		x, _ := strconv.ParseFloat(m[1], 64)
		y, _ := strconv.ParseFloat(m[2], 64)
		out = append(out, svgText{text: html.UnescapeString(m[3]), x: x, y: -y})
	}
	return out
}

// TestHTMLPlotsLogLatencyLegendStages: every latency axis (spectra and over
// time) is logarithmic: its labelled ticks are successive powers of ten,
// evenly spaced. Legends sit right of the data, past the x axis's last
// tick. A staged run's over-time plots mark where each later stage begins.
func TestHTMLPlotsLogLatencyLegendStages(t *testing.T) {
	r := fixtureWith(t, nil, func(in *fixtureIn) {
		withIntervals(5)(in)
		for i, name := range []string{"ramp", "hold"} {
			snap := metrics.NewSnapshot()
			snap.Hist[metrics.RTT].Record(time.Duration(i+1) * time.Millisecond)
			in.Stages = append(in.Stages, metrics.Stage{Name: name, Start: time.Duration(i) * 3 * time.Second, End: time.Duration(i+1) * 3 * time.Second,
				TargetConns: 50, Snapshot: snap, Open: 50})
		}
	})
	page := writeHTML(t, r)
	checkWellFormed(t, page)
	durLabel := regexp.MustCompile(`^([0-9.]+)(µs|ms|s)$`)
	unit := map[string]float64{"µs": 1, "ms": 1e3, "s": 1e6}
	for _, id := range []string{"spectrum-rtt", "spectrum-connect", "over-time-rtt"} {
		var ticks []svgText
		var values []float64
		for _, tx := range figureTexts(t, page, id) {
			if m := durLabel.FindStringSubmatch(tx.text); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				ticks, values = append(ticks, tx), append(values, v*unit[m[2]])
			}
		}
		if len(ticks) < 2 {
			t.Errorf("%s: latency tick labels %v, want two or more", id, ticks)
			continue
		}
		step := ticks[1].y - ticks[0].y
		for k := 1; k < len(ticks); k++ {
			if ratio := values[k] / values[k-1]; math.Abs(ratio-10) > 1e-9 {
				t.Errorf("%s: tick %q after %q: ×%g, want ×10 (a log axis)", id, ticks[k].text, ticks[k-1].text, ratio)
			}
			if d := ticks[k].y - ticks[k-1].y; step <= 0 || math.Abs(d-step) > 0.01*step {
				t.Errorf("%s: tick %q is %.2f above %q, want %.2f as each decade", id, ticks[k].text, d, ticks[k-1].text, step)
			}
		}
	}
	for _, id := range []string{"over-time-rtt", "over-time-rate", "over-time-conns", "over-time-errors"} {
		texts := figureTexts(t, page, id)
		// The x axis's tick labels are the lowest numbers on the canvas.
		number := regexp.MustCompile(`^[0-9.]+$`)
		bottom := math.Inf(1)
		for _, tx := range texts {
			if number.MatchString(tx.text) {
				bottom = math.Min(bottom, tx.y)
			}
		}
		lastTick, legend, marked := math.Inf(-1), map[string]float64{}, false
		for _, tx := range texts {
			switch {
			case tx.text == "p50" || tx.text == "p99" || tx.text == "max" || tx.text == "sent/s" || tx.text == "received/s":
				legend[tx.text] = tx.x
			case tx.text == "hold":
				marked = true
			case number.MatchString(tx.text) && tx.y < bottom+0.5:
				lastTick = math.Max(lastTick, tx.x)
			}
		}
		if math.IsInf(lastTick, -1) {
			t.Fatalf("%s: no x axis tick labels among %v", id, texts)
		}
		if !marked {
			t.Errorf("%s: no mark where stage \"hold\" begins", id)
		}
		for name, x := range legend {
			if x <= lastTick {
				t.Errorf("%s: legend entry %q at x %.1f, not right of the x axis's last tick (%.1f): over the data", id, name, x, lastTick)
			}
		}
	}
	if !strings.Contains(string(page), "where each stage begins") {
		t.Errorf("the captions do not explain the stage marks")
	}
}

// summaryFigures are the figures in one line of the text summary: the
// cells of its tables (split on runs of two spaces) that hold a digit.
func summaryFigures(line string) []string {
	if l := strings.TrimSpace(line); strings.HasPrefix(l, "Latency") || strings.HasPrefix(l, "Stage ") {
		return nil // a table's header: p50, p90 … are names, not figures
	}
	var out []string
	for _, f := range regexp.MustCompile(`\s{2,}|\t`).Split(strings.TrimSpace(line), -1) {
		f = strings.TrimSpace(f)
		if strings.HasPrefix(f, "Harness ") || strings.HasPrefix(f, "WARNING") || strings.HasPrefix(f, "wsbench ") || strings.Contains(f, "; ") {
			continue // the header lines and warnings are checked whole elsewhere
		}
		if strings.ContainsAny(f, "0123456789") {
			out = append(out, f)
		}
	}
	return out
}

// TestHTMLSpectrumAxis: the spectrum's x axis is 1/(1-percentile), labelled
// 0%, 50%, 90%, 99%, 99.9% … up to the decade holding the last point, and the
// spectrum ends on the maximum at 1/(1-percentile) = count.
func TestHTMLSpectrumAxis(t *testing.T) {
	ticks := percentileTicks(1500)
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "0% 50% 90% 99% 99.9% 99.99%" {
		t.Errorf("ticks %q", got)
	}
	h := metrics.NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.RecordUs(int64(i))
	}
	pts := spectrum(h)
	if pts[0].X != 1 || pts[0].Y != 1 {
		t.Errorf("first point %v, want (1, min 1µs)", pts[0])
	}
	if last := pts[len(pts)-1]; last.X != 1000 || last.Y != 1000 {
		t.Errorf("last point %v, want (count 1000, max 1000µs)", last)
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].X <= pts[i-1].X || pts[i].Y < pts[i-1].Y {
			t.Fatalf("points %d, %d not increasing: %v %v", i-1, i, pts[i-1], pts[i])
		}
		if x := pts[i].X; x == 10 && pts[i].Y != 900 {
			t.Errorf("at x=10 (p90) the value is %v, want 900", pts[i].Y)
		}
	}
	for _, tc := range []struct {
		us   float64
		want string
	}{{0, "0"}, {250, "250µs"}, {1500, "1.5ms"}, {2e6, "2s"}} {
		if got := tickDuration(tc.us); got != tc.want {
			t.Errorf("tickDuration(%v) = %q, want %q", tc.us, got, tc.want)
		}
	}
}

// TestHTMLCompare: one page with the comparison table's cells, one spectrum
// per metric with every side overlaid and named in the legend.
func TestHTMLCompare(t *testing.T) {
	fast := fixture(t, nil)
	slow := fixture(t, func(_ *scenario.Spec, snap *metrics.Snapshot) {
		for i := 1; i <= 1000; i++ {
			snap.Hist[metrics.RTT].Record(time.Duration(i) * 20 * time.Microsecond)
		}
	})
	sides := []Side{{Label: "fast <A&B>", Reports: []*Report{fast, fast, fast, fast}}, {Label: "slow", Reports: []*Report{slow, slow, slow, slow}}}
	c, err := Compare(sides)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := CompareHTML(&b, c, sides); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("WSBENCH_ARTIFACTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "compare.html"), b.Bytes(), 0o644)
	}
	doc := checkWellFormed(t, b.Bytes())
	for _, m := range []string{"rtt", "rtt_uncorrected", "connect", "handshake"} {
		if doc.figures["spectrum-"+m] != 1 {
			t.Errorf("spectrum of %s: %d <svg>", m, doc.figures["spectrum-"+m])
		}
	}
	if len(doc.figures) != 4 {
		t.Errorf("figures %v, want the 4 metrics", doc.figures)
	}
	// The legend names both sides, escaped, inside the SVG.
	for _, label := range []string{"fast &lt;A&amp;B&gt; (4 runs)", "slow (4 runs)"} {
		if !bytes.Contains(b.Bytes(), []byte(">"+label+"</text>")) {
			t.Errorf("no legend entry %q", label)
		}
	}
	var txt bytes.Buffer
	if err := CompareText(&txt, c); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(txt.String(), "\n")[1:] {
		for _, f := range summaryFigures(line) {
			if !strings.Contains(doc.text, f) {
				t.Errorf("cell %q of the comparison line %q is not on the page", f, line)
			}
		}
	}
	if !strings.Contains(doc.text, "+100.0%") {
		t.Errorf("rtt doubled, but no +100.0%% change on the page")
	}
	if err := CompareHTML(&b, c, sides[:1]); err == nil {
		t.Errorf("sides that do not match the comparison: no error")
	}
}

// TestHTMLCapacity: the knee plot with the SLO line and the maximum marked,
// and the steps table; and a search that measured nothing still a page.
func TestHTMLCapacity(t *testing.T) {
	c := &Capacity{SLOs: []string{"rtt.p99<2ms", "errors.rate<1%"}, Dimension: DimensionConns, ConnRate: 10, MaxConns: 40, MaxRate: 400,
		Steps: []CapacityStep{
			{Conns: 10, Offered: 100, Achieved: 100, P50Us: 100, P90Us: 200, P99Us: 500, P999Us: 800, MaxUs: 900, Pass: true},
			{Conns: 20, Offered: 200, Achieved: 200, P50Us: 120, P90Us: 300, P99Us: 900, P999Us: 1500, MaxUs: 2000, Pass: true},
			{Conns: 80, Offered: 800, Achieved: 610, P50Us: 900, P90Us: 3000, P99Us: 9000, P999Us: 20000, MaxUs: 40000, Failed: []string{"rtt.p99<2ms"}},
			{Conns: 40, Offered: 400, Achieved: 400, P50Us: 0, P90Us: 600, P99Us: 1900, P999Us: 2500, MaxUs: 3000, Pass: true},
		}}
	var b bytes.Buffer
	if err := CapacityHTML(&b, c, "test"); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("WSBENCH_ARTIFACTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "capacity.html"), b.Bytes(), 0o644)
	}
	doc := checkWellFormed(t, b.Bytes())
	if doc.figures["knee"] != 1 || doc.svgs != 1 {
		t.Errorf("figures %v, %d svgs: want the knee plot", doc.figures, doc.svgs)
	}
	for _, want := range []string{">SLO rtt.p99&lt;2ms</text>", ">max sustainable: 40 conns</text>", ">p50</text>", ">p90</text>", ">p99</text>", ">max</text>"} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("knee plot has no %q", want)
		}
	}
	if strings.Contains(b.String(), ">SLO errors.rate") {
		t.Errorf("an SLO on errors drawn on the latency plot")
	}
	for _, want := range []string{"Maximum sustainable load: 40 connections at 10 msg/s each (400 msg/s).", "fails: rtt.p99<2ms", "610"} {
		if !strings.Contains(doc.text, want) {
			t.Errorf("page has no %q", want)
		}
	}
	b.Reset()
	if err := CapacityHTML(&b, &Capacity{SLOs: []string{"rtt.p99<2ms"}, Dimension: DimensionRate}, "test"); err != nil {
		t.Fatal(err)
	}
	if doc := checkWellFormed(t, b.Bytes()); doc.svgs != 0 || !strings.Contains(doc.text, "No step was measured") {
		t.Errorf("no steps: %d svgs, text %q", doc.svgs, doc.text)
	}
}

// TestHTMLCapacityClientLimited: the knee plot of a doubling search has a
// log load axis (ticks at 1, 2, 5 of each decade), marks the
// client-limited step (a dotted line and a ring on each point, named in
// the legend), and calls the last step that held a lower bound, never the
// maximum sustainable load.
func TestHTMLCapacityClientLimited(t *testing.T) {
	c := &Capacity{SLOs: []string{"rtt.p99<20ms"}, Dimension: DimensionRate, MaxRate: 8000, ClientBound: true, ClientLimitedAt: 16000}
	for _, l := range []float64{1000, 2000, 4000, 8000} {
		c.Steps = append(c.Steps, CapacityStep{Offered: l, Achieved: l, P50Us: 100, P90Us: 200, P99Us: 2000, MaxUs: 9000, Pass: true})
	}
	c.Steps = append(c.Steps, CapacityStep{Offered: 16000, Achieved: 15000, P50Us: 900, P90Us: 5000, P99Us: 90000, MaxUs: 300000,
		Saturated: true, Saturation: []string{"CPU 95% of the 2 cores it could use"}})
	var b bytes.Buffer
	if err := CapacityHTML(&b, c, "test"); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("WSBENCH_ARTIFACTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "capacity-client-limited.html"), b.Bytes(), 0o644)
	}
	doc := checkWellFormed(t, b.Bytes())
	page := b.String()
	for _, want := range []string{">client-limited: 16000 msg/s</text>", ">server held ≥ 8000 msg/s</text>",
		">1000</text>", ">2000</text>", ">5000</text>", ">10000</text>"} {
		if !strings.Contains(page, want) {
			t.Errorf("knee plot has no %q", want)
		}
	}
	// A linear axis would have ticks at 4000, 8000, 12000 … in its place.
	if strings.Contains(page, ">12000</text>") || strings.Contains(page, "max sustainable") {
		t.Errorf("a linear load axis or a maximum sustainable load on the page")
	}
	if !strings.Contains(doc.text, "Client-limited at 16000 msg/s; the server's limit is at least the last good step, 8000 msg/s.") ||
		strings.Count(doc.text, "client-limited") < 1 {
		t.Errorf("page text: %q", doc.text)
	}
}

// TestCapacityText: the rate dimension's table is as before; the conns
// dimension adds the connection count and says the maximum in connections.
func TestCapacityText(t *testing.T) {
	steps := []CapacityStep{{Conns: 4, Offered: 200, Achieved: 200, P50Us: 100, P99Us: 500, P999Us: 800, Pass: true},
		{Conns: 8, Offered: 400, Achieved: 390, P50Us: 100, P99Us: 5000, P999Us: 8000, Failed: []string{"rtt.p99<1ms"}}}
	for _, tc := range []struct {
		c    Capacity
		want []string
	}{
		// rate: the table and wording of the rate search
		{Capacity{SLOs: []string{"rtt.p99<1ms"}, Dimension: DimensionRate, MaxRate: 200, Steps: steps},
			[]string{"  offered msg/s  achieved msg/s  rtt p50  rtt p99  rtt p99.9  errors", "fails: rtt.p99<1ms", "SLO: rtt.p99<1ms\nMaximum sustainable rate: 200 msg/s.\n"}},
		// conns: a conns column and the maximum in connections
		{Capacity{SLOs: []string{"rtt.p99<1ms"}, Dimension: DimensionConns, ConnRate: 50, MaxConns: 4, MaxRate: 200, Steps: steps},
			[]string{"conns  offered msg/s", "    4            200", "Maximum sustainable load: 4 connections at 50 msg/s each (200 msg/s)."}},
		// nothing held
		{Capacity{SLOs: []string{"rtt.p99<1ms"}, Dimension: DimensionRate, Steps: steps[1:]}, []string{"Even the first rate breaks the SLO."}},
		// held to the top
		{Capacity{SLOs: []string{"rtt.p99<1ms"}, Dimension: DimensionConns, ConnRate: 50, MaxConns: 4, MaxRate: 200, HitCeiling: true, Steps: steps[:1]},
			[]string{"Held up to --max, 4 connections at 50 msg/s each (200 msg/s): the server's limit is higher."}},
	} {
		var b bytes.Buffer
		if err := CapacityText(&b, &tc.c); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: no %q in\n%s", tc.c.Dimension, w, b.String())
			}
		}
	}
}
