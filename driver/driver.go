package driver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/url"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/internal/iomode"
	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// Stop reasons, as they appear in the result (Result.StopReason): the
// metrics.StopReason constants, named here for the driver's users.
const (
	StopCompleted     = metrics.StopCompleted
	StopInterrupted   = metrics.StopInterrupted
	StopAborted       = metrics.StopAborted
	StopNoConnections = metrics.StopNoConnections
	StopNotEcho       = metrics.StopNotEcho
	StopNotBroadcast  = metrics.StopNotBroadcast
	StopNoStream      = metrics.StopNoStream
	StopMissedStart   = metrics.StopMissedStart // shard part
)

// openRatePerWorker is the open-model rate one event loop is given before
// another is added (up to GOMAXPROCS, unless Config.Workers says otherwise).
const openRatePerWorker = 20000

// closeTimeout bounds the close handshake at the end of a run.
const closeTimeout = 2 * time.Second

// Config is what Run needs.
type Config struct {
	// Scenario is the run's scenario, compiled (scenario.Compile): every
	// value parsed and every file it names read. A process's part of a
	// split run (Part) is the whole run compiled, then Share'd.
	Scenario *scenario.Compiled
	// Spec, when Scenario is nil, is compiled by Run instead (as the whole
	// run when Part is set); it must then name no file (payload_file,
	// tokens_file, ca), since the driver reads none. A shorthand for tests
	// and examples. Either's Target is ignored in favour of Target.
	Spec scenario.Spec
	// Target is the ws:// URL to load.
	Target string
	// Recorder receives every measurement; nil makes a fresh one.
	Recorder *metrics.Recorder
	// Abort, when done, stops the run at once: no grace period, no close
	// handshake. (Cancelling Run's ctx stops gracefully instead.)
	Abort context.Context
	// Workers is the number of event loops; 0 means GOMAXPROCS.
	Workers int
	// IO is how the event loops talk to the kernel: IOAuto (the default,
	// also ""), IOUring or IOSyscalls.
	IO iomode.Mode
	// Timestamps is where an echo's arrival time comes from: TimestampsKernel
	// (the default) or TimestampsRead.
	Timestamps string
	// Part places this run inside a larger one split over processes
	// (--procs): its connections are slots First … First+Spec.Conns-1 of
	// Total, and the open-model schedule is the whole run's (Spec.Rate is the
	// whole run's rate), so the parts together send exactly what one process
	// would. The zero Part is the whole run.
	Part Part
	// OnInterval, if set, is called with each interval of the measured
	// window once every event loop has reported it (for a live status). It
	// runs on the collecting goroutine and must not keep the snapshot.
	OnInterval func(Interval)
	// Ready, if set, is called once the connections are open and before the
	// clock starts; the run waits for it. A split run uses it to start every
	// part's clock together. An error stops the run (as StopAborted).
	// shard part: what it returns, when not zero, is the start: the clock's
	// origin, the schedule's epoch. Run waits until then if it is still
	// ahead, and dates every intended send from it, not from when it woke,
	// so that shards given one start (--start-at) share one schedule.
	Ready func() (time.Time, error)
}

// Part is one process's share of a split run.
type Part struct {
	First, Total int
}

// Sources of an echo's arrival time.
const (
	// TimestampsKernel dates each echo by the kernel's receive timestamp
	// (SO_TIMESTAMPNS), so the client's own delay in reading it stays out of
	// the latency (it is recorded as read_lag), and an open-model loop need
	// not wake for every echo: it reads them when it wakes to send.
	TimestampsKernel = "kernel"
	// TimestampsRead dates each echo by when the client read it.
	TimestampsRead = "read"
)

// I/O modes of the event loops (internal/iomode, shared with the server).
const (
	// IOAuto uses io_uring when the kernel allows it, else system calls.
	IOAuto = iomode.Auto
	// IOUring batches the sends and receives of each pass through the event
	// loop into one io_uring submission: a system call per batch instead of
	// one per message. Fails if io_uring is unavailable.
	IOUring = iomode.Uring
	// IOSyscalls makes one read(2) or write(2) per socket operation.
	IOSyscalls = iomode.Syscalls
)

// Result is what a run measured and how it ended: the one measurement type
// (metrics.Measurement) that results reads and merges.
type Result = metrics.Measurement

// Stage is one stage of a staged run and what was recorded in it.
type Stage = metrics.Stage

// Interval is one slice of the measured window and what was recorded in it.
// Its Snapshot is set only in the Config.OnInterval call.
type Interval = metrics.Interval

