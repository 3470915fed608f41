package server

import (
	"encoding/binary"
	"math/bits"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/wire"
)

// This file is the protocol engine: it turns bytes received on one connection
// into the bytes to send back. It does no I/O and knows nothing of epoll, so
// it can be benchmarked and fuzzed on in-memory buffers.

// session is the protocol state a connection keeps between reads: the open
// fragmented message, if any, and the server's unanswered ping. An idle
// connection's session holds no memory.
type session struct {
	msg   []byte    // payload of the open fragmented message so far
	msgOp ws.OpCode // its opcode (text or binary); 0 when none is open
	// msgCompressed says the open fragmented message is compressed (RSV1
	// on its first frame): msg holds its payload as sent, inflated once
	// the last frame is in.
	msgCompressed bool
	// pingOut says the server's last ping (Config.PingInterval) awaits its
	// pong, whose payload must be codec.pingID.
	pingOut bool
	// deflate says the connection negotiated permessage-deflate (RFC
	// 7692, with no context takeover): RSV1 on the first frame of a data
	// message marks it compressed, and the replies to compressed messages
	// go out compressed. Without it any RSV bit fails the connection.
	deflate bool
}

// release gives the session's buffer back to p and forgets the open message.
// The ping and deflate state stay.
func (s *session) release(p *bufPool) {
	if s.msg != nil {
		p.put(s.msg)
	}
	s.msg, s.msgOp, s.msgCompressed = nil, 0, false
}

// codec parses client frames and assembles the replies. One codec belongs to
// one event loop and serves all of its connections in turn; it is not safe for
// concurrent use.
type codec struct {
	maxMessage int64
	pool       *bufPool
	// out collects the reply frames of one feed call (several calls may
	// append before the caller writes and truncates it).
	out []byte
	// hold sends data messages to held instead of out: they are not echoed
	// at once but delayed (Config.Delay) or broadcast, by the caller, who
	// empties held. heldN is the number of frames in held.
	hold  bool
	held  []byte
	heldN int
	// fanout (broadcast mode, with hold) makes held the frames for
	// connections without permessage-deflate. Once a message of the run
	// arrives compressed, heldZ holds the same frames with the compressed
	// messages compressed, for the connections that negotiated it.
	// heldComp counts the compressed frames: in heldZ with fanout, in held
	// without (echo mode, where held goes back to the sender).
	fanout   bool
	heldZ    []byte
	heldComp int
	// rpc (ModeRPC) replaces every data message by its answer
	// (appendAnswer, built in answer) before it is sent or held; a
	// message without one is only counted in.
	rpc    bool
	answer []byte
	// push (ModePush) takes data messages as subscribe requests: they are
	// counted in subscribes for the caller, who zeroes it, and not echoed.
	push       bool
	subscribes int
	// fl inflates and deflates permessage-deflate messages; nil until the
	// first compressed message.
	fl *flater
	// closeAt is where, in out, the close frame starts when feed returns
	// closing: everything before it may go out ahead of it.
	closeAt int
	// pingID is the payload (big-endian) of the loop's last round of pings:
	// every connection with a ping out was sent that one.
	pingID uint64
	// msgsIn and msgsOut count data messages, and pongs the pongs that
	// answered the session's ping, since the caller last collected (and
	// zeroed) them; compIn and compOut are the part of msgsIn and msgsOut
	// that was compressed. Held messages are not counted out.
	msgsIn, msgsOut, pongs uint64
	compIn, compOut        uint64
}

