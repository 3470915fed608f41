package results

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/wsbench/wsbench/internal/iomode"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// Schema is the version of the result document's layout.
const Schema = 1

// Report is one run's result. Its JSON field names are a contract with outside
// tools: add fields, never rename or remove them without a new Schema.
type Report struct {
	Schema      int                `json:"schema"`
	ToolVersion string             `json:"tool_version"`
	StartedAt   time.Time          `json:"started_at"`
	EndedAt     time.Time          `json:"ended_at"`
	DurationS   float64            `json:"duration_s"`
	Target      string             `json:"target"`
	Bundled     bool               `json:"bundled_server"`
	Model       string             `json:"model"`
	Scenario    scenario.Spec      `json:"scenario"`
	StopReason  metrics.StopReason `json:"stop_reason"`
	Interrupted bool               `json:"interrupted"`
	Connections Connections        `json:"connections"`
	Messages    Messages           `json:"messages"`
	Bytes       Bytes              `json:"bytes"`
	Rates       Rates              `json:"rates"`
	// Errors counts failures by kind (see README: "Error kinds").
	Errors map[string]int64 `json:"errors"`
	// Latency holds one entry per metric name: rtt, rtt_uncorrected, send_lag, connect, handshake.
	Latency  map[string]Latency `json:"latency"`
	Warnings []string           `json:"warnings"`
	Failure  string             `json:"failure,omitempty"` // why a run that went ahead failed, in one plain line (see failure)
	Harness  Harness            `json:"harness"`
	// Intervals are the measured window in slices (--interval): rates,
	// errors and each metric's latency over time, with exact histograms.
	Intervals []Interval `json:"intervals,omitempty"`
	// Stages are a staged run's stages, each with its own counters and
	// latency (replies counted in the stage they arrived in).
	Stages []Stage `json:"stages,omitempty"`
	// Broadcast is a broadcast run's delivery accounting.
	Broadcast *Broadcast `json:"broadcast,omitempty"`
	// Stream is what the connections received of the server's stream
	// (kind subscribe, or a protocol kind's stream; stream part).
	Stream *Stream `json:"stream,omitempty"`
	// Compression is a permessage-deflate run's (--deflate) payload bytes
	// of measured messages before compression (raw) and on the wire.
	Compression *Compression `json:"compression,omitempty"`
	// Steps are a flow's named steps (kind flow), in the scenario's order:
	// each one's latency and failures; Flow its sessions and sends.
	Steps []Step `json:"steps,omitempty"`
	Flow  *Flow  `json:"flow,omitempty"`
	// Thresholds are the run's pass/fail checks (--threshold), in order.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	// Group names the group of a mix this report is of; Groups are a mix's
	// groups, each with its own report (the top level is their sum).
	Group  string    `json:"group,omitempty"`
	Groups []*Report `json:"groups,omitempty"`
	// Processes is each client process's share, when --procs split the run.
	Processes []Process `json:"processes,omitempty"`
	// Shard is set in the result of one shard of a sharded run (--shard):
	// its place and its raw, mergeable measurement (see wsbench merge).
	Shard *ShardResult `json:"shard,omitempty"`
	// Shards says, in a merged result, which shards it holds and which are
	// missing (a partial merge, --allow-partial), and their start skew.
	Shards      *ShardsMerged `json:"shards,omitempty"`
	Environment Environment   `json:"environment"`

	// ServerUsage is the server process that --server-pid sampled, if any.
	ServerUsage *ServerUsage `json:"server_usage,omitempty"`
}

