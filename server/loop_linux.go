//go:build linux

package server

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/internal/wire"
)

const (
	// readBufSize is the size of each loop's read buffer with one read(2)
	// per operation. Frames up to this size are assembled in a loop buffer
	// (with io_uring, a slot of one: see ring_linux.go); larger ones are
	// read straight into a buffer of their own size.
	readBufSize = 64 << 10
	// drainTimeout bounds the closing handshake: after its close frame the
	// server waits this long for the client's EOF before closing anyway.
	drainTimeout = time.Second
	// maxEvents is how many readiness events one Wait returns at most.
	maxEvents = 256
)

// Connection states.
const (
	stateOpen    uint8 = iota
	stateClosing       // close frame queued; draining reads until EOF
	stateClosed        // fd closed; the conn is garbage
)

// conn is one upgraded connection. Only its loop's goroutine touches it.
// While idle it holds no buffer: carry, pending and the session's message are
// nil.
type conn struct {
	fd    int
	state uint8
	// big says carry is sized for the whole (large) frame it starts and
	// reads go straight into it; otherwise carry is just the tail of the
	// last read, moved back into the loop buffer before the next read.
	big bool
	// With io_uring (see ring_linux.go): dirty says c is on the loop's
	// list of connections whose pending bytes go out with the next batch;
	// waitOut says the kernel refused some and c waits for EPOLLOUT;
	// polledOut says c is registered for EPOLLOUT.
	dirty, waitOut, polledOut bool
	// closeHeld says c's close frame waits in the loop's delay queue behind
	// echoes held back (timer_linux.go), so the drain of the closing
	// handshake has not started yet.
	closeHeld bool
	// missedPong says c has missed a pong (Config.PingInterval).
	missedPong bool
	// lastDue is the loop time (ns) at which c's latest entry in the
	// delay queue falls due: no later entry of c may go out before it.
	lastDue int64
	// ModePush (push_linux.go): subscribed says c has subscribed, pushSeq
	// is the seq of the last message pushed to it.
	subscribed bool
	pushSeq    uint64
	// ridx is c's index in its loop's member list of c.room.
	ridx int32

	carry    []byte // bytes of an incomplete frame
	pending  []byte // replies the kernel has not taken yet: pending[poff:]
	poff     int
	sess     session
	deadline int64  // while closing: close at this loop time (ns)
	lastIn   int64  // with Config.IdleTimeout: loop time (ns) c last sent bytes
	proto    string // negotiated subprotocol, "" for none

	// Broadcast mode (room_linux.go): the room c is a member of, nil once
	// it closes.
	room *room
	// delayedBytes are the bytes c has in the loop's delay queue
	// (timer_linux.go); every entry holds at least one frame, so 0 means
	// none.
	delayedBytes int
}

// handoff is an upgraded connection on its way from the handshake goroutine to
// a loop.
type handoff struct {
	fd      int
	extra   []byte // bytes the client sent after its handshake request
	proto   string
	room    string // broadcast mode: the room the client joins
	deflate bool   // permessage-deflate was negotiated
}

