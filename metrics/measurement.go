package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wsbench/wsbench/internal/iomode"
)

// Measurement is what one run measured and how it ended: the one type the
// driver returns, results reads, a split run's client processes send their
// parent, and [Merge] combines (the processes of a split run, the groups of
// a mix). It knows nothing of the scenario that was run: results pairs the
// two.
type Measurement struct {
	// Started is the wall-clock time load began, after the connections opened.
	Started time.Time
	// MeasureStart and MeasureEnd bound the measured window actually run.
	MeasureStart, MeasureEnd time.Time
	// StopReason says why the run stopped (the driver's Stop* constants).
	StopReason StopReason
	// Snapshot holds every count and histogram.
	Snapshot *Snapshot
	// CPU is the client's CPU use during the measured window, and its peak RSS.
	CPU Usage
	// Processes is how many client processes the measurement is of: 1 for
	// one (0 is read as 1); [Merge] of separate processes adds them up.
	Processes int
	// IO is the I/O mode the event loops used: "io_uring" or "syscalls".
	IO iomode.Mode
	// SendBufferFull counts the times a socket took less than it was given:
	// the server (or the network) was reading slower than the client wrote.
	SendBufferFull int64
	// Loops is how much the event loops found to read per pass, over the run.
	Loops LoopStats
	// GOMAXPROCS is the number of cores the client could use (summed over
	// separate processes).
	GOMAXPROCS int
	// Dial is how long opening every connection (connect and handshake) took.
	Dial time.Duration
	// Timestamps is where arrival times came from: "kernel" or "read".
	Timestamps string
	// Intervals are the measured window cut into slices, each with what was
	// recorded in it (replies counted when they arrived).
	Intervals []Interval
	// Stages are a staged run's stages, each with what was recorded in it
	// (replies counted when they arrived; those of the grace period in the
	// stage the run stopped in).
	Stages []Stage
	// Mismatch, when set, says the server did not do what the workload
	// needs (StopReason says so too when it stopped the run early).
	Mismatch *Mismatch
}

// Measured is the length of the measured window.
func (m *Measurement) Measured() time.Duration {
	return max(m.MeasureEnd.Sub(m.MeasureStart), 0)
}

// Usage is the CPU time a client used in a window (user and system), its peak
// resident memory, its garbage collection and how busy the machine was.
type Usage struct {
	User, System time.Duration
	MaxRSSKiB    int64
	// GCPause is the time the Go runtime stopped the world for garbage
	// collection, GCCycles the collections.
	GCPause  time.Duration
	GCCycles int64
	// Machine is the share of all of the machine's CPU time that was busy
	// over the window, whoever used it (-1: unknown). With the server on
	// this machine too, it says whether the two had to share cores.
	Machine float64
}

// LoopStats describe the read backlog the event loops met: how many sockets
// were ready each time a loop looked, and how often a read filled its whole
// buffer (more was waiting).
type LoopStats struct {
	Passes    int64 // passes through a loop that found ready sockets
	Ready     int64 // ready sockets, summed over those passes
	ReadyMax  int64 // most ready sockets in one pass
	FullReads int64 // reads that filled their buffer
	Wakeups   int64 // passes through a loop while sending, whatever woke it: an idle loop makes few
}

// MeanReady is the mean number of ready sockets per pass that found any.
func (l LoopStats) MeanReady() float64 {
	if l.Passes == 0 {
		return 0
	}
	return float64(l.Ready) / float64(l.Passes)
}

// Add is the event loops of l and o together: counts summed, the largest maximum.
func (l LoopStats) Add(o LoopStats) LoopStats {
	return LoopStats{Passes: l.Passes + o.Passes, Ready: l.Ready + o.Ready, ReadyMax: max(l.ReadyMax, o.ReadyMax),
		FullReads: l.FullReads + o.FullReads, Wakeups: l.Wakeups + o.Wakeups}
}

// Interval is one slice of the measured window: its bounds as offsets from
// the window's start, and what was recorded in it. A finished interval keeps
// its measurements compact (Data), so a long run's memory stays flat;
// Snapshot, the same expanded, is set only while it is shown live (the
// driver's OnInterval).
type Interval struct {
	Start, End time.Duration
	Data       *Compact  `json:",omitempty"`
	Snapshot   *Snapshot `json:",omitempty"`
	// Open is the number of connections open at the interval's end.
	Open int
}

// Add adds o, the same slice of another part of the run, into iv: what
// was recorded summed (compact with compact, expanded with expanded), the
// open connections summed, the later end.
func (iv *Interval) Add(o Interval) error {
	if iv.Data != nil || o.Data != nil {
		d, err := iv.Data.Merge(o.Data)
		if err != nil {
			return err
		}
		iv.Data = d
	}
	if o.Snapshot != nil {
		if iv.Snapshot == nil {
			iv.Snapshot = NewSnapshot()
		}
		if err := iv.Snapshot.Merge(o.Snapshot); err != nil { // copies: o's may be reused
			return err
		}
	}
	iv.Open += o.Open
	iv.End = max(iv.End, o.End)
	return nil
}