// LoopStats are the read backlog the event loops met.
type LoopStats = metrics.LoopStats

// Usage is the process's CPU use during the measured window, and its peak RSS.
type Usage = metrics.Usage

// checkpoint is what a worker's shard recorded in interval idx (idx -1:
// before the window started, dropped).
type checkpoint struct {
	idx  int
	data *metrics.Compact
	open int // the worker's connections not yet closed, at the checkpoint
}

// collectIntervals turns the workers' checkpoints into intervals, merged
// over workers as they come, compact. Once every loop has reported an
// interval, it is expanded for onInterval. (A loop's final checkpoint may
// add to an interval already handed out.)
func collectIntervals(parts <-chan checkpoint, workers int, length time.Duration, onInterval func(Interval)) []Interval {
	var out []Interval
	var reported []int // per interval, how many loops reported it
	var empty *metrics.Histogram
	for p := range parts {
		if p.idx < 0 {
			continue
		}
		for len(out) <= p.idx {
			k := time.Duration(len(out))
			out = append(out, Interval{Start: k * length, End: (k + 1) * length})
			reported = append(reported, 0)
		}
		iv := &out[p.idx]
		err := iv.Add(Interval{Data: p.data, Open: p.open})
		if err != nil {
			continue // cannot happen: both were made by Cut
		}
		if reported[p.idx]++; reported[p.idx] == workers && onInterval != nil {
			// Expanded only where something was recorded (each live
			// histogram is ~150 KiB); the rest share one empty histogram.
			snap := &metrics.Snapshot{Counts: iv.Data.Counts, Errors: maps.Clone(iv.Data.Errors)}
			for m, sp := range iv.Data.Hist {
				if sp == nil {
					if empty == nil {
						empty = metrics.NewHistogram()
					}
					snap.Hist[m] = empty // read only, shared
					continue
				}
				if snap.Hist[m], err = sp.Histogram(); err != nil {
					break // cannot happen: it was made by Cut
				}
			}
			if err == nil {
				cb := *iv
				cb.Snapshot = snap
				onInterval(cb)
			}
		}
	}
	for i := range out {
		if out[i].Data == nil {
			out[i].Data = &metrics.Compact{Errors: map[string]int64{}}
		}
	}
	return out
}

// run is the timeline and settings every worker reads. Times are nanoseconds
// since origin, on the monotonic clock.
type run struct {
	origin       time.Time
	measureStart int64
	stopAt       atomic.Int64 // end of sending: the measured window's end, earlier when interrupted
	grace        int64
	closeTimeout int64
	aborted      atomic.Bool
	bufferFull   atomic.Int64 // short sends, over all workers

	open        bool
	ticking     bool // open model on a tick with kernel timestamps: loops wake on the clock only
	rxStamps    bool // echoes are dated by the kernel's receive timestamp
	sched       scenario.Schedule
	maxInflight uint64
	maxMessage  int64
	codec       *codec
	fragments   int   // frames per message (1: unfragmented)
	rooms       rooms // broadcast: the rooms (size 0: not a broadcast run)
	think       int64 // closed model: pause between a reply and the next send
	interval    int64 // interval snapshots' length (0: none)
	hold        bool  // kind hold without a rate: connections only kept open
	op          ws.OpCode
	kind        string // the workload (scenario.Kind…): see workloads

	// A staged run's plan, and whether its planner has finished opening
	// connections (no loop may end before, or a late dial would be lost);
	// plannerExit is closed then too, for Run to wait on.
	plan        scenario.Plan
	plannerDone atomic.Bool
	plannerExit chan struct{}
	// The planner's first dial and last successful open, in ns since
	// origin (0: none): a staged run's Result.Dial spans them.
	firstDial, lastOpen atomic.Int64

	deflate bool // permessage-deflate negotiated on every connection

	spread *spreadTable // broadcast: each message's spread over its room

	// Broadcast: what each publisher (by schedule index) sent, written by
	// its loop as it stops sending, before it counts itself out of
	// sending; once sending is 0 every loop may read it (see
	// broadcast.arrived). wakeAll wakes every loop then.
	pubs    []published
	sending atomic.Int32 // event loops still sending
	wakeAll func()

	// --reconnect: the first backoff, and the loops' requests to reopen a
	// slot (nil: off).
	reconnect time.Duration
	redials   chan redial

	// verdict gathers what the replies say about the server: echoes or not.
	verdict verdict

	// stream part: the run's stream (Protocol.Stream; nil: none), its
	// measured window (streamWindow), and the first message of a subscribe
	// run that was not the stream's (see streamOther).
	stream       *flow.Stream
	streamWindow int64
	streamOther  atomic.Pointer[Mismatch]

	// flowrun: kind flow's script (nil: another kind), the data file's rows
	// (connection i takes row i mod len), and whether each connection runs
	// its steps once (a session rate) rather than looping them.
	script      *flow.Script
	flowData    [][][]byte
	flowOnce    bool
	sessionRate float64 // sessions per second (flowOnce)
	// flowMiss is the first expect that timed out: what it waited for and
	// the last message its loop had not matched (for the failure line of
	// a flow in which nothing came).
	flowMiss atomic.Pointer[Mismatch]
	// rpc: the Protocol a protocol kind speaks (nil: the stamp workloads),
	// and each slot's template variables (a data file's row).
	proto *flow.Protocol
	vars  func(slot int) [][]byte
}