// Harness is what the client process itself used during the measured window.
// With the bundled server in-process, the server's share is included
// (InProcessServer says so).
type Harness struct {
	CPUUserS float64 `json:"cpu_user_s"`
	CPUSysS  float64 `json:"cpu_sys_s"`
	// CPUCores is CPU time per second of wall time: 1.0 is one core fully busy.
	CPUCores float64 `json:"cpu_cores"`
	// CPUPerMessageUs is CPU time per received message (per round trip in echo).
	CPUPerMessageUs float64 `json:"cpu_us_per_message"`
	MaxRSSKiB       int64   `json:"max_rss_kib"`
	InProcessServer bool    `json:"in_process_server"`
	// IO is how the client's event loops used the kernel: "io_uring" (sends and
	// receives batched, one system call per batch) or "syscalls" (one per operation).
	IO iomode.Mode `json:"io"`
	// RxTimestamps says when an echo counts as arrived: "kernel" (the
	// kernel's receive timestamp; the client's delay in reading it is the
	// read_lag latency) or "read" (when the client read it).
	RxTimestamps string `json:"rx_timestamps"`
	// Cores is how many cores the client could use (GOMAXPROCS, summed over
	// --procs processes, at most the machine's CPUs); CPUUtilization is
	// CPUCores / Cores.
	Cores          int     `json:"cores"`
	CPUUtilization float64 `json:"cpu_utilization"`
	// GCPauseS is the time garbage collection stopped the client in the
	// window; GCPauseFraction that time over the window's wall time.
	GCPauseS        float64 `json:"gc_pause_s"`
	GCPauseFraction float64 `json:"gc_pause_fraction"`
	GCCycles        int64   `json:"gc_cycles"`
	// ReadBacklog is what the event loops found waiting when they looked.
	ReadBacklog ReadBacklog `json:"read_backlog"`
	// SendBufferFull counts sends the socket took only part of: the server
	// read slower than the client wrote.
	SendBufferFull int64 `json:"send_buffer_full"`
	// ServerOnThisMachine says the target was this machine (a loopback or
	// local address) but not in the client's process: then client and
	// server shared the cores. MachineCPUUtilization is the share of all the
	// machine's CPU time that was busy in the window, whoever used it
	// (omitted: unknown).
	ServerOnThisMachine   bool    `json:"server_on_this_machine"`
	MachineCPUUtilization float64 `json:"machine_cpu_utilization,omitempty"`
	// Saturated says the client may have been the bottleneck, and Saturation
	// why: then the latency figures are limited by the client, not only the server.
	Saturated  bool     `json:"saturated"`
	Saturation []string `json:"saturation"`
}

// ReadBacklog describes the event loops' passes over the run.
type ReadBacklog struct {
	// LoopPasses counts passes that found ready sockets; ReadyMean and
	// ReadyMax are the ready sockets per such pass.
	LoopPasses int64   `json:"loop_passes"`
	ReadyMean  float64 `json:"ready_mean"`
	ReadyMax   int64   `json:"ready_max"`
	// FullReads counts reads that filled their whole buffer: more was waiting.
	FullReads int64 `json:"full_reads"`
}

// Saturation thresholds: past any of them the client, not the server, may
// have set the figures.
const (
	SaturatedCPU      = 0.90 // CPU use over the cores the client could use
	SaturatedGCPauses = 0.01 // GC pause time over wall time
	// The lag bound: send lag past the longer of SaturatedLagTicks ticks and
	// SaturatedSendLag of each connection's send interval. Most sends past it
	// (p50), the top 1% past it (p99) with the CPU over SaturatedBusyCPU, or
	// more than its worth of the schedule unsent, and the client ran behind.
	SaturatedLagTicks = 10
	SaturatedSendLag  = 0.10
	SaturatedBusyCPU  = 0.50
)

// Interval is one slice of the measured window.
type Interval struct {
	StartS   float64            `json:"start_s"` // from the window's start
	EndS     float64            `json:"end_s"`
	Sent     int64              `json:"sent"`
	Received int64              `json:"received"`
	Errors   int64              `json:"errors"`
	Open     int                `json:"conns_open"` // at the interval's end
	RateS    float64            `json:"received_per_s"`
	Latency  map[string]Latency `json:"latency"`
	// stream part: the server's stream messages of the interval (also in RateS).
	Stream int64 `json:"stream,omitempty"`
}

