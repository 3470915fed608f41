//go:build linux

package server

import (
	"encoding/binary"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/heap"
	"github.com/wsbench/wsbench/internal/wire"
)

// This file is what an event loop does on its clock rather than on its
// sockets: replies held back by Config.Delay, the pings of
// Config.PingInterval and the idle timeout of Config.IdleTimeout. All use the
// loop's poller timeout (loop.timers returns the time to the next deadline);
// none starts a goroutine or a timer of its own.
//
// Delay: every data message draws its delay from Config.Delay (a fixed one
// draws the same every time) with the loop's own generator, and its reply is
// due that long after the read that brought it, or when the connection's
// previous reply is due, whichever is later (conn.lastDue): a reply never
// overtakes an earlier one of its connection, even when its own draw is
// shorter. The loop keeps the replies in one min-heap by due time (delayQ),
// entries of equal due time in the order they were queued, and wakes for the
// first through its poller timeout. An entry is either echo replies for one
// connection, in a pooled buffer, or, in broadcast mode, frames for a room,
// in a shared buffer, published when due; consecutive messages of one read
// that fall due together share an entry (with a fixed delay, all of a
// read's). A close frame for a connection with echoes still held back joins
// the queue behind them, due with the last one (conn.closeHeld), so it
// never overtakes them, and the closing handshake's drain starts when it is
// sent.
//
// Pings: one deadline per loop. When it passes, the loop walks its open
// connections: a connection whose previous ping is still unanswered counts
// as a missing pong, then every one gets the next ping.
//
// Idle timeout: one deadline per loop too (nextIdle). Every read stamps its
// connection with the loop time of its pass (loop.clock); when the deadline
// passes, the loop walks its open connections, closes with 1001 those
// stamped a timeout ago or more, and sets the deadline to when the oldest of
// the rest runs out (closeIdle).

// delayed is one entry of the delay queue.
type delayed struct {
	due int64 // loop time (ns) when it goes out
	// Echo mode: the frames for c, in a pooled buffer (n data messages,
	// nz of them compressed). close says b is c's close frame.
	c     *conn
	b     []byte
	n, nz int
	close bool
	// Broadcast mode: the frames for room r.
	r  *room
	bf *bframe
}

// delayQ is a binary min-heap (internal/heap) of delayed entries, by due
// time and then order of queueing. With a fixed delay entries mostly arrive
// in due order, so a push costs one comparison.
type delayQ struct{ h heap.Heap[delayed] }

func (d *delayQ) len() int { return d.h.Len() }

// front returns the entry due first; the queue must not be empty.
func (d *delayQ) front() *delayed { return d.h.Top() }

func (d *delayQ) push(e delayed) { d.h.Push(e.due, e) }

// pop removes and returns the entry due first; the queue must not be empty.
func (d *delayQ) pop() delayed { return d.h.Pop() }

