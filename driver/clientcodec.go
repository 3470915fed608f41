package driver

import (
	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/wire"
)

// This file is the client's protocol engine for what the server sends: it
// turns the bytes read on one connection into events (a whole data message,
// a ping, a pong, a close, a violation). It does no I/O and knows nothing of
// sockets, epoll or io_uring, so it is benchmarked and fuzzed on in-memory
// buffers (FuzzClientCodec); the event loop reads into the buffer it names
// and acts on the events. The rules a frame header must follow, the close
// body and the UTF-8 check are internal/wire's, shared with the server's
// codec (server/codec.go).

// readState is what one connection's read side keeps between reads. It
// holds no memory while no frame is partly read and no fragmented message
// is open.
type readState struct {
	carry  []byte    // bytes of a frame not yet complete
	frag   []byte    // payload of a fragmented message being reassembled
	fragOp ws.OpCode // opcode of that message (0: none)
	fragZ  bool      // that message is compressed (RSV1 on its first frame)
	// ended: a close frame or a violation was decoded; nothing after it is.
	ended bool
}

// eventKind says what a frameEvent is.
type eventKind uint8

const (
	evMore      eventKind = iota // no whole frame left: read more
	evMessage                    // a whole data message
	evPing                       // a ping: answer with a pong carrying payload
	evPong                       // a pong
	evClose                      // a close frame from the server
	evViolation                  // the server broke the protocol: close with code, count kind
)

// frameEvent is one thing the server sent, decoded.
type frameEvent struct {
	kind eventKind
	// op is a message's opcode (text or binary).
	op ws.OpCode
	// payload is a message's payload (decompressed; valid until the next
	// call of next) or a ping's or pong's (in the read buffer).
	payload []byte
	// wireLen is what a message or pong occupied on the wire: header and
	// payload of its frame (a fragmented message: its payload and one
	// largest header).
	wireLen int
	// zWire is a message's payload size as received (compressed), when the
	// codec has permessage-deflate on.
	zWire int
	// code is the server's status for evClose (1005: none), or the close
	// code to fail the connection with for evViolation.
	code ws.StatusCode
	// errKind is the error a violation is counted as: protocol_error,
	// message_too_big, deflate_error or invalid_utf8.
	errKind string
}

// Error kinds of violations.
const (
	kindProtocol   = "protocol_error"
	kindTooBig     = "message_too_big"
	kindDeflate    = "deflate_error"
	kindInvalidUTF = "invalid_utf8"
)

// clientCodec decodes the frames a server sends to a client. One belongs to
// one event loop and serves all of its connections in turn, each with its
// own readState; it is not safe for concurrent use.
type clientCodec struct {
	maxMessage int64
	// zip decompresses compressed messages when permessage-deflate was
	// negotiated (nil: it was not, and any RSV bit is a violation).
	zip *deflater
}

// frames is one read's worth of bytes being decoded: buf from off on.
// inCarry says buf is the connection's carry itself.
type frames struct {
	buf     []byte
	off     int
	inCarry bool
}

// readInto is where s's next read goes: after the partial frame it holds,
// or else buf (the loop's shared read buffer).
func (d *clientCodec) readInto(s *readState, buf []byte) []byte {
	if len(s.carry) == 0 {
		return buf
	}
	if need := frameNeed(s.carry); cap(s.carry) < need {
		s.carry = append(make([]byte, 0, need), s.carry...)
	}
	return s.carry[len(s.carry):cap(s.carry)]
}

// received returns the bytes to decode after n bytes were read into b, the
// buffer readInto named.
func (d *clientCodec) received(s *readState, b []byte, n int) frames {
	if len(s.carry) > 0 {
		s.carry = s.carry[:len(s.carry)+n]
		return frames{buf: s.carry, inCarry: true}
	}
	return frames{buf: b[:n]}
}

