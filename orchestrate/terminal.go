package orchestrate

import (
	"context"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/wsbench/wsbench/results"
)

// ShowStatus says whether a run shows its live status on w: never when
// quiet; when force (--progress) or w is a terminal.
func ShowStatus(w io.Writer, quiet, force bool) bool {
	f, ok := w.(*os.File)
	return !quiet && (force || ok && term.IsTerminal(int(f.Fd())))
}

// Attend hooks a run's live status on w (when show; see ShowStatus) and
// the watch on its :abort thresholds into p, and returns the context that
// ends when one of those fails and the status to finish (Done) after the
// run; nil when none is shown.
func Attend(ctx context.Context, p *Plan, w io.Writer, show bool, watch *results.Watch) (context.Context, *Status) {
	var st *Status
	if show {
		st = NewStatus(w, p.Spec)
	}
	if st != nil {
		p.OnInterval, p.OnTick = st.Interval, st.Tick // each interval is expanded for it
	}
	if watch != nil {
		ctx, p.OnInterval = WatchThresholds(ctx, watch, p.OnInterval)
	}
	return ctx, st
}
