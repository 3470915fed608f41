package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
)

const reportUsage = `Usage: wsbench report [flags] FILE

Print a saved result (wsbench run -o FILE) again, in another format:
  text  the summary wsbench run prints (default)
  json  the result document
  csv   one row per interval (--interval of the run): rates, errors and
        p50/p90/p99/max of each latency metric, for spreadsheets
  hgrm  HdrHistogram's percentile distribution of one latency metric
        (--metric, default rtt), in milliseconds, as HdrHistogram's plotter reads it
  html  one self-contained page that opens offline: the summary, the
        harness verdict and warnings, each latency metric's percentile
        spectrum, latency, message rate, connections and errors over time
        (from the intervals), and the settings

Examples:
  wsbench report result.json
  wsbench report --format hgrm --metric rtt -o rtt.hgrm result.json
  wsbench report --format html -o result.html result.json
`

func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportUsage, stdout)
	format := fs.String("format", "text", strings.Join(results.Formats, ", "))
	var names []string
	for _, m := range metrics.Metrics() {
		names = append(names, m.String())
	}
	metric := fs.String("metric", "rtt", "hgrm: the latency metric ("+strings.Join(names, ", ")+")")
	out := fs.StringP("out", "o", "", "write here instead of stdout (atomically)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one result file, got %d arguments", fs.NArg())
	}
	rep, err := results.Read(fs.Arg(0))
	if err != nil {
		return usageError{err}
	}
	enc, ok := results.Encoders[*format]
	if !ok {
		return usagef("--format: want %s, got %q", orList(results.Formats), *format)
	}
	if *format == "csv" && len(rep.Intervals) == 0 {
		return usagef("--format csv: %s has no intervals (run with --interval)", fs.Arg(0))
	}
	var b bytes.Buffer
	if err := enc(&b, rep, results.Options{Metric: *metric}); err != nil {
		if ask := (*results.AskError)(nil); errors.As(err, &ask) {
			return usagef("--metric: %v", err)
		}
		return failedError{err}
	}
	return writeOutput(*out, b.Bytes(), stdout)
}

// orList is "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// writeOutput writes b to the file out (atomically) or, without one, to stdout.
func writeOutput(out string, b []byte, stdout io.Writer) error {
	if out == "" {
		_, err := stdout.Write(b)
		return err
	}
	if err := results.WriteAtomic(out, b); err != nil {
		return failedError{fmt.Errorf("--out: %w", err)}
	}
	return nil
}

const compareUsage = `Usage: wsbench compare [flags] FILE FILE [FILE…]
       wsbench compare [flags] --label NAME FILE… --label NAME FILE…

Compare saved results side by side: message rate, errors, client CPU and the
percentiles of every latency metric, each side against the first. With one
file per side, each file is a side. With --label, the files after each label
are repeated runs of one side: each side shows the median of its runs and
their spread, and a change counts only when a Mann-Whitney U test finds it
significant (p < 0.05), the way benchstat does, so noise is not called a win.

Flags:
  --label NAME       the files after it are the runs of side NAME
  --format FORMAT    text (default), json, or html: one self-contained page
                     with the table and, for each latency metric, every
                     side's percentile spectrum overlaid
  --json             the same as --format json
  -o, --out FILE     write here instead of stdout (atomically)

Examples:
  wsbench compare gorilla.json gws.json
  wsbench compare --label gorilla g1.json g2.json g3.json g4.json --label gws w1.json w2.json w3.json w4.json
  wsbench compare --format html -o compare.html gorilla.json gws.json
`

func compareCmd(args []string, stdout, stderr io.Writer) error {
	// --label NAME starts a side; the flag package cannot keep the order of
	// labels and files, so the arguments are read by hand.
	var sides []results.Side
	format, out := "", ""
	// value reads the value of flag a: after its "=" or the next argument.
	value := func(i *int, a, name string) (string, error) {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, nil
		}
		if *i+1 >= len(args) {
			return "", usagef("%s: needs a value", name)
		}
		*i++
		return args[*i], nil
	}
	setFormat := func(f string) error {
		if format != "" && format != f {
			return usagef("--format: given as both %s and %s", format, f)
		}
		format = f
		return nil
	}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-h" || a == "--help":
			fmt.Fprint(stdout, compareUsage)
			return errHelp
		case a == "--json":
			if err := setFormat("json"); err != nil {
				return err
			}
		case a == "--format" || strings.HasPrefix(a, "--format="):
			f, err := value(&i, a, "--format")
			if err != nil {
				return err
			}
			if err := setFormat(f); err != nil {
				return err
			}
		case a == "-o" || a == "--out" || strings.HasPrefix(a, "--out="):
			if a == "-o" {
				a = "--out"
			}
			o, err := value(&i, a, "--out")
			if err != nil {
				return err
			}
			out = o
		case a == "--label" || strings.HasPrefix(a, "--label="):
			name, err := value(&i, a, "--label")
			if err != nil {
				return usagef("--label: needs a name")
			}
			sides = append(sides, results.Side{Label: name})
		case strings.HasPrefix(a, "-"):
			return usagef("unknown flag: %s", a)
		default:
			rep, err := results.Read(a)
			if err != nil {
				return usageError{err}
			}
			if len(sides) == 0 && labelled(args) {
				return usagef("%s: put a --label before the files of each side", a)
			}
			if !labelled(args) {
				sides = append(sides, results.Side{Label: strings.TrimSuffix(filepath.Base(a), ".json")})
			}
			sides[len(sides)-1].Reports = append(sides[len(sides)-1].Reports, rep)
		}
	}
	switch format {
	case "", "text", "json", "html":
	default:
		return usagef("--format: want text, json or html, got %q", format)
	}
	if out != "" {
		if err := results.CheckWritable(out); err != nil {
			return usagef("--out: %v", err)
		}
	}
	for _, s := range sides {
		if len(s.Reports) == 0 {
			return usagef("--label %s: no result files after it", s.Label)
		}
	}
	if len(sides) < 2 {
		return usagef("want at least two sides to compare, got %d", len(sides))
	}
	c, err := results.Compare(sides)
	if err != nil {
		return usageError{err}
	}
	var b bytes.Buffer
	switch format {
	case "json":
		j, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return failedError{err}
		}
		b.Write(append(j, '\n'))
	case "html":
		err = results.CompareHTML(&b, c, sides)
	default:
		err = results.CompareText(&b, c)
	}
	if err != nil {
		return failedError{err}
	}
	return writeOutput(out, b.Bytes(), stdout)
}

// labelled reports whether the compare arguments group files under --label.
func labelled(args []string) bool {
	for _, a := range args {
		if a == "--label" || strings.HasPrefix(a, "--label=") {
			return true
		}
	}
	return false
}
