package orchestrate

import (
	"context"
	"fmt"
	"time"

	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// ConnsBounds are a search's first and highest load in the conns
// dimension, when not given: connection counts.
const (
	ConnsStart = 10
	ConnsMax   = 10000
)

// RunPlan runs the search in this process, each step a run of p (its
// target, driver settings and version) at the step's load, p.Compiled's
// files read once; name names the settings in the errors of a step that
// does not compile or fit (NameFields). ctx ends the search as
// interrupted; abort stops a step at once. progress is as Run's.
func (s Search) RunPlan(ctx, abort context.Context, p Plan, name func(key string) string, progress func(string)) (*results.Capacity, error) {
	fits := func(sp scenario.Spec) error { return NameFields(Preflight(sp, len(p.Compiled.Sources)), name) }
	measure := func(sp scenario.Spec) (*results.Report, error) {
		c, err := p.Compiled.Recompile(sp)
		if err != nil {
			return nil, NameFields(err, name)
		}
		step := p
		step.Spec, step.Compiled = c.Spec, c
		return One(ctx, abort, step)
	}
	return s.Run(measure, fits, func() bool { return ctx.Err() != nil }, progress)
}

// Check says what is wrong with b and a step's measured duration, as a
// FieldError on the first bad one (keys "start", "max", "precision" and
// "step"); nil when nothing is.
func (b Bounds) Check(step time.Duration) error {
	bad := func(key, format string, a ...any) error {
		return &FieldError{Key: key, Err: fmt.Errorf(format, a...)}
	}
	switch {
	case b.Start <= 0:
		return bad("start", "must be positive, got %g", b.Start)
	case b.Max < b.Start:
		return bad("max", "%g is below %s %g", b.Max, scenario.Ref("start"), b.Start)
	case b.Precision <= 0 || b.Precision >= 1:
		return bad("precision", "want a fraction between 0 and 1, got %g", b.Precision)
	case step <= 0:
		return bad("step", "must be positive, got %s", step)
	}
	return nil
}