// Run opens the connections, drives the load the scenario describes, stops
// in phases (stop sending, wait up to the grace period for replies, close
// every connection with a close handshake) and returns what it measured. It
// returns an error only when the run could not be set up; failures of
// connections and messages are counted in the Result. Cancelling ctx stops
// the run gracefully.
//
// Its steps, each a function or method of session below: prepare (the
// compiled scenario and the target), checkOptions (the Config's options,
// the payload codec and the dial plan: nothing is opened yet), dial,
// setUp (the run's settings and its event loops, which adopt the
// connections), startClock (warm-up and measured window, the interval and
// stage collectors, the staged planner), wait (the loops run until the
// window and the grace period end, or a stop) and collect.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	s, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	if s.c.Kind == scenario.KindConnect {
		return runConnect(ctx, cfg, s.c, s.u, s.rec)
	}
	if err := s.checkOptions(); err != nil {
		return nil, err
	}
	if !s.dial(ctx) {
		return s.noConnections()
	}
	defer s.cleanUp()
	if err := s.setUp(); err != nil {
		return nil, err
	}
	if err := s.startClock(ctx); err != nil {
		return nil, err
	}
	s.wait(ctx)
	return s.collect()
}

// session is one call of Run: its settings and what each step leaves for
// the next.
type session struct {
	cfg   Config
	c     *scenario.Compiled
	spec  scenario.Spec // c.Spec
	u     *url.URL      // the target
	rec   *metrics.Recorder
	abort context.Context

	part                     Part // the slots this process drives (set for every run by setUp)
	split, staged, broadcast bool
	useRing, rxStamps        bool
	codec                    *codec
	script                   *flow.Script // flowrun: kind flow's steps, compiled
	plan                     dialPlan
	events                   []scenario.ConnEvent // staged: what the planner opens and closes after the start

	dialStart time.Time
	conns     []dialed
	dead      []int // slots whose connection did not open, whose sends are unsent
	r         *run
	workers   []*worker
	res       *Result
	relays    bool // a broadcast member of this process can relay (see relayable)

	// Set by startClock for wait and collect.
	stopPlan, intervalsDone, stagesDone func()
	cleanups                            []func() // run by cleanUp, last first
}

// compiled is the run's compiled scenario: Config.Scenario, or Config.Spec
// compiled here (as the whole run when Part splits it), which then must
// name no file: the driver reads none.
func (cfg Config) compiled() (*scenario.Compiled, error) {
	if cfg.Scenario != nil {
		return cfg.Scenario, nil
	}
	whole := cfg.Spec
	whole.Target = cfg.Target
	if cfg.Part.Total != 0 {
		whole.Conns = cfg.Part.Total
	}
	c, err := scenario.CompileWith(whole, func(string) ([]byte, error) {
		return nil, errors.New("the driver reads no files: compile the scenario with scenario.Compile and pass it as Config.Scenario")
	})
	if err != nil {
		return nil, err
	}
	return c.Share(cfg.Spec.Conns), nil
}

// prepare is Run's first step: the compiled scenario, the target, and how
// the connections will be opened.
func prepare(cfg Config) (*session, error) {
	c, err := cfg.compiled()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("target URL: %w", err)
	}
	s := &session{cfg: cfg, c: c, spec: c.Spec, u: u, rec: cfg.Recorder, abort: cfg.Abort, part: cfg.Part,
		split: cfg.Part.Total != 0, broadcast: c.Kind == scenario.KindBroadcast}
	s.spec.Target = cfg.Target
	if s.rec == nil {
		s.rec = metrics.NewRecorder()
	}
	if s.abort == nil {
		s.abort = context.Background()
	}
	// A staged run, or one that reopens dropped connections, runs on the
	// planner and the message sequence (see staged_linux.go).
	s.staged = s.spec.Staged() || s.spec.Reconnect > 0 || s.spec.SessionRate > 0 // flowrun: sessions arrive on the planner
	return s, nil
}

