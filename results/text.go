package results

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// Encoder writes a report in one format.
type Encoder func(io.Writer, *Report) error

// Encoders maps a format name to its encoder.
var Encoders = map[string]Encoder{
	"text": Text,
	"json": JSON,
}

// JSON writes the report document, indented.
func JSON(w io.Writer, r *Report) error {
	b, err := r.MarshalIndent()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Text writes the human summary that `wsbench run` prints.
func Text(w io.Writer, r *Report) error {
	var b strings.Builder
	target := r.Target
	if r.Bundled {
		target += " (bundled server, in-process)"
	}
	if r.Scenario.Insecure {
		target += " (TLS certificate NOT verified: --insecure)"
	}
	s := r.Scenario
	kind := "text"
	if s.Binary {
		kind = "binary"
	}
	size := fmt.Sprintf("%d-byte", s.Size)
	switch {
	case s.Template != "":
		size = "templated"
	case s.SizeMax > s.Size:
		size = fmt.Sprintf("%d–%d-byte", s.Size, s.SizeMax)
	}
	fmt.Fprintf(&b, "wsbench %s  %s\n", r.ToolVersion, target)
	load := fmt.Sprintf("closed model (each connection sends when its previous reply arrives)")
	if r.Model == "open" {
		load = fmt.Sprintf("open model at %s msg/s", fmtNum(s.Rate))
		if s.MaxInflight > 0 {
			load += fmt.Sprintf(", at most %d in flight per connection", s.MaxInflight)
		}
	}
	if len(s.Stages) > 0 {
		load = fmt.Sprintf("%d stages, closed model", len(s.Stages))
		if r.Model == "open" {
			load = fmt.Sprintf("%d stages, open model up to %s msg/s", len(s.Stages), fmtNum(s.Rate))
		}
		fmt.Fprintf(&b, "%s; up to %d connections; %s %s messages; %.2fs measured; stop: %s\n\n",
			load, s.Conns, size, kind, r.DurationS, r.StopReason)
	} else {
		fmt.Fprintf(&b, "%s; %d connections; %s %s messages; %.2fs measured after %s warm-up; stop: %s\n\n",
			load, s.Conns, size, kind, r.DurationS, s.Warmup, r.StopReason)
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	c, m := r.Connections, r.Messages
	dropped := fmt.Sprintf("dropped %d", c.Dropped)
	if s.Reconnect > 0 {
		dropped += fmt.Sprintf(", reconnected %d", c.Reconnects)
	}
	fmt.Fprintf(tw, "Connections\tattempted %d\topened %d\tfailed %d\tin %s (%s/s)\t%s\n", c.Attempted, c.Opened, c.Failed,
		fmtDur(time.Duration(c.DialS*float64(time.Second))), fmtNum(c.OpenedPerS), dropped)
	check := "✓ sent = received + lost + in flight"
	if !m.Balanced {
		check = "✗ sent ≠ received + lost + in flight"
	}
	fmt.Fprintf(tw, "Messages\tsent %d\treceived %d\tlost %d\tin flight %d\t%s\n", m.Sent, m.Received, m.Lost, m.InFlight, check)
	if r.Model == "open" {
		fmt.Fprintf(tw, "Schedule\ttarget %s msg/s\tsent %s msg/s\tunsent %d\t\n", fmtNum(r.Rates.Target), fmtNum(r.Rates.Sent), m.Unsent)
	}
	if bc := r.Broadcast; bc != nil {
		fmt.Fprintf(tw, "Broadcast\trooms of %d, %d publishing\tdelivered %d of %d\treach %.4f\tgaps %d  late %d  duplicates %d  in grace %d  %s deliveries/s\n",
			bc.RoomSize, bc.Publishers, bc.Deliveries, bc.Expected, bc.Reach, bc.Gaps, bc.Late, bc.Duplicates, bc.InGrace, fmtNum(bc.PerSecond))
	}
	if z := r.Compression; z != nil {
		fmt.Fprintf(tw, "Compression\tpermessage-deflate\tsent %s → %s (%.2f×)\treceived %s → %s (%.2f×)\t\n",
			fmtBytes(float64(z.RawSent)), fmtBytes(float64(z.WireSent)), z.SentRatio,
			fmtBytes(float64(z.WireReceived)), fmtBytes(float64(z.RawReceived)), z.ReceivedRatio)
	}
	fmt.Fprintf(tw, "Throughput\t%s msg/s sent\t%s msg/s received\t%s/s sent\t%s/s received\n",
		fmtNum(r.Rates.Sent), fmtNum(r.Rates.Received), fmtBytes(r.Rates.BytesSent), fmtBytes(r.Rates.BytesReceived))
	if h := r.Harness; h.CPUUserS+h.CPUSysS > 0 {
		who := "client"
		if h.InProcessServer {
			who = "client + in-process server"
		}
		fmt.Fprintf(tw, "Harness CPU	%.2f cores (%s)	%.2f µs per message	max RSS %s	I/O %s\n",
			h.CPUCores, who, h.CPUPerMessageUs, fmtBytes(float64(h.MaxRSSKiB)*1024), h.IO)
	}
	tw.Flush()
	if h := r.Harness; h.CPUUserS+h.CPUSysS > 0 {
		fmt.Fprintf(&b, "Harness      %s\n", harnessLine(h))
	}

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Latency\tcount\tmin\tmean\tp50\tp90\tp99\tp99.9\tmax\t\n")
	for _, metric := range metrics.Metrics() {
		l, ok := r.Latency[metric.String()]
		if !ok || l.Count == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", metric, l.Count,
			fmtUs(l.MinUs), fmtUs(l.MeanUs), fmtUs(l.P50Us), fmtUs(l.P90Us), fmtUs(l.P99Us), fmtUs(l.P999Us), fmtUs(l.MaxUs))
	}
	tw.Flush()
	arrival := "when the client read it"
	if r.Harness.RxTimestamps == "kernel" {
		arrival = "the kernel's receive timestamp (read_lag: how long it then waited for the client)"
	}
	if r.Model == "open" {
		fmt.Fprintf(&b, "rtt runs from each message's intended send time (coordinated omission corrected) to its echo's arrival, dated by %s; rtt_uncorrected from when it was actually sent.\n", arrival)
	} else if r.Harness.RxTimestamps == "kernel" {
		fmt.Fprintf(&b, "rtt runs from each send to its echo's arrival, dated by %s.\n", arrival)
	}

	if len(r.Stages) > 0 {
		b.WriteString("\n")
		stagesText(&b, r)
	}
	if len(r.Groups) > 0 {
		b.WriteString("\n")
		groupsText(&b, r)
	}

	b.WriteString("\n")
	if len(r.Errors) == 0 {
		b.WriteString("Errors: none\n")
	} else {
		kinds := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		b.WriteString("Errors:\n")
		for _, k := range kinds {
			fmt.Fprintf(&b, "  %-28s %d\n", k, r.Errors[k])
		}
	}
	if len(r.Thresholds) > 0 {
		b.WriteString("Thresholds:\n")
		for _, t := range r.Thresholds {
			mark := "✓ pass"
			if !t.Pass {
				mark = "✗ FAIL"
			}
			subject := strings.TrimSpace(strings.FieldsFunc(t.Threshold, func(c rune) bool { return c == '<' || c == '>' })[0])
			fmt.Fprintf(&b, "  %s  %-28s measured %s\n", mark, t.Threshold, formatActual(subject, t.Actual))
		}
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", wn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatUs prints a duration in microseconds as the summary does: three
// significant digits in a fitting unit (412µs, 2.24ms, 1.50s).
func FormatUs(us float64) string { return fmtUs(us) }

// FormatNum prints a rate or count as the summary does.
func FormatNum(v float64) string { return fmtNum(v) }

func fmtUs(us float64) string { return fmtDur(time.Duration(us * float64(time.Microsecond))) }

// fmtDur prints a duration with three significant digits in a fitting unit.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return trimUnit(float64(d)/float64(time.Millisecond), "ms")
	default:
		return trimUnit(d.Seconds(), "s")
	}
}

func trimUnit(v float64, unit string) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f%s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f%s", v, unit)
	default:
		return fmt.Sprintf("%.2f%s", v, unit)
	}
}

