//go:build linux

package driver

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
)

// Worker phases. Every worker moves through them on its own, driven by the
// shared timeline in run: the clock, not messages between goroutines.
const (
	phaseSending  = iota // sending on schedule (or on each reply, closed model)
	phaseDraining        // no new sends; waiting for replies until the grace period ends
	phaseClosing         // close frames sent; waiting for the server's close replies
	phaseDone
)

// sendBudget bounds the sends one pass of the loop makes before it polls the
// sockets again, so a connection catching up on a backlog cannot starve reads.
const sendBudget = 256

// catchUp is how long past the end of the measured window a worker keeps
// making sends that fell due before it. Without it a send due a few
// microseconds before the end, and made a few microseconds late, would count
// as never made; a client hopelessly behind still stops here and counts the
// rest as unsent.
const catchUp = int64(100 * time.Millisecond)

// readBufSize is each worker's shared read buffer. With io_uring it is cut
// into one slot per ready connection, at least minReadSlot bytes each; a slot
// that fills up leaves the rest for the next pass (epoll is level-triggered).
const (
	readBufSize = 256 << 10
	minReadSlot = 2 << 10
)

// ringEntries is the io_uring batch: operations handed to the kernel per call.
const ringEntries = 256

// Ticking loops (open model with a schedule tick and kernel receive
// timestamps) read their sockets when they wake to send, since the kernel
// stamps each echo's arrival, and every tick while replies are awaited; they
// still look at least this often, so closes, errors and full socket buffers
// are not left waiting.
const (
	maxReadDelay = int64(10 * time.Millisecond)
	drainPoll    = int64(time.Millisecond) // how often a ticking loop looks once sending has stopped
)

// ctlSize is the control-message space of one receive: one SCM_TIMESTAMPNS.
const ctlSize = 64

// maxKeptPending is the largest send buffer a connection keeps once emptied;
// a bigger one (left by a backlog) goes back to the garbage collector.
const maxKeptPending = 16 << 10

// worker is one event loop: an epoll instance, the connections it owns, its
// metrics shard and its scheduler. Nothing in it is shared with other goroutines
// except through run's atomics.
type worker struct {
	run   *run
	poll  *netpoll.Poller
	ring  *uring.Ring // nil: one read(2) or write(2) per operation
	conns []*conn
	byFD  []*conn
	shard *metrics.Shard
	rbuf  []byte
	rng   *rand.ChaCha8
	due   dueHeap

	scratch []byte // a fragmented message's payload before it is cut into frames

	// zip compresses and decompresses messages when permessage-deflate is
	// on (nil: off); zWire is the wire size of the message being handled.
	zip   *deflater
	zWire int

	dirty []*conn // connections with bytes queued to send, flushed before the next wait
	ready []*conn // connections epoll reported readable, read in one batch
	stats LoopStats

	// Receives with kernel timestamps: a msghdr, iovec and control buffer per slot.
	msgs []unix.Msghdr
	iovs []unix.Iovec
	ctl  []byte
	// intervals receives a checkpoint of the shard at the start of the
	// measured window and at every interval boundary after it; nil: none.
	intervals    chan<- checkpoint
	nextInterval int64
	intervalIdx  int // -1 until the window's starting checkpoint is taken
	// passNow is when the current pass began (ns since origin); wallOffset
	// converts the kernel's CLOCK_REALTIME stamps to that clock, renewed
	// every pass so a slewing wall clock cannot drift it.
	passNow    int64
	wallOffset int64

	// staged is the loop's part of a staged run (nil: not staged).
	staged *stagedState

	// Broadcast, once sending has stopped: how many of each publisher's
	// messages every member should get (nil until known), and how many of
	// the loop's connections are known to have theirs.
	targets  []uint64
	caughtUp int

	// echoed and relayed: this loop has told the run's verdict that it saw
	// a matched echo, a broadcast delivered to another member.
	echoed, relayed bool

	phase         int
	live          int    // connections not yet closed
	outstanding   uint64 // messages awaiting replies, over all live connections
	closeDeadline int64
}

func newWorker(r *run, shard *metrics.Shard, useRing bool) (*worker, error) {
	newPoller := netpoll.New
	if r.ticking {
		newPoller = netpoll.NewTicking
	}
	p, err := newPoller(512)
	if err != nil {
		return nil, err
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		p.Close()
		return nil, fmt.Errorf("seed mask generator: %w", err)
	}
	w := &worker{
		run:   r,
		poll:  p,
		shard: shard,
		rbuf:  make([]byte, readBufSize),
		rng:   rand.NewChaCha8(seed),
	}
	if r.deflate {
		w.zip = newDeflater()
	}
	if useRing {
		if w.ring, err = uring.New(ringEntries); err != nil {
			p.Close()
			return nil, err
		}
	}
	if r.rxStamps {
		n := 1
		if useRing {
			n = min(ringEntries, readBufSize/minReadSlot)
		}
		w.msgs = make([]unix.Msghdr, n)
		w.iovs = make([]unix.Iovec, n)
		w.ctl = make([]byte, n*ctlSize)
	}
	return w, nil
}

// release frees the worker's kernel objects. Run calls it once every worker
// has returned: Run may still Wake the poller until then, and a closed
// eventfd's number could already belong to a new socket.
func (w *worker) release() {
	w.poll.Close()
	if w.ring != nil {
		w.ring.Close()
	}
}