// checkOptions checks the Config's options against the scenario and
// plans the dial: a failure here costs no connection.
func (s *session) checkOptions() error {
	spec, part := s.spec, s.part
	if s.split && (part.First < 0 || part.First+spec.Conns > part.Total) {
		return fmt.Errorf("part: slots %d..%d outside 0..%d", part.First, part.First+spec.Conns-1, part.Total-1)
	}
	if s.split && s.c.Schedule.Poisson && s.c.Schedule.Seed == 0 {
		// shard part: each part would draw its own arrivals.
		return errors.New("part: a part of a Poisson run needs the run's seed (seed), the same in every part")
	}
	switch s.cfg.Timestamps {
	case "", TimestampsKernel:
		s.rxStamps = true
	case TimestampsRead:
	default:
		return fmt.Errorf("unknown source of arrival times %q (want %s or %s)", s.cfg.Timestamps, TimestampsKernel, TimestampsRead)
	}
	var err error
	if s.useRing, err = chooseIO(s.cfg.IO); err != nil {
		return err
	}
	tc, err := targetTLS(s.c, s.u)
	if err != nil {
		return err
	}
	s.codec = newPayloadCodec(s.c, s.c.BinaryMessages(), s.broadcast)
	if s.c.Kind == scenario.KindFlow { // flowrun: the steps as Compile made them
		if s.script = s.c.Script; s.script == nil {
			if s.script, err = flow.NewScript(s.c.Steps, s.c.Names); err != nil {
				return fmt.Errorf("flow: %w", err)
			}
		}
	}
	s.plan = dialPlan{n: spec.Conns, conc: spec.DialConcurrency, timeout: time.Duration(spec.ConnectTimeout),
		sources: s.c.Sources, first: part.First, dialer: handshakeDialer(s.c), require: requireSubprotocol(s.c),
		rate: spec.ConnectRate, tls: tc, ports: newPortPicker(), urlFor: connURLs(s.c, s.u),
		opening: newOpening(s.c.Protocol, dataRow(s.c), nameCount(s.c))} // rpc: the protocol's opening
	if s.staged {
		// Slots open at the start are dialled before the clock starts; the
		// planner opens and closes the rest as the run goes.
		if !s.split {
			s.part = Part{First: 0, Total: spec.Conns}
		}
		k0 := 0
		evs := s.c.Plan.ConnEvents(spec.ConnectRate)
		if spec.SessionRate > 0 {
			evs = sessionArrivals(spec, s.part.Total) // flowrun
		}
		for _, ev := range evs {
			if ev.At > 0 || !ev.Open {
				s.events = append(s.events, ev)
			} else {
				k0 = max(k0, ev.Slot+1)
			}
		}
		s.plan.n = max(0, min(k0, s.part.First+spec.Conns)-s.part.First)
		s.plan.rate = 0
	}
	return nil
}

// dial opens the connections due before the clock starts. It reports
// whether the run goes on: a run that is not staged needs one at least.
func (s *session) dial(ctx context.Context) bool {
	s.dialStart = time.Now()
	s.conns = dialAll(ctx, s.u, s.plan, s.rec)
	s.res = &Result{Dial: time.Since(s.dialStart), Processes: 1}
	return len(s.conns) > 0 || s.staged
}

// noConnections is the result of a run in which no connection opened.
func (s *session) noConnections() (*Result, error) {
	now := time.Now()
	res := s.res
	res.Started, res.MeasureStart, res.MeasureEnd = now, now, now
	res.StopReason = StopNoConnections
	if s.plan.opening != nil {
		res.Mismatch = s.plan.opening.first.Load() // rpc: every opening failed: the first says how
	}
	var err error
	res.Snapshot, err = s.rec.Snapshot()
	return res, err
}

// cleanUp runs what the steps left to undo, last first.
func (s *session) cleanUp() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}

