package server

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/wsbench/wsbench/internal/wire"
)

// This file is permessage-deflate (RFC 7692): the negotiation in the opening
// handshake and the compression of single messages.
//
// The server negotiates the extension with no context takeover in either
// direction: its response always carries client_no_context_takeover (a
// server may add it whether or not the client offered it), so every client
// message is compressed on its own, and the server compresses every message
// it sends on its own too (and says so with server_no_context_takeover when
// the client offered it). No connection then keeps an LZ77 window: one
// decompressor and one compressor per event loop, reset for each message,
// serve all of its connections, and a connection that negotiated the
// extension costs no more memory than one that did not. A compressed message
// the client fragments is reassembled compressed, like any fragmented
// message, and inflated whole once its last frame is in.

// deflateLevel is the compression level of the server's messages. With no
// context takeover the compressor is reset for every message; at BestSpeed a
// reset costs nothing, while the other levels clear 640 KiB of hash chains
// each time.
const deflateLevel = flate.BestSpeed

// maxWindowBits is the LZ77 window the server compresses with (compress/flate
// always uses 32 KiB). An offer asking for a smaller one
// (server_max_window_bits below 15) is declined.
const maxWindowBits = 15

// deflateOffer negotiates permessage-deflate for one opening handshake: its
// negotiate method is the handshake's ws.Upgrader.Negotiate.
type deflateOffer struct {
	accepted bool
}

// negotiate answers one offer of the client's Sec-WebSocket-Extensions
// header, in the client's order of preference: the first acceptable
// permessage-deflate offer is accepted, later ones and other extensions are
// declined (a zero option). An offer the server must decline (RFC 7692
// section 5: an unknown, duplicate or invalid parameter; section 7.1.2.1: a
// window smaller than the server's) does not fail the handshake: the next
// offer may do.
func (o *deflateOffer) negotiate(opt httphead.Option) (httphead.Option, error) {
	if o.accepted || !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
		return httphead.Option{}, nil
	}
	var offer wsflate.Parameters
	if err := offer.Parse(opt); err != nil {
		return httphead.Option{}, nil
	}
	if offer.ServerMaxWindowBits.Defined() && offer.ServerMaxWindowBits < maxWindowBits {
		return httphead.Option{}, nil
	}
	o.accepted = true
	return deflateResponse(offer).Option(), nil
}

// deflateResponse is the server's answer to an acceptable offer: no context
// takeover for the client whatever it offered, server_no_context_takeover and
// server_max_window_bits (15) echoed when offered. client_max_window_bits is
// never sent: the server inflates with a 32 KiB window, which reads any
// client's.
func deflateResponse(offer wsflate.Parameters) wsflate.Parameters {
	return wsflate.Parameters{
		ClientNoContextTakeover: true,
		ServerNoContextTakeover: offer.ServerNoContextTakeover,
		ServerMaxWindowBits:     offer.ServerMaxWindowBits,
	}
}

// errInflatedTooBig says a compressed message inflates to more than
// Config.MaxMessage bytes.
var errInflatedTooBig = errors.New("server: inflated message over MaxMessage")

// flater is one event loop's permessage-deflate engine: a decompressor and a
// compressor shared by all of the loop's connections and reset for every
// message (no context takeover). The loop makes it on its first compressed
// message. Not safe for concurrent use.
type flater struct {
	src tailReader      // the compressed payload being inflated, then the tail
	r   io.ReadCloser   // compress/flate's decompressor, reading src
	w   *wsflate.Writer // deflates and strips the tail
	dst appendWriter    // where w writes
}

// newFlater makes the loop's decompressor and compressor.
func newFlater() *flater {
	f := &flater{}
	f.r = flate.NewReader(&f.src)
	f.w = wsflate.NewWriter(&f.dst, func(w io.Writer) wsflate.Compressor {
		fw, _ := flate.NewWriter(w, deflateLevel) // the level is valid: no error
		return fw
	})
	return f
}

