package driver

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// TestDeflaterRoundTrip: the event loop's deflater reads back what it
// compressed, with no allocation once warm. (internal/deflate checks the
// payloads against a plain flate reader, and fuzzes the codec.)
func TestDeflaterRoundTrip(t *testing.T) {
	d := newDeflater()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 64, 1000, 70000} {
		for _, random := range []bool{false, true} {
			p := make([]byte, n)
			for i := range p {
				if random {
					p[i] = byte(rng.Uint32())
				} else {
					p[i] = "abcdef"[i%6]
				}
			}
			z := append([]byte(nil), d.compress(p)...)
			if bytes.HasSuffix(z, []byte{0, 0, 0xff, 0xff}) {
				t.Errorf("%d bytes: the sync flush's tail was not stripped", n)
			}
			if !random && n >= 1000 && len(z)*4 > n {
				t.Errorf("%d patterned bytes compress to %d", n, len(z))
			}
			raw, err := d.decompress(z, 1<<20)
			if err != nil || !bytes.Equal(raw, p) {
				t.Fatalf("%d bytes: decompress gives %d bytes, %v", n, len(raw), err)
			}
		}
	}
	p := bytes.Repeat([]byte("wsbench "), 512)
	z := append([]byte(nil), d.compress(p)...)
	if allocs := testing.AllocsPerRun(100, func() {
		d.compress(p)
		d.decompress(z, 1<<20)
	}); allocs != 0 {
		t.Errorf("%.1f allocations per compress + decompress", allocs)
	}
	// A decompression bomb stops at the limit.
	if _, err := d.decompress(z, 1000); !errors.Is(err, errInflatedTooBig) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := d.decompress([]byte{0xff, 0xff, 0xff}, 1<<20); err == nil {
		t.Error("garbage decompressed without an error")
	}
}

func TestCheckDeflate(t *testing.T) {
	opt := func(params ...string) httphead.Option {
		o := httphead.Option{Name: []byte("permessage-deflate")}
		for _, p := range params {
			o.Parameters.Set([]byte(p), nil)
		}
		return o
	}
	for _, tc := range []struct {
		name string
		ext  []httphead.Option
		want error
	}{
		{"accepted", []httphead.Option{opt("server_no_context_takeover", "client_no_context_takeover")}, nil},
		{"declined", nil, errNoDeflate},
		{"takeover", []httphead.Option{opt("client_no_context_takeover")}, errDeflateTakeover},
	} {
		if err := checkDeflate(ws.Handshake{Extensions: tc.ext}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestDeflaterEmptyPayload: a compressed message whose payload is empty
// (what a compressor with nothing to compress may send) is an empty message,
// as zlib-based peers and wsbench's own server read it, not a deflate_error.
func TestDeflaterEmptyPayload(t *testing.T) {
	d := newDeflater()
	if raw, err := d.decompress(nil, 1<<20); err != nil || len(raw) != 0 {
		t.Fatalf("empty payload: %d bytes, %v; want an empty message", len(raw), err)
	}
}

// BenchmarkDeflater is one message each way through an event loop's
// deflater: compress a 1 KiB patterned message, decompress its reply.
func BenchmarkDeflater(b *testing.B) {
	d := newDeflater()
	p := bytes.Repeat([]byte("wsbench "), 128)
	z := append([]byte(nil), d.compress(p)...)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		d.compress(p)
		if _, err := d.decompress(z, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}