// setUp is Run's third step: the settings every event loop reads, and the
// loops, which adopt the connections.
func (s *session) setUp() error {
	spec, conns := s.spec, s.conns
	s.placeSlots()
	switch {
	case s.staged:
		// Slots are fixed by the plan; their messages are counted as they fall due.
	case s.split:
		s.dead = deadSlots(conns, s.part.First, spec.Conns)
	case s.broadcast:
		// Rooms are fixed by slot: a connection that failed leaves a hole.
		s.dead = deadSlots(conns, 0, spec.Conns)
	}
	s.r = s.newRun()
	s.res.Timestamps = TimestampsRead
	if s.rxStamps {
		s.res.Timestamps = TimestampsKernel
	}
	s.res.IO = IOSyscalls
	if s.useRing {
		s.res.IO = IOUring
	}
	nw := s.cfg.Workers
	if nw <= 0 {
		nw = runtime.GOMAXPROCS(0)
		if s.c.Model == scenario.Open {
			// Every loop wakes on every tick: at low rates one loop, waking
			// for all connections at once, costs a fraction of several.
			nw = min(nw, int(math.Ceil(spec.Rate/openRatePerWorker)))
		}
	}
	if s.staged {
		nw = min(nw, spec.Conns)
	} else {
		nw = min(nw, len(conns))
	}
	s.workers = make([]*worker, nw)
	for i := range s.workers {
		w, err := newWorker(s.r, s.rec.NewShard(), s.useRing)
		if err != nil {
			for _, w := range s.workers[:i] {
				w.release()
			}
			closeDialed(conns)
			return fmt.Errorf("start event loop: %w", err)
		}
		s.workers[i] = w
	}
	s.cleanups = append(s.cleanups, func() {
		for _, w := range s.workers {
			w.release()
		}
	})
	return s.adopt()
}

// placeSlots sets the slots the run's schedule is spread over (s.part),
// once the connections due at the start are dialled: a part's (or a
// shard's) place in the whole run; a broadcast run's every slot (rooms are
// fixed by slot); else the connections that opened.
func (s *session) placeSlots() {
	switch {
	case s.staged, s.split:
	case s.broadcast:
		s.part = Part{First: 0, Total: s.spec.Conns}
	default:
		s.part = Part{First: 0, Total: len(s.conns)}
	}
}

// newRun is the settings and timeline every event loop reads.
func (s *session) newRun() *run {
	spec := s.spec
	sched := s.c.Schedule
	sched.Conns = s.part.Total // the rate is spread over the whole run's slots
	var rm rooms
	if s.broadcast {
		rm = rooms{size: spec.RoomSize, publishers: spec.Publishers}
		sched.Conns = spec.Senders(s.part.Total) // the rate is the publishers'
	}
	if s.staged {
		sched.Conns = 1 // the staged sequence uses only its tick and its exponentials
	}
	if sched.Poisson && sched.Seed == 0 {
		sched.Seed = rand.Uint64() | 1
	}
	r := &run{
		open:         s.c.Model == scenario.Open,
		sched:        sched,
		maxInflight:  uint64(spec.MaxInflight),
		maxMessage:   int64(max(s.codec.size, 1<<20)),
		codec:        s.codec,
		rooms:        rm,
		fragments:    max(spec.Fragment, 1),
		think:        int64(spec.Think),
		interval:     int64(spec.Interval),
		hold:         s.c.Kind == scenario.KindHold && spec.Rate == 0,
		kind:         string(s.c.Kind),
		op:           ws.OpText,
		plan:         s.c.Plan,
		deflate:      spec.Deflate,
		grace:        int64(spec.Grace),
		closeTimeout: int64(closeTimeout),
		measureStart: int64(spec.Warmup),
		rxStamps:     s.rxStamps,
	}
	r.ticking = r.open && r.rxStamps && spec.Tick > 0
	if p := s.c.Protocol; p != nil { // stream part
		r.stream, r.streamWindow = p.Stream, streamWindow(time.Duration(spec.Warmup))
	}
	r.verdict.init()
	// rpc: the session layer's settings.
	r.proto, r.vars = s.c.Protocol, dataRow(s.c)
	if r.proto != nil && r.proto.Binary {
		r.op = ws.OpBinary
	}
	if s.c.Kind == scenario.KindRequest {
		r.verdict.noMatch = metrics.StopNoReply
		r.verdict.after = max(verdictAfter, r.proto.Request.Timeout)
	}
	if spec.Reconnect > 0 {
		r.reconnect = time.Duration(spec.Reconnect)
		r.redials = make(chan redial, 2*spec.Conns+16)
	}
	if s.broadcast {
		npub := spec.Senders(s.part.Total)
		r.spread = newSpreadTable(npub, spec.RoomSize)
		r.pubs = make([]published, npub)
		for p := range r.pubs {
			// A publisher of another process (--procs) sends what the
			// schedule says; this process knows nothing more of it.
			slot := p/spec.Publishers*spec.RoomSize + p%spec.Publishers
			r.pubs[p] = published{first: noSeq, here: slot >= s.part.First && slot < s.part.First+spec.Conns}
		}
	}
	if spec.Binary {
		r.op = ws.OpBinary
	}
	if s.c.Kind == scenario.KindPing {
		r.op = ws.OpPing // answered by pongs, matched and timed like echoes
	}
	if s.script != nil { // flowrun
		r.script, r.flowData, r.flowOnce, r.sessionRate = s.script, s.c.Data, spec.SessionRate > 0, spec.SessionRate
		if p := s.c.Protocol; p != nil && p.Binary {
			r.op = ws.OpBinary
		}
	}
	return r
}