// adopt takes a connected, upgraded socket. carry holds bytes the server sent
// right after its handshake response.
func (w *worker) adopt(fd, slot int, carry []byte) error {
	c := &conn{fd: fd, slot: slot, sched: w.run.schedIndex(slot), pub: -1, firstMeasured: noSeq, carry: carry}
	if b := w.run.rooms; b.size > 0 {
		// Broadcast: only a room's first publishers send, each on its own
		// slot of the publishers' schedule; every member tracks each
		// publisher's sequence.
		c.room = slot / b.size
		c.pub = int32(c.sched)
		c.next = make([]uint64, b.publishers)
		c.seen = make([]uint64, b.publishers)
	}
	if w.run.rxStamps {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fmt.Errorf("enable kernel receive timestamps: %w", err)
		}
	}
	if err := w.poll.Add(fd, netpoll.In|netpoll.RdHup); err != nil {
		return err
	}
	for fd >= len(w.byFD) {
		w.byFD = append(w.byFD, nil)
	}
	w.byFD[fd] = c
	w.conns = append(w.conns, c)
	w.live++
	return nil
}

func (w *worker) now() int64 { return int64(time.Since(w.run.origin)) }

// checkpoint hands the collector what the shard recorded since the last
// checkpoint: the warm-up (to be dropped) the first time, then at each
// interval boundary the interval that just ended, and when the loop ends
// (final) the last, partial one. What the shard holds was recorded in passes
// that began before the boundary, so it belongs to the interval the loop was
// in (w.intervalIdx), however late this pass is. Boundaries the loop slept
// through (a long wait, a busy machine) are each recorded too: nothing was
// recorded in those intervals, and the same connections stayed open. Interval
// numbers come from the clock, so a late loop does not shift the rest.
func (w *worker) checkpoint(final bool) {
	if w.intervals == nil || (final && w.intervalIdx < 0) {
		return
	}
	now, start, length := w.now(), w.run.measureStart, w.run.interval
	// Replies during the grace period belong to the window's last interval,
	// whose connections open were counted at its end.
	last := int((max(w.run.stopAt.Load(), start+1) - start - 1) / length)
	open := func(idx int) int {
		if idx < w.intervalIdx {
			return 0 // this loop's connections at its end are counted already
		}
		return w.live
	}
	idx := min(w.intervalIdx, last)
	w.intervals <- checkpoint{idx: idx, data: w.shard.Cut(), open: open(idx)}
	k := int((now - start) / length) // the interval now is in
	for i := w.intervalIdx + 1; i < k && i <= last; i++ {
		w.intervals <- checkpoint{idx: i, open: w.live}
	}
	w.intervalIdx = max(k, w.intervalIdx+1)
	w.nextInterval = start + int64(w.intervalIdx+1)*length
}

// startPass reads the clock at the start of a pass through the loop.
func (w *worker) startPass() int64 {
	t := time.Now()
	w.passNow = int64(t.Sub(w.run.origin))
	w.wallOffset = t.UnixNano() - w.passNow
	return w.passNow
}

// loop runs the worker until every connection is closed.
//
// The poller is closed by Run once every worker has returned, never here: Run
// may still Wake it, and a closed eventfd's number could already belong to a
// new socket.
func (w *worker) loop() {
	defer w.checkpoint(true)
	if w.staged != nil {
		defer func() { w.stageCheckpoints(w.now(), true) }()
		w.stageBaseline()
	}
	w.startPass()
	for _, c := range w.conns {
		if len(c.carry) > 0 {
			w.consume(c, c.carry, true, w.passNow)
		}
	}
	w.begin()
	// woke: the last pass ended in a wait that returned evs. The pass after
	// it makes the sends that fell due in the wait before it hands out the
	// ready sockets, so the reads and those sends go to the kernel together.
	var evs []netpoll.Event
	woke := false
	for w.phase != phaseDone {
		if w.run.aborted.Load() {
			w.abort()
			return
		}
		if w.phase == phaseSending {
			w.stats.Wakeups++
		}
		now := w.startPass()
		if w.intervals != nil && now >= w.nextInterval {
			w.checkpoint(false)
		}
		if s := w.staged; s != nil {
			w.stageCheckpoints(now, false)
			w.takeInbox(now)
			if len(s.retiring) > 0 {
				w.checkRetiring(now)
			}
		}
		wait := w.sendDue(now)
		w.advance(now)
		if w.phase == phaseDone {
			return
		}
		if w.phase != phaseSending {
			wait = -1
		}
		if d := w.deadline(now) - now; d < wait || wait < 0 {
			wait = max(d, 0)
		}
		if w.intervals != nil && w.phase == phaseSending {
			wait = min(wait, max(w.nextInterval-now, 0)) // back for the next interval's checkpoint
		}
		if s := w.staged; s != nil {
			// Back for the next stage's checkpoint; a run that is not staged
			// (--reconnect alone) takes none, and its nextStage stays 0.
			if w.phase == phaseSending && s.stageCh != nil && s.stageIdx < w.run.plan.Stages() {
				wait = min(wait, max(s.nextStage-now, 0))
			}
			if len(s.retiring) > 0 {
				wait = min(wait, max(s.nextRetiring()-now, 0))
			}
			if w.phase == phaseClosing && w.live == 0 {
				wait = drainPoll // only the planner's last dials to wait for
			}
		}
		if w.run.ticking {
			// Sockets do not wake a ticking loop: it must come back by itself,
			// every tick while replies are awaited (else an echo would wait
			// for the next send, up to the gap between sends, as read_lag).
			limit := maxReadDelay
			if w.outstanding > 0 {
				limit = min(limit, int64(w.run.sched.Tick))
			}
			if w.phase != phaseSending {
				limit = min(limit, drainPoll)
			}
			wait = min(wait, limit)
		}
		var err error
		switch {
		case woke:
			woke = false // evs are the wait's
		case w.run.ticking:
			evs = nil // a ticking loop reads its sockets only when it wakes
		default:
			// Sockets that are ready already are read in the same batch as
			// the queued sends go out; only a loop about to sleep flushes first.
			evs, err = w.poll.WaitFor(0)
		}
		if err == nil && len(evs) == 0 && wait != 0 {
			if err := w.flushAll(); err != nil {
				w.shard.Error("harness_io_error")
				w.abort()
				return
			}
			evs, err = w.poll.WaitFor(time.Duration(wait))
			woke = err == nil
		}
		if err != nil {
			w.shard.Error("harness_poll_error")
			w.abort()
			return
		}
		if woke {
			continue
		}
		w.ready = w.ready[:0]
		for _, ev := range evs {
			if ev.FD >= len(w.byFD) {
				continue
			}
			c := w.byFD[ev.FD]
			if c == nil {
				continue
			}
			if ev.Events&netpoll.Out != 0 && c.waitOut {
				c.waitOut = false
				w.queue(c)
			}
			if ev.Events&(netpoll.In|netpoll.Err|netpoll.Hup|netpoll.RdHup) != 0 {
				w.ready = append(w.ready, c)
			}
		}
		if n := int64(len(w.ready)); n > 0 {
			w.stats.Passes++
			w.stats.Ready += n
			w.stats.ReadyMax = max(w.stats.ReadyMax, n)
		}
		if err := w.exchange(); err != nil {
			w.shard.Error("harness_io_error")
			w.abort()
			return
		}
	}
}

