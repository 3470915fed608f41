// Package wire holds the allocation-free pieces of the RFC 6455 frame format that
// both the reference server and the load driver need when they work on raw,
// non-blocking sockets: parsing a frame header out of a byte slice, putting one
// into a byte slice, and a few size constants.
//
// It uses gobwas/ws types (ws.Header, ws.OpCode) throughout, so values move freely
// between this package and gobwas/ws; it exists only because gobwas/ws reads
// headers from an io.Reader and writes them with a fresh allocation per call,
// neither of which fits an event loop that owns its buffers.
package wire

import (
	"encoding/binary"
	"errors"

	"github.com/gobwas/ws"
)

// MaxHeaderSize is the largest frame header: 2 bytes, 8 of extended length, 4 of mask.
const MaxHeaderSize = ws.MaxHeaderSize

// ErrLengthMSB reports a 64-bit payload length with its most significant bit set,
// which RFC 6455 section 5.2 forbids.
var ErrLengthMSB = errors.New("frame header: most significant bit of the 64-bit length is set")

// ParseHeader parses the frame header at the start of b.
//
// It returns the header and its length in bytes. When b does not yet hold the
// whole header it returns n == 0 and a nil error: read more and call again.
// The payload length is not checked against len(b).
func ParseHeader(b []byte) (h ws.Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; {
	case l < 126:
		h.Length = int64(l)
	case l == 126:
		n += 2
	default:
		n += 8
	}
	if h.Masked {
		n += 4
	}
	if len(b) < n {
		return ws.Header{}, 0, nil
	}
	p := 2
	switch b[1] & 0x7f {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		p = 4
	case 127:
		if b[2]&0x80 != 0 {
			return ws.Header{}, 0, ErrLengthMSB
		}
		h.Length = int64(binary.BigEndian.Uint64(b[2:10]))
		p = 10
	}
	if h.Masked {
		copy(h.Mask[:], b[p:p+4])
	}
	return h, n, nil
}

// HeaderSize returns how many bytes PutHeader writes for h.
func HeaderSize(h ws.Header) int {
	n := 2
	switch {
	case h.Length > 0xffff:
		n += 8
	case h.Length > 125:
		n += 2
	}
	if h.Masked {
		n += 4
	}
	return n
}

// PutHeader writes h at the start of b, which must have room for HeaderSize(h)
// bytes, and returns the number of bytes written. A negative length is a
// programming error and panics.
func PutHeader(b []byte, h ws.Header) int {
	if h.Length < 0 {
		panic("wire: negative payload length")
	}
	b0 := h.Rsv<<4 | byte(h.OpCode)&0x0f
	if h.Fin {
		b0 |= 0x80
	}
	b[0] = b0
	var n int
	switch {
	case h.Length <= 125:
		b[1] = byte(h.Length)
		n = 2
	case h.Length <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:4], uint16(h.Length))
		n = 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:10], uint64(h.Length))
		n = 10
	}
	if h.Masked {
		b[1] |= 0x80
		n += copy(b[n:], h.Mask[:])
	}
	return n
}

// AppendFrame appends one whole frame (header and payload) to dst. With a
// non-nil mask the frame is masked: the payload is copied and the copy masked,
// so p itself is left untouched.
func AppendFrame(dst []byte, op ws.OpCode, fin bool, p []byte, mask *[4]byte) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p))}
	if mask != nil {
		h.Masked = true
		h.Mask = *mask
	}
	var hb [MaxHeaderSize]byte
	n := PutHeader(hb[:], h)
	dst = append(dst, hb[:n]...)
	start := len(dst)
	dst = append(dst, p...)
	if mask != nil {
		ws.Cipher(dst[start:], *mask, 0)
	}
	return dst
}

// CloseBody puts a close frame body (code, then reason) into b and returns it.
// b must have room for 2+len(reason) bytes; reason is cut to 123 bytes so the
// body fits a control frame.
func CloseBody(b []byte, code ws.StatusCode, reason string) []byte {
	if len(reason) > ws.MaxControlFramePayloadSize-2 {
		reason = reason[:ws.MaxControlFramePayloadSize-2]
	}
	binary.BigEndian.PutUint16(b, uint16(code))
	n := copy(b[2:], reason)
	return b[:2+n]
}
