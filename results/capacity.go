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
	// server, was saturated at a step.
	ClientBound bool `json:"stopped_client_saturated"`
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
}

// Load is what the search varied at step s: its offered rate, or in the
// conns dimension its connection count.
func (c *Capacity) Load(s CapacityStep) float64 {
	if c.Dimension == DimensionConns {
		return float64(s.Conns)
	}
	return s.Offered
}

// verdict is a step's outcome in words.
func (s CapacityStep) verdict() string {
	switch {
	case s.Saturated:
		return "client saturated"
	case !s.Pass:
		return "fails: " + strings.Join(s.Failed, ", ")
	}
	return "holds"
}

// Conclusion is the search's outcome in one sentence.
func (c *Capacity) Conclusion() string {
	unit, first, most := fmt.Sprintf("%.0f msg/s", c.MaxRate), "rate", "rate"
	if c.Dimension == DimensionConns {
		unit = fmt.Sprintf("%d connections at %s msg/s each (%.0f msg/s)", c.MaxConns, fmtNum(c.ConnRate), c.MaxRate)
		first, most = "connection count", "load"
	}
	switch {
	case c.MaxRate == 0 && c.ClientBound:
		return fmt.Sprintf("The client was saturated at the first %s: it cannot measure this server here.", first)
	case c.MaxRate == 0:
		return fmt.Sprintf("Even the first %s breaks the SLO.", first)
	case c.ClientBound:
		return fmt.Sprintf("Held up to %s; then the client, not the server, ran out: the server's limit is higher than this shows.", unit)
	case c.Limit != "":
		return fmt.Sprintf("Held up to %s; the next step was beyond this machine's limits (%s): the server's limit is higher than this shows.", unit, c.Limit)
	case c.HitCeiling:
		return fmt.Sprintf("Held up to --max, %s: the server's limit is higher.", unit)
	}
	return fmt.Sprintf("Maximum sustainable %s: %s.", most, unit)
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