// inflateTail is what follows a compressed payload into the decompressor:
// the 0x00 0x00 0xff 0xff that RFC 7692 section 7.2.2 appends, then an
// empty final block, so that the stream ends where the message does.
var inflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// tailReader reads a compressed payload, then inflateTail. It is an
// io.ByteReader, so compress/flate reads it as it is, with no buffer of its
// own (which it would allocate at every reset). It replaces wsflate.Reader,
// whose ReadByte yields a spurious 0x00 between the payload and the tail
// (gobwas/ws v1.4.0 suffixedReader): a truncated payload that must fail
// with 1007 could then inflate.
type tailReader struct {
	p   []byte
	pos int // in p, then past it in inflateTail
}

func (r *tailReader) reset(p []byte) { r.p, r.pos = p, 0 }

func (r *tailReader) Read(b []byte) (int, error) {
	if r.pos < len(r.p) {
		n := copy(b, r.p[r.pos:])
		r.pos += n
		return n, nil
	}
	t := r.pos - len(r.p)
	if t >= len(inflateTail) {
		return 0, io.EOF
	}
	n := copy(b, inflateTail[t:])
	r.pos += n
	return n, nil
}

func (r *tailReader) ReadByte() (byte, error) {
	if r.pos < len(r.p) {
		r.pos++
		return r.p[r.pos-1], nil
	}
	t := r.pos - len(r.p)
	if t >= len(inflateTail) {
		return 0, io.EOF
	}
	r.pos++
	return inflateTail[t], nil
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// inflate decompresses p, the payload of a compressed message, into a
// buffer from pool (grown from pool as needed) and returns it; the buffer
// belongs to the caller, on error too. It stops as soon as the output passes
// limit bytes (errInflatedTooBig): a small payload that inflates to
// gigabytes (a decompression bomb) costs no more than about limit bytes of
// memory and the time to produce them. Any other error is a payload that is
// not a valid DEFLATE stream.
func (f *flater) inflate(pool *bufPool, p []byte, limit int) ([]byte, error) {
	if len(p) == 0 {
		// Not a DEFLATE stream once the tail is appended, but what a
		// compressor that had nothing to compress may send: an empty
		// message, as zlib-based peers read it.
		return pool.get(0), nil
	}
	f.src.reset(p)
	f.r.(flate.Resetter).Reset(&f.src, nil)
	// Text compresses about 3:1; the buffer grows if that is not enough.
	dst := pool.get(min(max(3*len(p), minInflateBuf), limit+1))
	for {
		if len(dst) == cap(dst) {
			// len <= limit here, so the new buffer is larger.
			nb := append(pool.get(min(2*cap(dst), limit+1)), dst...)
			pool.put(dst)
			dst = nb
		}
		n, err := f.r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		switch {
		case len(dst) > limit:
			return dst, errInflatedTooBig
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		}
	}
}

// minInflateBuf is the smallest buffer inflate starts with.
const minInflateBuf = 1 << minClassShift

// appendCompressed appends to dst one unmasked final frame with RSV1 set
// carrying p compressed (RFC 7692 section 7.2.1: deflated, the trailing
// 0x00 0x00 0xff 0xff removed). The compressor is reset first: the frame
// depends on no earlier message.
func (f *flater) appendCompressed(dst []byte, op ws.OpCode, p []byte) ([]byte, error) {
	start := len(dst)
	// Room for the longest header; the payload moves up behind the real
	// one once its length is known.
	f.dst.b = append(dst, make([]byte, wire.MaxHeaderSize)...)
	f.w.Reset(&f.dst)
	_, err := f.w.Write(p)
	if err == nil {
		err = f.w.Flush()
	}
	out := f.dst.b
	f.dst.b = nil
	if err != nil {
		return out[:start], err
	}
	body := out[start+wire.MaxHeaderSize:]
	h := ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: op, Length: int64(len(body))}
	hn := wire.PutHeader(out[start:], h)
	copy(out[start+hn:], body)
	return out[:start+hn+len(body)], nil
}