// feed handles every complete frame at the start of data, appending replies
// to c.out, and returns how many bytes it consumed. Payloads are unmasked in
// place, so data is modified.
//
// When it returns closing == true a close frame has been appended to c.out
// (code is its status, 1005 for an empty body), the session has been released
// and the connection must be closed after the reply is sent; bytes after the
// offending or closing frame are not consumed and must be ignored. Otherwise
// data[n:] is an incomplete frame to be completed by later reads.
//
// Every header is checked before its payload is waited for, so a frame that
// breaks a rule or the size limit is refused as soon as its header is in.
func (c *codec) feed(s *session, data []byte) (n int, closing bool, code ws.StatusCode) {
	for {
		h, hn, err := wire.ParseHeader(data[n:])
		if err != nil { // 64-bit length with the top bit set
			return n, true, c.fail(s, ws.StatusProtocolError)
		}
		if hn == 0 {
			return n, false, 0
		}
		rules := wire.Rules{Side: ws.StateServerSide, Deflate: s.deflate, MaxMessage: c.maxMessage}
		compressed, broken := rules.Check(h, s.msgOp != 0, int64(len(s.msg)))
		if broken != 0 {
			return n, true, c.fail(s, broken)
		}
		// h.Length is now at most max(maxMessage, 125): no overflow.
		end := n + hn + int(h.Length)
		if end > len(data) {
			return n, false, 0
		}
		p := data[n+hn : end]
		n = end
		ws.Cipher(p, h.Mask, 0)

		switch h.OpCode {
		case ws.OpPing:
			c.out = wire.AppendFrame(c.out, ws.OpPong, true, p, nil)
		case ws.OpPong:
			// The answer to the server's ping counts; unsolicited or
			// late pongs are allowed and ignored (RFC 6455 5.5.3).
			if s.pingOut && len(p) == 8 && binary.BigEndian.Uint64(p) == c.pingID {
				s.pingOut = false
				c.pongs++
			}
		case ws.OpClose:
			s.release(c.pool)
			return n, true, c.closeReply(p)
		case ws.OpText, ws.OpBinary:
			if h.Fin {
				if code := c.message(h.OpCode, p, compressed); code != 0 {
					return n, true, c.fail(s, code)
				}
				continue
			}
			s.msgOp, s.msgCompressed = h.OpCode, compressed
			s.msg = append(c.pool.get(len(p)), p...)
		case ws.OpContinuation:
			s.msg = c.appendMsg(s.msg, p)
			if h.Fin {
				code := c.message(s.msgOp, s.msg, s.msgCompressed)
				s.release(c.pool)
				if code != 0 {
					return n, true, c.fail(s, code)
				}
			}
		}
	}
}

// message handles one complete data message (p is its payload as sent,
// compressed or not): encode it as a single frame, to send back at once
// (out) or to hand to the caller (held). It returns 0, or the close code the
// message fails the connection with: 1007 for a text message that is not
// UTF-8 or a compressed payload that does not inflate, 1009 for one that
// inflates to more than maxMessage bytes.
func (c *codec) message(op ws.OpCode, p []byte, compressed bool) ws.StatusCode {
	if !compressed {
		return c.emit(op, p, false)
	}
	if c.fl == nil {
		c.fl = newFlater()
	}
	b, err := c.fl.inflate(c.pool, p, int(c.maxMessage))
	code := wire.InflateCode(err)
	if code == 0 {
		code = c.emit(op, b, true)
	}
	c.pool.put(b)
	return code
}

// emit validates and encodes one complete message whose payload (inflated)
// is p, and counts it; compressed says it arrived compressed, so its echo
// goes out compressed (and, in broadcast mode, its deliveries to the
// connections that negotiated permessage-deflate).
func (c *codec) emit(op ws.OpCode, p []byte, compressed bool) ws.StatusCode {
	if code := wire.CheckText(op, p); code != 0 {
		return code
	}
	c.msgsIn++
	if compressed {
		c.compIn++
	}
	if c.push {
		c.subscribes++
		return 0
	}
	if c.rpc {
		var ok bool
		if c.answer, ok = appendAnswer(c.answer[:0], p); !ok {
			return 0
		}
		op, p = ws.OpText, c.answer
	}
	switch {
	case !c.hold:
		c.out = c.appendMessage(c.out, op, p, compressed)
		c.msgsOut++
		if compressed {
			c.compOut++
		}
	case !c.fanout:
		c.held = c.appendMessage(c.held, op, p, compressed)
		c.heldN++
		if compressed {
			c.heldComp++
		}
	default:
		if compressed && c.heldComp == 0 {
			// The run's first compressed message: from now on the
			// deflate members get a run of their own.
			c.heldZ = append(c.heldZ[:0], c.held...)
		}
		if compressed || c.heldComp > 0 {
			c.heldZ = c.appendMessage(c.heldZ, op, p, compressed)
		}
		if compressed {
			c.heldComp++
		}
		c.held = wire.AppendFrame(c.held, op, true, p, nil)
		c.heldN++
	}
	return 0
}

// appendMessage appends p as one unmasked final frame, compressed (RSV1) or
// not.
func (c *codec) appendMessage(dst []byte, op ws.OpCode, p []byte, compressed bool) []byte {
	if compressed {
		return c.fl.appendCompressed(dst, op, p)
	}
	return wire.AppendFrame(dst, op, true, p, nil)
}

// frames is a run of encoded data frames to deliver: b, n messages, for
// every member; and, when some of the messages arrived compressed, z, the
// same messages with those nz compressed, for the members that negotiated
// permessage-deflate (empty z: b for every member). In echo mode (the delay
// queue) b is the run for the sender and nz counts its compressed frames.
type frames struct {
	b  []byte
	n  int
	z  []byte
	nz int
}

