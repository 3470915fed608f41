package results

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Capacity search dimensions: what the search raises from step to step.
const (
	// DimensionRate raises the total message rate over a fixed number of
	// connections.
	DimensionRate = "rate"
	// DimensionConns raises the number of connections, each sending at a
	// fixed rate (ConnRate), so the total rate grows with them.
	DimensionConns = "conns"
)

// Capacity is the outcome of a capacity search (wsbench capacity): every
// step measured, in the order it ran, and the highest load at which every
// SLO held. Its JSON field names are a contract, as the Report's are.
type Capacity struct {
	SLOs []string `json:"slos"`
	// Dimension is DimensionRate or DimensionConns.
	Dimension string `json:"dimension"`
	// ConnRate is each connection's rate in the conns dimension (msg/s).
	ConnRate float64 `json:"conn_rate,omitempty"`
	// MaxRate is the highest total rate that held (0: none did); in the
	// conns dimension, MaxConns × ConnRate.
	MaxRate float64 `json:"max_sustainable_rate"`
	// MaxConns is, in the conns dimension, the most connections that held.
	MaxConns int `json:"max_sustainable_conns,omitempty"`
	// HitCeiling says every step up to --max held: the limit is higher.
	HitCeiling bool `json:"held_up_to_max"`
	// ClientBound says the search stopped because the client, not the
	// server, was saturated at a step: MaxRate is then only a lower bound
	// of the server's limit, and ClientLimitedAt the load of that step (in
	// the conns dimension, its connection count).
	ClientBound     bool    `json:"stopped_client_saturated"`
	ClientLimitedAt float64 `json:"client_limited_at,omitempty"`
	// Limit says why the search stopped short of a failing step when the
	// machine's limits (open files, ports) would not allow the next one.
	Limit string         `json:"stopped_by_limit,omitempty"`
	Steps []CapacityStep `json:"steps"`
}

// CapacityStep is one measured load of the search.
type CapacityStep struct {
	Conns     int      `json:"conns"`
	Offered   float64  `json:"offered_rate"`
	Achieved  float64  `json:"achieved_rate"`
	P50Us     float64  `json:"rtt_p50_us"`
	P90Us     float64  `json:"rtt_p90_us"`
	P99Us     float64  `json:"rtt_p99_us"`
	P999Us    float64  `json:"rtt_p999_us"`
	MaxUs     float64  `json:"rtt_max_us"`
	Errors    int64    `json:"errors"`
	Pass      bool     `json:"pass"`
	Saturated bool     `json:"client_saturated"`
	Failed    []string `json:"failed_slos,omitempty"`
	// Saturation says why the client was saturated (Saturated).
	Saturation []string `json:"saturation,omitempty"`
	// SendLag says, when an rtt SLO failed only through the client's own
	// send lag (SendLagBreaks), how: the step then held for the server.
	SendLag string `json:"slo_broken_by_send_lag,omitempty"`
	// The client's evidence at this step: its CPU over the cores it could
	// use, its send lag, the sends that fell due but were never made.
	ClientCPU    float64 `json:"client_cpu_utilization"`
	SendLagP50Us float64 `json:"send_lag_p50_us"`
	SendLagP99Us float64 `json:"send_lag_p99_us"`
	Unsent       int64   `json:"unsent"`
	// MachineCPU is, when the server ran on this machine (not in-process),
	// the busy share of all its CPUs at this step (0: unknown or elsewhere).
	MachineCPU float64 `json:"machine_cpu_utilization,omitempty"`
}

// SendLagBreaks says why the client's own lateness, not the server, broke
// r's failed thresholds, or "" when it did not (nothing failed, or some
// failure is the server's). In the open model rtt is timed from the
// intended send, so it holds the client's send lag; rtt_uncorrected is
// timed from the actual send, and holds everything the server did (a send
// the server is slow to take is stamped when the client queued it). When
// every threshold that failed is on rtt and each holds on rtt_uncorrected,
// the server answered in time and only the client's late sends made the
// step fail. Not with --max-inflight: a connection at its cap sends late
// because the server has not answered.
func SendLagBreaks(r *Report, ts []Threshold) string {
	if r.Scenario.Rate <= 0 || r.Scenario.MaxInflight > 0 {
		return "" // with --max-inflight a slow server holds sends back
	}
	var why []string
	for _, t := range ts {
		if t.Check(r).Pass {
			continue
		}
		stat, ok := strings.CutPrefix(t.Subject, "rtt.")
		if !ok {
			return "" // errors, rates, other metrics: the server's
		}
		u := t
		u.Subject = "rtt_uncorrected." + stat
		res := u.Check(r)
		if !res.Pass {
			return ""
		}
		why = append(why, fmt.Sprintf("%s fails only through the client's send lag (p99 %s): from the actual send it holds (%s)",
			t.Expr, fmtUs(r.Latency["send_lag"].P99Us), fmtUs(res.Actual)))
	}
	return strings.Join(why, "; ")
}

