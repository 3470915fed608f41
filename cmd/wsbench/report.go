package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/internal/cliflag"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
)

//go:embed help/report.txt
var reportUsage string

func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := cliflag.NewSet("report", reportUsage, stdout)
	format := fs.String("format", "text", strings.Join(results.Formats, ", "))
	var names []string
	for _, m := range metrics.Metrics() {
		names = append(names, m.String())
	}
	metric := fs.String("metric", "rtt", "hgrm: the latency metric ("+strings.Join(names, ", ")+")")
	out := fs.StringP("out", "o", "", "write here instead of stdout (atomically)")
	allowPartial := fs.Bool("allow-partial", false, "a folder of shard results: merge even with shards missing (the result says which)") // merge part
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one result file (or a folder of shard results), got %d arguments", fs.NArg())
	}
	var rep *results.Report
	var err error
	if results.IsShardFolder(fs.Arg(0)) { // merge part: a folder of shard results, merged first
		rep, err = mergeShardArgs(fs.Args(), *allowPartial)
		if err != nil {
			return err
		}
	} else if rep, err = results.Read(fs.Arg(0)); err != nil {
		return usageError{err}
	}
	enc, ok := results.Encoders[*format]
	if !ok {
		return usagef("--format: want %s, got %q", cliflag.OrList(results.Formats), *format)
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

// checkOut checks that --out can be written: a file or, for several runs'
// results, a folder (made if need be).
func checkOut(out string, folder bool) error {
	if out == "" {
		return nil
	}
	path := out
	if folder {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return usagef("--out: with several runs it names a folder: %v", err)
		}
		path = filepath.Join(out, "check.json")
	}
	if err := results.CheckWritable(path); err != nil {
		return usagef("--out: %v", err)
	}
	return nil
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
	fs := cliflag.NewSet("compare", compareUsage, stdout)
	fs.Usage = func() { fmt.Fprint(stdout, compareUsage) } // it lists its flags itself
	var format string
	fs.Var(cliflag.Same{P: &format, Name: "format"}, "format", "")
	fs.Var(cliflag.Same{P: &format, Name: "format"}, "json", "")
	fs.Lookup("json").NoOptDefVal = "json"
	out := fs.StringP("out", "o", "", "")
	labels := cliflag.Marks{Args: fs.NArg}
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
	sides, err := results.ReadSides(fs.Args(), labels.Values, labels.First)
	if ue := (*results.UnlabelledError)(nil); errors.As(err, &ue) {
		return usagef("%s: put a --label before the files of each side", ue.File)
	}
	if me := (*results.MergeError)(nil); errors.As(err, &me) { // merge part: a folder of shard results
		return mergeRefusedError{me}
	}
	if err != nil {
		return usageError{err}
	}
	if format != "" && !slices.Contains(results.ViewFormats, format) {
		return usagef("--format: want %s, got %q", cliflag.OrList(results.ViewFormats), format)
	}
	if err := checkOut(*out, false); err != nil {
		return err
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
	if err := results.ComparisonAs(&b, format, c, sides); err != nil {
		return failedError{err}
	}
	return writeOutput(*out, b.Bytes(), stdout)
}
