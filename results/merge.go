package results

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// Snapshot rebuilds the measurements behind a report: counts, errors and the
// exact histograms (decoded from their hdr encodings). It is how the results
// of several processes, or of saved files, are merged without loss.
func (r *Report) Snapshot() (*metrics.Snapshot, error) {
	snap := metrics.NewSnapshot()
	snap.Counts = metrics.Counts{
		ConnsAttempted: r.Connections.Attempted, ConnsOpened: r.Connections.Opened, ConnsFailed: r.Connections.Failed, ConnsDropped: r.Connections.Dropped, Reconnects: r.Connections.Reconnects,
		Sent: r.Messages.Sent, Received: r.Messages.Received, Lost: r.Messages.Lost, InFlight: r.Messages.InFlight,
		Unsent: r.Messages.Unsent, BytesSent: r.Bytes.Sent, BytesReceived: r.Bytes.Received,
	}
	if b := r.Broadcast; b != nil {
		snap.Counts.Deliveries, snap.Counts.DeliveryGaps, snap.Counts.DeliveriesLate = b.Deliveries, b.Gaps, b.Late
		snap.Counts.DeliveriesDup, snap.Counts.DeliveriesInGrace = b.Duplicates, b.InGrace
	}
	if z := r.Compression; z != nil {
		snap.Counts.DeflateRawSent, snap.Counts.DeflateWireSent = z.RawSent, z.WireSent
		snap.Counts.DeflateRawReceived, snap.Counts.DeflateWireReceived = z.RawReceived, z.WireReceived
	}
	for k, v := range r.Errors {
		snap.Errors[k] = v
	}
	for _, m := range metrics.Metrics() {
		if _, ok := r.Latency[m.String()]; !ok {
			continue
		}
		h, err := r.Histogram(m.String())
		if err != nil {
			return nil, err
		}
		snap.Hist[m] = h
	}
	return snap, nil
}

// Process is one client process's share of a run split with --procs.
type Process struct {
	Index      int     `json:"index"`
	FirstSlot  int     `json:"first_slot"`
	Conns      int     `json:"conns"`
	Opened     int64   `json:"opened"`
	Sent       int64   `json:"sent"`
	Received   int64   `json:"received"`
	RTTCount   int64   `json:"rtt_count"`
	StopReason string  `json:"stop_reason"`
	CPUCores   float64 `json:"cpu_cores"`
	MaxRSSKiB  int64   `json:"max_rss_kib"`
	Saturated  bool    `json:"saturated"`
}

// Part is one process's report and where its connections sit in the whole.
type Part struct {
	Report           *Report
	FirstSlot, Conns int
}

// Add is the read backlog of two sets of event loops together (processes
// of one run, groups of a mix): passes and full reads summed, the mean
// ready sockets per pass weighted by passes, the largest maximum.
func (b ReadBacklog) Add(o ReadBacklog) ReadBacklog {
	sum := ReadBacklog{LoopPasses: b.LoopPasses + o.LoopPasses, ReadyMax: max(b.ReadyMax, o.ReadyMax), FullReads: b.FullReads + o.FullReads}
	if sum.LoopPasses > 0 {
		sum.ReadyMean = (b.ReadyMean*float64(b.LoopPasses) + o.ReadyMean*float64(o.LoopPasses)) / float64(sum.LoopPasses)
	}
	return sum
}

// Combine merges the reports of a split run's processes into in (whose Spec,
// Target, Bundled and ToolVersion describe the whole run) and builds the
// whole run's report: counts summed, histograms merged exactly, errors
// summed, CPU summed over the processes, peak RSS summed (an upper bound of
// what they held together), GC pauses summed, cores summed. The window is
// the earliest process start plus the warm-up to the latest end. A process
// interrupted or aborted makes the whole so.
func Combine(in Input, parts []Part) (*Report, error) {
	if len(parts) == 0 {
		return nil, errors.New("combine: no process results")
	}
	snap := metrics.NewSnapshot()
	var (
		cpuUser, cpuSys, gc time.Duration
		gcCycles, rss       int64
		cores               int
		backlog             ReadBacklog
		procs               []Process
		stops               []string
	)
	in.MeasureStart, in.MeasureEnd, in.Started = time.Time{}, time.Time{}, time.Time{}
	for i, p := range parts {
		r := p.Report
		s, err := r.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("process %d: %w", i, err)
		}
		if err := snap.Merge(s); err != nil {
			return nil, fmt.Errorf("process %d: %w", i, err)
		}
		h := r.Harness
		cpuUser += seconds(h.CPUUserS)
		cpuSys += seconds(h.CPUSysS)
		gc += seconds(h.GCPauseS)
		gcCycles += h.GCCycles
		rss += h.MaxRSSKiB
		cores += h.Cores
		in.SendBufferFull += h.SendBufferFull
		backlog = backlog.Add(h.ReadBacklog)
		in.Dial = max(in.Dial, seconds(r.Connections.DialS))
		in.IO, in.Timestamps = h.IO, h.RxTimestamps
		// The processes share one machine: the busiest reading of it.
		in.ServerLocal = in.ServerLocal || h.ServerOnThisMachine
		in.MachineCPU = max(in.MachineCPU, h.MachineCPUUtilization)
		started := r.StartedAt
		ms := started.Add(time.Duration(r.Scenario.Warmup))
		me := ms.Add(seconds(r.DurationS))
		if in.Started.IsZero() || started.Before(in.Started) {
			in.Started = started
		}
		if in.MeasureStart.IsZero() || ms.Before(in.MeasureStart) {
			in.MeasureStart = ms
		}
		if me.After(in.MeasureEnd) {
			in.MeasureEnd = me
		}
		if r.EndedAt.After(in.Ended) {
			in.Ended = r.EndedAt
		}
		stops = append(stops, r.StopReason)
		if h.Saturated {
			in.SaturatedProcesses = append(in.SaturatedProcesses, i)
		}
		procs = append(procs, Process{
			Index: i, FirstSlot: p.FirstSlot, Conns: p.Conns, Opened: r.Connections.Opened,
			Sent: r.Messages.Sent, Received: r.Messages.Received, RTTCount: r.Latency["rtt"].Count,
			StopReason: r.StopReason, CPUCores: h.CPUCores, MaxRSSKiB: h.MaxRSSKiB, Saturated: h.Saturated,
		})
	}
	ivs, err := mergeIntervals(parts)
	if err != nil {
		return nil, err
	}
	in.Intervals = ivs
	if in.Stages, err = mergeStages(parts); err != nil {
		return nil, err
	}
	in.Snapshot = snap
	in.CPUUser, in.CPUSystem, in.GCPause, in.GCCycles = cpuUser, cpuSys, gc, gcCycles
	in.MaxRSSKiB, in.Cores, in.ReadBacklog = rss, cores, backlog
	for _, p := range parts {
		// A process that found the server does not echo (or broadcast)
		// says it for all: they load the same server. (Nothing measured is
		// judged on the whole.)
		r := p.Report
		if r.Failure != "" && (r.StopReason == StopNotEcho || r.StopReason == StopNotBroadcast || snap.Counts.Received == 0 && snap.Counts.Deliveries == 0) {
			in.Failure = r.Failure
			break
		}
	}
	in.StopReason = CombineStops(stops)
	in.Interrupted = in.StopReason == "interrupted" || in.StopReason == "aborted"
	in.Procs = len(parts)
	rep, err := Build(in)
	if err != nil {
		return nil, err
	}
	rep.Processes = procs
	return rep, nil
}