func fmtNum(v float64) string {
	if v >= 100 || v == float64(int64(v)) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func fmtBytes(v float64) string {
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%.0f B", v)
	}
	exp, div := 0, float64(unit)
	for n := v / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v/div, "KMGTP"[exp])
}

// stagesText is the per-stage table of a staged run.
func stagesText(b *strings.Builder, r *Report) {
	head, rows := stageRows(r)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range append([][]string{head}, rows...) {
		fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
	}
	tw.Flush()
}

// stageRows is the per-stage table the text summary and the HTML page show:
// its head and a row of cells per stage.
func stageRows(r *Report) (head []string, rows [][]string) {
	metric := "rtt"
	if r.Broadcast != nil {
		metric = "delivery"
	}
	head = []string{"Stage", "from", "to", "conns", "open", "target/s", "sent/s", "received/s", "unsent", "errors", metric + " p50", "p99", "max"}
	for _, st := range r.Stages {
		var errs int64
		for _, v := range st.Errors {
			errs += v
		}
		l := st.Latency[metric]
		p50, p99, mx := "-", "-", "-"
		if l.Count > 0 {
			p50, p99, mx = fmtUs(l.P50Us), fmtUs(l.P99Us), fmtUs(l.MaxUs)
		}
		rows = append(rows, []string{st.Name, fmt.Sprintf("%.1fs", st.StartS), fmt.Sprintf("%.1fs", st.EndS), fmt.Sprint(st.TargetConns),
			fmt.Sprint(st.Open), fmtNum(st.TargetRate), fmtNum(st.Rates.Sent), fmtNum(st.Rates.Received), fmt.Sprint(st.Messages.Unsent),
			fmt.Sprint(errs), p50, p99, mx})
	}
	return head, rows
}

