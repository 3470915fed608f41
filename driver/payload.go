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
const (
	stampLen     = 24
	stampTextLen = 32 // base64.RawURLEncoding.EncodedLen(stampLen)
)

type stamp struct {
	seq      uint64
	intended int64
	sent     int64
}

// codec writes and reads the payloads of one run.
type codec struct {
	binary bool
	size   int
	filler []byte // payload bytes after the stamp
}

func newCodec(size int, binary bool) *codec {
	c := &codec{binary: binary, size: size}
	c.filler = make([]byte, size-c.stampSize())
	const pattern = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range c.filler {
		c.filler[i] = pattern[i%len(pattern)]
	}
	return c
}

func (c *codec) stampSize() int {
	if c.binary {
		return stampLen
	}
	return stampTextLen
}

// put writes a whole payload for s into p, which has length c.size.
func (c *codec) put(p []byte, s stamp) {
	var raw [stampLen]byte
	binary.LittleEndian.PutUint64(raw[0:8], s.seq)
	binary.LittleEndian.PutUint64(raw[8:16], uint64(s.intended))
	binary.LittleEndian.PutUint64(raw[16:24], uint64(s.sent))
	if c.binary {
		copy(p, raw[:])
	} else {
		base64.RawURLEncoding.Encode(p[:stampTextLen], raw[:])
	}
	copy(p[c.stampSize():], c.filler)
}

// get reads the stamp of an echoed payload. ok is false when the payload is
// not one this codec wrote: wrong size, undecodable stamp, or altered filler.
// A stamp that decodes while the filler does not match is still returned, so
// the caller can account for the message it belongs to.
func (c *codec) get(p []byte) (s stamp, stampOK, ok bool) {
	var raw [stampLen]byte
	n := c.stampSize()
	if len(p) < n {
		return s, false, false
	}
	if c.binary {
		copy(raw[:], p[:stampLen])
	} else if m, err := base64.RawURLEncoding.Decode(raw[:], p[:stampTextLen]); err != nil || m != stampLen {
		return s, false, false
	}
	s.seq = binary.LittleEndian.Uint64(raw[0:8])
	s.intended = int64(binary.LittleEndian.Uint64(raw[8:16]))
	s.sent = int64(binary.LittleEndian.Uint64(raw[16:24]))
	return s, true, len(p) == c.size && bytes.Equal(p[n:], c.filler)
}