// loop is one event loop: a goroutine blocked in epoll_wait that serves a set
// of connections with one read buffer and one write buffer.
type loop struct {
	s          *Server
	idx        int // index in Server.loops
	poller     *netpoll.Poller
	ring       *uring.Ring   // nil: one read(2) or write(2) per operation
	done       chan struct{} // closed when run returns
	maxPending int
	epoch      time.Time
	broadcast  bool  // Config.Mode is ModeBroadcast
	delaying   bool  // Config.Delay or a stall is set: replies wait in delayQ
	delay      Delay // Config.Delay
	pingEvery  int64 // Config.PingInterval, ns
	idle       int64 // Config.IdleTimeout, ns

	// kicked is set by handoff and stop before they wake the loop. With
	// io_uring the loop peeks at epoll without waiting, which consumes a
	// wake-up; kicked keeps it from then sleeping on work it was woken for.
	kicked atomic.Bool

	mu       sync.Mutex // guards the fields below, shared with other goroutines
	incoming []handoff
	inbox    []delivery // broadcast frames posted by other loops
	stopping bool       // graceful shutdown: send 1001 to all, exit when none left
	force    bool       // forced shutdown: close everything now
	exited   bool       // run has returned or is about to; poller is (being) closed

	// Touched by the loop goroutine only.
	conns     []*conn // indexed by fd
	live      int
	closing   []*conn // conns in stateClosing (and stale entries)
	taken     []handoff
	posted    []delivery // the inbox, taken
	goingAway bool
	rbuf      []byte
	codec     codec
	pool      bufPool
	delayQ    delayQ     // replies held back by Config.Delay
	rng       *rand.Rand // draws Config.Delay's per-message delays
	nextPing  int64      // loop time of the next round of pings
	nextIdle  int64      // loop time of the next idle sweep (Config.IdleTimeout)
	clock     int64      // with Config.IdleTimeout: loop time the last wait returned
	pingFrame []byte     // the ping frame being sent (payload: codec.pingID)
	// netns (issue 16): the stall (Config.StallAt, StallFor) in loop time,
	// [stallFrom, stallTo); empty without one. Set when run starts.
	stallFrom, stallTo int64

	// ModePush (push_linux.go): the subscribers, by when their next
	// message is due; the time between two of a subscriber's messages
	// (ns); Config.PushCount; the stream message being sent and its frame.
	pushQ     pushQ
	pushEvery int64
	pushCount uint64
	pushMsg   []byte
	pushFrame []byte

	// With io_uring only (ring_linux.go).
	dirty    []*conn  // connections with bytes to send in the next batch
	ready    []*conn  // connections epoll reported readable, read in one batch
	writable []*conn  // connections that waited for their socket and may write again: marked dirty
	recvs    []recvOp // the receives of the batch being submitted

	// Counters, written by the loop, read by Stats.
	msgsIn, msgsOut, bytesIn, bytesOut atomic.Uint64
	deliveries                         atomic.Uint64
	delayClamped                       atomic.Uint64 // Stats.DelayClamped
	stalled                            atomic.Uint64 // Stats.Stalled (netns, issue 16)
	pingsSent, pongs                   atomic.Uint64
	pongMissing, notAnswering          atomic.Uint64
	compIn, compOut                    atomic.Uint64 // permessage-deflate messages
}

// newLoop makes a loop that does its socket I/O through ring, or with one
// system call per operation if ring is nil. The loop owns ring from now on.
func newLoop(s *Server, idx int, ring *uring.Ring) (*loop, error) {
	p, err := netpoll.New(maxEvents)
	if err != nil {
		return nil, err
	}
	l := &loop{
		s:          s,
		idx:        idx,
		poller:     p,
		ring:       ring,
		done:       make(chan struct{}),
		maxPending: s.cfg.MaxPendingWrite,
		broadcast:  s.cfg.Mode == ModeBroadcast,
		delaying:   !s.cfg.Delay.IsZero() || s.cfg.StallFor > 0,
		delay:      s.cfg.Delay,
		rng:        rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		pingEvery:  int64(s.cfg.PingInterval),
		idle:       int64(s.cfg.IdleTimeout),
		pushCount:  uint64(s.cfg.PushCount),
	}
	if s.cfg.Mode == ModePush {
		l.pushEvery = max(int64(float64(time.Second)/s.cfg.PushRate), 1)
	}
	size := readBufSize
	if ring != nil {
		size = ringReadBufSize
		l.recvs = make([]recvOp, 0, ringEntries)
	}
	l.rbuf = make([]byte, size)
	l.pool.maxSpare = int(s.cfg.MaxMessage) + wire.MaxHeaderSize
	l.codec = codec{maxMessage: s.cfg.MaxMessage, pool: &l.pool, out: make([]byte, 0, size),
		hold: l.broadcast || l.delaying, fanout: l.broadcast,
		rpc: s.cfg.Mode == ModeRPC, push: s.cfg.Mode == ModePush}
	return l, nil
}

// release frees the loop's kernel objects: the poller and the ring. It runs
// once the loop goroutine has stopped (or never started).
func (l *loop) release() {
	l.poller.Close()
	if l.ring != nil {
		l.ring.Close()
	}
}

