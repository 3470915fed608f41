package orchestrate

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/wsbench/wsbench/driver"
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

// Tally judges the runs of a Repeat as they come (Add): each against the
// thresholds, each written as <label>-<round>.json into Dir when set.
type Tally struct {
	Thresholds []results.Threshold
	Dir        string
	// Failed counts the runs whose thresholds did not all pass;
	// Unreachable, those that could open no connection.
	Failed, Unreachable int
	// Failure is the first failure of a run that did run (Report.Failure),
	// with its label and round.
	Failure string
	// WriteErr is the first result that could not be written; later ones
	// are not tried.
	WriteErr error
}

// Add judges o (applying the thresholds to its report) and writes it.
func (t *Tally) Add(o Outcome) {
	rep := o.Report
	if !results.ApplyThresholds(rep, t.Thresholds) {
		t.Failed++
	}
	if rep.StopReason == driver.StopNoConnections {
		t.Unreachable++
	} else if rep.Failure != "" && t.Failure == "" {
		t.Failure = fmt.Sprintf("%s, round %d: %s", o.Label, o.Round, rep.Failure)
	}
	if t.Dir != "" && t.WriteErr == nil {
		t.WriteErr = rep.WriteFile(filepath.Join(t.Dir, fmt.Sprintf("%s-%d.json", o.Label, o.Round)))
	}
}