// adopt hands each connection to its event loop, at its slot.
func (s *session) adopt() error {
	r, workers, nw := s.r, s.workers, len(s.workers)
	r.sending.Store(int32(nw))
	r.wakeAll = func() { wake(workers) }
	if s.staged {
		n := s.spec.Conns
		for i, w := range workers {
			w.staged = &stagedState{idx: i, loops: nw, first: s.part.First, n: n,
				slots: make([]*conn, n), gens: make([]uint32, n), closed: make([]uint32, n)}
		}
	} else {
		r.plannerDone.Store(true)
	}
	for i, d := range s.conns {
		slot := i // a whole run spreads the rate over the connections that opened
		if s.split || s.broadcast || s.staged {
			slot = s.part.First + d.index // a part (or a room) keeps the whole run's slots
		}
		owner := workers[i%nw]
		if s.staged {
			owner = workers[d.index%nw]
		}
		if err := owner.adoptWith(d.fd, slot, d.carry, d.vars); err != nil { // rpc: with what its opening captured
			closeDialed(s.conns[i:])
			for _, w := range workers {
				w.abort()
			}
			return fmt.Errorf("register connection: %w", err)
		}
		if s.staged {
			owner.staged.slots[d.index] = owner.conns[len(owner.conns)-1]
		}
	}
	return nil
}

// startClock starts the warm-up and the measured window once every
// connection due at the start is open, with the collectors of intervals
// and stages and, in a staged run, the planner.
func (s *session) startClock(ctx context.Context) error {
	// Opening connections leaves garbage (dial goroutines, handshake
	// buffers) that the runtime would hand back to the OS only minutes from
	// now: collect it before the clock starts, so the run holds what its
	// connections need and GC does not stop the measured window for it.
	debug.FreeOSMemory()

	var at time.Time
	if s.cfg.Ready != nil {
		var err error
		if at, err = s.cfg.Ready(); err != nil {
			for _, w := range s.workers {
				w.abort()
			}
			return fmt.Errorf("waiting to start: %w", err)
		}
	}

	// The clock starts now (or at the start Ready gave): the warm-up, then
	// the measured window.
	r := s.r
	r.origin = originAt(at)
	r.stopAt.Store(int64(s.spec.Warmup + s.spec.Duration))
	s.res.Started = r.origin
	if r.interval > 0 {
		s.collectIntervals()
	}
	if s.staged {
		s.startPlanner(ctx)
	}
	return nil
}

// originAt is the clock's origin for a start at (shard part): now when at
// is zero; else at, once it has come (waiting for it if it is ahead), on
// the monotonic clock (at read from a flag has none: a wall-clock step
// during the run must not move the schedule).
func originAt(at time.Time) time.Time {
	if at.IsZero() {
		return time.Now()
	}
	if d := time.Until(at); d > 0 {
		time.Sleep(d)
	}
	now := time.Now()
	return now.Add(at.Sub(now))
}

// collectIntervals has the event loops report each interval to a
// collector, whose intervals intervalsDone puts in the result.
func (s *session) collectIntervals() {
	r, workers, res := s.r, s.workers, s.res
	parts := make(chan checkpoint, 4*len(workers))
	collected := make(chan []Interval, 1)
	for _, w := range workers {
		w.shard.Windowed()
		w.intervals, w.nextInterval, w.intervalIdx = parts, r.measureStart, -1
	}
	go func() {
		collected <- collectIntervals(parts, len(workers), time.Duration(r.interval), s.cfg.OnInterval)
	}()
	done := false
	s.cleanups = append(s.cleanups, func() {
		if !done { // Run returned before the workers ran
			close(parts)
		}
	})
	s.intervalsDone = func() {
		close(parts)
		res.Intervals = <-collected
		done = true
	}
}