// Expanded is what was recorded in the interval, expanded (Snapshot if set,
// else Data expanded).
func (iv *Interval) Expanded() (*Snapshot, error) {
	if iv.Snapshot != nil {
		return iv.Snapshot, nil
	}
	if iv.Data == nil {
		return nil, fmt.Errorf("interval %v..%v: no measurements", iv.Start, iv.End)
	}
	s, err := iv.Data.Expand()
	if err != nil {
		return nil, fmt.Errorf("interval %v..%v: %w", iv.Start, iv.End, err)
	}
	return s, nil
}

// Stage is one stage of a staged run: its name, its bounds as offsets from
// the start, its targets and what was recorded in it. TCP connect and
// handshake times of connections opened during the run are in the run's
// snapshot only.
type Stage struct {
	Name        string
	Start, End  time.Duration
	TargetConns int
	TargetRate  float64
	Snapshot    *Snapshot
	// Open is the number of connections open at the stage's end.
	Open int
}

// Mismatch is what a run saw instead of the replies its workload needs:
// Reason "not_echo" with the first bytes of a message sent and of what came
// back instead (counted as error Kind), or Reason "not_broadcast".
type Mismatch struct {
	Reason StopReason
	Kind   string
	Sent   []byte
	// SentLen and GotLen are the whole messages' lengths; SentOp and GotOp
	// name their frames ("text", "binary", "ping", "pong").
	SentLen, GotLen int
	Got             []byte
	SentOp, GotOp   string
	// rpc: Expect is what the run waited for, as written (a request's key
	// matcher "$.id", an open step's "$.type==connection_ack"); Sent is
	// then the message that asked for it (nil: none), and Timeout how long
	// it waited (0: the whole run).
	Expect  string
	Timeout time.Duration
}

// StopReason says why a run stopped, as it appears in results
// ("stop_reason"). The driver, results and cmd name these constants; none
// spells the strings again.
type StopReason string

// Stop reasons.
const (
	StopCompleted     StopReason = "completed"
	StopInterrupted   StopReason = "interrupted"
	StopAborted       StopReason = "aborted"
	StopNoConnections StopReason = "no_connections" // none opened: at the start, or (staged, reconnect) in the whole run
	// StopNotEcho: the server answered, but no reply was an echo of what
	// was sent (see Mismatch); StopNotBroadcast: a broadcast run's messages
	// were echoed to their publishers but reached no other member.
	StopNotEcho      StopReason = "not_echo"
	StopNotBroadcast StopReason = "not_broadcast"
	// StopNoStream is not a stop but the reason of a subscribe run's
	// Mismatch (stream part): messages came, none the stream's; Got is
	// the first of them. The run goes to its end; results says so.
	StopNoStream StopReason = "no_stream"
	// rpc: StopNoReply: a request run's requests got no reply their key
	// matchers recognise (see Mismatch); StopOpenFailed: a protocol's
	// opening (Open steps) failed on every connection (the Mismatch has
	// the first failure).
	StopNoReply    StopReason = "no_reply"
	StopOpenFailed StopReason = "open_failed"
	// StopThresholdAbort: an :abort threshold stopped the run early.
	StopThresholdAbort StopReason = "threshold_abort"
	// shard part: StopMissedStart: a shard (--shard, --start-at) was not
	// connected and ready by the run's common start; it measured nothing.
	StopMissedStart StopReason = "missed_start"
)

// Interrupted reports whether the run was cut short by the user or an abort.
func (r StopReason) Interrupted() bool { return r == StopInterrupted || r == StopAborted }

// CombineStops picks the stop reason of a run made of several (the
// processes of a split run, the groups of a mix): "no_connections" only if
// none opened any, else the worst of the others (aborted, then interrupted,
// then not_echo or not_broadcast, then completed).
func CombineStops(reasons []StopReason) StopReason {
	var worst StopReason
	rank := map[StopReason]int{StopCompleted: 1, StopNotBroadcast: 2, StopNotEcho: 2, StopNoReply: 2, StopOpenFailed: 2, StopInterrupted: 3, StopAborted: 4,
		StopMissedStart: 5} // shard part
	for _, r := range reasons {
		if r != StopNoConnections && rank[r] >= rank[worst] {
			worst = r
		}
	}
	if worst == "" {
		return StopNoConnections
	}
	return worst
}

