//go:build linux

package server

import (
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/internal/wire"
)

// This file is the event loop's socket I/O through io_uring (Config.IO), the
// same batching as the client's (driver/loop_linux.go). On a virtual machine
// a system call costs about a microsecond before it does any work, and an echo
// costs two of them (read and write) when each is a call of its own.
//
// A pass of the loop first looks at epoll without waiting (loop.wait). If
// sockets are ready, ONE io_uring_enter carries the replies queued so far and
// one receive per ready socket, each into its own slot of the loop's read
// buffer (exchange). Replies made while handling those reads are queued on
// their connection (enqueue) and go out with the next pass's batch; only when
// nothing is ready does the loop send them on their own (flushAll) before it
// sleeps in epoll_wait. Every operation is non-blocking and completes inside
// the call, so buffers are free again when it returns.
//
// A connection's replies wait in its pending buffer, taken from the loop's
// pool and given back once the kernel has taken every byte, so an idle
// connection still holds no buffer. What a send leaves behind stays pending,
// in order, and c waits for EPOLLOUT (waitOut) as without io_uring; replies
// made meanwhile join it, within Config.MaxPendingWrite.

const (
	// ringEntries is the io_uring batch: operations handed to the kernel
	// per call, a send and a receive for each of up to maxEvents sockets.
	ringEntries = 2 * maxEvents
	// ringReadBufSize is each loop's read buffer with io_uring, cut into one
	// slot per ready connection, at least minRecvSlot and at most
	// readBufSize bytes each. A slot that fills up leaves the rest for the
	// next pass (epoll is level-triggered).
	ringReadBufSize = 256 << 10
	minRecvSlot     = 1 << 10
	// sendTag marks the user data of a send in a mixed batch.
	sendTag = 1 << 63
)

// newRings sets up one ring per loop, or none and the error.
func newRings(n int) ([]*uring.Ring, error) {
	rings := make([]*uring.Ring, 0, n)
	for range n {
		r, err := uring.New(ringEntries)
		if err != nil {
			for _, r := range rings {
				r.Close()
			}
			return nil, err
		}
		rings = append(rings, r)
	}
	return rings, nil
}

// recvOp is one receive of a batch: for c, into buf[k:], or, with inCarry,
// into the free space of c.carry. k bytes of c.carry were copied to buf's
// start, so that buf[:k+n] holds the incomplete frame and what follows it.
type recvOp struct {
	c       *conn
	buf     []byte
	k       int
	inCarry bool
}

