package driver

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/wsbench/wsbench/internal/deflate"
)

// permessage-deflate (RFC 7692). wsbench offers it with no context takeover
// in both directions and requires the server to accept that: every message
// is then compressed and decompressed on its own, so one compressor and one
// decompressor per event loop serve all its connections, and a connection
// costs no compression window (32 KiB each way with context takeover).
// Messages go out compressed at flate.BestSpeed; a server's message is
// decompressed when it has RSV1 set. The codec is internal/deflate, shared
// with the server; the negotiation is gobwas/ws's wsflate.

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

// errInflatedTooBig: a compressed message inflates past the limit.
var errInflatedTooBig = deflate.ErrTooBig

// deflater compresses and decompresses whole messages with no context
// takeover (internal/deflate), reusing its buffers: one per event loop.
type deflater struct {
	codec *deflate.Codec
	z     []byte // the last message compressed
	raw   []byte // the last message decompressed
}

// deflaters serve the connection storm's goroutines.
var deflaters = sync.Pool{New: func() any { return newDeflater() }}

func newDeflater() *deflater { return &deflater{codec: deflate.NewCodec()} }

// compress returns p compressed as one permessage-deflate message (valid
// until the next call).
func (d *deflater) compress(p []byte) []byte {
	d.z = d.codec.Compress(d.z[:0], p)
	return d.z
}

// decompress returns the message p (compressed) decompressed, at most limit
// bytes (valid until the next call).
func (d *deflater) decompress(p []byte, limit int64) ([]byte, error) {
	raw, err := d.codec.Decompress(d.raw[:0], p, int(min(limit, math.MaxInt)), nil)
	d.raw = raw
	if err != nil {
		return nil, err
	}
	return raw, nil
}
