package results

import (
	"fmt"

	"github.com/wsbench/wsbench/metrics"
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
