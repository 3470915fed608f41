package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
)

// model decompresses a payload the way RFC 7692 section 7.2.2 says, with
// compress/flate reading through io.MultiReader (not an io.ByteReader, so
// flate buffers it itself: none of tailReader's code), at most limit+1
// bytes. An empty payload is an empty message.
func model(p []byte, limit int) ([]byte, error) {
	if len(p) == 0 {
		return []byte{}, nil
	}
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader(tail[:])))
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(out) > limit {
		return out, ErrTooBig
	}
	return out, err
}

func message(n int, random bool, rng *rand.Rand) []byte {
	p := make([]byte, n)
	for i := range p {
		if random {
			p[i] = byte(rng.Uint32())
		} else {
			p[i] = "abcdef"[i%6]
		}
	}
	return p
}

// TestRoundTrip: messages compress to valid RFC 7692 payloads that a plain
// flate reader (given the stripped tail) reads back, and Decompress reads
// them back too; Compress leaves what dst held alone.
func TestRoundTrip(t *testing.T) {
	c := NewCodec()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 64, 1000, 70000} {
		for _, random := range []bool{false, true} {
			p := message(n, random, rng)
			z := c.Compress([]byte("head"), p)
			if string(z[:4]) != "head" {
				t.Fatalf("%d bytes: dst's bytes changed to %q", n, z[:4])
			}
			z = z[4:]
			if bytes.HasSuffix(z, []byte{0, 0, 0xff, 0xff}) {
				t.Errorf("%d bytes: the sync flush's tail was not stripped", n)
			}
			if !random && n >= 1000 && len(z)*4 > n {
				t.Errorf("%d patterned bytes compress to %d", n, len(z))
			}
			if got, err := model(z, 1<<20); err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%d bytes (random %v): flate reads back %d bytes, %v", n, random, len(got), err)
			}
			got, err := c.Decompress([]byte("x"), z, 1<<20, nil)
			if err != nil || string(got[:1]) != "x" || !bytes.Equal(got[1:], p) {
				t.Fatalf("%d bytes (random %v): Decompress gives %d bytes, %v", n, random, len(got)-1, err)
			}
		}
	}
}

// TestDecompress: what comes out of payloads that are not a compressed
// message within the limit.
func TestDecompress(t *testing.T) {
	c := NewCodec()
	msg := message(3000, true, rand.New(rand.NewPCG(5, 6)))
	z := append([]byte(nil), c.Compress(nil, msg)...)
	bomb := append([]byte(nil), c.Compress(nil, make([]byte, 16<<20))...)
	for _, tc := range []struct {
		name  string
		p     []byte
		limit int
		want  []byte // nil: an error
		err   error  // the error, when it is a known one
	}{
		// An empty payload is an empty message (what zlib peers read).
		{"empty", nil, 100, []byte{}, nil},
		// The message exactly at the limit.
		{"at-limit", z, len(msg), msg, nil},
		// One byte over: ErrTooBig, not the message cut short.
		{"over-limit", z, len(msg) - 1, nil, ErrTooBig},
		// 16 MiB of zeros in about 16 KiB: stops at the limit.
		{"bomb", bomb, 1 << 20, nil, ErrTooBig},
		// Half a payload: the stream ends inside a block. gobwas/ws's
		// wsflate.Reader could inflate such a payload (a spurious 0x00
		// before the tail); tailReader must not.
		{"truncated", z[:len(z)/2], 1 << 20, nil, nil},
		// Not DEFLATE at all (a reserved block type).
		{"garbage", []byte{0xff, 0xff, 0xff}, 1 << 20, nil, nil},
		{"text", []byte("not deflate"), 1 << 20, nil, nil},
	} {
		got, err := c.Decompress(nil, tc.p, tc.limit, nil)
		switch {
		case tc.want != nil:
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("%s: %d bytes, %v; want %d bytes", tc.name, len(got), err, len(tc.want))
			}
		case err == nil:
			t.Errorf("%s: %d bytes and no error", tc.name, len(got))
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		case len(got) > tc.limit+1:
			t.Errorf("%s: %d bytes out for a limit of %d", tc.name, len(got), tc.limit)
		}
	}
}