// begin makes the first sends: every connection at once in the closed model,
// the scheduler's first entries in the open model.
func (w *worker) begin() {
	if w.run.open && w.staged != nil {
		return // the message sequence drives the sends: see sendStaged
	}
	if w.run.open {
		stop := w.run.stopAt.Load()
		for _, c := range w.conns {
			if c.state == stateOpen && c.sched >= 0 {
				w.schedule(c, stop)
			}
		}
		return
	}
	if w.run.hold {
		return // held connections send nothing: they are only kept open
	}
	now := w.now()
	for _, c := range w.conns {
		if c.state == stateOpen {
			w.send(c, now, now)
		}
	}
}

// sendingEnds is when the sending phase ends: at the end of the window, or,
// while sends that fell due before it are still queued, up to catchUp later.
// (The queue only ever holds sends due before the end: see schedule.)
func (w *worker) sendingEnds(now int64) int64 {
	stop := w.run.stopAt.Load()
	if now >= stop && (w.due.len() > 0 || w.staged != nil && w.run.open && w.staged.at < stop) {
		return stop + catchUp
	}
	return stop
}

// deadline is the next moment the worker must wake up for, whatever the sockets do.
func (w *worker) deadline(now int64) int64 {
	switch w.phase {
	case phaseSending:
		return w.sendingEnds(now)
	case phaseDraining:
		return w.run.stopAt.Load() + w.run.grace
	default:
		return w.closeDeadline
	}
}

// advance moves the worker to the next phase when its time has come.
func (w *worker) advance(now int64) {
	cut := w.run.verdict.cut.Load() // the server does not echo: no catch-up, no grace
	if w.phase == phaseSending && (now >= w.sendingEnds(now) || cut) {
		w.phase = phaseDraining
		w.countUnsent()
		w.doneSending()
	}
	if w.phase == phaseDraining && (w.outstanding == 0 && w.deliveriesIn() || now >= w.run.stopAt.Load()+w.run.grace || cut) {
		w.phase = phaseClosing
		w.closeDeadline = now + w.run.closeTimeout
		for _, c := range w.conns {
			if c.state == stateOpen {
				w.settle(c, false)
				w.sendClose(c, ws.StatusNormalClosure)
				c.state = stateClosing
			}
		}
	}
	if w.phase == phaseClosing {
		if now >= w.closeDeadline {
			for _, c := range w.conns {
				if c.state != stateClosed {
					w.shard.Error("close_timeout")
					w.closeFD(c)
				}
			}
		}
		if w.live == 0 && (w.staged == nil || w.run.plannerDone.Load()) {
			w.phase = phaseDone
		}
	}
}

// doneSending records, as the loop stops sending, what each of its
// broadcast publishers sent, and counts the loop out of sending; the last
// loop out wakes the others, whose members may wait for nothing more.
func (w *worker) doneSending() {
	r := w.run
	if r.pubs == nil {
		return
	}
	for _, c := range w.conns {
		if c.sched >= 0 {
			r.pubs[c.sched].sent, r.pubs[c.sched].first = c.nextSeq, c.firstMeasured
		}
	}
	if r.sending.Add(-1) == 0 && r.wakeAll != nil {
		r.wakeAll()
	}
}

// deliveriesIn reports whether every open member of this loop has, from
// each publisher of its room, as many messages as it sent (see
// run.deliveryTargets). A broadcast loop that stopped sending waits for
// this as well as for its own publishers' echoes, up to the grace period:
// deliveries still on their way when sending stopped are not missed. A
// member that has its messages keeps them (targets are final, arrivals
// only move on), so each is checked until it has them, and not again.
func (w *worker) deliveriesIn() bool {
	r := w.run
	if r.pubs == nil {
		return true
	}
	if r.sending.Load() > 0 {
		return false // a publisher may still send
	}
	if w.targets == nil {
		w.targets = r.deliveryTargets()
	}
	for ; w.caughtUp < len(w.conns); w.caughtUp++ {
		c := w.conns[w.caughtUp]
		if c.state != stateOpen || c.settled {
			continue
		}
		base := c.room * r.rooms.publishers
		for pos, next := range c.next {
			if next < w.targets[base+pos] {
				return false
			}
		}
	}
	return true
}