// markDirty puts c on the list of connections whose pending bytes go out
// with the next batch, unless it is there already or waits for EPOLLOUT.
func (l *loop) markDirty(c *conn) {
	if !c.dirty && !c.waitOut && c.poff < len(c.pending) {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

// enqueue queues b on c for the next batch. Behind bytes the kernel refused
// already, it counts towards Config.MaxPendingWrite at once.
func (l *loop) enqueue(c *conn, b []byte) {
	if c.waitOut {
		l.queue(c, b)
		return
	}
	l.appendPending(c, b)
	l.markDirty(c)
}

// queueSend adds c's pending bytes to the ring as operation i of a batch.
// It reports false for a connection with nothing to send (any more).
func (l *loop) queueSend(c *conn, i int) bool {
	c.dirty = false
	if c.state == stateClosed || c.waitOut || c.poff == len(c.pending) {
		return false
	}
	return l.ring.Send(c.fd, c.pending[c.poff:], uint64(i)|sendTag)
}

// dropSent removes the first n connections, just sent from, from l.dirty.
func (l *loop) dropSent(n int) {
	k := copy(l.dirty, l.dirty[n:])
	clear(l.dirty[k:])
	l.dirty = l.dirty[:k]
}

// flushAll sends every queued connection's bytes, up to ringEntries
// connections per system call.
func (l *loop) flushAll() error {
	for len(l.dirty) > 0 {
		batch := l.dirty[:min(len(l.dirty), l.ring.Space())]
		for i, c := range batch {
			l.queueSend(c, i)
		}
		cqes, err := l.ring.Submit()
		if err != nil {
			return err
		}
		for _, cqe := range cqes {
			l.sent(batch[cqe.UserData&^sendTag], max(int(cqe.Res), 0), cqe.Err())
		}
		l.dropSent(len(batch))
	}
	return nil
}

// exchange sends what is queued and reads every ready connection (l.ready),
// handling what arrived: both in one system call per ringEntries operations.
// Replies made while handling these reads wait for the next pass.
func (l *loop) exchange() error {
	nsend := len(l.dirty)
	for ready := l.ready; nsend > 0 || len(ready) > 0; {
		space := l.ring.Space()
		sends := l.dirty[:min(nsend, space)]
		nsend -= len(sends)
		recvs := ready[:min(len(ready), space-len(sends), len(l.rbuf)/minRecvSlot)]
		ready = ready[len(recvs):]
		for i, c := range sends {
			l.queueSend(c, i)
		}
		// At most readBufSize, as without io_uring: the replies to one
		// read then fit the pool's largest class.
		slot := min(len(l.rbuf)/max(len(recvs), 1), readBufSize)
		for i, c := range recvs {
			if c.state == stateClosed {
				continue
			}
			op, dst := l.recvTarget(c, l.rbuf[i*slot:(i+1)*slot])
			l.ring.Recv(c.fd, dst, uint64(len(l.recvs)))
			l.recvs = append(l.recvs, op)
		}
		cqes, err := l.ring.Submit()
		if err != nil {
			clear(l.recvs)
			l.recvs = l.recvs[:0]
			return err
		}
		// Sends first: a read's replies join what is left of the queue.
		for _, cqe := range cqes {
			if cqe.UserData&sendTag != 0 {
				l.sent(sends[cqe.UserData&^sendTag], max(int(cqe.Res), 0), cqe.Err())
			}
		}
		l.dropSent(len(sends))
		for _, cqe := range cqes {
			if cqe.UserData&sendTag == 0 {
				l.received(&l.recvs[cqe.UserData], max(int(cqe.Res), 0), cqe.Err())
			}
		}
		clear(l.recvs)
		l.recvs = l.recvs[:0]
	}
	return nil
}

// sent accounts for a send of c's pending bytes (a batched one, or flush's
// write(2) on Out readiness) that wrote n bytes or failed with err. Once all
// are written the buffer goes back to the pool (and a closing connection's
// write side is shut down); what the kernel did not take waits for EPOLLOUT.
func (l *loop) sent(c *conn, n int, err error) {
	if c.state == stateClosed {
		return
	}
	if n > 0 {
		l.bytesOut.Add(uint64(n))
		c.poff += n
	}
	if c.poff == len(c.pending) {
		l.putPending(c)
		if c.polledOut {
			c.polledOut = false
			if err := l.poller.Mod(c.fd, netpoll.In); err != nil {
				l.closeConn(c, c.state == stateOpen)
				return
			}
		}
		if c.state == stateClosing && !c.closeHeld {
			unix.Shutdown(c.fd, unix.SHUT_WR)
		}
		return
	}
	if err != nil && err != unix.EAGAIN {
		l.closeConn(c, c.state == stateOpen)
		return
	}
	if len(c.pending)-c.poff > l.maxPending {
		l.slowReader(c)
		return
	}
	c.waitOut = true
	if !c.polledOut {
		c.polledOut = true
		if err := l.poller.Mod(c.fd, netpoll.In|netpoll.Out); err != nil {
			l.closeConn(c, c.state == stateOpen)
		}
	}
}

// recvTarget is where c's next receive goes: slot, or, after an incomplete
// frame, slot behind a copy of it if the whole frame fits there, else the
// free space of c.carry, grown to the frame's size first.
func (l *loop) recvTarget(c *conn, slot []byte) (recvOp, []byte) {
	if c.state != stateOpen || c.carry == nil {
		return recvOp{c: c, buf: slot}, slot
	}
	if !c.big {
		need := max(wire.FrameSize(c.carry), len(c.carry)+1)
		if need <= len(slot) {
			k := copy(slot, c.carry)
			return recvOp{c: c, buf: slot, k: k}, slot[k:]
		}
		nb := append(l.pool.get(need), c.carry...)
		l.pool.put(c.carry)
		c.carry, c.big = nb, true
	}
	return recvOp{c: c, inCarry: true}, c.carry[len(c.carry):cap(c.carry)]
}

// received handles the outcome of a receive of n bytes (or err) for op.
func (l *loop) received(op *recvOp, n int, err error) {
	c := op.c
	switch c.state {
	case stateClosed:
		return
	case stateClosing:
		if n > 0 {
			l.bytesIn.Add(uint64(n)) // discarded: the connection is closing
		} else if err != unix.EAGAIN {
			l.closeConn(c, false) // EOF (or reset) ends the closing handshake
		}
		return
	}
	if !l.readOK(c, n, err) {
		return
	}
	var data []byte
	switch {
	case op.inCarry:
		data = c.carry[:len(c.carry)+n]
	case op.k > 0:
		l.pool.put(c.carry) // copied to op.buf
		c.carry = nil
		data = op.buf[:op.k+n]
	default:
		data = op.buf[:n]
	}
	l.process(c, data)
}
