package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// status is the live line on stderr while a run measures: a progress bar over
// the measured window and, after each interval, its message rate, p50 and p99
// of the round trip and the errors so far. It shows only when stderr is a
// terminal (or force is set), never with quiet.
type status struct {
	bar    *progressbar.ProgressBar
	errors int64
}

func newStatus(stderr io.Writer, spec scenario.Spec, quiet, force bool) *status {
	f, isFile := stderr.(*os.File)
	if quiet || spec.Interval == 0 || (!force && !(isFile && term.IsTerminal(int(f.Fd())))) {
		return nil
	}
	total := int64(time.Duration(spec.Duration) / time.Millisecond)
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(fmt.Sprintf("warming up %s, then measuring", spec.Warmup)),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionFullWidth(),
	)
	return &status{bar: bar}
}

// interval updates the line with a finished interval.
func (s *status) interval(iv driver.Interval) {
	if s == nil {
		return
	}
	snap := iv.Snapshot
	for _, v := range snap.Errors {
		s.errors += v
	}
	secs := (iv.End - iv.Start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(snap.Counts.Received) / secs
	}
	rtt := snap.Hist[metrics.RTT]
	desc := fmt.Sprintf("%8.0f msg/s", rate)
	if rtt != nil && rtt.Count() > 0 {
		desc += fmt.Sprintf("  rtt p50 %v p99 %v", rtt.Percentile(50).Round(time.Microsecond), rtt.Percentile(99).Round(time.Microsecond))
	}
	desc += fmt.Sprintf("  conns %d  errors %d", iv.Open, s.errors)
	s.bar.Describe(desc)
	s.bar.Set64(int64(iv.End / time.Millisecond))
}

// tick moves the bar to elapsed when no intervals come (a --procs run,
// whose processes report only at the end).
func (s *status) tick(elapsed time.Duration, desc string) {
	if s == nil {
		return
	}
	s.bar.Describe(desc)
	s.bar.Set64(int64(elapsed / time.Millisecond))
}

// done clears the line before the summary is printed.
func (s *status) done() {
	if s != nil {
		s.bar.Finish()
	}
}
