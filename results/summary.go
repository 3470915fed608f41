package results

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// The run summary is made once, as rows of text, and rendered twice: the
// text summary (Text) aligns them in columns, the HTML page (WriteHTML)
// puts them in tables. Whatever one shows, the other shows too.

// summaryRow is one row of the summary's first table: what it counts
// (Label), its figures (Cells; an empty last cell closes the row in the
// text's columns) and, for messages, the balance check (Check, OK).
type summaryRow struct {
	Label string
	Cells []string
	Check string
	OK    bool
}

// summaryRows are the rows of the summary's first table: connections,
// messages, the schedule, broadcast delivery, compression, throughput and
// the harness's CPU, each where it applies.
func summaryRows(r *Report) []summaryRow {
	var rows []summaryRow
	row := func(label string, cells ...string) { rows = append(rows, summaryRow{Label: label, Cells: cells}) }
	c, m := r.Connections, r.Messages
	dropped := fmt.Sprintf("dropped %d", c.Dropped)
	if r.Scenario.Reconnect > 0 {
		dropped += fmt.Sprintf(", reconnected %d", c.Reconnects)
	}
	row("Connections", fmt.Sprintf("attempted %d", c.Attempted), fmt.Sprintf("opened %d", c.Opened), fmt.Sprintf("failed %d", c.Failed),
		fmt.Sprintf("in %s (%s/s)", fmtDur(time.Duration(c.DialS*float64(time.Second))), fmtNum(c.OpenedPerS)), dropped)
	if k := r.Scenario.Kind; k == scenario.KindRequest || k == scenario.KindFlow {
		// rpc: requests end answered, timed out or failed too (flowrun: a flow's sends alike).
		label := "Requests"
		if k == scenario.KindFlow {
			label = "Messages"
		}
		row(label, fmt.Sprintf("sent %d", m.Sent), fmt.Sprintf("answered %d", m.Received), fmt.Sprintf("timed out %d", m.TimedOut),
			fmt.Sprintf("failed %d  lost %d  in flight %d  unsolicited %d", m.Failed, m.Lost, m.InFlight, m.Unsolicited))
		rows[len(rows)-1].Check, rows[len(rows)-1].OK = "✓ sent = answered + timed out + failed + lost + in flight", true
		if !m.Balanced {
			rows[len(rows)-1].Check, rows[len(rows)-1].OK = "✗ sent ≠ answered + timed out + failed + lost + in flight", false
		}
	} else {
		row("Messages", fmt.Sprintf("sent %d", m.Sent), fmt.Sprintf("received %d", m.Received), fmt.Sprintf("lost %d", m.Lost), fmt.Sprintf("in flight %d", m.InFlight))
		rows[len(rows)-1].Check, rows[len(rows)-1].OK = "✓ sent = received + lost + in flight", true
		if !m.Balanced {
			rows[len(rows)-1].Check, rows[len(rows)-1].OK = "✗ sent ≠ received + lost + in flight", false
		}
	}
	if f := r.Flow; f != nil { // flowrun: a flow's sends that await no reply, and its sessions
		rows[len(rows)-1].Check = strings.Replace(rows[len(rows)-1].Check, "in flight", "in flight + no reply", 1)
		row("Flow", fmt.Sprintf("sessions %d", f.Sessions), fmt.Sprintf("failed %d", f.SessionsFailed),
			fmt.Sprintf("steps awaited %d", f.Awaited), fmt.Sprintf("no reply %d", f.NoReply))
	}
	if r.Model == "open" {
		row("Schedule", fmt.Sprintf("target %s msg/s", fmtNum(r.Rates.Target)), fmt.Sprintf("sent %s msg/s", fmtNum(r.Rates.Sent)), fmt.Sprintf("unsent %d", m.Unsent), "")
	}
	if bc := r.Broadcast; bc != nil {
		row("Broadcast", fmt.Sprintf("rooms of %d, %d publishing", bc.RoomSize, bc.Publishers), fmt.Sprintf("delivered %d of %d", bc.Deliveries, bc.Expected),
			fmt.Sprintf("reach %.4f", bc.Reach), fmt.Sprintf("gaps %d  late %d  duplicates %d  in grace %d  %s deliveries/s", bc.Gaps, bc.Late, bc.Duplicates, bc.InGrace, fmtNum(bc.PerSecond)))
	}
	if st := r.Stream; st != nil { // stream part
		row("Stream", streamRow(st, r.Latency[metrics.Gap.String()])...)
	}
	if z := r.Compression; z != nil {
		row("Compression", "permessage-deflate",
			fmt.Sprintf("sent %s → %s (%.2f×)", fmtBytes(float64(z.RawSent)), fmtBytes(float64(z.WireSent)), z.SentRatio),
			fmt.Sprintf("received %s → %s (%.2f×)", fmtBytes(float64(z.WireReceived)), fmtBytes(float64(z.RawReceived)), z.ReceivedRatio), "")
	}
	row("Throughput", fmtNum(r.Rates.Sent)+" msg/s sent", fmtNum(r.Rates.Received)+" msg/s received",
		fmtBytes(r.Rates.BytesSent)+"/s sent", fmtBytes(r.Rates.BytesReceived)+"/s received")
	if h := r.Harness; h.CPUUserS+h.CPUSysS > 0 {
		who := "client"
		if h.InProcessServer {
			who = "client + in-process server"
		}
		row("Harness CPU", fmt.Sprintf("%.2f cores (%s)", h.CPUCores, who), fmt.Sprintf("%.2f µs per message", h.CPUPerMessageUs),
			"max RSS "+fmtBytes(float64(h.MaxRSSKiB)*1024), "I/O "+string(h.IO))
	}
	return rows
}