// handoff queues an upgraded connection for the loop. It reports false when
// the loop has exited or is being forced down; the caller then still owns fd.
func (l *loop) handoff(h handoff) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.exited || l.force {
		return false
	}
	l.incoming = append(l.incoming, h)
	l.kicked.Store(true)
	// Wake under mu: the poller is closed only after exited is set under
	// mu, so it is still open here.
	l.poller.Wake()
	return true
}

// stop asks the loop to shut down: gracefully (close 1001 to every
// connection, exit once all are closed) or, with force, at once.
func (l *loop) stop(force bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.exited {
		return
	}
	l.stopping = true
	l.force = l.force || force
	l.kicked.Store(true)
	l.poller.Wake()
}

// now is the loop's clock for closing deadlines, in nanoseconds.
func (l *loop) now() int64 { return int64(time.Since(l.epoch)) }

func (l *loop) run() {
	defer close(l.done)
	l.epoch = time.Now()
	l.stallFrom, l.stallTo = stallWindow(l.s.cfg.StallAt, l.s.cfg.StallFor, l.epoch) // netns
	for {
		l.kicked.Store(false) // before looking at what it stands for
		l.mu.Lock()
		l.taken = append(l.taken[:0], l.incoming...)
		clear(l.incoming)
		l.incoming = l.incoming[:0]
		l.posted, l.inbox = l.inbox, l.posted[:0]
		stopping, force := l.stopping, l.force
		if force || (stopping && l.live == 0 && len(l.taken) == 0) {
			l.exited = true
		}
		exited := l.exited
		l.mu.Unlock()

		if exited {
			l.shutdownNow()
			return
		}
		if stopping && !l.goingAway {
			l.goingAway = true
			for _, c := range l.conns {
				if c != nil && c.state == stateOpen {
					l.goAway(c)
				}
			}
		}
		for _, h := range l.taken {
			l.register(h)
		}
		clear(l.taken)
		l.deliverInbox()
		// The timers may close connections (drains that ran out): look at
		// live after them, or the last one's loop would sleep for good.
		timeout := l.timers()
		if stopping && l.live == 0 {
			continue // nothing left: go exit
		}

		evs, err := l.wait(timeout)
		if l.idle > 0 {
			l.clock = l.now() // what reads in this pass stamp on their conn
		}
		if err == nil {
			err = l.serve(evs)
		}
		if err != nil {
			// epoll or io_uring itself failed: nothing can be served any
			// more.
			l.mu.Lock()
			l.exited = true
			l.taken = append(l.taken[:0], l.incoming...)
			l.incoming = nil
			l.posted, l.inbox = append(l.posted, l.inbox...), nil
			l.mu.Unlock()
			l.shutdownNow()
			return
		}
	}
}

// wait returns the ready connections' events, waiting up to d (-1: no
// limit) for some.
//
// With io_uring it first looks without waiting: if sockets are ready, the
// sends queued so far go to the kernel in the same batch as their reads
// (serve). Only a loop about to sleep sends them on their own first.
func (l *loop) wait(d time.Duration) ([]netpoll.Event, error) {
	if l.ring == nil {
		return l.poller.WaitFor(d)
	}
	evs, err := l.poller.WaitFor(0)
	if err != nil || len(evs) > 0 {
		return evs, err
	}
	if err := l.flushAll(); err != nil {
		return nil, err
	}
	if l.kicked.Load() {
		return nil, nil // woken while looking: new connections, deliveries or a stop
	}
	return l.poller.WaitFor(d)
}

// serve handles one round of readiness events.
func (l *loop) serve(evs []netpoll.Event) error {
	if l.ring == nil {
		for _, ev := range evs {
			if ev.FD < len(l.conns) {
				if c := l.conns[ev.FD]; c != nil {
					l.event(c, ev.Events)
				}
			}
		}
		return nil
	}
	l.ready, l.writable = netpoll.Sort(evs, l.conns, connWaitOut, l.ready[:0], l.writable[:0])
	for _, c := range l.writable {
		l.markDirty(c)
	}
	err := l.exchange()
	clear(l.ready)
	clear(l.writable)
	return err
}