// missedAtEnd counts, once the loop has ended, the measured messages of
// this process's publishers that its members never got after their last
// arrival from each publisher: they never came, so they are gaps too.
func (w *worker) missedAtEnd() int64 {
	r := w.run
	var n int64
	for _, c := range w.conns {
		base := c.room * r.rooms.publishers
		for pos, next := range c.next {
			pb := r.pubs[base+pos]
			if !pb.here || pb.first == noSeq {
				continue
			}
			if from := max(next, pb.first); pb.sent > from {
				n += int64(pb.sent - from)
			}
		}
	}
	return n
}

// countUnsent counts, once sending stops, the open model's messages that were
// due inside the measured window but never sent: the harness or a capped
// connection fell behind, or the connection died.
func (w *worker) countUnsent() {
	if !w.run.open {
		return
	}
	if w.staged != nil {
		w.countUnsentStaged()
		return
	}
	stop := time.Duration(w.run.stopAt.Load())
	from := time.Duration(w.run.measureStart)
	for _, c := range w.conns {
		if c.sched < 0 {
			continue
		}
		dueBy := w.run.sched.Index(c.sched, stop)
		first := max(c.nextSeq, w.run.sched.Index(c.sched, from))
		if dueBy > first {
			w.shard.Counts.Unsent += int64(dueBy - first)
		}
	}
}

// sendDue makes the open model's due sends and returns how long until the next
// one (-1: none pending).
func (w *worker) sendDue(now int64) int64 {
	if (!w.run.open && w.run.think == 0) || w.phase != phaseSending {
		return -1
	}
	if w.run.open && w.staged != nil {
		return w.sendStaged(now)
	}
	stop := w.run.stopAt.Load()
	for n := 0; w.due.len() > 0; n++ {
		c := w.due.top()
		if c.due > now {
			return c.due - now
		}
		if n == sendBudget {
			return 0
		}
		w.due.pop()
		if c.state != stateOpen || c.retiring {
			continue
		}
		if w.run.maxInflight > 0 && c.outstanding() >= w.run.maxInflight {
			c.blocked = true
			continue
		}
		w.send(c, c.due, now)
		if w.run.open {
			w.schedule(c, stop) // closed: the reply schedules the next
		}
		now = w.now()
	}
	return -1
}

// schedule queues c's next send if it falls before the stop.
func (w *worker) schedule(c *conn, stop int64) {
	if sc := w.run.sched; sc.Poisson {
		// The exact time of message nextSeq follows from the last one's: At
		// would add up every gap again.
		c.exact += sc.Gap(c.sched, c.nextSeq)
		c.due = int64(sc.Quantize(c.exact))
	} else {
		c.due = int64(w.run.sched.At(c.sched, c.nextSeq))
	}
	if c.due < stop {
		w.due.push(c)
	}
}

// send writes one masked data frame stamped with its intended and actual send times.
func (w *worker) send(c *conn, intended, now int64) {
	if c.state == stateClosed {
		return
	}
	cd := w.run.codec
	var wireLen, zLen int
	st := stamp{seq: c.nextSeq, intended: intended, sent: now, pub: uint32(max(c.pub, 0)), conn: uint32(c.slot)}
	size := cd.size
	switch {
	case cd.tmpl != nil:
		size = cd.renderLen(st)
	case cd.minSize < cd.size:
		size = cd.minSize + int(w.rng.Uint64()%uint64(cd.size-cd.minSize+1))
	}
	if w.zip != nil {
		// permessage-deflate: the whole message compressed, then framed.
		p := w.payload(st, size)
		z := w.zip.compress(p)
		zLen = len(z)
		wireLen = w.sendFrames(c, z, true)
	} else if w.run.fragments <= 1 {
		h := ws.Header{Fin: true, OpCode: w.run.op, Masked: true, Length: int64(size)}
		binary.LittleEndian.PutUint32(h.Mask[:], uint32(w.rng.Uint64()))
		b := w.grow(c, wire.HeaderSize(h)+size)
		hn := wire.PutHeader(b, h)
		w.run.codec.put(b[hn:], st)
		ws.Cipher(b[hn:], h.Mask, 0)
		wireLen = len(b)
	} else {
		wireLen = w.sendFrames(c, w.payload(st, size), false)
	}
	if intended >= w.run.measureStart {
		if c.firstMeasured == noSeq {
			c.firstMeasured = c.nextSeq
		}
		w.shard.Counts.Sent++
		w.shard.Counts.BytesSent += int64(wireLen)
		if w.zip != nil {
			w.shard.Counts.DeflateRawSent += int64(size)
			w.shard.Counts.DeflateWireSent += int64(zLen)
		}
		if w.run.open || w.run.think > 0 {
			w.shard.Record(metrics.SendLag, time.Duration(now-intended))
		}
	}
	c.nextSeq++
	w.outstanding++
}

// payload writes a message's payload of size bytes into the loop's scratch buffer.
func (w *worker) payload(st stamp, size int) []byte {
	if cap(w.scratch) < size {
		w.scratch = make([]byte, size)
	}
	p := w.scratch[:size]
	w.run.codec.put(p, st)
	return p
}