// next decodes the next event from in. evMore means every whole frame is
// decoded: the rest, a partial frame, is kept in s.carry for the next read.
// After evClose or evViolation s is ended and next decodes nothing more.
//
// Every header is checked before its payload is waited for, so a frame that
// breaks a rule or the size limit is refused as soon as its header is in.
func (d *clientCodec) next(s *readState, in *frames) frameEvent {
	for !s.ended {
		b := in.buf[in.off:]
		h, hn, err := wire.ParseHeader(b)
		if err != nil { // 64-bit length with the top bit set
			return d.violation(s, ws.StatusProtocolError, kindProtocol)
		}
		if hn == 0 {
			break
		}
		rules := wire.Rules{Side: ws.StateClientSide, Deflate: d.zip != nil, MaxMessage: d.maxMessage}
		compressed, code := rules.Check(h, s.fragOp != 0, int64(len(s.frag)))
		switch code {
		case 0:
		case ws.StatusMessageTooBig:
			return d.violation(s, code, kindTooBig)
		default:
			return d.violation(s, code, kindProtocol)
		}
		end := hn + int(h.Length) // at most max(maxMessage, 125) + 14: no overflow
		if end > len(b) {
			break
		}
		p := b[hn:end]
		in.off += end
		switch h.OpCode {
		case ws.OpText, ws.OpBinary:
			if h.Fin {
				return d.message(s, h.OpCode, p, compressed, end)
			}
			s.fragOp, s.fragZ = h.OpCode, compressed
			s.frag = append(s.frag[:0], p...)
		case ws.OpContinuation:
			s.frag = append(s.frag, p...)
			if h.Fin {
				op, frag := s.fragOp, s.frag
				s.fragOp, s.frag = 0, nil
				return d.message(s, op, frag, s.fragZ, len(frag)+wire.MaxHeaderSize)
			}
		case ws.OpPing:
			return frameEvent{kind: evPing, payload: p}
		case ws.OpPong:
			return frameEvent{kind: evPong, payload: p, wireLen: end}
		case ws.OpClose:
			s.ended = true
			code, _ := wire.ParseClose(p)
			return frameEvent{kind: evClose, code: code}
		}
	}
	if !s.ended {
		d.keep(s, in)
	}
	return frameEvent{kind: evMore}
}

// keep keeps what is left of in, a partial frame, in s.carry.
func (d *clientCodec) keep(s *readState, in *frames) {
	rest := in.buf[in.off:]
	switch {
	case len(rest) == 0:
		s.carry = nil
	case in.inCarry:
		s.carry = s.carry[:copy(s.carry, rest)]
	default:
		s.carry = append(make([]byte, 0, max(frameNeed(rest), len(rest))), rest...)
	}
	in.buf, in.off = nil, 0
}

// message makes the event of a whole data message whose payload as
// received is p: decompressed first if compressed, checked as UTF-8 if text.
func (d *clientCodec) message(s *readState, op ws.OpCode, p []byte, compressed bool, wireLen int) frameEvent {
	ev := frameEvent{kind: evMessage, op: op, wireLen: wireLen}
	if d.zip != nil {
		ev.zWire = len(p)
		if compressed {
			raw, err := d.zip.decompress(p, d.maxMessage)
			if code := wire.InflateCode(err); code != 0 {
				kind := kindDeflate
				if code == ws.StatusMessageTooBig {
					kind = kindTooBig
				}
				return d.violation(s, code, kind)
			}
			p = raw
		}
	}
	if code := wire.CheckText(op, p); code != 0 {
		return d.violation(s, code, kindInvalidUTF)
	}
	ev.payload = p
	return ev
}

// violation ends s: the server broke the protocol.
func (d *clientCodec) violation(s *readState, code ws.StatusCode, kind string) frameEvent {
	s.ended = true
	return frameEvent{kind: evViolation, code: code, errKind: kind}
}

// frameNeed is how many bytes the frame starting at b occupies, as far as its
// header tells (at least a whole header).
func frameNeed(b []byte) int {
	if n := wire.FrameSize(b); n > 0 {
		return n
	}
	return max(len(b), wire.MaxHeaderSize)
}