// shutdownNow closes every connection, including any in l.taken, drops
// the deliveries and delayed replies not made, and closes the poller.
// exited must be set.
func (l *loop) shutdownNow() {
	for _, h := range l.taken {
		unix.Close(h.fd)
		l.s.open.Add(-1)
	}
	l.taken = nil
	dropDeliveries(l.posted)
	l.posted = nil
	l.dropDelayed()
	for _, c := range l.conns {
		if c != nil {
			l.closeConn(c, false)
		}
	}
	clear(l.dirty)
	l.dirty = l.dirty[:0]
	l.release()
}

// register starts serving a handed-off connection.
func (l *loop) register(h handoff) {
	if err := l.poller.Add(h.fd, netpoll.In); err != nil {
		unix.Close(h.fd)
		l.s.open.Add(-1)
		l.s.abnormal.Add(1)
		return
	}
	c := &conn{fd: h.fd, proto: h.proto}
	c.sess.deflate = h.deflate
	if l.idle > 0 {
		c.lastIn = l.now()
	}
	if h.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*conn, h.fd+1-len(l.conns))...)
	}
	l.conns[h.fd] = c
	if l.live == 0 && l.pingEvery > 0 {
		l.nextPing = l.now() + l.pingEvery // the first ping, one interval on
	}
	l.live++
	if l.broadcast {
		l.join(c, h.room)
	}
	if len(h.extra) > 0 {
		// The client sent frames right behind its request (it should
		// have waited for our 101, but nothing is lost if it did not).
		k := copy(l.rbuf, h.extra)
		l.bytesIn.Add(uint64(k))
		l.process(c, l.rbuf[:k])
	}
	if l.goingAway && c.state == stateOpen {
		l.goAway(c)
	}
}

// sweep closes closing connections whose drain deadline passed and returns
// the next deadline (loop time), -1 for none.
func (l *loop) sweep(now int64) int64 {
	if len(l.closing) == 0 {
		return -1
	}
	next := int64(-1)
	keep := l.closing[:0]
	for _, c := range l.closing {
		if c.state != stateClosing {
			continue
		}
		if now >= c.deadline {
			l.closeConn(c, false)
			continue
		}
		keep = append(keep, c)
		if next < 0 || c.deadline < next {
			next = c.deadline
		}
	}
	clear(l.closing[len(keep):])
	l.closing = keep
	return next
}

// event handles one readiness report for c (without io_uring).
func (l *loop) event(c *conn, ev uint32) {
	if ev&netpoll.Out != 0 && c.pending != nil {
		l.flush(c)
		if c.state == stateClosed {
			return
		}
	}
	if ev&(netpoll.In|netpoll.Hup|netpoll.Err|netpoll.RdHup) != 0 {
		l.read(c)
	}
}

// read does one read for c and handles what arrived (without io_uring).
func (l *loop) read(c *conn) {
	if c.state == stateClosing {
		n, err := netpoll.Read(c.fd, l.rbuf)
		if n > 0 {
			l.bytesIn.Add(uint64(n)) // discarded: the connection is closing
		} else if err != unix.EAGAIN {
			l.closeConn(c, false) // EOF (or reset) ends the closing handshake
		}
		return
	}
	var data []byte
	switch {
	case c.carry == nil:
		n, err := netpoll.Read(c.fd, l.rbuf)
		if !l.readOK(c, n, err) {
			return
		}
		data = l.rbuf[:n]
	case c.big:
		n, err := netpoll.Read(c.fd, c.carry[len(c.carry):cap(c.carry)])
		if !l.readOK(c, n, err) {
			return
		}
		data = c.carry[:len(c.carry)+n]
	default:
		k := copy(l.rbuf, c.carry)
		n, err := netpoll.Read(c.fd, l.rbuf[k:])
		if !l.readOK(c, n, err) {
			return
		}
		l.pool.put(c.carry)
		c.carry = nil
		data = l.rbuf[:k+n]
	}
	l.process(c, data)
}