// Load is what the search varied at step s: its offered rate, or in the
// conns dimension its connection count.
func (c *Capacity) Load(s CapacityStep) float64 {
	if c.Dimension == DimensionConns {
		return float64(s.Conns)
	}
	return s.Offered
}

// Held says the server met every SLO at step s: they all held, or the
// only ones that failed did so through the client's send lag.
func (s CapacityStep) Held() bool { return s.Pass || s.SendLag != "" }

// verdict is a step's outcome in words.
func (s CapacityStep) verdict() string {
	switch {
	case s.Saturated:
		return "client-limited"
	case !s.Held():
		return "fails: " + strings.Join(s.Failed, ", ")
	case !s.Pass:
		return "holds from the actual send (client send lag broke " + strings.Join(s.Failed, ", ") + ")"
	}
	return "holds"
}

// Conclusion is the search's outcome in one sentence.
func (c *Capacity) Conclusion() string {
	unit, first, most := fmt.Sprintf("%.0f msg/s", c.MaxRate), "rate", "rate"
	limited := fmt.Sprintf("%.0f msg/s", c.ClientLimitedAt)
	if c.Dimension == DimensionConns {
		unit = fmt.Sprintf("%d connections at %s msg/s each (%.0f msg/s)", c.MaxConns, fmtNum(c.ConnRate), c.MaxRate)
		first, most = "connection count", "load"
		limited = fmt.Sprintf("%.0f connections (%.0f msg/s)", c.ClientLimitedAt, c.ClientLimitedAt*c.ConnRate)
	}
	switch {
	case c.MaxRate == 0 && c.ClientBound:
		return fmt.Sprintf("Client-limited at the first %s, %s: it cannot measure this server here.", first, limited)
	case c.MaxRate == 0:
		return fmt.Sprintf("Even the first %s breaks the SLO.", first) + c.lagNote()
	case c.ClientBound:
		return fmt.Sprintf("Client-limited at %s; the server's limit is at least the last good step, %s.", limited, unit) + c.lagNote()
	case c.Limit != "":
		return fmt.Sprintf("Held up to %s; the next step was beyond this machine's limits (%s): the server's limit is higher than this shows.", unit, c.Limit) + c.lagNote()
	case c.HitCeiling:
		return fmt.Sprintf("Held up to --max, %s: the server's limit is higher.", unit) + c.lagNote()
	}
	return fmt.Sprintf("Maximum sustainable %s: %s.", most, unit) + c.lagNote()
}

// lagNote says how many steps held for the server although the client's
// send lag broke an rtt SLO, and how many ran on a machine too busy to
// measure the server alone.
func (c *Capacity) lagNote() string {
	n := 0
	for _, s := range c.Steps {
		if !s.Saturated && !s.Pass && s.SendLag != "" {
			n++
		}
	}
	note := ""
	if n > 0 {
		note = fmt.Sprintf(" At %d of %d steps only the client's send lag broke an rtt SLO: they were judged by rtt_uncorrected (from the actual send).", n, len(c.Steps))
	}
	busy := 0
	for _, s := range c.Steps {
		if s.MachineCPU > SaturatedCPU {
			busy++
		}
	}
	if busy > 0 {
		note += fmt.Sprintf(" At %d of %d steps this machine's CPUs were over %.0f%% busy with the server on it: client and server (and anything else running) competed for the cores, so those figures show the machine, not the server alone.",
			busy, len(c.Steps), 100*SaturatedCPU)
	}
	return note
}

// CapacityText writes the steps as a table, the SLOs and the conclusion.
func CapacityText(w io.Writer, c *Capacity) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	if c.Dimension == DimensionConns {
		fmt.Fprint(tw, "conns\t")
	}
	fmt.Fprintf(tw, "offered msg/s\tachieved msg/s\trtt p50\trtt p99\trtt p99.9\terrors\tSLO\t\n")
	for _, s := range c.Steps {
		if c.Dimension == DimensionConns {
			fmt.Fprintf(tw, "%d\t", s.Conns)
		}
		fmt.Fprintf(tw, "%.0f\t%.0f\t%s\t%s\t%s\t%d\t%s\t\n", s.Offered, s.Achieved, fmtUs(s.P50Us), fmtUs(s.P99Us), fmtUs(s.P999Us), s.Errors, s.verdict())
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nSLO: %s\n%s\n", strings.Join(c.SLOs, " and "), c.Conclusion())
	_, err := io.WriteString(w, b.String())
	return err
}

// CapacityJSON writes the search as indented JSON.
func CapacityJSON(w io.Writer, c *Capacity) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
