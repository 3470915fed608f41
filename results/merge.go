package results

import (
	"errors"
	"fmt"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// Process is one client process's share of a run split with --procs.
type Process struct {
	Index      int                `json:"index"`
	FirstSlot  int                `json:"first_slot"`
	Conns      int                `json:"conns"`
	Opened     int64              `json:"opened"`
	Sent       int64              `json:"sent"`
	Received   int64              `json:"received"`
	RTTCount   int64              `json:"rtt_count"`
	StopReason metrics.StopReason `json:"stop_reason"`
	CPUCores   float64            `json:"cpu_cores"`
	MaxRSSKiB  int64              `json:"max_rss_kib"`
	Saturated  bool               `json:"saturated"`
}

// Part is one process's measurement of a split run, the scenario it ran
// (its share of the whole) and where its connections sit in the whole.
type Part struct {
	Measurement      *metrics.Measurement
	Spec             scenario.Spec
	FirstSlot, Conns int
}

// Combine reports a split run (a describes the whole) from its processes'
// measurements, merged exactly by [metrics.Merge] as processes of their
// own: counts, errors and CPU summed, histograms merged, the window from the
// earliest start to the latest end. Each process is also judged on its own
// (Report.Processes): one that found itself saturated makes the whole so,
// and one that found the server does not echo (or broadcast) says it for
// all, as they load the same server.
func Combine(a About, parts []Part) (*Report, error) {
	if len(parts) == 0 {
		return nil, errors.New("combine: no process results")
	}
	ms := make([]*metrics.Measurement, len(parts))
	procs := make([]Process, len(parts))
	var saturated []int
	var failures []*Report
	for i, p := range parts {
		ms[i] = p.Measurement
		// Judged on its totals: its intervals and stages are the whole's to report.
		totals := *p.Measurement
		totals.Intervals, totals.Stages = nil, nil
		own, err := Build(About{ToolVersion: a.ToolVersion, Spec: p.Spec, Target: a.Target, ServerLocal: a.ServerLocal, Ended: a.Ended}, &totals)
		if err != nil {
			return nil, fmt.Errorf("process %d: %w", i, err)
		}
		h := own.Harness
		if h.Saturated {
			saturated = append(saturated, i)
		}
		if own.Failure != "" {
			failures = append(failures, own)
		}
		procs[i] = Process{
			Index: i, FirstSlot: p.FirstSlot, Conns: p.Conns, Opened: own.Connections.Opened,
			Sent: own.Messages.Sent, Received: own.Messages.Received, RTTCount: own.Latency["rtt"].Count,
			StopReason: own.StopReason, CPUCores: h.CPUCores, MaxRSSKiB: h.MaxRSSKiB, Saturated: h.Saturated,
		}
	}
	whole, err := metrics.Merge(false, ms...)
	if err != nil {
		return nil, err
	}
	whole.Mismatch = nil // each process was judged on its own, below
	c := whole.Snapshot.Counts
	for _, own := range failures {
		// Nothing measured is judged on the whole.
		if own.StopReason == StopNotEcho || own.StopReason == StopNotBroadcast || c.Received == 0 && c.Deliveries == 0 && c.Stream == 0 {
			a.Failure = own.Failure
			break
		}
	}
	rep, err := build(a, whole, saturated)
	if err != nil {
		return nil, err
	}
	rep.Processes = procs
	return rep, nil
}

// Mix reports a mix (a describes the whole) and each of its groups, run in
// this process: each group on its own (Report.Groups, named by groups), the
// whole from their measurements merged by [metrics.Merge] as parts of one
// process. A group's failure is the whole's.
func Mix(a About, groups []About, names []string, ms []*metrics.Measurement) (*Report, error) {
	var reps []*Report
	for i, m := range ms {
		rep, err := Build(groups[i], m)
		if err != nil {
			return nil, err
		}
		rep.Group = names[i]
		reps = append(reps, rep)
		if rep.Failure != "" && a.Failure == "" {
			a.Failure = fmt.Sprintf("group %q: %s", rep.Group, rep.Failure)
		}
	}
	whole, err := metrics.Merge(true, ms...)
	if err != nil {
		return nil, err
	}
	whole.Mismatch = nil // each group was judged on its own, above
	rep, err := Build(a, whole)
	if err != nil {
		return nil, err
	}
	rep.Groups = reps
	return rep, nil
}
