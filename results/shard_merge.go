package results

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// MergeError is why [MergeShards] refused its reports: Report is the
// position of the report at fault in the slice it was given (-1 when the
// fault is no one report's, e.g. missing shards), Name what it is called
// ("result 2", or its file when read by [ReadShardFiles]), Reason what is
// wrong, in one line.
type MergeError struct {
	Report int
	Name   string
	Reason string
	// Missing lists the shards not given, when that is the fault.
	Missing []int
}

func (e *MergeError) Error() string {
	if e.Report < 0 {
		return e.Reason
	}
	return e.Name + ": " + e.Reason
}

// MergeShards merges the results of the shards of one sharded run
// (`wsbench run --shard I/N`) into the run's result, exactly: each shard's
// raw measurement (ShardResult.Measurement) is merged by [metrics.Merge] (counts
// summed, histograms merged bucket by bucket, the window from the earliest
// start to the latest end), so N shards merged are what one process running
// the whole plan would have measured. Each shard is also judged on its own
// (Report.Processes, by shard index).
//
// It refuses a report that is no shard's (or holds no measurement), two of
// one shard, shards of different plans or shard counts, and, unless
// allowPartial, a run with shards missing. With allowPartial the result
// holds the shards given and says which are missing (Report.Shards.Partial,
// Missing): its totals are then not the run's. Duplicates and other plans
// are refused either way: no reading of them makes the run's figures.
// The reports may come in any order; the merge does not depend on it.
func MergeShards(reports []*Report, allowPartial bool) (*Report, error) {
	return mergeShards(reports, nil, allowPartial)
}