// readOK accounts for a read's result and reports whether it brought data.
// EOF or an error closes the connection (abnormally: no closing handshake).
func (l *loop) readOK(c *conn, n int, err error) bool {
	if n > 0 {
		l.bytesIn.Add(uint64(n))
		c.lastIn = l.clock
		return true
	}
	if err != unix.EAGAIN {
		l.closeConn(c, true)
	}
	return false
}

// process parses data (received on c, in l.rbuf or c.carry), sends the
// replies (or hands the messages to the delay queue or the room) and keeps
// any incomplete frame for the next read.
func (l *loop) process(c *conn, data []byte) {
	n, closing, code := l.codec.feed(&c.sess, data)
	if closing {
		l.dropCarry(c)
		l.s.countClose(code)
	} else {
		l.keepTail(c, data[n:])
	}
	if l.codec.msgsIn != 0 || l.codec.msgsOut != 0 || l.codec.pongs != 0 {
		l.msgsIn.Add(l.codec.msgsIn)
		l.msgsOut.Add(l.codec.msgsOut)
		l.pongs.Add(l.codec.pongs)
		if l.codec.compIn != 0 || l.codec.compOut != 0 {
			l.compIn.Add(l.codec.compIn)
			l.compOut.Add(l.codec.compOut)
			l.codec.compIn, l.codec.compOut = 0, 0
		}
		l.codec.msgsIn, l.codec.msgsOut, l.codec.pongs = 0, 0, 0
	}
	if l.codec.subscribes > 0 {
		l.codec.subscribes = 0
		l.subscribe(c)
	}
	if l.codec.heldN > 0 {
		l.hold(c) // before the replies: a close frame must come last
	}
	out := l.codec.out
	if closing && c.delayedBytes > 0 && c.state == stateOpen {
		// Echoes are held back: the close frame waits behind them.
		l.delayClose(c, out[l.codec.closeAt:])
		out = out[:l.codec.closeAt]
	}
	if len(out) > 0 {
		l.send(c, out)
	}
	l.codec.out = l.codec.out[:0]
	if closing && c.state == stateOpen {
		l.beginClosing(c)
	}
}

// keepTail stores tail, the incomplete frame at the end of a read, as c's
// carry. tail lies in l.rbuf or, for a large frame, in c.carry itself.
func (l *loop) keepTail(c *conn, tail []byte) {
	if len(tail) == 0 {
		l.dropCarry(c)
		return
	}
	need := wire.FrameSize(tail) // 0 while the header is incomplete
	if need > readBufSize {
		// Large frame: give it a buffer of its own size, read into
		// directly. feed checked need against MaxMessage already.
		if c.carry != nil && cap(c.carry) >= need {
			c.carry = c.carry[:copy(c.carry[:cap(c.carry)], tail)]
		} else {
			nb := append(l.pool.get(need), tail...)
			l.dropCarry(c)
			c.carry = nb
		}
		c.big = true
		return
	}
	// Small frame: keep just the bytes; the next read appends to them in
	// l.rbuf, where the frame fits.
	nb := append(l.pool.get(len(tail)), tail...)
	l.dropCarry(c)
	c.carry = nb
}

func (l *loop) dropCarry(c *conn) {
	if c.carry != nil {
		l.pool.put(c.carry)
		c.carry = nil
	}
	c.big = false
}

// send writes b to c, or queues it behind bytes already pending. b is
// copied if it cannot be written at once. With io_uring it is always queued,
// for the next batch (enqueue).
func (l *loop) send(c *conn, b []byte) {
	if c.state == stateClosed {
		return
	}
	if l.ring != nil {
		l.enqueue(c, b)
		return
	}
	if c.pending != nil {
		l.queue(c, b)
		return
	}
	n, err := netpoll.Write(c.fd, b)
	if n > 0 {
		l.bytesOut.Add(uint64(n))
	}
	if n == len(b) {
		return
	}
	if err != nil && err != unix.EAGAIN {
		l.closeConn(c, c.state == stateOpen)
		return
	}
	if l.queue(c, b[n:]) {
		c.polledOut = true
		if err := l.poller.Mod(c.fd, netpoll.In|netpoll.Out); err != nil {
			l.closeConn(c, c.state == stateOpen)
		}
	}
}