// hold queues what the codec held back from c's last read (codec.held):
// published to c's room at once in broadcast mode without Delay, else queued
// until its delay has passed.
func (l *loop) hold(c *conn) {
	fr := l.codec.takeHeld()
	if l.broadcast && (!l.delaying || c.room == nil) {
		if c.room != nil {
			l.publish(c.room, fr, nil)
		}
		return
	}
	if !l.broadcast && c.delayedBytes+len(fr.b)+len(c.pending)-c.poff > l.maxPending {
		l.slowReader(c)
		return
	}
	now := l.now()
	// netns (issue 16): a message received in the stall is due at its
	// end at the earliest.
	stallEnd := int64(0)
	if now >= l.stallFrom && now < l.stallTo {
		stallEnd = l.stallTo
		l.stalled.Add(uint64(fr.n))
	}
	if l.delay.Dist == DelayFixed {
		l.delayRun(c, fr, max(now+int64(l.delay.Mean), c.lastDue, stallEnd))
		return
	}
	// A draw per message. Consecutive messages due at the same time (a
	// draw shorter than the one before makes a message wait for it) go
	// in one entry.
	var run frames // the messages of the entry being built: run.b and
	var bs, zs int // run.z are fr.b[bs:] and fr.z[zs:], to be cut
	var runDue int64
	bo, zo := 0, 0 // where the next message starts in fr.b and fr.z
	for range fr.n {
		d, clamped := l.delay.draw(l.rng)
		if clamped {
			l.delayClamped.Add(1)
		}
		due := max(now+d, stallEnd)
		if !l.codec.rpc {
			// Echo and broadcast keep each connection's order; ModeRPC's
			// answers go out as their delays end, in any order.
			due = max(due, c.lastDue, runDue)
		}
		if run.n > 0 && due != runDue {
			run.b, run.z = fr.b[bs:bo], fr.z[zs:zo]
			l.delayRun(c, run, runDue)
			run, bs, zs = frames{}, bo, zo
		}
		runDue = due
		// Which run says whether the message went compressed: fr.z when
		// there is one (broadcast), else fr.b (echo).
		compressed := false
		if len(fr.z) > 0 {
			compressed = fr.z[zo]&0x40 != 0 // RSV1
			zo += wire.FrameSize(fr.z[zo:])
		} else {
			compressed = fr.b[bo]&0x40 != 0
		}
		bo += wire.FrameSize(fr.b[bo:])
		run.n++
		if compressed {
			run.nz++
		}
	}
	if run.n > 0 {
		run.b, run.z = fr.b[bs:bo], fr.z[zs:zo]
		l.delayRun(c, run, runDue)
	}
}

// delayRun queues fr, messages c sent, to go out at due (loop time): echoed
// to c, or published to c's room.
func (l *loop) delayRun(c *conn, fr frames, due int64) {
	c.lastDue = max(c.lastDue, due) // ModeRPC: due may be earlier
	if l.broadcast {
		if fr.nz == 0 {
			fr.z = nil // every member gets fr.b
		}
		l.delayQ.push(delayed{due: due, r: c.room, bf: newBframe(fr)})
		return
	}
	l.delayFor(c, fr.b, fr, false, due)
}

// delayClose queues c's close frame b behind the echoes c has in the delay
// queue: due with the last of them.
func (l *loop) delayClose(c *conn, b []byte) {
	l.delayFor(c, b, frames{}, true, max(l.now(), c.lastDue))
}

// delayFor queues a copy of b for c, due at due: the frames fr counts (their
// messages, echo mode), or c's close frame.
func (l *loop) delayFor(c *conn, b []byte, fr frames, isClose bool, due int64) {
	buf := append(l.pool.get(len(b)), b...)
	l.delayQ.push(delayed{due: due, n: fr.n, nz: fr.nz, c: c, b: buf, close: isClose})
	c.delayedBytes += len(buf)
	if isClose {
		c.closeHeld = true
	}
}

// releaseDelayed sends a delayed entry that is due.
func (l *loop) releaseDelayed(e delayed) {
	if e.bf != nil {
		l.publish(e.r, e.bf.frames, e.bf)
		return
	}
	c := e.c
	c.delayedBytes -= len(e.b)
	if c.state != stateClosed {
		l.send(c, e.b)
		if e.close {
			c.closeHeld = false
			if c.state == stateClosing {
				l.startDrain(c)
			}
		} else {
			l.msgsOut.Add(uint64(e.n))
			if e.nz > 0 {
				l.compOut.Add(uint64(e.nz))
			}
		}
	}
	l.pool.put(e.b)
}

// dropDelayed empties the delay queue: the loop is exiting.
func (l *loop) dropDelayed() {
	for l.delayQ.len() > 0 {
		e := l.delayQ.pop()
		if e.bf != nil {
			e.bf.release()
		} else {
			l.pool.put(e.b)
		}
	}
}

