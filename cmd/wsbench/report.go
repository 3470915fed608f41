package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

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

Examples:
  wsbench report result.json
  wsbench report --format hgrm --metric rtt -o rtt.hgrm result.json
`

func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportUsage, stdout)
	format := fs.String("format", "text", "text, json, csv or hgrm")
	metric := fs.String("metric", "rtt", "hgrm: the latency metric (rtt, rtt_uncorrected, send_lag, connect, handshake, read_lag)")
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
	var b bytes.Buffer
	switch *format {
	case "text", "json":
		err = results.Encoders[*format](&b, rep)
	case "csv":
		if len(rep.Intervals) == 0 {
			return usagef("--format csv: %s has no intervals (run with --interval)", fs.Arg(0))
		}
		err = results.CSV(&b, rep)
	case "hgrm":
		err = results.HGRM(&b, rep, *metric)
		if err != nil {
			return usagef("--metric: %v", err)
		}
	default:
		return usagef("--format: want text, json, csv or hgrm, got %q", *format)
	}
	if err != nil {
		return failedError{err}
	}
	if *out == "" {
		_, err = stdout.Write(b.Bytes())
		return err
	}
	if err := results.WriteAtomic(*out, b.Bytes()); err != nil {
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

Examples:
  wsbench compare gorilla.json gws.json
  wsbench compare --label gorilla g1.json g2.json g3.json g4.json --label gws w1.json w2.json w3.json w4.json
`

func compareCmd(args []string, stdout, stderr io.Writer) error {
	// --label NAME starts a side; the flag package cannot keep the order of
	// labels and files, so the arguments are read by hand.
	var sides []results.Side
	asJSON := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-h" || a == "--help":
			fmt.Fprint(stdout, compareUsage)
			return errHelp
		case a == "--json":
			asJSON = true
		case a == "--label" || strings.HasPrefix(a, "--label="):
			name, ok := strings.CutPrefix(a, "--label=")
			if !ok {
				if i+1 >= len(args) {
					return usagef("--label: needs a name")
				}
				i++
				name = args[i]
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
	if asJSON {
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return failedError{err}
		}
		_, err = stdout.Write(append(b, '\n'))
		return err
	}
	return results.CompareText(stdout, c)
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