// Stage is one stage of a staged run: its targets at its end, what it
// measured, and the connections open at its end.
type Stage struct {
	Name        string             `json:"name"`
	StartS      float64            `json:"start_s"` // from the run's start
	EndS        float64            `json:"end_s"`
	TargetConns int                `json:"target_conns"`
	TargetRate  float64            `json:"target_rate"`
	Open        int                `json:"conns_open"`
	Messages    Messages           `json:"messages"`
	Bytes       Bytes              `json:"bytes"`
	Rates       Rates              `json:"rates"`
	Errors      map[string]int64   `json:"errors"`
	Latency     map[string]Latency `json:"latency"`
}

// Broadcast is what the members of a broadcast run's rooms received.
// Expected is every measured message published times its room's size (each
// member, the publisher included, should get it); Reach is Deliveries over
// Expected. Gaps are messages a member never got (skipped, or still missing
// when the grace period ended); Late arrived after a later one (out of
// order); Duplicates arrived again (not counted as deliveries); InGrace are
// the deliveries that arrived after sending stopped, in the grace period.
type Broadcast struct {
	RoomSize   int     `json:"room_size"`
	Publishers int     `json:"publishers"`
	Expected   int64   `json:"deliveries_expected"`
	Deliveries int64   `json:"deliveries"`
	Reach      float64 `json:"reach"`
	Gaps       int64   `json:"gaps"`
	Late       int64   `json:"late"`
	Duplicates int64   `json:"duplicates"`
	InGrace    int64   `json:"in_grace"`
	PerSecond  float64 `json:"deliveries_per_s"`
}

// Compression compares payload bytes before compression (raw) with those
// that crossed the wire; a ratio is raw over wire (2.0: half the bytes).
type Compression struct {
	RawSent       int64   `json:"raw_sent"`
	WireSent      int64   `json:"wire_sent"`
	SentRatio     float64 `json:"sent_ratio"`
	RawReceived   int64   `json:"raw_received"`
	WireReceived  int64   `json:"wire_received"`
	ReceivedRatio float64 `json:"received_ratio"`
}

// Connections counts connection attempts.
type Connections struct {
	Attempted int64 `json:"attempted"`
	Opened    int64 `json:"opened"`
	Failed    int64 `json:"failed"`
	// Dropped counts opened connections that ended before the run closed
	// them (the server closed or reset them, or broke the protocol; the
	// errors say which).
	Dropped int64 `json:"dropped"`
	// Reconnects counts slots reopened after a drop or a failed open
	// (--reconnect); each reopen is also in Attempted and Opened.
	Reconnects int64 `json:"reconnects"`
	// DialS is how long opening them all took (TCP connect and opening
	// handshake, --dial-concurrency at a time): in a staged run or with
	// --reconnect, from the first dial to the last open, however the plan
	// spread them; OpenedPerS is Opened / DialS.
	DialS      float64 `json:"dial_s"`
	OpenedPerS float64 `json:"opened_per_s"`
}

// Messages counts messages of the measured window. Sent = Received + Lost +
// InFlight always holds; Balanced says whether it did.
type Messages struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Lost     int64 `json:"lost"`
	InFlight int64 `json:"in_flight"`
	// Unsent counts open-model sends that fell due in the window but were never made.
	Unsent int64 `json:"unsent"`
	// NoReply counts a flow's sends that await no reply (kind flow): in
	// the balance beside received, lost and in flight.
	NoReply int64 `json:"no_reply,omitempty"`
	// rpc: a request run's requests timed out (no reply within the
	// request timeout) and failed (an error reply), both in the balance:
	// Sent = Received + TimedOut + Failed + Lost + InFlight; Unsolicited
	// counts messages that answered no request (outside it).
	TimedOut    int64 `json:"timed_out,omitempty"`
	Failed      int64 `json:"failed,omitempty"`
	Unsolicited int64 `json:"unsolicited,omitempty"`
	Balanced    bool  `json:"balanced"`
}

