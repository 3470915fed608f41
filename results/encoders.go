package results

import (
	"errors"
	"io"
)

// Encoder writes a report in one format. Options carry what some formats
// need besides the report (hgrm: the metric).
type Encoder func(io.Writer, *Report, Options) error

// Options are an encoder's settings besides the report.
type Options struct {
	// Metric is the latency metric hgrm writes (default rtt).
	Metric string
}

// Encoders maps a format name to its encoder: every format a report is
// written in (wsbench run prints text or json; wsbench report writes any).
var Encoders = map[string]Encoder{
	"text": func(w io.Writer, r *Report, _ Options) error { return Text(w, r) },
	"json": func(w io.Writer, r *Report, _ Options) error { return JSON(w, r) },
	"csv":  func(w io.Writer, r *Report, _ Options) error { return CSV(w, r) },
	"hgrm": func(w io.Writer, r *Report, o Options) error { return HGRM(w, r, cmpOr(o.Metric, "rtt")) },
	"html": func(w io.Writer, r *Report, _ Options) error { return WriteHTML(w, r) },
}

// Formats are the names of Encoders, in the order help lists them.
var Formats = []string{"text", "json", "csv", "hgrm", "html"}

// AskError is an encoder's error about what was asked of it, not about
// writing: csv of a result without intervals, hgrm of a metric the run did
// not record.
type AskError struct{ Err error }

func (e *AskError) Error() string { return e.Err.Error() }
func (e *AskError) Unwrap() error { return e.Err }

var errNoIntervals = &AskError{errors.New(`the result has no intervals (its scenario set no "interval")`)}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
