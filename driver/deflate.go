package driver

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692). wsbench offers it with no context takeover
// in both directions and requires the server to accept that: every message
// is then compressed and decompressed on its own, so one compressor and one
// decompressor per event loop serve all its connections, and a connection
// costs no compression window (32 KiB each way with context takeover).
// Messages go out compressed at flate.BestSpeed; a server's message is
// decompressed when it has RSV1 set. The negotiation is gobwas/ws's wsflate.

var (
	errNoDeflate = errors.New("the server did not accept permessage-deflate")
	// errDeflateTakeover: the server accepted permessage-deflate but not
	// server_no_context_takeover, which a server must either accept or
	// decline with the whole extension (RFC 7692 §7.1.1.1).
	errDeflateTakeover = errors.New("the server accepted permessage-deflate without server_no_context_takeover")
)

// deflateOffer is the Sec-WebSocket-Extensions offer wsbench makes.
func deflateOffer() httphead.Option {
	return wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}.Option()
}

// checkDeflate checks the server's answer to the offer.
func checkDeflate(hs ws.Handshake) error {
	for _, opt := range hs.Extensions {
		if !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
			continue
		}
		var p wsflate.Parameters
		if err := p.Parse(opt); err != nil {
			return fmt.Errorf("permessage-deflate response: %w", err)
		}
		if !p.ServerNoContextTakeover {
			return errDeflateTakeover
		}
		return nil
	}
	return errNoDeflate
}

// deflateTail ends a message's compressed bytes for the decompressor: the
// sync marker the sender stripped, then an empty final block, so the
// decompressor ends at the message's end.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// deflater compresses and decompresses whole messages with no context
// takeover, reusing its buffers and flate state: one per event loop.
type deflater struct {
	zw  *flate.Writer
	out appendWriter
	zr  io.ReadCloser
	src bytes.Reader
	in  []byte // compressed bytes plus deflateTail
	raw []byte // the last message decompressed
}

// deflaters serve the connection storm's goroutines.
var deflaters = sync.Pool{New: func() any { return newDeflater() }}

func newDeflater() *deflater {
	d := &deflater{}
	d.zw, _ = flate.NewWriter(&d.out, flate.BestSpeed) // BestSpeed is a valid level
	d.zr = flate.NewReader(&d.src)
	return d
}

// compress returns p compressed as one permessage-deflate message (valid
// until the next call).
func (d *deflater) compress(p []byte) []byte {
	d.out.b = d.out.b[:0]
	d.zw.Reset(&d.out)
	d.zw.Write(p) // appendWriter never fails
	d.zw.Flush()
	b := d.out.b
	if n := len(b); n >= 4 && b[n-4] == 0 && b[n-3] == 0 && b[n-2] == 0xff && b[n-1] == 0xff {
		b = b[:n-4] // RFC 7692 §7.2.1: drop the sync flush's empty block
	}
	return b
}

// errInflatedTooBig: a compressed message inflates past the limit.
var errInflatedTooBig = errors.New("decompressed message too big")

// decompress returns the message p (compressed) decompressed, at most limit
// bytes (valid until the next call).
func (d *deflater) decompress(p []byte, limit int64) ([]byte, error) {
	d.in = append(append(d.in[:0], p...), deflateTail...)
	d.src.Reset(d.in)
	if err := d.zr.(flate.Resetter).Reset(&d.src, nil); err != nil {
		return nil, err
	}
	d.raw = d.raw[:0]
	for {
		if len(d.raw) == cap(d.raw) {
			if int64(len(d.raw)) > limit {
				return nil, errInflatedTooBig
			}
			d.raw = append(d.raw, 0)[:len(d.raw)]
		}
		n, err := d.zr.Read(d.raw[len(d.raw):cap(d.raw)])
		d.raw = d.raw[:len(d.raw)+n]
		if int64(len(d.raw)) > limit {
			return nil, errInflatedTooBig
		}
		if err == io.EOF {
			return d.raw, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// appendWriter is an io.Writer appending to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