// startPlanner starts a staged run's stage collector and planner, which
// opens and closes connections as the plan goes until sending stops;
// stagesDone waits for it and puts the stages in the result.
func (s *session) startPlanner(ctx context.Context) {
	r, workers, res := s.r, s.workers, s.res
	parts := make(chan stageCheckpoint, 4*len(workers))
	collected := make(chan []Stage, 1)
	for _, w := range workers {
		if s.spec.Staged() {
			w.staged.stageCh = parts
		}
	}
	go func() { collected <- collectStages(parts, r.plan, s.spec) }()
	if r.redials != nil {
		// Slots whose first dial failed are retried too.
		opened := make(map[int]bool, len(s.conns))
		for _, d := range s.conns {
			opened[d.index] = true
		}
		for i := range s.plan.n {
			if !opened[i] {
				select {
				case r.redials <- redial{slot: s.part.First + i, attempt: 1}:
				default:
				}
			}
		}
	}
	// The planner stops opening connections when sending stops.
	stopped, stopPlanner := context.WithCancel(ctx)
	s.stopPlan = stopPlanner
	r.plannerExit = make(chan struct{})
	s.stagesDone = func() {
		stopPlanner()
		<-r.plannerExit
		if last := r.lastOpen.Load(); last > 0 {
			// Opening spans from the first dial (before the clock, or
			// the planner's first) to the last connection it opened.
			first := s.dialStart
			if s.plan.n == 0 {
				first = r.origin.Add(time.Duration(r.firstDial.Load()))
			}
			res.Dial = r.origin.Add(time.Duration(last)).Sub(first)
		}
		for _, w := range workers {
			w.staged.closeInbox() // connections that opened as an aborted run ended
		}
		close(parts)
		res.Stages = <-collected // nil unless the run is staged
	}
	stopTimer := time.AfterFunc(time.Duration(r.stopAt.Load()), stopPlanner)
	s.cleanups = append(s.cleanups, stopPlanner, func() { stopTimer.Stop() })
	go planner(stopped, r, workers, s.events, s.u, s.plan, s.rec, func() {
		r.plannerDone.Store(true)
		close(r.plannerExit)
		wake(workers)
	})
}

// wait runs the event loops until they end: at the end of the window and
// the grace period, or earlier when the server does not do what the
// workload needs, ctx is cancelled (graceful) or Config.Abort is done. It
// samples the CPU at the measured window's edges.
func (s *session) wait(ctx context.Context) {
	r, workers, res := s.r, s.workers, s.res
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(w.loop)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// CPU is sampled at the edges of the measured window, from here: the
	// workers know when the window starts and ends, but sampling there would
	// put a system call on their hot path.
	var cpuStart, cpuEnd usage
	var cpuMu sync.Mutex
	sample := func(into *usage) func() {
		return func() {
			cpuMu.Lock()
			*into = processUsage()
			cpuMu.Unlock()
		}
	}
	startSampler := time.AfterFunc(time.Duration(r.measureStart), sample(&cpuStart))
	endSampler := time.AfterFunc(time.Duration(r.stopAt.Load()), sample(&cpuEnd))
	// stopSending ends the window now, unless it has ended, and takes the CPU
	// sample there, so an interrupted run's CPU covers what it measured.
	stopSending := func() {
		if now := int64(time.Since(r.origin)); now < r.stopAt.Load() {
			if s.stopPlan != nil {
				s.stopPlan()
			}
			r.stopAt.Store(now)
			if endSampler.Stop() {
				sample(&cpuEnd)()
			}
		}
		wake(workers)
	}
	abortNow := func() {
		res.StopReason = StopAborted
		stopSending()
		r.aborted.Store(true)
		wake(workers)
		<-done
	}
	// stopThenWait stops sending for reason and waits for the loops to
	// end, unless the run is aborted meanwhile.
	stopThenWait := func(reason metrics.StopReason) {
		res.StopReason = reason
		stopSending()
		select {
		case <-done:
		case <-s.abort.Done():
			abortNow()
		}
	}

	res.StopReason = StopCompleted
	s.relays = relayable(s.conns, s.part.First, r.rooms)
	select {
	case <-done:
	case reason := <-r.verdict.watch(s.relays, done):
		// The server does not echo (or broadcast): say so now rather than
		// measure nothing for the rest of the run.
		r.verdict.cut.Store(true)
		stopThenWait(reason)
	case <-ctx.Done():
		stopThenWait(StopInterrupted)
	case <-s.abort.Done():
		abortNow()
	}
	startSampler.Stop()
	endSampler.Stop()
	cpuMu.Lock()
	if cpuEnd == (usage{}) {
		cpuEnd = processUsage()
	}
	if cpuStart == (usage{}) {
		cpuStart = cpuEnd // stopped before the window opened
	}
	res.CPU = cpuEnd.since(cpuStart)
	cpuMu.Unlock()
}