// queue appends b to c's pending bytes (in a pooled buffer) and reports
// whether c is still open: over MaxPendingWrite it is closed as a slow
// reader.
func (l *loop) queue(c *conn, b []byte) bool {
	if len(c.pending)-c.poff+len(b) > l.maxPending {
		l.slowReader(c)
		return false
	}
	l.appendPending(c, b)
	return true
}

// appendPending appends b to c's pending bytes, in a pooled buffer.
func (l *loop) appendPending(c *conn, b []byte) {
	live := len(c.pending) - c.poff
	if len(c.pending)+len(b) > cap(c.pending) {
		if need := live + len(b); c.pending != nil && need <= cap(c.pending) {
			c.pending = c.pending[:copy(c.pending, c.pending[c.poff:])]
		} else {
			nb := append(l.pool.get(max(need, 2*live)), c.pending[c.poff:]...)
			l.putPending(c)
			c.pending = nb
		}
		c.poff = 0
	}
	c.pending = append(c.pending, b...)
}

func (l *loop) putPending(c *conn) {
	if c.pending != nil {
		l.pool.put(c.pending)
	}
	c.pending, c.poff = nil, 0
}

// flush writes what is pending for c, on Out readiness (without io_uring).
func (l *loop) flush(c *conn) {
	n, err := netpoll.Write(c.fd, c.pending[c.poff:])
	l.sent(c, max(n, 0), err)
}

// slowReader closes c, whose unsent replies exceed MaxPendingWrite. No close
// frame: it could not get past the backlog anyway.
func (l *loop) slowReader(c *conn) {
	l.s.slow.Add(1)
	l.closeConn(c, false)
}

// goAway starts the server side of the closing handshake with 1001.
func (l *loop) goAway(c *conn) {
	l.codec.out = appendClose(l.codec.out[:0], ws.StatusGoingAway)
	l.s.countClose(ws.StatusGoingAway)
	if c.delayedBytes > 0 {
		l.delayClose(c, l.codec.out) // behind the echoes held back
	} else {
		l.send(c, l.codec.out)
	}
	l.codec.out = l.codec.out[:0]
	if c.state == stateOpen {
		l.beginClosing(c)
	}
}

// beginClosing moves c to stateClosing after its close frame was queued:
// once that frame is written the write side is shut down (FIN), then reads
// are drained and discarded until the client's EOF or drainTimeout, and only
// then is the fd closed. Closing with unread input would make the kernel send
// an RST, which can destroy the close frame before the client reads it.
//
// A close frame held back behind delayed echoes (closeHeld) is not queued
// yet: the drain starts when it is (startDrain, from the delay queue).
func (l *loop) beginClosing(c *conn) {
	c.state = stateClosing
	c.sess.release(&l.pool)
	l.dropCarry(c)
	l.leave(c)
	l.endPings(c)
	if !c.closeHeld {
		l.startDrain(c)
	}
}

// startDrain starts the drain of the closing handshake once c's close frame
// is queued: the drain deadline, and FIN once nothing is pending.
func (l *loop) startDrain(c *conn) {
	c.deadline = l.now() + int64(drainTimeout)
	l.closing = append(l.closing, c)
	if c.pending == nil {
		unix.Shutdown(c.fd, unix.SHUT_WR)
	}
}

// closeConn closes c's fd and forgets c. abnormal counts a connection that
// ended without a closing handshake.
func (l *loop) closeConn(c *conn, abnormal bool) {
	if c.state == stateClosed {
		return
	}
	// No EPOLL_CTL_DEL first: c.fd is the only descriptor of its socket
	// (TakeFD closed the other), so closing it takes it out of the epoll set.
	unix.Close(c.fd)
	l.conns[c.fd] = nil
	l.live--
	l.s.open.Add(-1)
	if abnormal {
		l.s.abnormal.Add(1)
	}
	c.state = stateClosed
	c.sess.release(&l.pool)
	l.dropCarry(c)
	l.putPending(c)
	l.leave(c)
	l.endPings(c)
}

// connWaitOut is the loop's way to c.waitOut, for netpoll.Sort.
func connWaitOut(c *conn) *bool { return &c.waitOut }
