//go:build linux

package driver

import (
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
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
	w.stamps.wallOffset = t.UnixNano() - w.passNow
	return w.passNow
}

// loop runs the worker until every connection is closed.
//
// The poller is closed by Run once every worker has returned, never here: Run
// may still Wake it, and a closed eventfd's number could already belong to a
// new socket.
func (w *worker) loop() {
	defer w.checkpoint(true)
	if s := w.staged; s != nil {
		defer func() { s.checkpoints(w, w.now(), true) }()
		s.baseline(w)
	}
	w.startPass()
	for _, c := range w.conns {
		if len(c.carry) > 0 {
			w.consume(c, c.carry, true, w.passNow)
		}
	}
	w.pacing().begin()
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
			s.pass(w, now)
		}
		wait := int64(-1)
		if w.phase == phaseSending {
			wait = w.pace.due(now)
		}
		w.advance(now)
		if w.phase == phaseDone {
			return
		}
		if w.phase != phaseSending {
			wait = -1
		}
		if d := w.timers(now); d >= 0 && (wait < 0 || d < wait) {
			wait = d // rpc: request timeouts, periodic sends
		}
		if d := w.deadline(now) - now; d < wait || wait < 0 {
			wait = max(d, 0)
		}
		if w.intervals != nil && w.phase == phaseSending {
			wait = min(wait, max(w.nextInterval-now, 0)) // back for the next interval's checkpoint
		}
		if s := w.staged; s != nil {
			wait = s.wait(w, now, wait)
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
		w.ready, w.writable = netpoll.Sort(evs, w.byFD, connWaitOut, w.ready[:0], w.writable[:0])
		for _, c := range w.writable {
			w.out.queue(c)
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

// deadline is the next moment the worker must wake up for, whatever the
// sockets do: the end of its phase. Sending ends at the end of the window,
// or, while sends that fell due before it are still to be made, up to
// catchUp later.
func (w *worker) deadline(now int64) int64 {
	switch w.phase {
	case phaseSending:
		stop := w.run.stopAt.Load()
		if now >= stop && w.pace.behind(stop) {
			return stop + catchUp
		}
		return stop
	case phaseDraining:
		return w.run.stopAt.Load() + w.run.grace
	default:
		return w.closeDeadline
	}
}

// advance moves the worker to the next phase when its time has come.
func (w *worker) advance(now int64) {
	cut := w.run.verdict.cut.Load() // the server does not echo: no catch-up, no grace
	if w.phase == phaseSending && (now >= w.deadline(now) || cut) {
		w.phase = phaseDraining
		w.pace.unsent()
		w.load.stopped()
	}
	if w.phase == phaseDraining && (w.outstanding == 0 && w.load.arrived() || now >= w.run.stopAt.Load()+w.run.grace || cut) {
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
	nsend := len(w.out.dirty)
	for ready := w.ready; nsend > 0 || len(ready) > 0; {
		space := w.ring.Space()
		sends := w.out.dirty[:min(nsend, space)]
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
			b := w.in.readInto(&c.readState, w.rbuf[i*slot:(i+1)*slot])
			if w.stamps.on() {
				w.ring.Recvmsg(c.fd, w.stamps.msghdr(i, b), uint64(i))
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
		w.out.flushed(len(sends))
		readAt := w.now()
		for _, cqe := range cqes {
			if cqe.UserData&sendTag == 0 {
				i := int(cqe.UserData)
				w.received(recvs[i], w.in.readInto(&recvs[i].readState, w.rbuf[i*slot:(i+1)*slot]), max(int(cqe.Res), 0), cqe.Err(), w.stamps.arrival(i, readAt))
			}
		}
	}
	return nil
}

// sendTag marks the user data of a send in a mixed batch.
const sendTag = 1 << 63

// readable reads what c's socket has and handles every complete frame in it.
func (w *worker) readable(c *conn) {
	b := w.in.readInto(&c.readState, w.rbuf)
	if !w.stamps.on() {
		n, err := netpoll.Read(c.fd, b)
		w.received(c, b, n, err, w.now())
		return
	}
	n, err := netpoll.Recvmsg(c.fd, w.stamps.msghdr(0, b))
	w.received(c, b, n, err, w.stamps.arrival(0, w.now()))
}

// abort stops at once: what is unanswered counts as in flight, sockets close
// without a close handshake.
func (w *worker) abort() {
	if w.phase == phaseSending {
		w.load.stopped()
	}
	for _, c := range w.conns {
		if c.state != stateClosed {
			w.settle(c, false)
			w.closeFD(c)
		}
	}
	w.phase = phaseDone
}

// rxStamps is a loop's receive side with kernel timestamps (SO_TIMESTAMPNS):
// a msghdr, iovec and control buffer per receive slot (none: timestamps
// off), and wallOffset, which converts the kernel's CLOCK_REALTIME stamps
// to the run's clock, renewed every pass (startPass) so a slewing wall
// clock cannot drift it.
type rxStamps struct {
	msgs       []unix.Msghdr
	iovs       []unix.Iovec
	ctl        []byte
	wallOffset int64
}

// on reports whether receives carry kernel timestamps.
func (x *rxStamps) on() bool { return x.msgs != nil }

// msghdr prepares receive slot i to read into b with room for a timestamp.
func (x *rxStamps) msghdr(i int, b []byte) *unix.Msghdr {
	iov := &x.iovs[i]
	iov.Base = unsafe.SliceData(b)
	iov.SetLen(len(b))
	m := &x.msgs[i]
	*m = unix.Msghdr{Iov: iov, Iovlen: 1, Control: &x.ctl[i*ctlSize]}
	m.SetControllen(ctlSize)
	return m
}

// arrival is when the data of receive slot i reached the kernel, on the run's
// clock: the SO_TIMESTAMPNS stamp of the last segment read (so a read of
// several messages dates them all by the last, which can only overstate
// their latency), never later than readAt, when the read returned. Without a
// stamp, readAt.
func (x *rxStamps) arrival(i int, readAt int64) int64 {
	if !x.on() {
		return readAt
	}
	m := &x.msgs[i]
	ctl := x.ctl[i*ctlSize : (i+1)*ctlSize]
	if int(m.Controllen) < unix.SizeofCmsghdr+int(unsafe.Sizeof(unix.Timespec{})) {
		return readAt
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
	if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS {
		return readAt
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&ctl[unix.CmsgSpace(0)]))
	return min(ts.Nano()-x.wallOffset, readAt)
}