// mergeShards is MergeShards with the reports' names (their files); nil
// names them "result 1", "result 2" … in order.
func mergeShards(reports []*Report, names []string, allowPartial bool) (*Report, error) {
	name := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return fmt.Sprintf("result %d", i+1)
	}
	refuse := func(i int, format string, a ...any) error {
		e := &MergeError{Report: i, Reason: fmt.Sprintf(format, a...)}
		if i >= 0 {
			e.Name = name(i)
		}
		return e
	}
	if len(reports) == 0 {
		return nil, &MergeError{Report: -1, Reason: "no shard results to merge"}
	}
	first := -1 // the report the others are held against
	seen := map[int]int{}
	for i, r := range reports {
		if err := shardOK(r); err != "" {
			return nil, refuse(i, "%s", err)
		}
		s := r.Shard.Shard
		if first < 0 {
			first = i
		} else if f := reports[first].Shard.Shard; s.Plan != f.Plan || s.Count != f.Count {
			return nil, refuse(i, "shard %d/%d of plan %s, not of the run of %s (plan %s, %d shards)",
				s.Index, s.Count, shortPlan(s.Plan), name(first), shortPlan(f.Plan), f.Count)
		}
		if f := reports[first].Shard.Shard; startsApart(s.StartAt, f.StartAt) {
			return nil, refuse(i, "shard %d/%d was given the common start %s, %s was given %s: not one run (give every shard the same --start-at)",
				s.Index, s.Count, startText(s.StartAt), name(first), startText(f.StartAt))
		}
		if j, dup := seen[s.Index]; dup {
			return nil, refuse(i, "shard %d/%d again (%s is that shard too): each shard's result once",
				s.Index, s.Count, name(j))
		}
		seen[s.Index] = i
	}
	f := reports[first].Shard.Shard
	var missing []int
	for k := range f.Count {
		if _, ok := seen[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 && !allowPartial {
		return nil, &MergeError{Report: -1, Missing: missing,
			Reason: fmt.Sprintf("%s of %d missing (plan %s): merge every shard's result, or --allow-partial for partial totals",
				shardList(missing), f.Count, shortPlan(f.Plan))}
	}

	// In shard order, so that the result is the same whatever the order
	// given. A shard that missed the common start measured nothing: its
	// share is missing from the totals as if it had not reported.
	order := make([]*Report, 0, len(seen))
	var missed []ShardInfo
	for k := range f.Count {
		i, ok := seen[k]
		if !ok {
			continue
		}
		if r := reports[i]; r.StopReason == stopMissedStart {
			if !allowPartial {
				return nil, refuse(i, "shard %d/%d missed the common start (ready %s late) and measured nothing: the totals would lack its share; --allow-partial for partial totals",
					k, f.Count, fmtDur(time.Duration(max(r.Shard.Shard.SkewNs, 0))))
			}
			missed = append(missed, r.Shard.Shard)
			missing = append(missing, k)
			continue
		}
		order = append(order, reports[i])
	}
	if len(order) == 0 {
		return nil, &MergeError{Report: -1, Reason: fmt.Sprintf("no shard of the %d measured anything: every one given missed the common start", f.Count)}
	}
	slices.Sort(missing)
	merged := &ShardsMerged{Plan: f.Plan, Count: f.Count, Missing: missing, MissedStart: missed, Partial: len(missing) > 0}
	ms := make([]*metrics.Measurement, len(order))
	procs := make([]Process, len(order))
	conns, slots := 0, 0
	var ended time.Time
	serverLocal := true
	hostCores := map[string]int{}
	var saturated []string
	var failures []*Report
	for k, r := range order {
		s := r.Shard.Shard
		merged.Present = append(merged.Present, s)
		ms[k] = r.Shard.Measurement
		// Each shard was judged on its own machine, in its own result.
		h := r.Harness
		procs[k] = Process{Index: s.Index, FirstSlot: s.FirstSlot, Conns: s.Conns, Opened: r.Connections.Opened,
			Sent: r.Messages.Sent, Received: r.Messages.Received, RTTCount: r.Latency["rtt"].Count,
			StopReason: r.StopReason, CPUCores: h.CPUCores, MaxRSSKiB: h.MaxRSSKiB, Saturated: h.Saturated}
		if h.Saturated {
			saturated = append(saturated, fmt.Sprintf("shard %d of %d was saturated (see processes)", s.Index, s.Count))
		}
		if r.Failure != "" {
			failures = append(failures, r)
		}
		conns += s.Conns
		slots = max(slots, s.FirstSlot+s.Conns)
		ended = maxTime(ended, r.EndedAt)
		serverLocal = serverLocal && h.ServerOnThisMachine
		// Shards on one machine share its cores.
		host := cmp.Or(s.Host, r.Environment.Hostname, fmt.Sprintf("shard %d", s.Index))
		hostCores[host] = max(hostCores[host], h.Cores)
	}
	merged.SkewMaxNs, merged.SpreadNs = skew(merged.Present)

	// The whole run's scenario: a shard's, with the run's connections (all
	// slots when every shard is here; those merged when some are missing).
	r0 := order[0]
	whole := r0.Scenario
	whole.Conns = conns
	if !merged.Partial {
		whole.Conns = max(conns, slots)
	}
	a := About{ToolVersion: r0.ToolVersion, Spec: whole, Target: r0.Target, ServerLocal: serverLocal, Ended: ended}
	if v := versions(order); len(v) > 1 {
		a.Warnings = append(a.Warnings, "the shards ran different wsbench versions: "+strings.Join(v, "; "))
	}
	for _, c := range hostCores {
		a.Cores += c
	}
	if merged.Partial {
		a.Warnings = append(a.Warnings, PartialLine(merged))
	}
	m, err := metrics.Merge(false, ms...)
	if err != nil {
		return nil, &MergeError{Report: -1, Reason: err.Error()}
	}
	m.Mismatch = nil // each shard was judged on its own, above
	c := m.Snapshot.Counts
	for _, own := range failures {
		// A server that does not echo (or broadcast), or nothing measured at all, is the whole run's failure.
		if own.StopReason == StopNotEcho || own.StopReason == StopNotBroadcast || c.Received == 0 && c.Deliveries == 0 && c.Stream == 0 {
			a.Failure = fmt.Sprintf("shard %d: %s", own.Shard.Shard.Index, own.Failure)
			break
		}
	}
	rep, err := Build(a, m)
	if err != nil {
		return nil, &MergeError{Report: -1, Reason: err.Error()}
	}
	rep.Harness.Saturation = append(rep.Harness.Saturation, saturated...)
	rep.Harness.Saturated = len(rep.Harness.Saturation) > 0
	rep.Processes = procs
	rep.Shards = merged
	return rep, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// stopMissedStart is the stop reason of a shard that was not connected and
// ready by the common start (--start-at) and so measured nothing.
const stopMissedStart = metrics.StopMissedStart

// versions lists the tool versions the shards ran, each with its shards,
// when they differ ("0.1.0: shards 0, 1").
func versions(shards []*Report) []string {
	by := map[string][]int{}
	var names []string
	for _, r := range shards {
		if by[r.ToolVersion] == nil {
			names = append(names, r.ToolVersion)
		}
		by[r.ToolVersion] = append(by[r.ToolVersion], r.Shard.Shard.Index)
	}
	var out []string
	for _, v := range names {
		out = append(out, v+": "+shardList(by[v]))
	}
	return out
}

// shardOK says what keeps r from being merged as a shard's result ("" if nothing).
func shardOK(r *Report) string {
	switch {
	case r == nil:
		return "no result"
	case r.Shard == nil && r.Shards != nil:
		return "a merged result, not one shard's: merge the shards' own results"
	case r.Shard == nil:
		return "not a shard's result (no shard section: run it with --shard I/N)"
	case r.Shard.Measurement == nil || r.Shard.Measurement.Snapshot == nil:
		return fmt.Sprintf("shard %d/%d holds no measurement to merge", r.Shard.Shard.Index, r.Shard.Shard.Count)
	case r.Shard.Shard.Count < 1 || r.Shard.Shard.Index < 0 || r.Shard.Shard.Index >= r.Shard.Shard.Count:
		return fmt.Sprintf("shard %d/%d is not a shard of %d", r.Shard.Shard.Index, r.Shard.Shard.Count, r.Shard.Shard.Count)
	case r.Shard.Shard.Plan == "":
		return fmt.Sprintf("shard %d/%d carries no plan hash", r.Shard.Shard.Index, r.Shard.Shard.Count)
	}
	return ""
}

// skew is the largest |SkewNs| over the shards and the spread of their
// actual starts (latest StartedAt minus earliest).
func skew(shards []ShardInfo) (maxNs, spreadNs int64) {
	var lo, hi time.Time
	for _, s := range shards {
		maxNs = max(maxNs, abs64(s.SkewNs))
		if s.StartedAt.IsZero() {
			continue
		}
		if lo.IsZero() || s.StartedAt.Before(lo) {
			lo = s.StartedAt
		}
		if s.StartedAt.After(hi) {
			hi = s.StartedAt
		}
	}
	return maxNs, hi.Sub(lo).Nanoseconds()
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// PartialLine is the one line a partial merge's summaries show: which
// shards are missing and that the totals are partial.
func PartialLine(s *ShardsMerged) string {
	why := ""
	if len(s.MissedStart) > 0 {
		idx := make([]int, len(s.MissedStart))
		for i, m := range s.MissedStart {
			idx[i] = m.Index
		}
		why = fmt.Sprintf(" (%s missed the common start and measured nothing)", shardList(idx))
	}
	return fmt.Sprintf("partial result: %s of %d missing%s; totals cover %d of %d shards, not the whole run",
		shardList(s.Missing), s.Count, why, len(s.Present), s.Count)
}

// shardList names shards by index: "shard 2", "shards 0, 3".
func shardList(idx []int) string {
	s := make([]string, len(idx))
	for i, k := range idx {
		s[i] = strconv.Itoa(k)
	}
	if len(idx) == 1 {
		return "shard " + s[0]
	}
	return "shards " + strings.Join(s, ", ")
}

// shortPlan is a plan hash cut to what a person compares by eye.
func shortPlan(p string) string {
	p = strings.TrimPrefix(p, "sha256:")
	if len(p) > 12 {
		return p[:12]
	}
	if p == "" {
		return "(none)"
	}
	return p
}

// startTolerance is how far apart two shards' common starts may be and
// still be one run's: `--start-at +30s` given to shards started together
// by one shell differs by the milliseconds between their starts.
const startTolerance = time.Second

// startsApart says whether two shards' common starts (zero: none given)
// make them shards of different runs.
func startsApart(a, b time.Time) bool {
	if a.IsZero() != b.IsZero() {
		return true
	}
	d := a.Sub(b)
	return d > startTolerance || d < -startTolerance
}

func startText(t time.Time) string {
	if t.IsZero() {
		return "none (no --start-at)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