// takeHeld returns what the codec held back (its held and heldZ buffers)
// and empties them for the next read; the buffers are reused, so fr is valid
// until then.
func (c *codec) takeHeld() frames {
	fr := frames{b: c.held, n: c.heldN, nz: c.heldComp}
	if c.fanout && c.heldComp > 0 {
		fr.z = c.heldZ
	}
	c.held, c.heldN, c.heldZ, c.heldComp = c.held[:0], 0, c.heldZ[:0], 0
	return fr
}

// appendMsg appends p to the fragmented message buffer m, taking a larger
// buffer from the pool when m is full.
func (c *codec) appendMsg(m, p []byte) []byte {
	if need := len(m) + len(p); need > cap(m) {
		size := max(2*cap(m), need)
		if int64(size) > c.maxMessage {
			size = max(int(c.maxMessage), need)
		}
		nm := append(c.pool.get(size), m...)
		c.pool.put(m)
		m = nm
	}
	return append(m, p...)
}

// closeReply answers a client close frame with body p and returns the code
// sent: the client's code echoed, nothing for an empty body (counted as
// 1005), 1002 for a malformed body or a code that must not be sent, 1007 for
// a reason that is not UTF-8.
func (c *codec) closeReply(p []byte) ws.StatusCode {
	_, reply := wire.ParseClose(p)
	if len(p) == 0 {
		c.closeAt = len(c.out)
		c.out = wire.AppendFrame(c.out, ws.OpClose, true, nil, nil)
		return reply
	}
	return c.closeFrame(reply)
}

// fail drops the session's open message and queues a close frame with code.
func (c *codec) fail(s *session, code ws.StatusCode) ws.StatusCode {
	s.release(c.pool)
	return c.closeFrame(code)
}

// closeFrame queues a close frame whose body is just code.
func (c *codec) closeFrame(code ws.StatusCode) ws.StatusCode {
	c.closeAt = len(c.out)
	c.out = appendClose(c.out, code)
	return code
}

// appendClose appends a server close frame carrying code and no reason.
func appendClose(dst []byte, code ws.StatusCode) []byte {
	var b [2]byte
	return wire.AppendFrame(dst, ws.OpClose, true, wire.CloseBody(b[:], code, ""), nil)
}

// Buffer size classes of bufPool: powers of two from 512 B to 64 KiB.
const (
	minClassShift = 9
	maxClassShift = 16
	numClasses    = maxClassShift - minClassShift + 1
	// Free buffers kept per class: perClass, or more small ones, up to
	// perClassBytes. With io_uring every connection answered in a pass
	// holds its replies in a pooled buffer until the next pass sends them,
	// so hundreds of small buffers are in use at once.
	perClass      = 16
	perClassBytes = 512 << 10
)

// classKeep is how many free buffers of class k bufPool keeps.
func classKeep(k int) int { return max(perClass, perClassBytes>>(k+minClassShift)) }

// bufPool recycles the buffers connections hold only while something is
// pending (partial frames, fragmented messages, replies not sent yet), so
// that a steady stream of them costs no allocation. It belongs to one event
// loop and is not safe for concurrent use. Buffers up to 64 KiB come in
// power-of-two classes; one spare larger buffer (at most maxSpare bytes) is
// kept for the next large frame.
type bufPool struct {
	free     [numClasses][][]byte
	spare    []byte
	maxSpare int
}

// get returns an empty buffer with capacity at least n.
func (p *bufPool) get(n int) []byte {
	if n <= 1<<maxClassShift {
		k := 0
		if n > 1<<minClassShift {
			k = bits.Len(uint(n-1)) - minClassShift
		}
		if l := len(p.free[k]); l > 0 {
			b := p.free[k][l-1]
			p.free[k][l-1] = nil
			p.free[k] = p.free[k][:l-1]
			return b
		}
		return make([]byte, 0, 1<<(k+minClassShift))
	}
	if cap(p.spare) >= n {
		b := p.spare
		p.spare = nil
		return b
	}
	return make([]byte, 0, n)
}

// put gives b back. b must not be used afterwards.
func (p *bufPool) put(b []byte) {
	c := cap(b)
	switch {
	case c < 1<<minClassShift:
	case c <= 1<<maxClassShift:
		if c&(c-1) != 0 {
			return // not one of the pool's sizes
		}
		k := bits.Len(uint(c)) - 1 - minClassShift
		if len(p.free[k]) < classKeep(k) {
			if p.free[k] == nil {
				p.free[k] = make([][]byte, 0, classKeep(k))
			}
			p.free[k] = append(p.free[k], b[:0])
		}
	case c <= p.maxSpare && c > cap(p.spare):
		p.spare = b[:0]
	}
}