// CombineStops picks the stop reason of a run made of several (the
// processes of a split run, the groups of a mix): "no_connections" only if
// none opened any, else the worst of the others (aborted, then interrupted,
// then not_echo or not_broadcast, then completed).
func CombineStops(reasons []string) string {
	worst := ""
	rank := map[string]int{"completed": 1, StopNotBroadcast: 2, StopNotEcho: 2, "interrupted": 3, "aborted": 4}
	for _, r := range reasons {
		if r != "no_connections" && rank[r] >= rank[worst] {
			worst = r
		}
	}
	if worst == "" {
		return "no_connections"
	}
	return worst
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// mergeIntervals merges the processes' intervals slot by slot: counts summed,
// histograms decoded and merged.
func mergeIntervals(parts []Part) ([]IntervalInput, error) {
	// Interval by interval, each kept compact once merged, so a long run's
	// merge holds one interval expanded at a time.
	var out []IntervalInput
	for i := 0; ; i++ {
		var acc *metrics.Snapshot
		for _, p := range parts {
			if i >= len(p.Report.Intervals) {
				continue
			}
			iv := p.Report.Intervals[i]
			if acc == nil {
				acc = metrics.NewSnapshot()
				out = append(out, IntervalInput{Start: seconds(iv.StartS), End: seconds(iv.EndS)})
			}
			acc.Counts.Sent += iv.Sent
			acc.Counts.Received += iv.Received
			if iv.Errors > 0 {
				acc.Errors["errors"] += iv.Errors
			}
			s := metrics.NewSnapshot()
			if err := decodeInto(s, iv.Latency); err != nil {
				return nil, fmt.Errorf("interval %d: %w", i, err)
			}
			if err := acc.Merge(s); err != nil {
				return nil, err
			}
			last := &out[len(out)-1]
			last.End = max(last.End, seconds(iv.EndS))
			last.Open += iv.Open
		}
		if acc == nil {
			return out, nil
		}
		c, err := acc.Compact()
		if err != nil {
			return nil, err
		}
		out[len(out)-1].Data = c
	}
}

// mergeStages merges the processes' stages index by index: counts and
// errors summed, histograms decoded and merged.
func mergeStages(parts []Part) ([]StageInput, error) {
	var out []StageInput
	for _, p := range parts {
		for i, st := range p.Report.Stages {
			for len(out) <= i {
				out = append(out, StageInput{Name: st.Name, Start: seconds(st.StartS), End: seconds(st.EndS),
					TargetConns: st.TargetConns, TargetRate: st.TargetRate, Snapshot: metrics.NewSnapshot()})
			}
			s := metrics.NewSnapshot()
			m := st.Messages
			s.Counts.Sent, s.Counts.Received, s.Counts.Lost, s.Counts.InFlight, s.Counts.Unsent = m.Sent, m.Received, m.Lost, m.InFlight, m.Unsent
			s.Counts.BytesSent, s.Counts.BytesReceived = st.Bytes.Sent, st.Bytes.Received
			for k, v := range st.Errors {
				s.Errors[k] = v
			}
			if err := decodeInto(s, st.Latency); err != nil {
				return nil, fmt.Errorf("stage %d: %w", i, err)
			}
			if err := out[i].Snapshot.Merge(s); err != nil {
				return nil, err
			}
			out[i].Open += st.Open
		}
	}
	return out, nil
}

// decodeInto decodes a result's latency blocks into snap's histograms.
func decodeInto(snap *metrics.Snapshot, lat map[string]Latency) error {
	for name, l := range lat {
		m, err := metrics.ParseMetric(name)
		if err != nil {
			continue // a metric this version does not know
		}
		h, err := metrics.DecodeHistogram(l.HDR)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if l.Clamped > 0 {
			h.AddClamped(l.Clamped)
		}
		snap.Hist[m] = h
	}
	return nil
}
