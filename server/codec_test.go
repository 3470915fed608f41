package server

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/wire"
)

// pattern returns n bytes of printable ASCII (valid UTF-8) that depend on seed.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte((i+seed)%26)
	}
	return b
}

func newTestCodec(maxMessage int64) *codec {
	p := &bufPool{maxSpare: int(maxMessage) + wire.MaxHeaderSize}
	return &codec{maxMessage: maxMessage, pool: p}
}

func maskedFrame(op ws.OpCode, fin bool, p []byte) []byte {
	m := [4]byte{1, 2, 3, 4}
	return wire.AppendFrame(nil, op, fin, p, &m)
}

// feedChunks feeds in to a fresh codec in pieces of at most chunk bytes,
// keeping unconsumed bytes like the event loop does, and returns the output.
func feedChunks(t *testing.T, in []byte, chunk int) (out []byte, closing bool, code ws.StatusCode) {
	t.Helper()
	c := newTestCodec(1 << 17)
	var s session
	var carry []byte
	for off := 0; off < len(in) && !closing; off += chunk {
		data := append(carry, in[off:min(off+chunk, len(in))]...)
		var n int
		n, closing, code = c.feed(&s, data)
		carry = append([]byte(nil), data[n:]...)
	}
	return c.out, closing, code
}

// TestFeedSplitAnywhere checks that the replies do not depend on how the
// input is cut into reads.
func TestFeedSplitAnywhere(t *testing.T) {
	input := func(big int) []byte {
		return bytes.Join([][]byte{
			maskedFrame(ws.OpText, true, []byte("hello")),
			maskedFrame(ws.OpBinary, false, pattern(300, 1)),
			maskedFrame(ws.OpPing, true, []byte("ping")),
			maskedFrame(ws.OpContinuation, true, pattern(big, 2)),
			maskedFrame(ws.OpBinary, true, nil),
			maskedFrame(ws.OpClose, true, []byte{0x03, 0xe8}),
		}, nil)
	}
	cases := []struct {
		big    int   // size of the large continuation frame
		chunks []int // read sizes to try
	}{
		// 16-bit lengths, cut everywhere down to single bytes.
		{2000, []int{1, 2, 3, 7, 13, 125}},
		// 64-bit lengths, a message larger than the loop's read buffer.
		{70000, []int{1000, 4093, 65536}},
	}
	for _, tc := range cases {
		in := input(tc.big)
		want, closing, code := feedChunks(t, bytes.Clone(in), len(in))
		if !closing || code != 1000 || !bytes.Contains(want, pattern(tc.big, 2)) {
			t.Fatalf("whole input: closing %v code %d, want the message echoed and close 1000", closing, code)
		}
		for _, chunk := range tc.chunks {
			got, closing, code := feedChunks(t, bytes.Clone(in), chunk)
			if !bytes.Equal(got, want) || !closing || code != 1000 {
				t.Errorf("big %d chunk %d: %d output bytes (equal %v), closing %v code %d",
					tc.big, chunk, len(got), bytes.Equal(got, want), closing, code)
			}
		}
	}
}

func TestBufPoolReuses(t *testing.T) {
	var p bufPool
	p.maxSpare = 1 << 20
	cases := []struct {
		n, wantCap int
	}{
		{0, 512},       // smallest class
		{512, 512},     // exact class size
		{513, 1024},    // next class up
		{65536, 65536}, // largest class
		{65537, 65537}, // above the classes: exact size
		{100000, 100000},
	}
	for _, tc := range cases {
		b := p.get(tc.n)
		if cap(b) != tc.wantCap || len(b) != 0 {
			t.Errorf("get(%d): len %d cap %d, want 0, %d", tc.n, len(b), cap(b), tc.wantCap)
		}
		p.put(b)
		if b2 := p.get(tc.n); &b2[:1][0] != &b[:1][0] {
			t.Errorf("get(%d) after put did not reuse the buffer", tc.n)
		} else {
			p.put(b2)
		}
	}
}

// BenchmarkEcho measures the server's per-message path without sockets:
// parse, unmask, validate and queue the echo of one masked frame that sits in
// a read buffer. Steady state must not allocate.
func BenchmarkEcho(b *testing.B) {
	for _, tc := range []struct {
		op   ws.OpCode
		size int
	}{{ws.OpBinary, 16}, {ws.OpText, 128}, {ws.OpBinary, 1024}, {ws.OpText, 16 << 10}} {
		b.Run(fmt.Sprintf("%s-%d", wire.OpName(tc.op), tc.size), func(b *testing.B) {
			in := maskedFrame(tc.op, true, pattern(tc.size, 0))
			buf := make([]byte, len(in))
			c := newTestCodec(1 << 20)
			var s session
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, in) // stands for the read
				n, closing, _ := c.feed(&s, buf)
				if n != len(buf) || closing || len(c.out) != tc.size+wire.HeaderSize(ws.Header{Length: int64(tc.size)}) {
					b.Fatalf("n %d closing %v out %d", n, closing, len(c.out))
				}
				c.out = c.out[:0]
			}
		})
	}
}

// BenchmarkEchoFragmented is BenchmarkEcho for a message in 4 fragments,
// which goes through the pooled reassembly buffer.
func BenchmarkEchoFragmented(b *testing.B) {
	const part = 1024
	var in []byte
	for i := range 4 {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpBinary
		}
		in = append(in, maskedFrame(op, i == 3, pattern(part, i))...)
	}
	buf := make([]byte, len(in))
	c := newTestCodec(1 << 20)
	var s session
	b.SetBytes(4 * part)
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, in)
		if n, closing, _ := c.feed(&s, buf); n != len(buf) || closing {
			b.Fatal(n, closing)
		}
		c.out = c.out[:0]
	}
}
