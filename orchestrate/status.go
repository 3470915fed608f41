package orchestrate

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// Status is the live line (on a terminal's stderr) while a run measures: a
// progress bar over the measured window and, after each interval, its
// message rate, p50 and p99 of the round trip, the connections open and the
// errors so far. Its methods do nothing on a nil Status.
type Status struct {
	bar    *progressbar.ProgressBar
	errors int64
}

// NewStatus starts the live line of a run of spec on w; it is nil (shows
// nothing) when spec has no intervals to show.
func NewStatus(w io.Writer, spec scenario.Spec) *Status {
	if spec.Interval == 0 {
		return nil
	}
	total := int64(time.Duration(spec.Duration) / time.Millisecond)
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(fmt.Sprintf("warming up %s, then measuring", spec.Warmup)),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionFullWidth(),
	)
	return &Status{bar: bar}
}

// Interval updates the line with a finished interval (Plan.OnInterval).
func (s *Status) Interval(iv driver.Interval) {
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
		rate = float64(snap.Counts.Received+snap.Counts.Stream) / secs // stream part: a stream's messages too
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

// Tick moves the bar to elapsed when no intervals come (Plan.OnTick: a
// split run, whose processes report only at the end).
func (s *Status) Tick(elapsed time.Duration, desc string) {
	if s == nil {
		return
	}
	s.bar.Describe(desc)
	s.bar.Set64(int64(elapsed / time.Millisecond))
}

// Done clears the line before the summary is printed.
func (s *Status) Done() {
	if s != nil {
		s.bar.Finish()
	}
}
