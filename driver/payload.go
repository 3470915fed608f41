package driver

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"unicode/utf8"
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
	conn     uint32 // the sending connection's slot (not encoded: a template may show it)
}

// codec writes and reads the payloads of one run.
type codec struct {
	binary bool
	pub    bool // the stamp carries a publisher
	size   int  // the largest payload (minSize … size: sizes drawn per message)
	// minSize is the smallest payload size (size when sizes are fixed).
	minSize int
	filler  []byte // payload bytes after the stamp
	// utf8 says the filler has multi-byte characters: a text payload cut
	// inside one ends it with spaces instead, so it stays valid UTF-8.
	utf8 bool
	// tmpl, when set, is the payload: literal text with the connection,
	// the sequence number and the stamp filled in (see parseTemplate).
	tmpl []tmplPart
}

func newCodec(size int, binary bool) *codec { return newCodecFor(size, binary, false) }

// newCodecFor is newCodec for a broadcast run when pub is set.
func newCodecFor(size int, binary, pub bool) *codec {
	c := &codec{binary: binary, pub: pub, size: size, minSize: size}
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

// put writes a whole payload for s into p: the stamp, then the filler up to
// len(p) (minSize … size), or with a template exactly renderLen(s) bytes.
func (c *codec) put(p []byte, s stamp) {
	if c.tmpl != nil {
		c.render(p, s)
		return
	}
	c.putStamp(p, s)
	c.putFiller(p[c.stampSize():])
}

// putStamp writes s's stamp at the start of p.
func (c *codec) putStamp(p []byte, s stamp) {
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
}

// fillerCut is how much of the filler fills n bytes: all n, or for UTF-8
// text up to the last whole character (spaces after it).
func (c *codec) fillerCut(n int) int {
	if !c.utf8 || n >= len(c.filler) {
		return n
	}
	k := n
	for k > 0 && k > n-utf8.UTFMax && !utf8.RuneStart(c.filler[k]) {
		k--
	}
	return k
}

func (c *codec) putFiller(p []byte) {
	k := c.fillerCut(len(p))
	copy(p, c.filler[:k])
	for i := k; i < len(p); i++ {
		p[i] = ' '
	}
}

// fillerOK reports whether p is the filler as putFiller writes it.
func (c *codec) fillerOK(p []byte) bool {
	if len(p) > len(c.filler) {
		return false
	}
	k := c.fillerCut(len(p))
	if !bytes.Equal(p[:k], c.filler[:k]) {
		return false
	}
	for _, b := range p[k:] {
		if b != ' ' {
			return false
		}
	}
	return true
}

// get reads the stamp of an echoed payload. ok is false when the payload is
// not one this codec wrote: wrong size, undecodable stamp, or altered filler
// (or template text, or a connection number that is not conn's; conn < 0:
// any). A stamp that decodes while the rest does not match is still
// returned, so the caller can account for the message it belongs to.
func (c *codec) get(p []byte, conn int) (s stamp, stampOK, ok bool) {
	if c.tmpl != nil {
		return c.parse(p, conn)
	}
	s, stampOK = c.getStamp(p)
	if !stampOK {
		return s, false, false
	}
	return s, true, len(p) >= c.minSize && len(p) <= c.size && c.fillerOK(p[c.stampSize():])
}

// getStamp decodes the stamp at the start of p.
func (c *codec) getStamp(p []byte) (s stamp, ok bool) {
	var buf [stampLen + pubLen]byte
	raw := buf[:c.rawLen()]
	n := c.stampSize()
	if len(p) < n {
		return s, false
	}
	if c.binary {
		copy(raw, p[:len(raw)])
	} else if m, err := base64.RawURLEncoding.Decode(raw, p[:n]); err != nil || m != len(raw) {
		return s, false
	}
	s.seq = binary.LittleEndian.Uint64(raw[0:8])
	s.intended = int64(binary.LittleEndian.Uint64(raw[8:16]))
	s.sent = int64(binary.LittleEndian.Uint64(raw[16:24]))
	if c.pub {
		s.pub = binary.LittleEndian.Uint32(raw[24:28])
	}
	return s, true
}