// Merge is the measurement of parts run at the same time as one run: counts
// and errors summed and histograms merged exactly (so the sum balances when
// every part does), intervals and stages merged index by index, the window
// from the earliest start to the latest end, the worst stop reason
// ([CombineStops]), the first mismatch, the longest dial. A part that opened
// no connection adds its counts but not its window, usage or loops.
//
// sameProcess says the parts ran in one process (the groups of a mix): then
// its usage is theirs alike, and the largest reading is taken once. Parts in
// processes of their own (the processes of a split run) add up their CPU,
// GC, cores and peak memory (an upper bound of what they held together).
// The parts are not changed.
func Merge(sameProcess bool, parts ...*Measurement) (*Measurement, error) {
	if len(parts) == 0 {
		return nil, errors.New("metrics: merge of no measurements")
	}
	out := &Measurement{Snapshot: NewSnapshot()}
	stops := make([]StopReason, 0, len(parts))
	for i, p := range parts {
		if err := out.Snapshot.Merge(p.Snapshot); err != nil {
			return nil, fmt.Errorf("part %d: %w", i, err)
		}
		stops = append(stops, p.StopReason)
		if out.Mismatch == nil && p.Mismatch != nil {
			out.Mismatch = p.Mismatch
		}
		for k, iv := range p.Intervals {
			for len(out.Intervals) <= k {
				out.Intervals = append(out.Intervals, Interval{Start: iv.Start, End: iv.End})
			}
			iv.Snapshot = nil // shown live already; kept compact
			if err := out.Intervals[k].Add(iv); err != nil {
				return nil, fmt.Errorf("part %d, interval %d: %w", i, k, err)
			}
		}
		for k, st := range p.Stages {
			for len(out.Stages) <= k {
				out.Stages = append(out.Stages, Stage{Name: st.Name, Start: st.Start, End: st.End,
					TargetConns: st.TargetConns, TargetRate: st.TargetRate, Snapshot: NewSnapshot()})
			}
			if err := out.Stages[k].Snapshot.Merge(st.Snapshot); err != nil {
				return nil, fmt.Errorf("part %d, stage %d: %w", i, k, err)
			}
			out.Stages[k].Open += st.Open
		}
		if sameProcess {
			out.Processes = max(out.Processes, p.Processes, 1)
		} else {
			out.Processes += max(p.Processes, 1)
		}
		if sameProcess && p.StopReason == StopNoConnections {
			continue // it ran nothing: its window and loops are not the run's
		}
		if out.Started.IsZero() || p.Started.Before(out.Started) {
			out.Started = p.Started
		}
		if out.MeasureStart.IsZero() || p.MeasureStart.Before(out.MeasureStart) {
			out.MeasureStart = p.MeasureStart
		}
		if p.MeasureEnd.After(out.MeasureEnd) {
			out.MeasureEnd = p.MeasureEnd
		}
		out.Dial = max(out.Dial, p.Dial)
		out.IO, out.Timestamps = p.IO, p.Timestamps
		out.SendBufferFull += p.SendBufferFull
		out.Loops = out.Loops.Add(p.Loops)
		u := p.CPU
		if sameProcess {
			if u.User+u.System > out.CPU.User+out.CPU.System {
				out.CPU.User, out.CPU.System, out.CPU.GCPause, out.CPU.GCCycles = u.User, u.System, u.GCPause, u.GCCycles
			}
			out.CPU.MaxRSSKiB = max(out.CPU.MaxRSSKiB, u.MaxRSSKiB)
			out.GOMAXPROCS = max(out.GOMAXPROCS, p.GOMAXPROCS)
		} else {
			out.CPU.User += u.User
			out.CPU.System += u.System
			out.CPU.GCPause += u.GCPause
			out.CPU.GCCycles += u.GCCycles
			out.CPU.MaxRSSKiB += u.MaxRSSKiB
			out.GOMAXPROCS += p.GOMAXPROCS
		}
		// The parts share one machine: the busiest reading of it.
		out.CPU.Machine = max(out.CPU.Machine, u.Machine)
	}
	if out.Started.IsZero() { // no part opened a connection: the first's window
		out.Started, out.MeasureStart, out.MeasureEnd = parts[0].Started, parts[0].MeasureStart, parts[0].MeasureEnd
	}
	out.StopReason = CombineStops(stops)
	return out, nil
}

// snapshotJSON is a snapshot as JSON (a split run's processes send their
// measurement to the parent so): counts, errors, and each histogram that
// recorded something as its compact bucket list, by metric name.
type snapshotJSON struct {
	Counts Counts             `json:"counts"`
	Errors map[string]int64   `json:"errors,omitempty"`
	Hist   map[string]*Sparse `json:"hist,omitempty"`
	Steps  []CompactStep      `json:"steps,omitempty"`
}

// MarshalJSON writes the snapshot compact (see [Compact]): exact, and a few
// KiB per histogram.
func (s *Snapshot) MarshalJSON() ([]byte, error) {
	c, err := s.Compact()
	if err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	var c Compact
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	e, err := c.Expand()
	if err != nil {
		return err
	}
	*s = *e
	return nil
}

// MarshalJSON writes c with its histograms by metric name.
func (c *Compact) MarshalJSON() ([]byte, error) {
	j := snapshotJSON{Counts: c.Counts, Errors: c.Errors, Hist: map[string]*Sparse{}, Steps: c.Steps}
	for m, sp := range c.Hist {
		if sp != nil {
			j.Hist[Metric(m).String()] = sp
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote; a metric this version does not
// know is an error (parent and child processes are one program).
func (c *Compact) UnmarshalJSON(b []byte) error {
	var j snapshotJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Compact{Counts: j.Counts, Errors: j.Errors, Steps: j.Steps}
	if c.Errors == nil {
		c.Errors = map[string]int64{}
	}
	for name, sp := range j.Hist {
		m, err := ParseMetric(name)
		if err != nil {
			return err
		}
		c.Hist[m] = sp
	}
	return nil
}
