package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
)

//go:embed help/report.txt
var reportUsage string

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

//go:embed help/compare.txt
var compareUsage string

func compareCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", compareUsage, stdout)
	fs.Usage = func() { fmt.Fprint(stdout, compareUsage) } // it lists its flags itself
	var format string
	fs.Var(formatFlag{&format}, "format", "")
	fs.Var(formatFlag{&format}, "json", "")
	fs.Lookup("json").NoOptDefVal = "json"
	out := fs.StringP("out", "o", "", "")
	labels := labelFlag{fs: fs}
	fs.Var(&labels, "label", "")
	if err := parse(fs, args); err != nil {
		var vr *pflag.ValueRequiredError
		if errors.As(err, &vr) && vr.GetFlag().Name == "label" {
			return usagef("--label: needs a name")
		} else if errors.As(err, &vr) {
			return usagef("--%s: needs a value", vr.GetFlag().Name)
		}
		return err
	}
	// --label NAME starts a side: the files after it, up to the next label;
	// with no label, each file is a side.
	sides := labels.sides
	for i, a := range fs.Args() {
		rep, err := results.Read(a)
		if err != nil {
			return usageError{err}
		}
		side := sort.SearchInts(labels.first, i+1) - 1 // the last label before it
		switch {
		case labels.sides == nil:
			sides, side = append(sides, results.Side{Label: strings.TrimSuffix(filepath.Base(a), ".json")}), len(sides)
		case side < 0:
			return usagef("%s: put a --label before the files of each side", a)
		}
		sides[side].Reports = append(sides[side].Reports, rep)
	}
	switch format {
	case "", "text", "json", "html":
	default:
		return usagef("--format: want text, json or html, got %q", format)
	}
	if *out != "" {
		if err := results.CheckWritable(*out); err != nil {
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
	return writeOutput(*out, b.Bytes(), stdout)
}

// formatFlag is compare's --format, and --json for --format json: given
// twice, they must agree.
type formatFlag struct{ p *string }

func (f formatFlag) String() string { return *f.p }
func (f formatFlag) Type() string   { return "string" }
func (f formatFlag) Set(v string) error {
	if *f.p != "" && *f.p != v {
		return flagErrorf("format", "given as both %s and %s", *f.p, v)
	}
	*f.p = v
	return nil
}

// labelFlag is compare's --label NAME: a side, whose files are the
// arguments from first on, up to the next label's.
type labelFlag struct {
	fs    *pflag.FlagSet
	sides []results.Side
	first []int
}

func (f *labelFlag) String() string { return "" }
func (f *labelFlag) Type() string   { return "string" }
func (f *labelFlag) Set(v string) error {
	// pflag appends each argument to Args as it reads it: the files so far.
	f.sides, f.first = append(f.sides, results.Side{Label: v}), append(f.first, f.fs.NArg())
	return nil
}