// timers does what is due: closing connections whose drain ran out, delayed
// replies, pings. It returns how long the loop may wait for its sockets
// before the next deadline, -1 for no limit.
func (l *loop) timers() time.Duration {
	if len(l.closing) == 0 && l.delayQ.len() == 0 && (l.pingEvery == 0 || l.live == 0) &&
		(l.idle == 0 || l.live == 0) && l.pushQ.Len() == 0 {
		return -1 // nothing on the clock: spare reading it
	}
	now := l.now()
	idleNext := int64(-1)
	if l.idle > 0 && l.live > 0 {
		// Before sweep: the connections it closes start draining, and
		// sweep must see their drain deadlines.
		if now >= l.nextIdle {
			l.nextIdle = l.closeIdle(now)
		}
		idleNext = l.nextIdle
	}
	next := l.sweep(now)
	if idleNext >= 0 {
		next = earliest(next, idleNext)
	}
	for l.delayQ.len() > 0 && l.delayQ.front().due <= now {
		l.releaseDelayed(l.delayQ.pop())
	}
	if l.delayQ.len() > 0 {
		next = earliest(next, l.delayQ.front().due)
	}
	if l.pushQ.Len() > 0 {
		if due := l.pushDue(now); due >= 0 {
			next = earliest(next, due)
		}
	}
	if l.pingEvery > 0 && l.live > 0 {
		if now >= l.nextPing {
			l.pingAll()
			l.nextPing += l.pingEvery
			if l.nextPing <= now { // fell behind: no burst of pings
				l.nextPing = now + l.pingEvery
			}
		}
		next = earliest(next, l.nextPing)
	}
	if next < 0 {
		return -1
	}
	return time.Duration(max(next-now, 0))
}

// closeIdle closes, with 1001, every open connection that has sent nothing
// for Config.IdleTimeout and returns the loop time of the next idle sweep:
// when the least recently active of the others runs out, but not sooner than
// an eighth of the timeout from now, so that busy connections do not make the
// loop walk its table over and over.
func (l *loop) closeIdle(now int64) int64 {
	oldest := int64(-1)
	for _, c := range l.conns {
		if c == nil || c.state != stateOpen {
			continue
		}
		if now-c.lastIn >= l.idle {
			l.s.idleCloses.Add(1)
			l.goAway(c) // may close c at once (a failed write)
			continue
		}
		if oldest < 0 || c.lastIn < oldest {
			oldest = c.lastIn
		}
	}
	if oldest < 0 {
		oldest = now // none open: look again a timeout on
	}
	return max(oldest+l.idle, now+l.idle/8)
}

// earliest returns the earlier of deadline a (-1: none) and b.
func earliest(a, b int64) int64 {
	if a < 0 || b < a {
		return b
	}
	return a
}

// pingAll sends the next ping to every open connection, first counting a
// missing pong for those that did not answer the previous one.
func (l *loop) pingAll() {
	l.codec.pingID++
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], l.codec.pingID)
	l.pingFrame = wire.AppendFrame(l.pingFrame[:0], ws.OpPing, true, p[:], nil)
	var sent uint64
	for _, c := range l.conns {
		if c == nil || c.state != stateOpen {
			continue
		}
		if c.sess.pingOut {
			l.pongMissed(c)
		}
		c.sess.pingOut = true
		l.send(c, l.pingFrame) // may close c
		sent++
	}
	l.pingsSent.Add(sent)
}

// pongMissed counts a ping of c that will not be answered in time.
func (l *loop) pongMissed(c *conn) {
	c.sess.pingOut = false
	l.pongMissing.Add(1)
	if !c.missedPong {
		c.missedPong = true
		l.notAnswering.Add(1)
	}
}

// endPings counts c's unanswered ping, if any, as missing: c stops reading
// frames (it is closing or closed).
func (l *loop) endPings(c *conn) {
	if c.sess.pingOut {
		l.pongMissed(c)
	}
}