// sendFrames queues the message payload p as run.fragments frames — the
// first with the message's opcode (and RSV1 when compressed), the rest
// continuations, the last with FIN — each masked with its own key, and
// returns their bytes on the wire.
func (w *worker) sendFrames(c *conn, p []byte, compressed bool) int {
	size, n := len(p), max(w.run.fragments, 1)
	if n > size {
		n = max(size, 1) // a compressed message may be shorter than its frames
	}
	total := 0
	for i := 0; i < n; i++ {
		chunk := p[i*size/n : (i+1)*size/n]
		h := ws.Header{Fin: i == n-1, OpCode: ws.OpContinuation, Masked: true, Length: int64(len(chunk))}
		if i == 0 {
			h.OpCode = w.run.op
			if compressed {
				h.Rsv = ws.Rsv(true, false, false)
			}
		}
		binary.LittleEndian.PutUint32(h.Mask[:], uint32(w.rng.Uint64()))
		b := w.grow(c, wire.HeaderSize(h)+len(chunk))
		hn := wire.PutHeader(b, h)
		ws.Cipher(b[hn:hn+copy(b[hn:], chunk)], h.Mask, 0)
		total += len(b)
	}
	return total
}

// sendControl writes a masked control frame (pong or close).
func (w *worker) sendControl(c *conn, op ws.OpCode, payload []byte) {
	if c.state == stateClosed {
		return
	}
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Length: int64(len(payload))}
	binary.LittleEndian.PutUint32(h.Mask[:], uint32(w.rng.Uint64()))
	b := w.grow(c, wire.HeaderSize(h)+len(payload))
	hn := wire.PutHeader(b, h)
	ws.Cipher(b[hn:hn+copy(b[hn:], payload)], h.Mask, 0)
}

func (w *worker) sendClose(c *conn, code ws.StatusCode) {
	var body [2]byte
	w.sendControl(c, ws.OpClose, wire.CloseBody(body[:], code, ""))
}

// grow appends n bytes to c's send queue for the caller to fill, and queues c
// for the flush before the next wait.
func (w *worker) grow(c *conn, n int) []byte {
	l := len(c.pending)
	c.pending = slices.Grow(c.pending, n)[:l+n]
	w.queue(c)
	return c.pending[l:]
}

// queue puts c on the list flushAll sends from, unless it is there already
// or waits for the socket to drain.
func (w *worker) queue(c *conn) {
	if !c.dirty && !c.waitOut && len(c.pending) > 0 {
		c.dirty = true
		w.dirty = append(w.dirty, c)
	}
}

// flushAll sends every queued connection's bytes: with io_uring, up to
// ringEntries connections per system call.
func (w *worker) flushAll() error {
	for len(w.dirty) > 0 {
		batch := w.dirty
		if w.ring != nil {
			batch = batch[:min(len(batch), w.ring.Space())]
		}
		for i, c := range batch {
			c.dirty = false
			if c.state == stateClosed || len(c.pending) == 0 {
				continue
			}
			if w.ring == nil {
				n, err := netpoll.Write(c.fd, c.pending)
				w.sent(c, n, err)
				continue
			}
			w.ring.Send(c.fd, c.pending, uint64(i))
		}
		if w.ring != nil {
			cqes, err := w.ring.Submit()
			if err != nil {
				return err
			}
			for _, cqe := range cqes {
				w.sent(batch[cqe.UserData], max(int(cqe.Res), 0), cqe.Err())
			}
		}
		n := copy(w.dirty, w.dirty[len(batch):])
		clear(w.dirty[n:])
		w.dirty = w.dirty[:n]
	}
	return nil
}

// sent accounts for a send of c's queue that wrote n bytes or failed with err:
// what the socket did not take waits for it to become writable.
func (w *worker) sent(c *conn, n int, err error) {
	if c.state == stateClosed {
		return
	}
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		w.fail(c, errKindForSocket(err))
		return
	}
	if n == len(c.pending) {
		if cap(c.pending) > maxKeptPending {
			c.pending = nil
		} else {
			c.pending = c.pending[:0]
		}
		if c.polledOut {
			c.polledOut = false
			if err := w.poll.Mod(c.fd, netpoll.In|netpoll.RdHup); err != nil {
				w.fail(c, "harness_poll_error")
			}
		}
		return
	}
	c.pending = c.pending[:copy(c.pending, c.pending[n:])]
	c.waitOut = true
	w.run.bufferFull.Add(1)
	if !c.polledOut {
		c.polledOut = true
		if err := w.poll.Mod(c.fd, netpoll.In|netpoll.Out|netpoll.RdHup); err != nil {
			w.fail(c, "harness_poll_error")
		}
	}
}

