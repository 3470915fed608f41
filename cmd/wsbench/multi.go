package main

import (
	"context"
	"fmt"
	"io"

	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
)

// runMulti runs p against several targets, each repeat times, interleaved
// (orchestrate.Series, judged by an orchestrate.Tally that writes each
// result into the folder out), and picks the exit code.
func runMulti(ctx, abort context.Context, p orchestrate.Plan, targets []string, repeat int,
	thresholds []results.Threshold, out string, stdout io.Writer) error {
	tally := orchestrate.Tally{Thresholds: thresholds, Dir: out}
	err := orchestrate.Series(ctx, abort, p, targets, repeat, &tally, stdout)
	switch {
	case err != nil:
		return failedError{withFlag(err)}
	case tally.WriteErr != nil:
		return failedError{fmt.Errorf("--out: %w", tally.WriteErr)}
	case tally.Err() != nil:
		return failedError{tally.Err()}
	case tally.Failed > 0:
		return thresholdError{tally.Failed}
	}
	return nil
}