// collect is Run's last step: the result, once the loops have ended.
func (s *session) collect() (*Result, error) {
	r, workers, res, rec := s.r, s.workers, s.res, s.rec
	res.MeasureStart = r.origin.Add(time.Duration(r.measureStart))
	res.MeasureEnd = r.origin.Add(time.Duration(max(r.stopAt.Load(), r.measureStart)))
	if r.pubs != nil {
		// What a member still lacked of a publisher of this process when it
		// closed (after its last arrival, so never counted on the way) never
		// came: gaps too.
		sh := rec.NewShard()
		for _, w := range workers {
			sh.Counts.DeliveryGaps += w.load.missed()
		}
	}
	// A split run's connections that never opened still had their share of
	// the schedule: those sends are unsent, as the other parts make theirs.
	if r.open && len(s.dead) > 0 {
		sh := rec.NewShard()
		stop := time.Duration(r.stopAt.Load())
		from := time.Duration(r.measureStart)
		for _, slot := range s.dead {
			if i := r.schedIndex(slot); i >= 0 {
				sh.Counts.Unsent += int64(r.sched.Index(i, stop) - r.sched.Index(i, from))
			}
		}
	}
	if s.intervalsDone != nil {
		s.intervalsDone()
		if end := res.MeasureEnd.Sub(res.MeasureStart); len(res.Intervals) > 0 {
			last := &res.Intervals[len(res.Intervals)-1]
			last.End = max(last.Start, min(last.End, end))
		}
	}
	if s.stagesDone != nil {
		s.stagesDone()
	}
	res.Mismatch = r.verdict.result(res.StopReason, s.relays)
	if m := r.streamOther.Load(); m != nil && res.Mismatch == nil && s.c.Kind == scenario.KindSubscribe {
		res.Mismatch = m // stream part: what came instead, should no stream message have come
	}
	if res.Mismatch == nil && r.script != nil { // flowrun: what a flow's first timed-out expect got instead
		res.Mismatch = r.flowMiss.Load()
	}
	res.SendBufferFull = r.bufferFull.Load()
	res.GOMAXPROCS = runtime.GOMAXPROCS(0)
	for _, w := range workers {
		res.Loops.Passes += w.stats.Passes
		res.Loops.Ready += w.stats.Ready
		res.Loops.ReadyMax = max(res.Loops.ReadyMax, w.stats.ReadyMax)
		res.Loops.FullReads += w.stats.FullReads
		res.Loops.Wakeups += w.stats.Wakeups
	}
	var err error
	res.Snapshot, err = rec.Snapshot()
	if err == nil && s.staged && res.StopReason == StopCompleted && res.Snapshot.Counts.ConnsOpened == 0 {
		// However often the planner tried (--reconnect), a run in which no
		// connection ever opened failed, as one that is not staged does.
		res.StopReason = StopNoConnections
	}
	return res, err
}

// chooseIO resolves the I/O mode: whether the event loops use io_uring.
func chooseIO(mode iomode.Mode) (bool, error) {
	m, err := iomode.Parse(string(mode))
	switch {
	case err != nil:
		return false, err
	case m == iomode.Syscalls:
		return false, nil
	case m == iomode.Uring:
		if err := uring.Probe(); err != nil {
			return false, fmt.Errorf("I/O mode %s: %w", IOUring, err)
		}
		return true, nil
	}
	return uring.Probe() == nil, nil
}

// rooms shapes a broadcast run: rooms of size connections, the first
// publishers of each publishing.
type rooms struct{ size, publishers int }

// schedIndex is slot's index in the open-model schedule: the slot itself,
// or in a broadcast run its publisher index (-1: it does not publish).
func (r *run) schedIndex(slot int) int {
	if r.rooms.size == 0 {
		return slot
	}
	if pos := slot % r.rooms.size; pos < r.rooms.publishers {
		return slot/r.rooms.size*r.rooms.publishers + pos
	}
	return -1
}

// deadSlots lists the slots of a split run's part whose connection did not open.
func deadSlots(conns []dialed, first, n int) []int {
	opened := make([]bool, n)
	for _, d := range conns {
		opened[d.index] = true
	}
	var dead []int
	for i, ok := range opened {
		if !ok {
			dead = append(dead, first+i)
		}
	}
	return dead
}

func wake(workers []*worker) {
	for _, w := range workers {
		w.poll.Wake()
	}
}
