package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
)

// runMulti runs p against several targets, each repeat times, interleaved
// (orchestrate.Repeat); it writes each run's result into the folder out
// (<label>-<round>.json), prints a line per run, compares the sides and
// picks the exit code.
func runMulti(ctx, abort context.Context, p orchestrate.Plan, targets []string, repeat int,
	thresholds []results.Threshold, out string, stdout io.Writer) error {
	failed, unreachable := 0, 0
	var writeErr error
	var failure string // the first run's that failed though it ran (results.Report.Failure)
	sides, err := orchestrate.Repeat(ctx, abort, p, targets, repeat, func(o orchestrate.Outcome) {
		rep := o.Report
		if !results.ApplyThresholds(rep, thresholds) {
			failed++
		}
		if rep.StopReason == driver.StopNoConnections {
			unreachable++
		} else if rep.Failure != "" && failure == "" {
			failure = fmt.Sprintf("%s, round %d: %s", o.Label, o.Round, rep.Failure)
		}
		if out != "" && writeErr == nil {
			writeErr = rep.WriteFile(filepath.Join(out, fmt.Sprintf("%s-%d.json", o.Label, o.Round)))
		}
		rtt := rep.Latency["rtt"].Summary
		fmt.Fprintf(stdout, "round %d  %-24s %12s msg/s  rtt p50 %s p99 %s  errors %d  %s\n", o.Round, o.Label,
			results.FormatNum(rep.Rates.Received), results.FormatUs(rtt.P50Us), results.FormatUs(rtt.P99Us), rep.ErrorCount(), rep.StopReason)
	})
	if err != nil {
		return failedError{withFlag(err)}
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
