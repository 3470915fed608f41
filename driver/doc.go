/*
Package driver drives WebSocket load: it opens the connections a compiled
scenario (scenario.Compile: every value parsed, every file it names read)
asks for, sends and times their messages from a few event loops, stops in
phases and returns what it measured as a Result. Run is its core, in named
steps (prepare, dial, setUp, startClock, wait, collect); Preflight and
RaiseNoFile check a run before it starts. cmd/wsbench wires the driver to
flags and passes what a Result holds to results for the report.

The driver never opens a user's file (payload, tokens, CA: the compiled
scenario holds their contents) or a result file, never prints, and names
settings by their scenario keys, never by flags: failures of connections
and messages are data (counts by kind in the metrics), and Run returns an
error only when the run could not be set up.

# Vocabulary

Each term as the code uses it, with what implements it.

  - Event loop (worker; worker.loop in loop_linux.go): one goroutine with an epoll
    instance (internal/netpoll Poller), the connections it owns, one
    metrics.Shard (no locks on the hot path), one read buffer, an outbox
    (frames built into the connections' send queues, send_linux.go), a
    workload and a pacer. It only moves bytes: it sends what is queued,
    reads what is ready, hands whole messages to the workload
    (worker.message), asks the pacer what is due, moves through the phases
    and takes the checkpoints. Run starts GOMAXPROCS of them unless
    Config.Workers says otherwise, in the open model at most one per 20,000
    msg/s (openRatePerWorker), never more than the connections. worker.loop
    is its main loop.
  - Workload (workload, one file per kind: workload_echo.go, workload_ping.go,
    workload_broadcast.go, workload_hold.go, workload_subscribe.go,
    workload_flow.go; the
    registry workloads, keyed by
    scenario kind): what the connections do with their messages. It
    prepares a connection as the loop takes it (adopt), says whether it
    sends (sends), accounts for each data message or pong that arrives
    (message: matched, timed, counted) and says whether that was a reply
    the connection awaited, after which the pacer may send again. Once
    sending stops it may wait for more than replies (arrived: a broadcast
    member's deliveries) and count what never came (missed). The echo
    workload's reply is the matching the others share.
  - Pacer (pacer, one file per model: pacer_closed.go, pacer_open.go,
    pacer_staged.go; newPacer picks one from the run): when the loop's
    connections send. The loop calls pacer.due each pass while sending; the
    workload's replies go to pacer.replied; pacer.unsent counts, as sending
    stops, what fell due but was never sent.
  - Connection (conn): one client connection owned by one event loop. An
    idle conn is this struct (240 bytes on amd64) and a kernel socket: no
    goroutine, no read buffer; carry (a partial frame) and frag (a fragmented message) are
    allocated only while needed, pending holds the bytes queued to send.
  - Slot (conn.slot): a connection's index in the whole run. Its place in the
    open-model schedule is run.schedIndex(slot) (conn.sched): the slot itself,
    or in a broadcast run its publisher index (-1: it never sends).
  - Part (Config.Part): one process's share of a run split with --procs,
    or one shard's (--shard I/N, on any machine): slots First …
    First+Spec.Conns-1 of Total. Every part computes the whole run's
    schedule (placeSlots, run.nextDue, stagedPacer.slot) and sends only its
    own slots, so the parts together send exactly what one process would
    (shard_plan_linux_test.go checks it, fuzzed); a split part's slot that
    failed to open has its scheduled sends counted as unsent (deadSlots).
  - Closed model (default, closedPacer): each connection sends its next
    message when the reply to the last arrives (closedPacer.replied calls
    worker.send), after --think if set (then the send is due on the
    pacer's heap of due sends, dueHeap).
  - Open model (Spec.Rate > 0, openPacer): the schedule is
    scenario.Schedule: message k of schedule index i is due at
    Schedule.At(i, k), computed from the absolute index so it never drifts
    (Poisson arrivals: Schedule.Gap added to conn.exact). openPacer.schedule
    pushes a connection's next due time onto the pacer's dueHeap;
    openPacer.due makes what is due, at most sendBudget per pass.
    --max-inflight holds a connection (conn.blocked) until replies come.
  - Tick (Schedule.Tick, default 1 ms): the open model's grid. Each send is
    due at the first tick at or after its exact time (Schedule.Quantize), so
    the sends of one tick go out together. With kernel timestamps the loop is
    "ticking" (run.ticking): it parks on a poller only its timer can wake
    (netpoll.NewTicking), wakes on every tick that has a send due or a reply
    awaited (at least every maxReadDelay, 10 ms), sends what is due and reads
    what arrived since, each echo dated by when it reached the kernel, so
    read lag is about one tick. Why: every wake-up of an idle thread costs
    tens of µs of CPU, so a loop must not wake per message; and latency is
    measured from the grid times, so the tick never shows as lag.
  - Staged model (Spec.Stages; --reconnect runs on the same machinery): the
    load changes while it runs (staged_linux.go; each loop's part is a
    stagedState). In the open model every loop walks one message sequence
    (stagedPacer): message n is due when the integral of the plan's rate
    reaches n (Plan.MessageTime, stagedPacer.advance) and goes to slot n mod
    the active connections (stagedPacer.take); each loop sends the messages
    of the slots it owns (stagedState.owns). Stage checkpoints cut the shard
    at each stage boundary (stagedState.checkpoints, collectStages →
    Result.Stages).
  - Planner and redial: in a staged run a planner goroutine (planner) walks
    the plan's ConnEvents, hands each open to a pool of dialers and each
    close to the owning loop (stagedState.post → stagedState.takeInbox; the
    loop retires the connection: stops sending on it, waits up to the grace
    for its replies, closes it with 1000). With --reconnect a loop reports a
    dropped connection (stagedState.dropped) and the planner re-dials its slot
    after a backoff (run.backoff: doubled per try, at most maxBackoff, ±25%
    jitter), ordered in a redialHeap; reopened slots count as
    Counts.Reconnects.
  - Stamp: the first bytes of every payload (stamp, codec.put): the
    message's sequence number on its connection, its intended and actual
    send times (ns since the run's origin), and in a broadcast run its
    publisher. Binary messages carry it raw (24 bytes), text messages in
    base64 (32 characters), so a text payload stays valid UTF-8. The rest of
    the payload is a fixed filler (or a --template), so an echo is checked
    (codec.get) without keeping what was sent.
  - Intended send time (stamp.intended): when a message was due: its place
    on the schedule (open and staged models, --think), or, in the closed
    model, the moment the previous reply was handled. Latency (metrics.RTT) is
    measured from it, so a stalled server shows in every send it delayed;
    metrics.RTTUncorrected is measured from the actual send (stamp.sent).
  - Send lag (metrics.SendLag): how late a send left, actual minus intended
    time; recorded in the open model and with --think. A loop's own timer
    wake-up is part of it.
  - Read lag (metrics.ReadLag): with kernel receive timestamps
    (TimestampsKernel, SO_TIMESTAMPNS), how long after the kernel received an
    echo the loop read it. Latency ends at the kernel's stamp (rxStamps.arrival),
    so this delay stays out of it.
  - In flight (Counts.InFlight): measured messages still unanswered when the
    run ended (worker.settle with lost false, at the close or on abort).
  - Lost (Counts.Lost): measured messages given up on: their connection died
    (worker.settle with lost true), a later reply came first (echo_skipped),
    the echo was altered, or a retiring connection closed without them.
  - Unsent (Counts.Unsent): open-model sends that fell due inside the
    measured window but were never made: the client fell behind, a connection
    was capped, dead or not open (pacer.unsent, stagedPacer.take,
    deadSlots). They are not part of Sent.
  - Grace (Spec.Grace, run.grace): how long, once sending stops, the loops
    wait for replies still in flight (and in a broadcast run for every
    member's deliveries: workload.arrived) before closing.
  - Phases (phaseSending → phaseDraining → phaseClosing → phaseDone): every
    loop moves through them on its own, driven by the shared timeline in run
    (run.stopAt, run.grace), not by messages between goroutines
    (worker.advance). Sending ends at run.stopAt, or up to catchUp (100 ms)
    later while sends that fell due before it are still queued; draining ends
    when nothing is outstanding or the grace is over; closing sends close
    1000 and waits up to closeTimeout (2 s) for the server's replies.
  - Warm-up and measured window: the clock starts (run.origin) once every
    connection is open and Config.Ready returned, at the start it returned
    if any (originAt: a shard's --start-at, the schedule's epoch on every
    machine); what is sent before
    run.measureStart (the warm-up) is not counted (conn.firstMeasured).
  - Checkpoints and intervals: with Spec.Interval each loop's shard records
    every value twice, into its totals and into a window; at each interval
    boundary the loop cuts the window (worker.checkpoint → metrics.Shard.Cut,
    the window's non-empty buckets as a metrics.Compact, which empties it) and
    sends it to
    collectIntervals, which merges the loops' checkpoints per interval into
    Result.Intervals and, once every loop has reported one, expands it for
    Config.OnInterval. Intervals stay compact, so a long run's memory stays
    flat. Interval numbers come from the clock: a loop that
    slept through a boundary reports the empty intervals too.
  - Rooms, publishers, deliveries (--kind broadcast): connections sit in
    rooms of Spec.RoomSize by slot (rooms); the first Spec.Publishers of each
    room publish on the schedule (the broadcast workload). Every member, the
    publisher included, records each message's delivery latency
    (metrics.Delivery, in broadcast.delivered), and its gaps, late and duplicate arrivals per
    publisher (conn.next, conn.seen); spreadTable records each message's
    spread over its room (metrics.Spread). The publisher's own copy is also
    its echo, so messages still balance.
  - Verdict (verdict): the loops tell Run whether the server does what the
    workload needs (echo.sawEcho, broadcast.sawRelay, echo.notEcho). No echo
    within verdictAfter (1 s) of the first reply that was not one stops the
    run as StopNotEcho ("not_echo"); in a broadcast run, echoes but no
    delivery to another member within verdictAfter of the first echo stop it
    as StopNotBroadcast ("not_broadcast"). The run then skips catch-up and
    grace (verdict.cut), closes normally and keeps an excerpt of what was
    sent and what came back (Result.Mismatch).
  - Stream (the stream part; stream.go, workload_subscribe.go): a server's
    pushed messages, matched by the run's flow.Stream (Protocol.Stream).
    Each connection keeps its place in the stream (conn.stream, a
    flow.StreamConn started as the loop adopts it); worker.streamMessage
    hands each message to flow.Stream.Account (sans-IO, 0 allocs) and
    records what it says: Counts.Stream, the inter-arrival gap
    (metrics.Gap; a connection's first from the clock's start, or its
    adoption if later), stalls (gaps over Stream.Stall), sequence gaps, late
    arrivals (which take their gap back) and duplicates when Seq is set
    (StreamGaps, StreamLate, StreamDups, as conn.next/seen do per
    publisher in a broadcast run), and the one-way delivery latency
    (metrics.Delivery: the arrival as Unix time, rx plus the pass's wall
    offset, minus the message's Sent field in its Unit; a send time after
    the arrival counts StreamEarly and records 0). Whether the two clocks
    are one machine's is for results to say. With no warm-up the window
    opens at the subscription, so what arrived as the connections opened
    counts; it closes at run.stopAt (a stream has no grace period). --kind subscribe (the subscribe workload) sends the Open
    steps' messages and nothing else; every message goes to the stream, and
    one that is not the stream's counts StreamOther, the first kept
    (run.streamOther) for the line that says no stream message came
    (Mismatch with Reason StopNoStream). The request workload hands the
    stream the messages no request claimed and no rule answered
    (worker.stream).
  - Flow (--kind flow; workload_flow.go): a scripted flow per connection.
    Compile makes the scenario's steps a flow.Script (run.script); each
    connection runs it in a flow.Session (conn.flow), the sans-IO
    interpreter: the loop hands it data messages and pongs (OnMessage,
    OnPong, dated by their arrival), the flow pacer (flowPacer) its
    deadlines from a heap of connections (one entry each, its earliest,
    moved on when the session's deadline moved: flowLoad.schedule), so a
    ticking loop wakes for a deadline as for a send. Its actions: send (one
    masked frame through the outbox, text or binary as the Protocol says),
    ping, close 1000; a named step done records its latency in its step
    histogram (metrics.Shard.RecordStep; from the step's intended start, so
    a late timer does not hide a slow server), a failed one counts by kind
    (StepError; a timeout or mismatch is also step_timeout/step_mismatch).
    Every send in the window is Sent; the step after it settles it:
    received when an expect is done, lost when it fails or the connection
    dies, NoReply when what follows waits for no reply, in flight when the
    run ends first. Long-lived connections (conns) start the script again
    when it ends, on the next pass; with Spec.SessionRate sessions arrive on
    the staged planner's machinery (sessionArrivals: session i's connection
    dialled at i/rate, no closes planned), run the steps once and retire;
    a session's script starts at its arrival time (flowPacer.arrival), so
    its first step's latency holds the dial.
    A flow in which no step got what it waited for keeps the first
    timed-out expect and the last unmatched message (run.flowMiss) for the
    failure line.
  - Session layer (the rpc part; opening.go, protocol_linux.go): what every
    protocol kind (request, subscribe, flow) shares, from the compiled
    scenario's flow.Protocol (run.proto). Opening (opening, dialPlan.opening):
    the Protocol's Open steps, send and expect, said by dialOne on the
    blocking net.Conn right after the handshake, before the socket is
    detached and before the clock starts; each expect reads messages until
    one matches within its timeout, answering pings and applying the rules
    on the way, and may capture values into the connection's template
    variables (dialed.vars → conn.vars, adoptWith). Bytes the server sent
    after the last expected message stay in the reader and become the
    connection's carry. A connection whose opening fails is a failed
    connection (ConnsFailed, error kind open_timeout, open_mismatch when
    other messages came, open_close_N, …); the first failure is kept
    (opening.first) and, when no connection opened, is the Result's
    Mismatch (Reason StopOpenFailed) for the verdict line. In the event loop
    (protoLoop, worker.proto): Rules answer or silence what the server says
    on its own (protoLoop.rule, tried on every message no request claimed),
    Every sends a periodic message on each connection from a due heap
    (protoLoop.timers, called each pass through worker.timers, in every
    phase). Subprotocol is offered first and required (handshakeDialer,
    requireSubprotocol); Binary makes every message a binary frame. With
    Packets (MQTT: a packet may span messages, a message hold several) the
    opening and the loop (protoLoop.cut, before worker.message) hand the
    workload each whole packet as a message; packets the opening read past
    its last expected one reach the loop as a frame in front of the carry.
  - Request (--kind request, workload_request.go): each send the pacer
    makes is Request.Template rendered with the connection's next id (the
    workload's sender part: worker.send hands it over), its timing kept in
    the connection's table of requests in flight (conn.rq, a flow.Inflight:
    a ring indexed by request number, O(1), no allocation), not in the
    payload. A key matcher reads a reply's key (flow.Matcher.Key), the table
    finds its request, in any order; after Replies replies it is answered
    (Received, RTT from the intended time, RTTUncorrected from the actual
    send); a reply the Error matcher matches fails it (Counts.Failed, error
    kind error_VALUE); a request still in flight Timeout after its send is
    timed out (Counts.TimedOut, request_timeout) by the workload's timers
    (timed: an expiry heap with one entry per connection, keyed by its
    oldest request's deadline). A message that names no request in flight
    goes to the rules, then the stream (worker.streamMessage), and is
    otherwise Unsolicited; a reply to a request already done is
    reply_late. conn.expected counts the requests done with, so
    conn.outstanding is the number in flight, and worker.settle asks the
    workload (settler) for the measured ones it forgets. The verdict: no
    matched reply within the request timeout (at least verdictAfter) of the
    first unsolicited message stops the run as StopNoReply; a run whose requests got no message back
    at all ends with the same Mismatch (verdict.noReply: the request sent,
    the matcher, the timeout).
  - Connection storm (--kind connect, runConnect): short-lived connections,
    each a goroutine doing blocking I/O on Go's own poller: open, handshake,
    optionally one message and its echo, close, again. The event loops are
    for connections that stay; the storm is not a workload of theirs.

# Opening a connection

dialAll opens Spec.Conns connections with a pool of Spec.DialConcurrency
goroutines (at Spec.ConnectRate if set), each in dialOne → open: a TCP
connect, TLS for wss://, then gobwas/ws Dialer.Upgrade on the net.Conn,
each timed into its own histogram (metrics.Connect, metrics.Handshake) of
one shard the pool shares under a lock (lockedShard: a shard per goroutine
held 17 MiB of histograms at the default 64). Every dial binds the next
source port of the ephemeral range itself (portPicker.bindControl,
SO_REUSEADDR), stepping past a port a listener holds on the same socket and
past one already in use towards the same server with a new one, and leaving
the choice to the kernel after portTries (8) tries:
left to pick, the kernel's connect searches from a per-destination offset and,
with thousands of connections open to one server, walks past every port in
use. No TCP keep-alive is set up (four setsockopt calls a connection): a
run's traffic is only what its scenario says. Bytes the server sent right
after its handshake response, left in the Dialer's bufio.Reader, are kept as
the connection's carry and read first; the reader goes back with
ws.PutReader. The socket is then detached from Go's poller
(netpoll.TakeFD; for wss:// a socket pair bridged to the TLS connection,
bridgeTLS) and handed to an event loop (worker.adopt), which registers it
with epoll and, with kernel timestamps, turns on SO_TIMESTAMPNS.

# The event loop

A pass through worker.loop: take a checkpoint if an interval boundary passed;
make the sends that are due (pacer.due); move phases (advance); look for ready
sockets without blocking (Poller.WaitFor(0); a ticking loop skips this and
reads what its wake-up found); then, in worker.exchange, hand
the kernel every send queued since the last pass and one receive per ready
socket. With io_uring (IOUring, the default where the kernel allows it) that
is one io_uring_enter per up to ringEntries (256) operations, each receive
into its own slot of the loop's read buffer; every operation is
non-blocking (MSG_DONTWAIT), so it completes inside that call and needs no
io_uring worker threads. With IOSyscalls it is one write and one read each.
Sends queued while handling those reads go out with the next exchange; a loop
about to sleep flushes them first (flushAll).

Loops park in Go's runtime poller on their epoll descriptor, holding no P,
with a timerfd for nanosecond timeouts; blocking in epoll_wait instead would
keep the goroutine's P until sysmon takes it back (20 µs – 10 ms), which
showed as harness-made latency tails. System calls that cannot block are raw
(unix.RawSyscall, internal/netpoll and internal/uring): Go's bookkeeping for
a call that might block wakes the runtime's sysmon thread whenever every P is
idle, which a loop waking on a tick then paid for every tick. The timerfd and
the wake-up eventfd are edge-triggered, so neither is read back, and a
ticking wait asks the clock and an atomic set by Poller.Wake, not the kernel,
whether its timer expired or a wake came. A socket
that takes less than it is given keeps the rest in conn.pending and is polled
for writability (Result.SendBufferFull counts those times).

# The life of a message

One text echo in the open model, from schedule to summary:

 1. Due. openPacer.schedule sets conn.due = Schedule.At(conn.sched,
    conn.nextSeq), quantized to the tick, and pushes the connection onto the
    pacer's dueHeap. When a pass finds it due, openPacer.due pops it and
    calls worker.send(c, intended, now) with intended = conn.due. (Closed
    model: closedPacer.begin and then closedPacer.replied call send with
    intended = now.)
 2. Built in the connection's buffer. worker.send picks the size (fixed,
    drawn per message from a --size range, or the template's), grows
    conn.pending by header + payload (outbox.grow, which also puts the
    connection on the loop's flush list), writes the header with
    internal/wire.PutHeader and a mask from the loop's ChaCha8 generator, the
    payload with codec.put (stamp, then filler), and masks the payload in
    place with ws.Cipher. With permessage-deflate the payload is first
    assembled in the loop's scratch buffer and compressed (deflater.compress,
    internal/deflate); with --fragment it is cut into frames (outbox.frames).
    Sent and BytesSent are counted and send lag recorded here, if the message
    is inside the measured window; conn.nextSeq and the loop's outstanding
    count go up.
 3. One write. In the same pass, worker.exchange (or flushAll before the
    loop sleeps) hands conn.pending to the kernel: an io_uring send, or one
    write(2) (netpoll.Write). worker.sent empties the buffer, or keeps what
    the socket did not take and waits for it to become writable.
 4. Read. When the socket is readable, the loop receives into its read
    buffer (or after the partial frame in conn.carry: clientCodec.readInto),
    with recvmsg and a control buffer when kernel timestamps are on;
    rxStamps.arrival turns the SO_TIMESTAMPNS stamp into the run's clock (never
    later than when the read returned). worker.received handles errors and
    end of stream.
 5. Decoded. The client frame codec (clientcodec.go, sans-IO: bytes in,
    events out, fuzzed without a socket by FuzzClientCodec) works on the
    connection's readState: it parses each frame header (wire.ParseHeader),
    checks it with the rules the server applies too (wire.Rules.Check: a
    broken rule closes with 1002; RSV1 only on a compressed message's first
    frame; the size limit, 1009), keeps an incomplete frame in conn.carry,
    reassembles fragmented messages in conn.frag, inflates a compressed
    message (deflater.decompress; failure closes with 1007, deflate_error)
    and checks that a text message is valid UTF-8 (else close 1007,
    invalid_utf8). worker.decode acts on its events: a message goes to
    worker.message, a ping is answered with a pong, a close to
    closeReceived, a violation to worker.violation.
 6. Matched by its stamp. worker.message hands the message to the
    workload: echo.message decodes the stamp (codec.get) and checks the
    filler (echo.reply). A reply with no stamp, the wrong opcode or a sequence
    number not awaited counts as echo_mismatch (the first two also tell the
    verdict, echo.notEcho); one
    that skips sequence numbers counts the skipped measured messages as lost
    (echo_skipped); an altered echo is lost.
 7. Recorded. For a measured message: Received and BytesReceived, then
    metrics.RTT from the intended time to the arrival, metrics.RTTUncorrected
    from the actual send, and (kernel timestamps) metrics.ReadLag from the
    arrival to now, all into
    the loop's own shard with metrics.Shard.Record (no locks). Then the
    pacer: in the closed model the next send follows at once; in the open
    model a connection held by --max-inflight goes back on the heap.
 8. Merged. At each interval boundary the loop's window goes to
    collectIntervals (see Checkpoints and intervals); at the end Run merges
    every shard, the dialers' included, with metrics.Recorder.Snapshot into
    Result.Snapshot.
 9. Balanced. Every measured message sent ends as received, lost or in
    flight: when sending and the grace are over, worker.advance settles each
    open connection (its unanswered messages are in flight) before sending
    close 1000; a connection that died settled as lost. So
    metrics.Counts.Balanced holds: Sent == Received + Lost + InFlight.
    Sends the schedule wanted but that were never made are Unsent, outside
    Sent.

A request (--kind request) takes the same path with these differences:
at 2 the payload is Request.Template rendered with {{id}} (request.send,
through worker.sendMessage), and the request goes into conn.rq's table
with its intended and actual send times and whether it is measured; at 6 a
key matcher reads the reply's id ($.id: gjson over the message in place)
and the table finds the request, whichever was sent first; at 7, once its
Replies replies are in, the latency is recorded from the table's times,
and the request leaves the table (conn.expected++); a request whose
replies do not come is timed out by the workload's timers, and a reply that
matches the Error matcher fails it. At 9 the balance is Sent == Received +
TimedOut + Failed + Lost + InFlight.

# Adding a workload

A workload is one file, one line in the registry and one case in
scenario's validation; the loop, the pacers and the accounting of what is
sent stay as they are. Say the server should push messages to subscribers:
each connection subscribes as it opens, sends nothing else, and every push
(stamped by the server's own feed with the codec's stamp) is timed from its
intended time. The file, workload_subscribe.go:

	type subscribe struct{ w *worker }

	func newSubscribe(w *worker) workload { return &subscribe{w: w} }

	// adopt queues the subscription; the loop flushes it with its first exchange.
	func (s *subscribe) adopt(c *conn) {
		s.w.out.frames(c, ws.OpText, []byte(`{"subscribe":"bench"}`), 1, false)
	}

	func (s *subscribe) sends(*conn) bool { return false } // the pacer sends nothing

	func (s *subscribe) message(c *conn, op ws.OpCode, p []byte, wireLen int, rx, now int64) bool {
		st, stamped, _ := s.w.run.codec.get(p, c.slot)
		switch {
		case !stamped:
			s.w.shard.Error("push_unstamped")
		case st.intended >= s.w.run.measureStart:
			s.w.shard.Counts.Deliveries++
			s.w.shard.Record(metrics.Delivery, time.Duration(max(rx-st.intended, 0)))
		}
		return false // a push, not a reply: nothing for the pacer
	}

	func (s *subscribe) stopped()      {}
	func (s *subscribe) arrived() bool { return true }
	func (s *subscribe) missed() int64 { return 0 }

The registry line, in workloads:

	string(scenario.KindSubscribe): newSubscribe,

(The real --kind subscribe, workload_subscribe.go, reads a server's own
messages rather than stamps: see Stream above.)

And in scenario, the kind's name beside the others (KindSubscribe Kind =
"subscribe") and its case in Spec.check (Compile's checks), which says what
does not apply to it, naming settings by key (the command line shows flags):

	case KindSubscribe:
		if s.Rate > 0 || s.Think > 0 {
			bad("rate", "subscribers only receive: no %s or %s", Ref("rate"), Ref("think"))
		}

# Stopping

Run stops the sending phase early when ctx is cancelled (StopInterrupted) or
the verdict is in (run.stopAt is moved to now and the loops are woken); the
phases then run as usual. Config.Abort stops at once: no grace, no close
handshake, unanswered messages counted as in flight (worker.abort).
*/
package driver
