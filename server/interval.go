package server

import (
	"context"
	"fmt"
	"math"
	"time"
)

// IntervalStats is the server's Stats plus figures for an interval since an
// earlier Stats (or since the server started): what `wsbench serve
// --stats-interval` prints.
type IntervalStats struct {
	Stats
	// IntervalSeconds is the interval's length, measured.
	IntervalSeconds float64 `json:"interval_s"`
	// IntervalCPUCores is the process's CPU time in the interval divided by
	// its length.
	IntervalCPUCores float64 `json:"interval_cpu_cores"`
	// IntervalMessagesInPerSecond is the messages received in the interval
	// divided by its length.
	IntervalMessagesInPerSecond float64 `json:"interval_messages_in_per_s"`
}

// Interval is cur with the figures of the interval since prev; an interval
// of no length has none.
func Interval(prev, cur Stats) IntervalStats {
	// Six decimal places: the server's figures are in microseconds.
	micro := func(x float64) float64 { return math.Round(x*1e6) / 1e6 }
	st := IntervalStats{Stats: cur}
	if secs := cur.UptimeSeconds - prev.UptimeSeconds; secs > 0 {
		cpu := cur.CPUUserSeconds + cur.CPUSysSeconds - prev.CPUUserSeconds - prev.CPUSysSeconds
		st.IntervalSeconds = micro(secs)
		st.IntervalCPUCores = micro(cpu / secs)
		st.IntervalMessagesInPerSecond = micro(float64(cur.MessagesIn-prev.MessagesIn) / secs)
	}
	return st
}

// Intervals calls each with the server's figures (Interval) every interval
// until ctx is done; with every <= 0 it only waits for ctx. each is never
// called once Intervals has returned: stop the server after it.
func (s *Server) Intervals(ctx context.Context, every time.Duration, each func(IntervalStats)) {
	if every <= 0 {
		<-ctx.Done()
		return
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	prev := s.Stats()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			cur := s.Stats()
			each(Interval(prev, cur))
			prev = cur
		}
	}
}

// Settings says what a server runs with, as `wsbench serve` announces it:
// "mode echo, I/O io_uring, permessage-deflate on" and, with a Delay,
// ", delay exp:5ms".
func (s *Server) Settings() string {
	deflate := "on"
	if s.cfg.DisableDeflate {
		deflate = "off"
	}
	line := fmt.Sprintf("mode %s, I/O %s, permessage-deflate %s", s.cfg.Mode, s.Stats().IO, deflate)
	if !s.cfg.Delay.IsZero() {
		line += ", delay " + s.cfg.Delay.String()
	}
	if s.cfg.StallFor > 0 { // netns (issue 16)
		line += fmt.Sprintf(", stall %v at %s", s.cfg.StallFor, s.cfg.StallAt.UTC().Format(time.RFC3339Nano))
	}
	return line
}
