package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/wsbench/wsbench/results"
)

// Series runs p against several targets, rounds times each, interleaved
// (Repeat), judges each run with tally (which writes it into tally.Dir),
// prints a line per run to w (Outcome.Line) and then, with two sides or
// more, their comparison. The tally says how the runs went; the error,
// why the series could not go on or be compared.
func Series(ctx, abort context.Context, p Plan, targets []string, rounds int, tally *Tally, w io.Writer) error {
	sides, err := Repeat(ctx, abort, p, targets, rounds, func(o Outcome) {
		tally.Add(o)
		fmt.Fprintln(w, o.Line())
	})
	if err != nil || len(sides) < 2 || len(sides[len(sides)-1].Reports) == 0 {
		return err
	}
	c, err := results.Compare(sides)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	return results.CompareText(w, c)
}

// Line is one line on o's run: round, label, received rate, rtt p50 and
// p99, errors and stop reason.
func (o Outcome) Line() string {
	rep, rtt := o.Report, o.Report.Latency["rtt"].Summary
	return fmt.Sprintf("round %d  %-24s %12s msg/s  rtt p50 %s p99 %s  errors %d  %s", o.Round, o.Label,
		results.FormatNum(rep.Rates.Received), results.FormatUs(rtt.P50Us), results.FormatUs(rtt.P99Us), rep.ErrorCount(), rep.StopReason)
}

// Err is why the runs tallied failed, apart from their thresholds (Failed)
// and the writing of their results (WriteErr): runs that opened no
// connection, else the first run's failure; nil when none did.
func (t *Tally) Err() error {
	switch {
	case t.Unreachable > 0:
		return fmt.Errorf("%d run(s) could open no connection", t.Unreachable)
	case t.Failure != "":
		return errors.New(t.Failure)
	}
	return nil
}