// exchange sends what is queued and reads every ready connection, handling
// what arrived. With io_uring both go to the kernel in one system call (per
// ringEntries operations): the sends queued so far, and one receive per ready
// connection into its own slot of the read buffer (or after its partial
// frame). Sends queued while handling these reads wait for the next exchange
// or the flush before the loop sleeps.
func (w *worker) exchange() error {
	if w.ring == nil {
		if err := w.flushAll(); err != nil {
			return err
		}
		for _, c := range w.ready {
			if c.state != stateClosed {
				w.readable(c)
			}
		}
		return nil
	}
	nsend := len(w.dirty)
	for ready := w.ready; nsend > 0 || len(ready) > 0; {
		space := w.ring.Space()
		sends := w.dirty[:min(nsend, space)]
		recvs := ready[:min(len(ready), space-len(sends), readBufSize/minReadSlot)]
		ready = ready[len(recvs):]
		nsend -= len(sends)
		for i, c := range sends {
			c.dirty = false
			if c.state != stateClosed && len(c.pending) > 0 {
				w.ring.Send(c.fd, c.pending, uint64(i)|sendTag)
			}
		}
		slot := readBufSize / max(len(recvs), 1)
		for i, c := range recvs {
			if c.state == stateClosed {
				continue
			}
			b := w.readInto(c, w.rbuf[i*slot:(i+1)*slot])
			if w.msgs != nil {
				w.ring.Recvmsg(c.fd, w.msghdr(i, b), uint64(i))
			} else {
				w.ring.Recv(c.fd, b, uint64(i))
			}
		}
		cqes, err := w.ring.Submit()
		if err != nil {
			return err
		}
		// Sends first: handling a read may queue more bytes on the same connection.
		for _, cqe := range cqes {
			if cqe.UserData&sendTag != 0 {
				w.sent(sends[cqe.UserData&^sendTag], max(int(cqe.Res), 0), cqe.Err())
			}
		}
		n := copy(w.dirty, w.dirty[len(sends):])
		clear(w.dirty[n:])
		w.dirty = w.dirty[:n]
		readAt := w.now()
		for _, cqe := range cqes {
			if cqe.UserData&sendTag == 0 {
				i := int(cqe.UserData)
				w.received(recvs[i], w.readInto(recvs[i], w.rbuf[i*slot:(i+1)*slot]), max(int(cqe.Res), 0), cqe.Err(), w.arrival(i, readAt))
			}
		}
	}
	return nil
}

// sendTag marks the user data of a send in a mixed batch.
const sendTag = 1 << 63

// readable reads what c's socket has and handles every complete frame in it.
func (w *worker) readable(c *conn) {
	b := w.readInto(c, w.rbuf)
	if w.msgs == nil {
		n, err := netpoll.Read(c.fd, b)
		w.received(c, b, n, err, w.now())
		return
	}
	n, err := netpoll.Recvmsg(c.fd, w.msghdr(0, b))
	w.received(c, b, n, err, w.arrival(0, w.now()))
}

// msghdr prepares receive slot i to read into b with room for a timestamp.
func (w *worker) msghdr(i int, b []byte) *unix.Msghdr {
	iov := &w.iovs[i]
	iov.Base = unsafe.SliceData(b)
	iov.SetLen(len(b))
	m := &w.msgs[i]
	*m = unix.Msghdr{Iov: iov, Iovlen: 1, Control: &w.ctl[i*ctlSize]}
	m.SetControllen(ctlSize)
	return m
}

// arrival is when the data of receive slot i reached the kernel, on the run's
// clock: the SO_TIMESTAMPNS stamp of the last segment read (so a read of
// several messages dates them all by the last, which can only overstate
// their latency), never later than readAt, when the read returned. Without a
// stamp, readAt.
func (w *worker) arrival(i int, readAt int64) int64 {
	if w.msgs == nil {
		return readAt
	}
	m := &w.msgs[i]
	ctl := w.ctl[i*ctlSize : (i+1)*ctlSize]
	if int(m.Controllen) < unix.SizeofCmsghdr+int(unsafe.Sizeof(unix.Timespec{})) {
		return readAt
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
	if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS {
		return readAt
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&ctl[unix.CmsgSpace(0)]))
	return min(ts.Nano()-w.wallOffset, readAt)
}

// readInto is where c's next read goes: after the partial frame it holds,
// or else buf.
func (w *worker) readInto(c *conn, buf []byte) []byte {
	if len(c.carry) == 0 {
		return buf
	}
	if need := frameNeed(c.carry); cap(c.carry) < need {
		c.carry = append(make([]byte, 0, need), c.carry...)
	}
	return c.carry[len(c.carry):cap(c.carry)]
}

// received handles the outcome of a read of n bytes into b, arrived at rx.
func (w *worker) received(c *conn, b []byte, n int, err error, rx int64) {
	if c.state == stateClosed {
		return
	}
	switch {
	case err != nil && errors.Is(err, unix.EAGAIN):
		return
	case err != nil:
		w.fail(c, errKindForSocket(err))
		return
	case n == 0:
		if c.state == stateClosing {
			w.shard.Error("close_no_reply")
			w.closeFD(c)
			return
		}
		w.fail(c, "unexpected_eof")
		return
	}
	if n == len(b) {
		w.stats.FullReads++
	}
	if len(c.carry) > 0 {
		c.carry = c.carry[:len(c.carry)+n]
		w.consume(c, c.carry, true, rx)
		return
	}
	w.consume(c, b[:n], false, rx)
}

// consume handles the complete frames at the start of buf and keeps the rest
// in c.carry. inCarry says buf is c.carry itself.
func (w *worker) consume(c *conn, buf []byte, inCarry bool, rx int64) {
	off := 0
	for off < len(buf) && c.state != stateClosed {
		h, hn, err := wire.ParseHeader(buf[off:])
		if err != nil {
			w.violation(c, ws.StatusProtocolError, "protocol_error")
			return
		}
		if hn == 0 {
			break
		}
		state := c.checkState()
		if w.zip != nil {
			state |= ws.StateExtended // RSV1 is checked below
		}
		if err := ws.CheckHeader(h, state); err != nil {
			w.violation(c, ws.StatusProtocolError, "protocol_error")
			return
		}
		if h.Rsv != 0 && (h.Rsv != ws.Rsv(true, false, false) || (h.OpCode != ws.OpText && h.OpCode != ws.OpBinary)) {
			// Only RSV1, only on a data message's first frame (RFC 7692 §6).
			w.violation(c, ws.StatusProtocolError, "protocol_error")
			return
		}
		if h.Length > w.run.maxMessage || int64(len(c.frag))+h.Length > w.run.maxMessage {
			w.violation(c, ws.StatusMessageTooBig, "message_too_big")
			return
		}
		end := off + hn + int(h.Length)
		if end > len(buf) {
			break
		}
		w.frame(c, h, buf[off+hn:end], hn+int(h.Length), rx)
		off = end
	}
	if c.state == stateClosed {
		return
	}
	rest := buf[off:]
	switch {
	case len(rest) == 0:
		c.carry = nil
	case inCarry:
		c.carry = c.carry[:copy(c.carry, rest)]
	default:
		c.carry = append(make([]byte, 0, max(frameNeed(rest), len(rest))), rest...)
	}
}

