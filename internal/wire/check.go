package wire

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/deflate"
)

// This file holds the rules a receiver applies to the frames it reads, the
// same for the server (frames from clients) and the driver (frames from a
// server): which headers fail the connection and with which close code, what
// a close frame's body says, and which payloads are invalid. Both sides'
// codecs call these, so the two cannot drift apart.

// Rules are what a receiver knows of a connection when a frame header
// arrives.
type Rules struct {
	// Side is ws.StateServerSide for a server reading a client's frames
	// (which must be masked), ws.StateClientSide for a client reading a
	// server's (which must not be).
	Side ws.State
	// Deflate says permessage-deflate (RFC 7692) was negotiated: RSV1 on
	// the first frame of a data message marks it compressed.
	Deflate bool
	// MaxMessage is the largest data message, in bytes as received
	// (compressed, for a compressed message), over all of its fragments.
	MaxMessage int64
}

// Check checks the header h of the next frame, given whether a fragmented
// data message is open and how many payload bytes it holds so far. It
// returns whether the frame starts a compressed message, and 0 or the close
// code that fails the connection: ws.StatusProtocolError (1002) for a
// reserved opcode, a long or fragmented control frame, a frame masked the
// wrong way, an orphan continuation, a new data frame inside a fragmented
// message, RSV bits that no extension defines (with permessage-deflate: RSV1
// anywhere but on a data message's first frame, RSV2 or RSV3 anywhere);
// ws.StatusMessageTooBig (1009) for a data frame that takes its message past
// MaxMessage. Control frames do not count towards the open message.
func (r Rules) Check(h ws.Header, open bool, sofar int64) (compressed bool, code ws.StatusCode) {
	state := r.Side
	if open {
		state |= ws.StateFragmented
	}
	if r.Deflate {
		state |= ws.StateExtended // RSV bits are checked below
	}
	if ws.CheckHeader(h, state) != nil {
		return false, ws.StatusProtocolError
	}
	if h.Rsv != 0 && (h.Rsv != ws.Rsv(true, false, false) || (h.OpCode != ws.OpText && h.OpCode != ws.OpBinary)) {
		// Only RSV1, only on a data message's first frame (RFC 7692 §6.1).
		return false, ws.StatusProtocolError
	}
	if !h.OpCode.IsControl() {
		total := h.Length
		if h.OpCode == ws.OpContinuation {
			total += sofar
		}
		if total > r.MaxMessage {
			return false, ws.StatusMessageTooBig
		}
	}
	return h.Rsv1(), 0
}

// FrameSize returns the total size (header and payload) of the frame that
// starts b, or 0 when b does not hold its whole header yet or the header is
// invalid (ParseHeader's error).
func FrameSize(b []byte) int {
	h, hn, err := ParseHeader(b)
	if hn == 0 || err != nil {
		return 0
	}
	return hn + int(h.Length)
}

// CheckText returns 0, or ws.StatusInvalidFramePayloadData (1007) for a text
// message whose payload (decompressed) is not valid UTF-8 (RFC 6455 §8.1).
func CheckText(op ws.OpCode, p []byte) ws.StatusCode {
	if op == ws.OpText && !utf8.Valid(p) {
		return ws.StatusInvalidFramePayloadData
	}
	return 0
}

// InflateCode maps an error of deflate.Codec.Decompress to the close code it
// fails the connection with: ws.StatusMessageTooBig (1009) for a message
// that decompresses past the limit, ws.StatusInvalidFramePayloadData (1007)
// for a payload that is not a DEFLATE stream; 0 for nil.
func InflateCode(err error) ws.StatusCode {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, deflate.ErrTooBig):
		return ws.StatusMessageTooBig
	default:
		return ws.StatusInvalidFramePayloadData
	}
}

// ParseClose reads the body p of a close frame. code is the status it
// carries: ws.StatusNoStatusRcvd (1005) when the body has fewer than 2
// bytes. reply is the status a strict endpoint answers with: code echoed,
// 1005 for an empty body (answered with an empty close frame), 1002 for a
// 1-byte body or a code that must not be sent (RFC 6455 §7.4: 1005, 1006,
// 1015, unassigned codes below 3000, anything from 5000), 1007 for a reason
// that is not UTF-8.
func ParseClose(p []byte) (code, reply ws.StatusCode) {
	switch len(p) {
	case 0:
		return ws.StatusNoStatusRcvd, ws.StatusNoStatusRcvd
	case 1:
		return ws.StatusNoStatusRcvd, ws.StatusProtocolError
	}
	// reason is p's bytes, not a copy; RFC 6455 7.4.2 defines no code
	// above 4999.
	code, reason := ws.ParseCloseFrameDataUnsafe(p)
	if code >= 5000 {
		return code, ws.StatusProtocolError
	}
	switch err := ws.CheckCloseFrameData(code, reason); err {
	case nil:
		return code, code
	case ws.ErrProtocolInvalidUTF8:
		return code, ws.StatusInvalidFramePayloadData
	default:
		return code, ws.StatusProtocolError
	}
}

// OpName names an opcode for people: text, binary, ping, pong, or
// "opcode N" for any other.
func OpName(op ws.OpCode) string {
	switch op {
	case ws.OpText:
		return "text"
	case ws.OpBinary:
		return "binary"
	case ws.OpPing:
		return "ping"
	case ws.OpPong:
		return "pong"
	}
	return "opcode " + strconv.Itoa(int(op))
}
