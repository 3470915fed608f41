package results

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsbench/wsbench/scenario"
)

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
	fmt.Fprintf(&b, "wsbench %s  %s\n", r.ToolVersion, target)
	fmt.Fprintf(&b, "%s\n\n", describe(r))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, row := range summaryRows(r) {
		cells := append([]string{row.Label}, row.Cells...)
		if row.Check != "" {
			cells = append(cells, row.Check)
		}
		fmt.Fprintf(tw, "%s\n", strings.Join(cells, "\t"))
	}
	tw.Flush()
	if h := r.Harness; h.CPUUserS+h.CPUSysS > 0 {
		fmt.Fprintf(&b, "Harness      %s\n", harnessLine(h))
	}

	b.WriteString("\n")
	head, rows := latencyRows(r)
	if len(rows) > 0 {
		columns(&b, head, rows)
	}
	if len(rows) == 0 {
		b.WriteString("Latency: nothing recorded\n")
	}
	if note := latencyNote(r); note != "" {
		fmt.Fprintf(&b, "%s\n", note)
	}

	if len(r.Steps) > 0 { // flowrun: a flow's steps
		b.WriteString("\n")
		head, rows := stepRows(r)
		columns(&b, head, rows)
	}
	if len(r.Stages) > 0 {
		b.WriteString("\n")
		stagesText(&b, r)
	}
	if len(r.Groups) > 0 {
		b.WriteString("\n")
		groupsText(&b, r)
	}
	if line := shardLine(r); line != "" { // merge part: the shards
		fmt.Fprintf(&b, "\n%s\n", line)
		if head, rows := shardRows(r); len(rows) > 0 {
			columns(&b, head, rows)
		}
	}

	b.WriteString("\n")
	if len(r.Errors) == 0 {
		b.WriteString("Errors: none\n")
	} else {
		b.WriteString("Errors:\n")
		for _, e := range errorRows(r) {
			fmt.Fprintf(&b, "  %-28s %s\n", e[0], e[1])
		}
	}
	if th := thresholdRows(r); len(th) > 0 {
		b.WriteString("Thresholds:\n")
		for _, t := range th {
			fmt.Fprintf(&b, "  %s  %-28s measured %s\n", t.Verdict, t.Threshold, t.Measured)
		}
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", wn)
	}
	if r.Failure != "" {
		fmt.Fprintf(&b, "FAILED: %s\n", r.Failure)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describe is the summary's line on what the run did, in the words of its
// kind: the load model and messages of an echo run, the pings of a ping
// run, the held connections of a hold run, the loops of a connection storm,
// the rooms of a broadcast; then the window and why it stopped.
func describe(r *Report) string {
	s := r.Scenario
	msgs := fmt.Sprintf("%d-byte", s.Size)
	switch {
	case s.Template != "":
		msgs = "templated"
	case s.SizeMax > s.Size:
		msgs = fmt.Sprintf("%d–%d-byte", s.Size, s.SizeMax)
	}
	if s.Binary {
		msgs += " binary messages"
	} else {
		msgs += " text messages"
	}
	conns := fmt.Sprintf("%d connections", s.Conns)
	if len(s.Stages) > 0 {
		conns = fmt.Sprintf("up to %d connections", s.Conns)
	}
	// load is the model: the closed loop (reply, the next send) or the rate.
	load := func(unit, reply string) string {
		l := fmt.Sprintf("closed model (each connection sends when its previous %s arrives)", reply)
		if r.Model == "open" {
			l = fmt.Sprintf("open model at %s %s/s", fmtNum(s.Rate), unit)
			if len(s.Stages) > 0 {
				l = fmt.Sprintf("open model up to %s %s/s", fmtNum(s.Rate), unit)
			}
			if s.MaxInflight > 0 {
				l += fmt.Sprintf(", at most %d in flight per connection", s.MaxInflight)
			}
		} else if s.Think > 0 {
			l = fmt.Sprintf("closed model (each connection sends %s after its previous %s arrives)", s.Think, reply)
		}
		if len(s.Stages) > 0 {
			l = fmt.Sprintf("%d stages, %s", len(s.Stages), l)
		}
		return l
	}
	var what string
	switch s.Kind {
	case "", scenario.KindEcho:
		what = fmt.Sprintf("%s; %s; %s", load("msg", "reply"), conns, msgs)
		if len(s.Groups) > 0 {
			names := make([]string, len(s.Groups))
			for i, g := range s.Groups {
				names[i] = g.Name + " (" + string(cmp.Or(g.Kind, scenario.KindEcho)) + ")"
			}
			what = fmt.Sprintf("a mix of %d groups side by side: %s; %s in all", len(s.Groups), strings.Join(names, ", "), conns)
		}
	case scenario.KindPing:
		what = fmt.Sprintf("ping frames answered by pongs, %s; %s; %d-byte ping payloads",
			strings.Replace(load("pings", "pong"), "sends when", "pings when", 1), conns, s.Size)
	case scenario.KindHold:
		what = conns + " held open"
		if s.ConnectRate > 0 {
			what += fmt.Sprintf(" (opened at %s/s)", fmtNum(s.ConnectRate))
		}
		if r.Model == "open" {
			what += fmt.Sprintf(" with light traffic: %s; %s", load("msg", "reply"), msgs)
		} else {
			what += ", idle (no messages)"
		}
		if len(s.Stages) > 0 {
			what = fmt.Sprintf("%d stages: %s", len(s.Stages), what)
		}
	case scenario.KindConnect:
		each := "sending one " + strings.TrimSuffix(msgs, "s") + " and waiting for its echo, then closing it"
		if !s.ConnectMessage {
			each = "closing it at once (no message)"
		}
		what = fmt.Sprintf("connection storm: %d loops, each opening a connection, %s, and starting over", s.Conns, each)
	case scenario.KindFlow: // flowrun
		what = describeFlow(r)
	case scenario.KindBroadcast:
		what = fmt.Sprintf("broadcast to rooms of %d, %d publishing per room, %s; %s; %s",
			s.RoomSize, s.Publishers, strings.Replace(load("msg", "reply"), "msg/s", "msg/s published in total", 1), conns, msgs)
	case scenario.KindSubscribe: // stream part
		subs := "no subscribe message"
		if n := len(s.Open); n > 0 {
			subs = fmt.Sprintf("%d opening message(s)", n)
		}
		what = fmt.Sprintf("subscribe: %s, each sending %s, then receiving the server's stream", conns, subs)
		if st := r.Stream; st != nil {
			what += " (" + st.Match + ")"
		}
		if r.Bundled {
			rate := s.PushRate
			if rate == 0 {
				rate = 10
			}
			what += fmt.Sprintf(", pushed at %s msg/s per connection", fmtNum(rate))
			if s.PushCount > 0 {
				what += fmt.Sprintf(", %d each", s.PushCount)
			}
		}
	case scenario.KindRequest: // rpc
		what = fmt.Sprintf("requests matched to their replies by id: %s; %s; %s", strings.Replace(load("requests", "reply"), "sends when", "sends a request when", 1), conns, requestWhat(s))
	default:
		what = fmt.Sprintf("%s: %s; %s; %s", s.Kind, load("msg", "reply"), conns, msgs)
	}
	if len(s.Stages) > 0 {
		return fmt.Sprintf("%s; %.2fs measured; stop: %s", what, r.DurationS, r.StopReason)
	}
	if r.Interrupted && r.DurationS == 0 && s.Warmup > 0 {
		return fmt.Sprintf("%s; interrupted during the %s warm-up, nothing measured; stop: %s", what, s.Warmup, r.StopReason)
	}
	return fmt.Sprintf("%s; %.2fs measured after %s warm-up; stop: %s", what, r.DurationS, s.Warmup, r.StopReason)
}

// latencyNote says where rtt runs from and to, when the rows it explains
// are shown: rtt (and rtt_uncorrected in the open model), and read_lag
// only when it has a row.
func latencyNote(r *Report) string {
	shown := func(m string) bool { return r.Latency[m].Count > 0 }
	if !shown("rtt") {
		return ""
	}
	arrival := "when the client read it"
	if r.Harness.RxTimestamps == "kernel" {
		arrival = "the kernel's receive timestamp"
		if shown("read_lag") {
			arrival += " (read_lag: how long it then waited for the client)"
		}
	}
	reply := "echo"
	if r.Scenario.Kind == scenario.KindPing {
		reply = "pong"
	}
	if r.Scenario.Kind == scenario.KindRequest {
		reply = "last expected reply" // rpc
	}
	if r.Model == "open" {
		note := fmt.Sprintf("rtt runs from each message's intended send time (coordinated omission corrected) to its %s's arrival, dated by %s", reply, arrival)
		if shown("rtt_uncorrected") {
			note += "; rtt_uncorrected from when it was actually sent"
		}
		return note + "."
	}
	if r.Harness.RxTimestamps == "kernel" {
		return fmt.Sprintf("rtt runs from each send to its %s's arrival, dated by %s.", reply, arrival)
	}
	return ""
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
	columns(b, head, rows)
}

// columns writes a table's head and rows in right-aligned columns.
func columns(b *strings.Builder, head []string, rows [][]string) {
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
	head, rows := groupRows(r)
	columns(b, head, rows)
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

// requestWhat says what a request run sends and awaits (rpc part): its
// template and key matchers, or the bundled server's JSON-RPC default.
func requestWhat(s scenario.Spec) string {
	rq := scenario.RequestSpec{}
	if s.Request != nil {
		rq = *s.Request
	}
	switch {
	case rq.Send == "" && s.Protocol != "":
		return "the " + s.Protocol + " preset's requests"
	case rq.Send == "":
		return "JSON-RPC echo calls matched by $.id"
	}
	keys := "its matchers"
	if len(rq.Key) > 0 {
		keys = strings.Join(rq.Key, " or ")
	}
	return fmt.Sprintf("%d-byte template, replies matched by %s", len(rq.Send), keys)
}