// TestDecompressGrow: Decompress grows a full buffer through grow, never
// past limit+1 bytes of output, and keeps what was in it.
func TestDecompressGrow(t *testing.T) {
	c := NewCodec()
	const limit = 100000
	z := append([]byte(nil), c.Compress(nil, make([]byte, 10*limit))...)
	var asked []int
	grow := func(b []byte, n int) []byte {
		asked = append(asked, n)
		return append(make([]byte, 0, n), b...)
	}
	got, err := c.Decompress(append(make([]byte, 0, 8), "prefix"...), z, limit, grow)
	if !errors.Is(err, ErrTooBig) || string(got[:6]) != "prefix" || len(got)-6 != limit+1 {
		t.Fatalf("%d bytes out (prefix %q), %v; want limit+1 and ErrTooBig", len(got)-6, got[:6], err)
	}
	if len(asked) == 0 {
		t.Fatal("grow never called")
	}
	for _, n := range asked {
		if n > 6+limit+1 {
			t.Errorf("grow asked for %d bytes, more than prefix+limit+1 = %d", n, 6+limit+1)
		}
	}
}

// TestCodecDoesNotAllocate: once warm, a compress and a decompress into
// reused buffers allocate nothing.
func TestCodecDoesNotAllocate(t *testing.T) {
	c := NewCodec()
	p := bytes.Repeat([]byte("wsbench "), 512)
	z := c.Compress(nil, p)
	raw, _ := c.Decompress(nil, z, 1<<20, nil)
	zb := make([]byte, 0, 2*len(z))
	if allocs := testing.AllocsPerRun(100, func() {
		zb = c.Compress(zb[:0], p)
		raw, _ = c.Decompress(raw[:0], zb, 1<<20, nil)
	}); allocs != 0 {
		t.Errorf("%.1f allocations per compress + decompress", allocs)
	}
}

// FuzzCodec checks, for any bytes and limit:
//   - round trip: in compressed and decompressed is in again (the limit set
//     to len(in)), and a plain flate reader reads the same;
//   - in taken as a compressed payload decompresses exactly as the model
//     (compress/flate behind io.MultiReader) does: the same bytes, or an
//     error where the model has one, ErrTooBig exactly where the model goes
//     over the limit; never more than limit+1 bytes out, never a panic.
func FuzzCodec(f *testing.F) {
	c := NewCodec()
	for _, s := range []struct {
		in    []byte
		limit uint16
	}{
		{nil, 0},
		{[]byte("hello"), 100},
		{bytes.Repeat([]byte("ab"), 5000), 4096},
		{c.Compress(nil, []byte("a compressed message")), 100},
		{c.Compress(nil, make([]byte, 60000)), 1000},
		{[]byte{0xff, 0xff, 0xff}, 100},
		{[]byte{0x00}, 100},
	} {
		f.Add(s.in, s.limit)
	}
	f.Fuzz(func(t *testing.T, in []byte, limit uint16) {
		z := append([]byte(nil), c.Compress(nil, in)...)
		back, err := c.Decompress(nil, z, len(in), nil)
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(in), len(back), err)
		}
		if ref, err := model(z, len(in)); err != nil || !bytes.Equal(ref, in) {
			t.Fatalf("flate reads the compressed %d bytes as %d bytes, %v", len(in), len(ref), err)
		}

		got, err := c.Decompress(nil, in, int(limit), nil)
		want, werr := model(in, int(limit))
		switch {
		case len(got) > int(limit)+1:
			t.Fatalf("%d bytes out for a limit of %d", len(got), limit)
		case errors.Is(werr, ErrTooBig) != errors.Is(err, ErrTooBig):
			t.Fatalf("over the limit: model %v, codec %v", werr, err)
		case (werr == nil) != (err == nil):
			t.Fatalf("model %v, codec %v", werr, err)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("codec gives %d bytes, model %d", len(got), len(want))
		}
	})
}

// BenchmarkCodec is one message each way, in reused buffers: Compress, then
// Decompress of what it made (patterned text, about 60:1).
func BenchmarkCodec(b *testing.B) {
	for _, n := range []int{16, 128, 1024, 16 << 10} {
		b.Run(sizeName(n), func(b *testing.B) {
			c := NewCodec()
			p := bytes.Repeat([]byte("wsbench "), n/8+1)[:n]
			z := c.Compress(nil, p)
			raw, _ := c.Decompress(nil, z, 1<<20, nil)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				z = c.Compress(z[:0], p)
				raw, _ = c.Decompress(raw[:0], z, 1<<20, nil)
			}
			if !bytes.Equal(raw, p) {
				b.Fatal("round trip differs")
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
