package orchestrate

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/wsbench/wsbench/results"
)

// Outcome is one run of Repeat: its round (from 1), its target's index
// and label, and its report.
type Outcome struct {
	Round, Side int
	Label       string
	Report      *results.Report
}

// Repeat runs p against each of targets, rounds times, interleaved (round
// 1: A B C, round 2: A B C …) so that drift in the machine hits every side
// alike. Each run is split over processes when p.Spec.Procs > 1, else runs
// in this process (One); done sees each outcome as it comes. It returns the
// sides, labelled (Label), with their reports in round order, ready for
// results.Compare. A cancelled ctx ends it after the run under way; an
// error of a run ends it with that error.
func Repeat(ctx, abort context.Context, p Plan, targets []string, rounds int, done func(Outcome)) ([]results.Side, error) {
	sides := make([]results.Side, len(targets))
	for i, t := range targets {
		sides[i].Label = Label(t, i, targets)
	}
	for round := 1; round <= rounds; round++ {
		for i, target := range targets {
			if ctx.Err() != nil {
				return sides, nil
			}
			run := p
			run.Spec.Target, run.Target = target, target
			var rep *results.Report
			var err error
			if run.Spec.Procs > 1 {
				rep, err = Split(ctx, abort, run)
			} else {
				rep, err = One(ctx, abort, run)
			}
			if err != nil {
				return sides, fmt.Errorf("%s, round %d: %w", sides[i].Label, round, err)
			}
			done(Outcome{Round: round, Side: i, Label: sides[i].Label, Report: rep})
			sides[i].Reports = append(sides[i].Reports, rep)
		}
	}
	return sides, nil
}

var unsafeLabel = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Label names target i of all in file names and comparisons: host_port and
// path made safe for a file name, with its position when another target
// would get the same name.
func Label(target string, i int, all []string) string {
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