// Bytes counts WebSocket frame bytes (headers and payloads) of measured messages.
type Bytes struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
}

// Rates are per second of the measured window.
type Rates struct {
	// Target is the asked-for send rate (0 in the closed model).
	Target        float64 `json:"target_msgs_per_s"`
	Sent          float64 `json:"sent_msgs_per_s"`
	Received      float64 `json:"received_msgs_per_s"`
	BytesSent     float64 `json:"sent_bytes_per_s"`
	BytesReceived float64 `json:"received_bytes_per_s"`
}

// Latency is one metric's summary plus its whole histogram, HdrHistogram V2
// compressed and base64-encoded, so results can be merged exactly later.
type Latency struct {
	metrics.Summary
	// Clamped counts values outside 1 µs .. 60 s, recorded at the nearer edge.
	Clamped int64  `json:"clamped"`
	HDR     string `json:"hdr"`
}

// Environment describes where the client ran.
type Environment struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Hostname   string `json:"hostname"`
}

// About is what a report says of a run beside what it measured: the tool,
// the scenario and the target it ran against, and where that server was.
type About struct {
	ToolVersion string
	Spec        scenario.Spec
	Target      string
	// Bundled says the target is the reference server the client's process
	// started; ServerLocal says the target is this machine.
	Bundled, ServerLocal bool
	// Ended is when the run ended (zero: now).
	Ended time.Time
	// Warnings are added to the report's own (a split run's lost processes).
	Warnings []string
	// Failure, a failure already worded (a mix group's), is taken as it is.
	Failure string
	// merge part: Cores, when set, is the cores the client could use on
	// machines not this one (a merge of shards' results); 0: this machine's.
	Cores int
}

