// Package deflate compresses and decompresses the messages of
// permessage-deflate (RFC 7692) with no context takeover, for both sides:
// the driver's connections and the server's. Every message is compressed
// and decompressed on its own, so one Codec per event loop serves all of
// its connections, and a connection costs no LZ77 window (32 KiB each way
// with context takeover). The negotiation (Sec-WebSocket-Extensions) is
// each side's own, with gobwas/ws's wsflate.Parameters.
//
//	c := deflate.NewCodec()
//	z := c.Compress(nil, msg)                      // a compressed payload, RSV1 set on its frame
//	raw, err := c.Decompress(nil, z, 1<<20, nil)   // msg again; ErrTooBig past 1 MiB
//
// Messages are compressed at flate.BestSpeed: with no context takeover the
// compressor is reset for every message, and at BestSpeed a reset costs
// nothing, while the other levels clear 640 KiB of hash chains each time.
// A Codec holds about 1.2 MiB (compress/flate's compressor and
// decompressor); once warm, Compress and Decompress allocate nothing but the
// growth of the buffers they are given.
package deflate

import (
	"compress/flate"
	"errors"
	"io"
	"slices"
)

// ErrTooBig says a compressed message decompresses to more than the limit.
var ErrTooBig = errors.New("deflate: decompressed message over the limit")

// Codec compresses and decompresses single messages, reusing its flate
// state for every one (no context takeover). Not safe for concurrent use.
type Codec struct {
	src tailReader    // the compressed payload being inflated, then the tail
	r   io.ReadCloser // compress/flate's decompressor, reading src
	w   *flate.Writer // compress/flate's compressor, writing dst
	dst appendWriter  // where w writes
}

// NewCodec makes a Codec.
func NewCodec() *Codec {
	c := &Codec{}
	c.r = flate.NewReader(&c.src)
	c.w, _ = flate.NewWriter(&c.dst, flate.BestSpeed) // a valid level: no error
	return c
}

// Compress appends p compressed as one message's payload to dst and returns
// the extended buffer: deflated, then the trailing 0x00 0x00 0xff 0xff of
// the sync flush removed (RFC 7692 section 7.2.1). The compressor is reset
// first: the payload depends on no earlier message. dst[:len(dst)] is left
// as it is.
func (c *Codec) Compress(dst, p []byte) []byte {
	c.dst.b = dst
	c.w.Reset(&c.dst)
	c.w.Write(p) // appendWriter never fails, so neither does the compressor
	c.w.Flush()
	b := c.dst.b
	c.dst.b = nil
	if n := len(b); n-len(dst) >= 4 && b[n-4] == 0 && b[n-3] == 0 && b[n-2] == 0xff && b[n-1] == 0xff {
		b = b[:n-4]
	}
	return b
}

// Grow returns a buffer holding b's bytes with a capacity of at least n, for
// Decompress when its output buffer is full; b is not used afterwards (the
// server's Grow gives it back to its pool).
type Grow func(b []byte, n int) []byte

// minGrow is the smallest capacity Decompress grows a buffer to.
const minGrow = 512

// Decompress appends the message whose compressed payload is p to dst and
// returns the extended buffer, on error too (the caller owns it). It stops
// as soon as more than limit bytes came out (ErrTooBig): a small payload
// that inflates to gigabytes (a decompression bomb) costs no more than about
// limit bytes of memory and the time to produce them. Any other error is a
// payload that is not a valid DEFLATE stream. When dst is full, grow (nil:
// append's growth) makes room; at most limit+1 bytes come out in all.
//
// An empty payload decompresses to an empty message: it is not a DEFLATE
// stream once the tail is appended, but what a compressor that had nothing
// to compress may send, and zlib-based peers read it so.
func (c *Codec) Decompress(dst, p []byte, limit int, grow Grow) ([]byte, error) {
	if len(p) == 0 {
		return dst, nil
	}
	c.src.reset(p)
	c.r.(flate.Resetter).Reset(&c.src, nil) // never fails: no dictionary
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			// len(dst)-start <= limit here, so n > len(dst).
			n := max(2*cap(dst), minGrow)
			if n-start > limit {
				n = start + limit + 1
			}
			if grow != nil {
				dst = grow(dst, n)
			} else {
				dst = slices.Grow(dst, n-len(dst))
			}
		}
		// Never more than limit+1 bytes out, however large the buffer.
		end := cap(dst)
		if end-start > limit {
			end = start + limit + 1
		}
		k, err := c.r.Read(dst[len(dst):end])
		dst = dst[:len(dst)+k]
		switch {
		case len(dst)-start > limit:
			return dst, ErrTooBig
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		}
	}
}

// tail is what follows a compressed payload into the decompressor: the
// 0x00 0x00 0xff 0xff that RFC 7692 section 7.2.2 appends, then an empty
// final block, so that the stream ends where the message does.
var tail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// tailReader reads a compressed payload, then tail, with no copy. It is an
// io.ByteReader, so compress/flate reads it as it is, with no buffer of its
// own (which it would allocate at every reset). It replaces gobwas/ws's
// wsflate.Reader, whose ReadByte yields a spurious 0x00 between the payload
// and the tail (gobwas/ws v1.4.0 suffixedReader): a truncated payload that
// must fail (1007) could then inflate.
type tailReader struct {
	p   []byte
	pos int // in p, then past it in tail
}

func (r *tailReader) reset(p []byte) { r.p, r.pos = p, 0 }

func (r *tailReader) Read(b []byte) (int, error) {
	if r.pos < len(r.p) {
		n := copy(b, r.p[r.pos:])
		r.pos += n
		return n, nil
	}
	t := r.pos - len(r.p)
	if t >= len(tail) {
		return 0, io.EOF
	}
	n := copy(b, tail[t:])
	r.pos += n
	return n, nil
}

func (r *tailReader) ReadByte() (byte, error) {
	if r.pos < len(r.p) {
		r.pos++
		return r.p[r.pos-1], nil
	}
	t := r.pos - len(r.p)
	if t >= len(tail) {
		return 0, io.EOF
	}
	r.pos++
	return tail[t], nil
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