// latencyRows is the latency table: a row per metric that recorded
// something, its count and its percentiles.
func latencyRows(r *Report) (head []string, rows [][]string) {
	head = []string{"Latency", "count", "min", "mean", "p50", "p90", "p99", "p99.9", "max"}
	for _, metric := range metrics.Metrics() {
		l, ok := r.Latency[metric.String()]
		if !ok || l.Count == 0 {
			continue
		}
		label := metric.String()
		if metric == metrics.Delivery && r.Stream != nil && r.Stream.Clocks == ClocksUnsynchronised {
			label += " (unsynchronised clocks)" // stream part: the server's clock is another machine's
		}
		rows = append(rows, []string{label, fmt.Sprint(l.Count),
			fmtUs(l.MinUs), fmtUs(l.MeanUs), fmtUs(l.P50Us), fmtUs(l.P90Us), fmtUs(l.P99Us), fmtUs(l.P999Us), fmtUs(l.MaxUs)})
	}
	return head, rows
}

// groupRows is a mix's table of groups: each group's kind, connections,
// rates, errors and the percentiles of the metric that says most of it.
func groupRows(r *Report) (head []string, rows [][]string) {
	head = []string{"Group", "kind", "conns", "opened", "dropped", "sent/s", "received/s", "errors", "metric", "p50", "p99", "max"}
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
		rows = append(rows, []string{g.Group, string(kind), fmt.Sprint(g.Scenario.Conns), fmt.Sprint(g.Connections.Opened),
			fmt.Sprint(g.Connections.Dropped), fmtNum(g.Rates.Sent), fmtNum(g.Rates.Received), fmt.Sprint(g.ErrorCount()), metric, p50, p99, mx})
	}
	return head, rows
}

// errorRows are the error kinds and their counts, by kind.
func errorRows(r *Report) [][2]string {
	kinds := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	rows := make([][2]string, len(kinds))
	for i, k := range kinds {
		rows[i] = [2]string{k, fmt.Sprint(r.Errors[k])}
	}
	return rows
}

// thresholdRow is one threshold's verdict and what was measured.
type thresholdRow struct {
	Threshold, Verdict, Measured string
	Pass                         bool
}

func thresholdRows(r *Report) []thresholdRow {
	var rows []thresholdRow
	for _, t := range r.Thresholds {
		verdict := "✓ pass"
		if !t.Pass {
			verdict = "✗ FAIL"
		}
		subject := strings.TrimSpace(strings.FieldsFunc(t.Threshold, func(c rune) bool { return c == '<' || c == '>' })[0])
		rows = append(rows, thresholdRow{Threshold: t.Threshold, Verdict: verdict, Measured: formatActual(subject, t.Actual), Pass: t.Pass})
	}
	return rows
}