// Build makes the Report of the run a describes from what it measured, with
// its warnings.
func Build(in About, m *metrics.Measurement) (*Report, error) {
	snap := m.Snapshot
	c := snap.Counts
	secs := m.MeasureEnd.Sub(m.MeasureStart).Seconds()
	ended := in.Ended
	if ended.IsZero() {
		ended = time.Now()
	}
	procs := max(m.Processes, 1)
	r := &Report{
		Schema:      Schema,
		ToolVersion: in.ToolVersion,
		StartedAt:   m.Started.UTC(),
		EndedAt:     ended.UTC(),
		DurationS:   secs,
		Target:      in.Target,
		Bundled:     in.Bundled,
		Model:       string(in.Spec.Model()),
		Scenario:    in.Spec,
		StopReason:  m.StopReason,
		Interrupted: m.StopReason.Interrupted(),
		Connections: Connections{Attempted: c.ConnsAttempted, Opened: c.ConnsOpened, Failed: c.ConnsFailed, Dropped: c.ConnsDropped, Reconnects: c.Reconnects, DialS: m.Dial.Seconds()},
		Messages: Messages{Sent: c.Sent, Received: c.Received, Lost: c.Lost, InFlight: c.InFlight,
			Unsent: c.Unsent, NoReply: c.NoReply, TimedOut: c.TimedOut, Failed: c.Failed, Unsolicited: c.Unsolicited, Balanced: c.Balanced()},
		Bytes:       Bytes{Sent: c.BytesSent, Received: c.BytesReceived},
		Errors:      map[string]int64{},
		Latency:     map[string]Latency{},
		Warnings:    []string{},
		Environment: environment(),
	}
	r.Scenario.Target = in.Target
	r.Scenario = Redact(r.Scenario)
	if in.Spec.Kind == scenario.KindBroadcast {
		b := &Broadcast{RoomSize: in.Spec.RoomSize, Publishers: in.Spec.Publishers,
			Expected: c.Sent * int64(in.Spec.RoomSize), Deliveries: c.Deliveries, Gaps: c.DeliveryGaps, Late: c.DeliveriesLate, Duplicates: c.DeliveriesDup,
			InGrace: c.DeliveriesInGrace}
		if b.Expected > 0 {
			b.Reach = float64(b.Deliveries) / float64(b.Expected)
		}
		if secs > 0 {
			b.PerSecond = float64(b.Deliveries) / secs
		}
		r.Broadcast = b
	}
	r.Stream = streamReport(in, c, secs) // stream part
	if in.Spec.Deflate {
		z := &Compression{RawSent: c.DeflateRawSent, WireSent: c.DeflateWireSent, RawReceived: c.DeflateRawReceived, WireReceived: c.DeflateWireReceived}
		if z.WireSent > 0 {
			z.SentRatio = float64(z.RawSent) / float64(z.WireSent)
		}
		if z.WireReceived > 0 {
			z.ReceivedRatio = float64(z.RawReceived) / float64(z.WireReceived)
		}
		r.Compression = z
	}
	r.Target = r.Scenario.Target
	if m.Dial > 0 {
		r.Connections.OpenedPerS = float64(c.ConnsOpened) / m.Dial.Seconds()
	}
	for k, v := range snap.Errors {
		r.Errors[k] = v
	}
	r.Rates.Target = in.Spec.Rate
	if secs > 0 {
		r.Rates.Sent = float64(c.Sent) / secs
		r.Rates.Received = float64(c.Received) / secs
		r.Rates.BytesSent = float64(c.BytesSent) / secs
		r.Rates.BytesReceived = float64(c.BytesReceived) / secs
	}
	for _, m := range metrics.Metrics() {
		h := snap.Hist[m]
		enc, err := h.Encode()
		if err != nil {
			return nil, fmt.Errorf("encode %s histogram: %w", m, err)
		}
		r.Latency[m.String()] = Latency{Summary: h.Summary(), Clamped: h.Clamped(), HDR: enc}
	}
	// flowrun: a flow's steps.
	steps, err := stepReports(snap)
	if err != nil {
		return nil, err
	}
	r.Steps = steps
	if in.Spec.Kind == scenario.KindFlow {
		r.Flow = &Flow{Sessions: c.Sessions, SessionsFailed: c.SessionsFailed, Awaited: c.Awaited, NoReply: c.NoReply}
	}
	u := m.CPU
	r.Harness = Harness{
		CPUUserS: u.User.Seconds(), CPUSysS: u.System.Seconds(),
		MaxRSSKiB: u.MaxRSSKiB, InProcessServer: in.Bundled && procs == 1, IO: m.IO, RxTimestamps: m.Timestamps,
		Cores: cmp.Or(in.Cores, min(m.GOMAXPROCS, runtime.NumCPU())), GCPauseS: u.GCPause.Seconds(), GCCycles: u.GCCycles,
		ReadBacklog:    ReadBacklog{LoopPasses: m.Loops.Passes, ReadyMean: m.Loops.MeanReady(), ReadyMax: m.Loops.ReadyMax, FullReads: m.Loops.FullReads},
		SendBufferFull: m.SendBufferFull, Saturation: []string{},
		ServerOnThisMachine: in.ServerLocal && !(in.Bundled && procs == 1), MachineCPUUtilization: max(u.Machine, 0),
	}
	if cpu := (u.User + u.System).Seconds(); cpu > 0 {
		if secs > 0 {
			r.Harness.CPUCores = cpu / secs
		}
		if n := c.Received + c.Stream; n > 0 { // a stream's messages are received too
			r.Harness.CPUPerMessageUs = cpu * 1e6 / float64(n)
		}
	}
	if r.Harness.Cores > 0 {
		r.Harness.CPUUtilization = r.Harness.CPUCores / float64(r.Harness.Cores)
	}
	if secs > 0 {
		r.Harness.GCPauseFraction = u.GCPause.Seconds() / secs / float64(procs)
	}
	r.Harness.Saturation = saturation(r, snap)
	r.Harness.Saturated = len(r.Harness.Saturation) > 0
	for _, iv := range m.Intervals {
		out, err := intervalReport(iv)
		if err != nil {
			return nil, err
		}
		r.Intervals = append(r.Intervals, out)
	}
	for _, st := range m.Stages {
		out, err := stageReport(st)
		if err != nil {
			return nil, err
		}
		r.Stages = append(r.Stages, out)
	}
	r.Failure = failure(r, in, m)
	r.Warnings = append(warnings(r, snap), in.Warnings...)
	return r, nil
}