// groupsText is the per-group table of a mix.
func groupsText(b *strings.Builder, r *Report) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Group\tkind\tconns\topened\tdropped\tsent/s\treceived/s\terrors\tmetric\tp50\tp99\tmax\t\n")
	for _, g := range r.Groups {
		kind := g.Scenario.Kind
		if kind == "" {
			kind = "echo"
		}
		metric := "rtt"
		switch kind {
		case "broadcast":
			metric = "delivery"
		case "connect":
			metric = "handshake"
		case "hold":
			if g.Latency["rtt"].Count == 0 {
				metric = "handshake"
			}
		}
		l := g.Latency[metric]
		p50, p99, mx := "-", "-", "-"
		if l.Count > 0 {
			p50, p99, mx = fmtUs(l.P50Us), fmtUs(l.P99Us), fmtUs(l.MaxUs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", g.Group, kind, g.Scenario.Conns, g.Connections.Opened,
			g.Connections.Dropped, fmtNum(g.Rates.Sent), fmtNum(g.Rates.Received), g.ErrorCount(), metric, p50, p99, mx)
	}
	tw.Flush()
}

// harnessLine is the summary's verdict on the harness: saturated or not, GC,
// the read backlog, and how busy the machine was when the server shares it.
func harnessLine(h Harness) string {
	state := "not saturated"
	if h.Saturated {
		state = "SATURATED: the client may have set these figures (see the warning)"
	}
	line := fmt.Sprintf("%s · GC pauses %.2f%% of wall · ready sockets per loop pass %.1f (max %d) · send buffer full %d times",
		state, 100*h.GCPauseFraction, h.ReadBacklog.ReadyMean, h.ReadBacklog.ReadyMax, h.SendBufferFull)
	if h.ServerOnThisMachine && h.MachineCPUUtilization > 0 {
		line += fmt.Sprintf(" · machine CPU %.0f%% busy (the server runs on it too)", 100*h.MachineCPUUtilization)
	}
	return line
}
