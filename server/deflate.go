package server

import (
	"bytes"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/wsbench/wsbench/internal/deflate"
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
// message, and inflated whole once its last frame is in. The compression
// itself (BestSpeed, no context takeover) is internal/deflate, shared with
// the driver.

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

// flater is one event loop's permessage-deflate engine: a decompressor and a
// compressor (internal/deflate, shared with the driver) used by all of the
// loop's connections and reset for every message (no context takeover). The
// loop makes it on its first compressed message. Not safe for concurrent
// use.
type flater struct {
	codec *deflate.Codec
}

// newFlater makes the loop's decompressor and compressor.
func newFlater() *flater { return &flater{codec: deflate.NewCodec()} }

// inflate decompresses p, the payload of a compressed message, into a
// buffer from pool (grown from pool as needed) and returns it; the buffer
// belongs to the caller, on error too. It stops as soon as the output passes
// limit bytes (deflate.ErrTooBig): a small payload that inflates to
// gigabytes (a decompression bomb) costs no more than about limit bytes of
// memory and the time to produce them. Any other error is a payload that is
// not a valid DEFLATE stream. An empty payload is an empty message.
func (f *flater) inflate(pool *bufPool, p []byte, limit int) ([]byte, error) {
	// Text compresses about 3:1; the buffer grows if that is not enough.
	dst := pool.get(min(max(3*len(p), minInflateBuf), limit+1))
	// A full buffer: a larger one from the pool, the full one back to it.
	return f.codec.Decompress(dst, p, limit, func(b []byte, n int) []byte {
		nb := append(pool.get(n), b...)
		pool.put(b)
		return nb
	})
}

// minInflateBuf is the smallest buffer inflate starts with.
const minInflateBuf = 1 << minClassShift

// appendCompressed appends to dst one unmasked final frame with RSV1 set
// carrying p compressed (RFC 7692 section 7.2.1: deflated, the trailing
// 0x00 0x00 0xff 0xff removed). The compressor is reset first: the frame
// depends on no earlier message.
func (f *flater) appendCompressed(dst []byte, op ws.OpCode, p []byte) []byte {
	start := len(dst)
	// Room for the longest header; the payload moves up behind the real
	// one once its length is known.
	out := f.codec.Compress(append(dst, make([]byte, wire.MaxHeaderSize)...), p)
	body := out[start+wire.MaxHeaderSize:]
	h := ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: op, Length: int64(len(body))}
	hn := wire.PutHeader(out[start:], h)
	copy(out[start+hn:], body)
	return out[:start+hn+len(body)]
}