// Histogram decodes the named metric's histogram from the report.
func (r *Report) Histogram(name string) (*metrics.Histogram, error) {
	l, ok := r.Latency[name]
	if !ok {
		return nil, fmt.Errorf("no %q latency in the result", name)
	}
	h, err := metrics.DecodeHistogram(l.HDR)
	if err != nil {
		return nil, fmt.Errorf("%s histogram: %w", name, err)
	}
	if l.Clamped > 0 {
		if err := h.AddClamped(l.Clamped); err != nil {
			return nil, fmt.Errorf("%s histogram: %w", name, err)
		}
	}
	return h, nil
}

func environment() Environment {
	host, _ := os.Hostname()
	return Environment{
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Hostname:   host,
	}
}

// MarshalIndent is the report as indented JSON, ending in a newline.
func (r *Report) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func stageReport(st metrics.Stage) (Stage, error) {
	c := st.Snapshot.Counts
	out := Stage{Name: st.Name, StartS: st.Start.Seconds(), EndS: st.End.Seconds(), TargetConns: st.TargetConns,
		TargetRate: st.TargetRate, Open: st.Open,
		// Replies of one stage's messages may arrive in the next, so a
		// stage's own counts need not balance.
		Messages: Messages{Sent: c.Sent, Received: c.Received, Lost: c.Lost, InFlight: c.InFlight, Unsent: c.Unsent,
			TimedOut: c.TimedOut, Failed: c.Failed, Unsolicited: c.Unsolicited, Balanced: c.Balanced()},
		Bytes:  Bytes{Sent: c.BytesSent, Received: c.BytesReceived},
		Rates:  Rates{Target: st.TargetRate},
		Errors: map[string]int64{}, Latency: map[string]Latency{}}
	for k, v := range st.Snapshot.Errors {
		out.Errors[k] = v
	}
	if d := (st.End - st.Start).Seconds(); d > 0 {
		out.Rates.Sent = float64(c.Sent) / d
		out.Rates.Received = float64(c.Received) / d
		out.Rates.BytesSent = float64(c.BytesSent) / d
		out.Rates.BytesReceived = float64(c.BytesReceived) / d
	}
	var err error
	out.Latency, err = latencies(st.Snapshot)
	return out, err
}

// latencies encodes every non-empty histogram of snap.
func latencies(snap *metrics.Snapshot) (map[string]Latency, error) {
	out := map[string]Latency{}
	for _, m := range metrics.Metrics() {
		h := snap.Hist[m]
		if h == nil || h.Count() == 0 {
			continue
		}
		enc, err := h.Encode()
		if err != nil {
			return nil, fmt.Errorf("encode %s histogram: %w", m, err)
		}
		out[m.String()] = Latency{Summary: h.Summary(), Clamped: h.Clamped(), HDR: enc}
	}
	return out, nil
}

func intervalReport(iv metrics.Interval) (Interval, error) {
	snap, err := iv.Expanded()
	if err != nil {
		return Interval{}, err
	}
	iv.Snapshot = snap
	c := iv.Snapshot.Counts
	out := Interval{StartS: iv.Start.Seconds(), EndS: iv.End.Seconds(), Sent: c.Sent, Received: c.Received, Open: iv.Open, Stream: c.Stream}
	for _, v := range iv.Snapshot.Errors {
		out.Errors += v
	}
	if d := (iv.End - iv.Start).Seconds(); d > 0 {
		out.RateS = float64(c.Received+c.Stream) / d
	}
	if out.Latency, err = latencies(iv.Snapshot); err != nil {
		return out, fmt.Errorf("interval %v..%v: %w", iv.Start, iv.End, err)
	}
	return out, nil
}
