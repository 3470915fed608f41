package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
)

// runMulti runs p against several targets, each repeat times, interleaved
// (orchestrate.Repeat, judged by an orchestrate.Tally that writes each
// result into the folder out), prints a line per run, compares the sides
// and picks the exit code.
func runMulti(ctx, abort context.Context, p orchestrate.Plan, targets []string, repeat int,
	thresholds []results.Threshold, out string, stdout io.Writer) error {
	tally := orchestrate.Tally{Thresholds: thresholds, Dir: out}
	sides, err := orchestrate.Repeat(ctx, abort, p, targets, repeat, func(o orchestrate.Outcome) {
		tally.Add(o)
		rep, rtt := o.Report, o.Report.Latency["rtt"].Summary
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
	case tally.WriteErr != nil:
		return failedError{fmt.Errorf("--out: %w", tally.WriteErr)}
	case tally.Unreachable > 0:
		return failedError{fmt.Errorf("%d run(s) could open no connection", tally.Unreachable)}
	case tally.Failure != "":
		return failedError{errors.New(tally.Failure)}
	case tally.Failed > 0:
		return thresholdError{tally.Failed}
	}
	return nil
}