// frameNeed is how many bytes the frame starting at b occupies, as far as its
// header tells (at least a whole header).
func frameNeed(b []byte) int {
	h, hn, err := wire.ParseHeader(b)
	if err != nil || hn == 0 {
		return max(len(b), wire.MaxHeaderSize)
	}
	return hn + int(h.Length)
}

// frame handles one complete frame from the server.
func (w *worker) frame(c *conn, h ws.Header, p []byte, wireLen int, rx int64) {
	switch h.OpCode {
	case ws.OpText, ws.OpBinary:
		if h.Fin {
			w.dataMessage(c, h.OpCode, p, h.Rsv1(), wireLen, rx)
			return
		}
		c.fragOp, c.fragZ = h.OpCode, h.Rsv1()
		c.frag = append(c.frag[:0], p...)
	case ws.OpContinuation:
		c.frag = append(c.frag, p...)
		if h.Fin {
			op := c.fragOp
			c.fragOp = 0
			w.dataMessage(c, op, c.frag, c.fragZ, len(c.frag)+wire.MaxHeaderSize, rx)
			c.frag = nil
		}
	case ws.OpPing:
		if c.state == stateOpen {
			w.sendControl(c, ws.OpPong, p)
		}
	case ws.OpPong:
		if w.run.op == ws.OpPing {
			w.message(c, ws.OpPing, p, wireLen, rx)
		}
	case ws.OpClose:
		w.closeReceived(c, p)
	}
}

// dataMessage hands a whole data message to message, decompressed first if
// compressed is set.
func (w *worker) dataMessage(c *conn, op ws.OpCode, p []byte, compressed bool, wireLen int, rx int64) {
	if w.zip == nil {
		w.textMessage(c, op, p, wireLen, rx)
		return
	}
	w.zWire = len(p)
	if compressed {
		raw, err := w.zip.decompress(p, w.run.maxMessage)
		switch {
		case errors.Is(err, errInflatedTooBig):
			w.violation(c, ws.StatusMessageTooBig, "message_too_big")
			return
		case err != nil:
			w.violation(c, ws.StatusInvalidFramePayloadData, "deflate_error")
			return
		}
		p = raw
	}
	w.textMessage(c, op, p, wireLen, rx)
}

// textMessage hands a whole data message to message, after checking that a
// text message is valid UTF-8: one that is not fails the connection with
// 1007 (RFC 6455 §8.1), counted as invalid_utf8.
func (w *worker) textMessage(c *conn, op ws.OpCode, p []byte, wireLen int, rx int64) {
	if op == ws.OpText && !utf8.Valid(p) {
		w.violation(c, ws.StatusInvalidFramePayloadData, "invalid_utf8")
		return
	}
	w.message(c, op, p, wireLen, rx)
}

// message accounts for one echoed message and, in the closed model, sends the next.
func (w *worker) message(c *conn, op ws.OpCode, p []byte, wireLen int, rx int64) {
	if c.settled {
		return
	}
	now := w.now()
	s, stampOK, ok := w.run.codec.get(p, c.slot)
	if w.run.rooms.size > 0 && stampOK && op == w.run.op {
		w.delivered(c, s, ok, rx)
		if int32(s.pub) != c.pub {
			if ok {
				w.sawRelay()
			}
			return // another publisher's message: a delivery only
		}
	}
	if !stampOK || op != w.run.op || s.seq < c.expected || s.seq >= c.nextSeq {
		w.shard.Error("echo_mismatch")
		if !stampOK || op != w.run.op {
			w.notEcho(c, op, p)
		}
		return
	}
	if s.seq > c.expected {
		w.shard.Counts.Lost += c.measuredIn(c.expected, s.seq)
		w.shard.ErrorN("echo_skipped", int64(s.seq-c.expected))
	}
	w.outstanding -= s.seq + 1 - c.expected
	c.expected = s.seq + 1
	measured := s.seq >= c.firstMeasured
	switch {
	case !ok:
		w.shard.Error("echo_mismatch")
		w.notEcho(c, op, p)
		if measured {
			w.shard.Counts.Lost++
		}
	case measured:
		// An echo cannot arrive before it was sent: a stamp that says so
		// (a wall-clock step mid-pass) falls back to the read time.
		if rx < s.sent {
			rx = now
		}
		w.shard.Counts.Received++
		w.shard.Counts.BytesReceived += int64(wireLen)
		if w.zip != nil {
			w.shard.Counts.DeflateRawReceived += int64(len(p))
			w.shard.Counts.DeflateWireReceived += int64(w.zWire)
		}
		w.shard.Record(metrics.RTT, time.Duration(rx-s.intended))
		w.shard.Record(metrics.RTTUncorrected, time.Duration(rx-s.sent))
		if w.msgs != nil {
			w.shard.Record(metrics.ReadLag, time.Duration(max(now-rx, 0)))
		}
	}
	if ok {
		w.sawEcho()
	}
	if c.retiring {
		if c.outstanding() == 0 {
			w.retireClose(c, now)
		}
		return
	}
	if w.phase != phaseSending || c.state != stateOpen {
		return
	}
	if !w.run.open {
		switch next := now + w.run.think; {
		case next >= w.run.stopAt.Load():
		case w.run.think == 0:
			w.send(c, now, now)
		default:
			// Think, then send: the send is due at the end of the thinking,
			// and measured from there.
			c.due = next
			w.due.push(c)
		}
		return
	}
	if c.blocked && c.outstanding() < w.run.maxInflight {
		c.blocked = false
		w.due.push(c)
	}
}

