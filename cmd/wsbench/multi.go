package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// runMulti runs one scenario against several targets, each repeat times,
// interleaved (round 1: A B C, round 2: A B C …) so that drift in the machine
// hits every side alike; it writes each run's result into the folder out
// (<label>-<round>.json), prints a line per run, and compares the sides.
func runMulti(ctx, abort context.Context, spec scenario.Spec, targets []string, bundled bool, repeat int,
	opts driver.Config, thresholds []results.Threshold, out string, stdout, stderr io.Writer) error {
	sides := make([]results.Side, len(targets))
	for i, t := range targets {
		sides[i].Label = labelFor(t, i, targets)
	}
	failed, unreachable := 0, 0
	var writeErr error
	var failure string // the first run's that failed though it ran (results.Report.Failure)
rounds:
	for round := 1; round <= repeat; round++ {
		for i, target := range targets {
			if ctx.Err() != nil {
				break rounds
			}
			s := spec
			s.Target = target
			var rep *results.Report
			var err error
			if s.Procs > 1 {
				rep, err = runSplit(ctx, abort, s, target, bundled, opts, stderr, nil)
			} else {
				cfg := opts
				cfg.Spec, cfg.Target = s, target
				rep, err = runOne(ctx, abort, cfg, bundled)
			}
			if err != nil {
				return failedError{fmt.Errorf("%s, round %d: %w", sides[i].Label, round, err)}
			}
			if !results.ApplyThresholds(rep, thresholds) {
				failed++
			}
			if rep.StopReason == driver.StopNoConnections {
				unreachable++
			} else if rep.Failure != "" && failure == "" {
				failure = fmt.Sprintf("%s, round %d: %s", sides[i].Label, round, rep.Failure)
			}
			if out != "" && writeErr == nil {
				writeErr = rep.WriteFile(filepath.Join(out, fmt.Sprintf("%s-%d.json", sides[i].Label, round)))
			}
			rtt := rep.Latency["rtt"].Summary
			fmt.Fprintf(stdout, "round %d  %-24s %12s msg/s  rtt p50 %s p99 %s  errors %d  %s\n", round, sides[i].Label,
				results.FormatNum(rep.Rates.Received), results.FormatUs(rtt.P50Us), results.FormatUs(rtt.P99Us), rep.ErrorCount(), rep.StopReason)
			sides[i].Reports = append(sides[i].Reports, rep)
		}
	}
	if len(sides) > 1 && len(sides[len(sides)-1].Reports) > 0 {
		c, err := results.Compare(sides)
		if err != nil {
			return failedError{err}
		}
		fmt.Fprintln(stdout)
		if err := results.CompareText(stdout, c); err != nil {
			return failedError{err}
		}
	}
	switch {
	case writeErr != nil:
		return failedError{fmt.Errorf("--out: %w", writeErr)}
	case unreachable > 0:
		return failedError{fmt.Errorf("%d run(s) could open no connection", unreachable)}
	case failure != "":
		return failedError{errors.New(failure)}
	case failed > 0:
		return thresholdError{failed}
	}
	return nil
}

var unsafeLabel = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// labelFor names target i in file names and the comparison: host_port and
// path made safe for a file name, with its position when another target
// would get the same name.
func labelFor(target string, i int, all []string) string {
	base := func(t string) string {
		if u, err := url.Parse(t); err == nil && u.Host != "" {
			return strings.Trim(unsafeLabel.ReplaceAllString(u.Host+u.Path, "_"), "_")
		}
		return "target"
	}
	label := base(target)
	for j, other := range all {
		if j != i && base(other) == label {
			return fmt.Sprintf("%s-%d", label, i+1)
		}
	}
	return label
}
