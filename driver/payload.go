package driver

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
)

// A message's payload starts with a stamp — its sequence number on the
// connection, its intended send time and its actual send time, in nanoseconds
// since the run's clock origin — followed by filler up to the message size.
// Binary messages carry the stamp as 24 raw bytes, text messages as 32 base64
// characters so the payload stays valid UTF-8. The filler is the same printable
// pattern for every message, so an echo is verified without storing what was sent.
//
// In a broadcast run the stamp also names its publisher (4 more bytes), so a
// receiver knows whose sequence it belongs to.
const (
	stampLen     = 24
	stampTextLen = 32 // base64.RawURLEncoding.EncodedLen(stampLen)
	pubLen       = 4
)

type stamp struct {
	seq      uint64
	intended int64
	sent     int64
	pub      uint32 // broadcast: the publisher's index
}

// codec writes and reads the payloads of one run.
type codec struct {
	binary bool
	pub    bool // the stamp carries a publisher
	size   int
	filler []byte // payload bytes after the stamp
}

func newCodec(size int, binary bool) *codec { return newCodecFor(size, binary, false) }

// newCodecFor is newCodec for a broadcast run when pub is set.
func newCodecFor(size int, binary, pub bool) *codec {
	c := &codec{binary: binary, pub: pub, size: size}
	c.filler = make([]byte, size-c.stampSize())
	const pattern = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range c.filler {
		c.filler[i] = pattern[i%len(pattern)]
	}
	return c
}

// rawLen is the stamp's length before any encoding.
func (c *codec) rawLen() int {
	if c.pub {
		return stampLen + pubLen
	}
	return stampLen
}

func (c *codec) stampSize() int {
	if c.binary {
		return c.rawLen()
	}
	return base64.RawURLEncoding.EncodedLen(c.rawLen())
}

// put writes a whole payload for s into p, which has length c.size.
func (c *codec) put(p []byte, s stamp) {
	var buf [stampLen + pubLen]byte
	raw := buf[:c.rawLen()]
	binary.LittleEndian.PutUint64(raw[0:8], s.seq)
	binary.LittleEndian.PutUint64(raw[8:16], uint64(s.intended))
	binary.LittleEndian.PutUint64(raw[16:24], uint64(s.sent))
	if c.pub {
		binary.LittleEndian.PutUint32(raw[24:28], s.pub)
	}
	if c.binary {
		copy(p, raw)
	} else {
		base64.RawURLEncoding.Encode(p[:c.stampSize()], raw)
	}
	copy(p[c.stampSize():], c.filler)
}

// get reads the stamp of an echoed payload. ok is false when the payload is
// not one this codec wrote: wrong size, undecodable stamp, or altered filler.
// A stamp that decodes while the filler does not match is still returned, so
// the caller can account for the message it belongs to.
func (c *codec) get(p []byte) (s stamp, stampOK, ok bool) {
	var buf [stampLen + pubLen]byte
	raw := buf[:c.rawLen()]
	n := c.stampSize()
	if len(p) < n {
		return s, false, false
	}
	if c.binary {
		copy(raw, p[:len(raw)])
	} else if m, err := base64.RawURLEncoding.Decode(raw, p[:n]); err != nil || m != len(raw) {
		return s, false, false
	}
	s.seq = binary.LittleEndian.Uint64(raw[0:8])
	s.intended = int64(binary.LittleEndian.Uint64(raw[8:16]))
	s.sent = int64(binary.LittleEndian.Uint64(raw[16:24]))
	if c.pub {
		s.pub = binary.LittleEndian.Uint32(raw[24:28])
	}
	return s, true, len(p) == c.size && bytes.Equal(p[n:], c.filler)
}