// delivered accounts for a broadcast message arriving at member c: its
// delivery latency, and its place in its publisher's sequence as c sees it.
func (w *worker) delivered(c *conn, s stamp, ok bool, rx int64) {
	pos := int(s.pub) - c.room*w.run.rooms.publishers
	if pos < 0 || pos >= w.run.rooms.publishers || !ok {
		w.shard.Error("broadcast_foreign") // not from this room's publishers, or altered
		return
	}
	measured := s.intended >= w.run.measureStart
	// c.seen[pos] bit k: message next-1-k of this publisher has arrived
	// (the last 64), which tells a duplicate from a late arrival.
	switch next := c.next[pos]; {
	case s.seq == next:
		c.next[pos]++
		c.seen[pos] = c.seen[pos]<<1 | 1
	case s.seq > next:
		gap := s.seq - next
		if measured {
			w.shard.Counts.DeliveryGaps += int64(gap)
		}
		c.next[pos] = s.seq + 1
		if gap+1 >= 64 {
			c.seen[pos] = 1
		} else {
			c.seen[pos] = c.seen[pos]<<(gap+1) | 1
		}
	default:
		k := next - 1 - s.seq
		if k < 64 && c.seen[pos]>>k&1 == 1 {
			if measured {
				w.shard.Counts.DeliveriesDup++ // already delivered: not another delivery
			}
			return
		}
		if measured {
			w.shard.Counts.DeliveriesLate++
			if k < 64 {
				w.shard.Counts.DeliveryGaps-- // counted missing when skipped; it came after all
			}
		}
		if k < 64 {
			c.seen[pos] |= 1 << k
		}
	}
	if measured {
		w.shard.Counts.Deliveries++
		if rx >= w.run.stopAt.Load() {
			w.shard.Counts.DeliveriesInGrace++
		}
		w.shard.Record(metrics.Delivery, time.Duration(max(rx-s.intended, 0)))
		if sp, done := w.run.spread.arrive(int(s.pub), s.seq, rx); done {
			w.shard.Record(metrics.Spread, time.Duration(sp))
		}
	}
}

// closeReceived handles a close frame: the reply to ours, or the server closing.
func (w *worker) closeReceived(c *conn, p []byte) {
	if c.state == stateClosing {
		w.closeFD(c)
		return
	}
	code := ws.StatusNoStatusRcvd
	if len(p) >= 2 {
		code = ws.StatusCode(binary.BigEndian.Uint16(p))
	}
	w.settle(c, true)
	w.shard.Error(fmt.Sprintf("close_%d", code))
	if code == ws.StatusNoStatusRcvd {
		w.sendControl(c, ws.OpClose, nil)
	} else {
		w.sendClose(c, code)
	}
	w.closeFD(c)
}

// violation closes c because the server broke the protocol.
func (w *worker) violation(c *conn, code ws.StatusCode, kind string) {
	w.settle(c, true)
	w.shard.Error(kind)
	if c.state == stateOpen {
		w.sendClose(c, code)
	}
	w.closeFD(c)
}

// fail closes c after a socket error or an unexpected end of stream.
func (w *worker) fail(c *conn, kind string) {
	w.settle(c, true)
	w.shard.Error(kind)
	w.closeFD(c)
}

// settle counts c's outstanding measured messages once: as lost when the
// connection died, as in flight when the run ended with them unanswered.
func (w *worker) settle(c *conn, lost bool) {
	if c.settled {
		return
	}
	c.settled = true
	n := c.measuredIn(c.expected, c.nextSeq)
	if lost {
		w.shard.Counts.ConnsDropped++
		w.shard.Counts.Lost += n
		w.dropped(c) // --reconnect: the planner reopens its slot
	} else {
		w.shard.Counts.InFlight += n
	}
	w.outstanding -= c.outstanding()
	c.expected = c.nextSeq
}

func (w *worker) closeFD(c *conn) {
	if c.state == stateClosed {
		return
	}
	if len(c.pending) > 0 {
		// Last words, such as a close frame: one try, the socket closes anyway.
		netpoll.Write(c.fd, c.pending)
	}
	c.state = stateClosed
	unix.Close(c.fd)
	w.byFD[c.fd] = nil
	c.carry, c.frag, c.pending = nil, nil, nil
	w.live--
}

// abort stops at once: what is unanswered counts as in flight, sockets close
// without a close handshake.
func (w *worker) abort() {
	if w.phase == phaseSending {
		w.doneSending()
	}
	for _, c := range w.conns {
		if c.state != stateClosed {
			w.settle(c, false)
			w.closeFD(c)
		}
	}
	w.phase = phaseDone
}

func errKindForSocket(err error) string {
	switch {
	case errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.EPIPE):
		return "connection_reset"
	case errors.Is(err, unix.ETIMEDOUT):
		return "timeout"
	default:
		return "socket_error"
	}
}
