//go:build linux

package driver

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
)

// maxKeptPending is the largest send buffer a connection keeps once emptied;
// a bigger one (left by a backlog) goes back to the garbage collector.
const maxKeptPending = 16 << 10

// send writes one masked data frame stamped with its intended and actual send times.
func (w *worker) send(c *conn, intended, now int64) {
	if c.state == stateClosed {
		return
	}
	if w.sender != nil {
		w.sender.send(c, intended, now) // rpc: the workload's own message
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
		size = cd.minSize + int(w.out.rng.Uint64()%uint64(cd.size-cd.minSize+1))
	}
	if w.zip != nil {
		// permessage-deflate: the whole message compressed, then framed.
		z := w.zip.compress(w.out.payload(cd, st, size))
		zLen = len(z)
		wireLen = w.out.frames(c, w.run.op, z, w.run.fragments, true)
	} else if w.run.fragments <= 1 {
		wireLen = w.out.message(c, w.run.op, cd, st, size)
	} else {
		wireLen = w.out.frames(c, w.run.op, w.out.payload(cd, st, size), w.run.fragments, false)
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
		if w.pacing().lagged() {
			w.shard.Record(metrics.SendLag, time.Duration(now-intended))
		}
	}
	c.nextSeq++
	w.outstanding++
}

// sendControl writes a masked control frame (pong or close).
func (w *worker) sendControl(c *conn, op ws.OpCode, payload []byte) {
	if c.state == stateClosed {
		return
	}
	w.out.control(c, op, payload)
}

func (w *worker) sendClose(c *conn, code ws.StatusCode) {
	var body [2]byte
	w.sendControl(c, ws.OpClose, wire.CloseBody(body[:], code, ""))
}

// flushAll sends every queued connection's bytes: with io_uring, up to
// ringEntries connections per system call.
func (w *worker) flushAll() error {
	for len(w.out.dirty) > 0 {
		batch := w.out.dirty
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
		w.out.flushed(len(batch))
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

// outbox is a loop's outgoing side: it builds masked frames at the end of
// each connection's send queue (conn.pending), masks from the loop's own
// generator, and lists the connections with bytes to send (dirty), which
// the loop hands the kernel in its next exchange or flush.
type outbox struct {
	rng     *rand.ChaCha8
	scratch []byte  // a message's payload before it is compressed or cut into frames
	dirty   []*conn // connections with bytes queued to send, flushed before the next wait
}

// message queues one unfragmented, uncompressed data message of size
// bytes, its payload written in place (codec.put) and masked there, and
// returns its bytes on the wire.
func (o *outbox) message(c *conn, op ws.OpCode, cd *codec, st stamp, size int) int {
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Length: int64(size)}
	binary.LittleEndian.PutUint32(h.Mask[:], uint32(o.rng.Uint64()))
	b := o.grow(c, wire.HeaderSize(h)+size)
	hn := wire.PutHeader(b, h)
	cd.put(b[hn:], st)
	ws.Cipher(b[hn:], h.Mask, 0)
	return len(b)
}

// payload writes a message's payload of size bytes into the scratch buffer.
func (o *outbox) payload(cd *codec, st stamp, size int) []byte {
	if cap(o.scratch) < size {
		o.scratch = make([]byte, size)
	}
	p := o.scratch[:size]
	cd.put(p, st)
	return p
}

// frames queues the message payload p as n frames — the first with the
// message's opcode (and RSV1 when compressed), the rest continuations, the
// last with FIN — each masked with its own key, and returns their bytes on
// the wire.
func (o *outbox) frames(c *conn, op ws.OpCode, p []byte, n int, compressed bool) int {
	size := len(p)
	n = max(n, 1)
	if n > size {
		n = max(size, 1) // a compressed message may be shorter than its frames
	}
	total := 0
	for i := 0; i < n; i++ {
		chunk := p[i*size/n : (i+1)*size/n]
		h := ws.Header{Fin: i == n-1, OpCode: ws.OpContinuation, Masked: true, Length: int64(len(chunk))}
		if i == 0 {
			h.OpCode = op
			if compressed {
				h.Rsv = ws.Rsv(true, false, false)
			}
		}
		binary.LittleEndian.PutUint32(h.Mask[:], uint32(o.rng.Uint64()))
		b := o.grow(c, wire.HeaderSize(h)+len(chunk))
		hn := wire.PutHeader(b, h)
		ws.Cipher(b[hn:hn+copy(b[hn:], chunk)], h.Mask, 0)
		total += len(b)
	}
	return total
}

// control queues a masked control frame.
func (o *outbox) control(c *conn, op ws.OpCode, payload []byte) {
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Length: int64(len(payload))}
	binary.LittleEndian.PutUint32(h.Mask[:], uint32(o.rng.Uint64()))
	b := o.grow(c, wire.HeaderSize(h)+len(payload))
	hn := wire.PutHeader(b, h)
	ws.Cipher(b[hn:hn+copy(b[hn:], payload)], h.Mask, 0)
}

// grow appends n bytes to c's send queue for the caller to fill, and queues c
// for the flush before the next wait.
func (o *outbox) grow(c *conn, n int) []byte {
	l := len(c.pending)
	c.pending = slices.Grow(c.pending, n)[:l+n]
	o.queue(c)
	return c.pending[l:]
}

// queue puts c on the list flushAll sends from, unless it is there already
// or waits for the socket to drain.
func (o *outbox) queue(c *conn) {
	if !c.dirty && !c.waitOut && len(c.pending) > 0 {
		c.dirty = true
		o.dirty = append(o.dirty, c)
	}
}

// flushed drops the first n connections, handed to the kernel, from the list.
func (o *outbox) flushed(n int) {
	k := copy(o.dirty, o.dirty[n:])
	clear(o.dirty[k:])
	o.dirty = o.dirty[:k]
}
