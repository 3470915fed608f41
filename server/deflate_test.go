package server

import (
	"bytes"
	"cmp"
	"fmt"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/wsbench/wsbench/internal/wire"
)

// deflated compresses p as a permessage-deflate peer does (the trailing
// 0x00 0x00 0xff 0xff removed), with gobwas's own helper.
func deflated(t testing.TB, p []byte) []byte {
	t.Helper()
	z, err := wsflate.DefaultHelper.Compress(p)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// compressedFrame is a masked client frame with RSV1 set whose payload is
// p compressed.
func compressedFrame(t testing.TB, op ws.OpCode, p []byte) []byte {
	t.Helper()
	m := [4]byte{1, 2, 3, 4}
	z := deflated(t, p)
	h := ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: op, Masked: true, Mask: m, Length: int64(len(z))}
	var hb [wire.MaxHeaderSize]byte
	n := wire.PutHeader(hb[:], h)
	out := append(hb[:n:n], z...)
	ws.Cipher(out[n:], m, 0)
	return out
}

// rsvFrame is a masked client frame with the given RSV bits.
func rsvFrame(op ws.OpCode, fin bool, rsv byte, p []byte) []byte {
	f := maskedFrame(op, fin, p)
	f[0] |= rsv << 4
	return f
}

// serverMessage is one data frame the codec wrote, its payload inflated if
// it was compressed.
type serverMessage struct {
	op         ws.OpCode
	compressed bool
	payload    []byte
}

// parseServerFrames splits out into frames, inflating compressed ones.
func parseServerFrames(t testing.TB, out []byte) []serverMessage {
	t.Helper()
	var msgs []serverMessage
	for len(out) > 0 {
		h, hn, err := wire.ParseHeader(out)
		if err != nil || hn == 0 || int64(len(out)-hn) < h.Length {
			t.Fatalf("bad server frame at %x: header %+v, %v", out[:min(len(out), 16)], h, err)
		}
		p := out[hn : hn+int(h.Length)]
		out = out[hn+int(h.Length):]
		if h.Masked || !h.Fin || h.Rsv&^ws.Rsv(true, false, false) != 0 {
			t.Fatalf("server frame header %+v", h)
		}
		m := serverMessage{op: h.OpCode, compressed: h.Rsv != 0, payload: p}
		if m.compressed {
			if h.OpCode.IsControl() {
				t.Fatalf("compressed control frame %+v", h)
			}
			if m.payload, err = wsflate.DefaultHelper.Decompress(p); err != nil {
				t.Fatalf("server frame does not inflate: %v", err)
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// TestDeflateNegotiate: the server's answer to each Sec-WebSocket-Extensions
// offer list.
func TestDeflateNegotiate(t *testing.T) {
	cases := []struct {
		name  string
		offer string
		want  string // the accepted extension as written in the response; "" = declined
	}{
		// What browsers and Node's ws offer.
		{"browser", "permessage-deflate; client_max_window_bits", "permessage-deflate;client_no_context_takeover"},
		// The bare offer: the server still asks for no client context takeover.
		{"bare", "permessage-deflate", "permessage-deflate;client_no_context_takeover"},
		// server_no_context_takeover offered: echoed.
		{"server-no-context", "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			"permessage-deflate;server_no_context_takeover;client_no_context_takeover"},
		// A window of 2^15 is what the server uses: accepted and echoed.
		{"server-window-15", "permessage-deflate; server_max_window_bits=15",
			"permessage-deflate;client_no_context_takeover;server_max_window_bits=15"},
		// A smaller server window cannot be honoured: declined.
		{"server-window-10", "permessage-deflate; server_max_window_bits=10", ""},
		// ... but the client's next offer may be accepted.
		{"fallback-offer", "permessage-deflate; server_max_window_bits=10, permessage-deflate",
			"permessage-deflate;client_no_context_takeover"},
		// An unknown parameter makes an offer invalid (RFC 7692 section 5): declined.
		{"unknown-param", "permessage-deflate; foo=1", ""},
		// A duplicate parameter too.
		{"duplicate-param", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", ""},
		// A window outside 8-15.
		{"bad-window", "permessage-deflate; client_max_window_bits=16", ""},
		// Other extensions are declined.
		{"other-extension", "x-webkit-deflate-frame", ""},
		// Only the first acceptable offer counts.
		{"two-offers", "permessage-deflate, permessage-deflate; server_no_context_takeover",
			"permessage-deflate;client_no_context_takeover"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var o deflateOffer
			var accepted []httphead.Option
			opts, ok := httphead.ParseOptions([]byte(tc.offer), nil)
			if !ok {
				t.Fatalf("cannot parse %q", tc.offer)
			}
			for _, opt := range opts {
				resp, err := o.negotiate(opt)
				if err != nil {
					t.Fatalf("negotiate(%s): %v; an offer is declined, never an error", opt, err)
				}
				if resp.Size() > 0 {
					accepted = append(accepted, resp)
				}
			}
			// As gobwas writes the response header.
			var got bytes.Buffer
			if _, err := httphead.WriteOptions(&got, accepted); err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want || o.accepted != (tc.want != "") {
				t.Errorf("offer %q: response %q (accepted %v), want %q", tc.offer, got.String(), o.accepted, tc.want)
			}
		})
	}
}

// deflateCodec returns a codec and a session that negotiated
// permessage-deflate.
func deflateCodec(maxMessage int64) (*codec, *session) {
	return newTestCodec(maxMessage), &session{deflate: true}
}

// TestFeedDeflate: compressed messages are inflated, checked and echoed
// compressed; uncompressed ones on the same connection are echoed as they
// came; every RSV1 misuse and every bad compressed payload fails the
// connection with its close code.
func TestFeedDeflate(t *testing.T) {
	const maxMsg = 4096
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	big := pattern(3000, 5)
	z := deflated(t, big)
	type want struct {
		op         ws.OpCode
		compressed bool
		payload    []byte
	}
	cases := []struct {
		name    string
		in      func(t *testing.T) []byte
		want    []want
		code    ws.StatusCode // close code the input ends with; 0 = none
		noFlate bool          // the session did not negotiate permessage-deflate
		max     int64         // MaxMessage; 0 = maxMsg
	}{
		// A compressed text message is echoed compressed.
		{name: "text", in: func(t *testing.T) []byte { return compressedFrame(t, ws.OpText, []byte("hello")) },
			want: []want{{ws.OpText, true, []byte("hello")}}},
		// A compressed binary message too.
		{name: "binary", in: func(t *testing.T) []byte { return compressedFrame(t, ws.OpBinary, big) },
			want: []want{{ws.OpBinary, true, big}}},
		// An empty compressed message.
		{name: "empty", in: func(t *testing.T) []byte { return compressedFrame(t, ws.OpBinary, nil) },
			want: []want{{ws.OpBinary, true, []byte{}}}},
		// An uncompressed message on a deflate connection is echoed uncompressed.
		{name: "uncompressed", in: func(t *testing.T) []byte { return maskedFrame(ws.OpText, true, []byte("plain")) },
			want: []want{{ws.OpText, false, []byte("plain")}}},
		// A compressed message in three fragments: RSV1 on the first only.
		{name: "fragmented", in: func(t *testing.T) []byte {
			return cat(rsvFrame(ws.OpBinary, false, 4, z[:10]), maskedFrame(ws.OpPing, true, []byte("p")),
				maskedFrame(ws.OpContinuation, false, z[10:20]), maskedFrame(ws.OpContinuation, true, z[20:]))
		}, want: []want{{ws.OpPong, false, []byte("p")}, {ws.OpBinary, true, big}}},
		// Inflated to exactly MaxMessage: allowed.
		{name: "inflates-to-max", in: func(t *testing.T) []byte { return compressedFrame(t, ws.OpBinary, pattern(maxMsg, 1)) },
			want: []want{{ws.OpBinary, true, pattern(maxMsg, 1)}}},
		// One byte more: 1009, although the payload on the wire is small.
		{name: "inflates-over-max", in: func(t *testing.T) []byte { return compressedFrame(t, ws.OpBinary, pattern(maxMsg+1, 1)) },
			code: ws.StatusMessageTooBig},
		// A decompression bomb: 64 MiB of zeros in about 64 KiB, against
		// the default 1 MiB limit.
		{name: "bomb", in: func(t *testing.T) []byte { return compressedFrame(t, ws.OpBinary, make([]byte, 64<<20)) },
			code: ws.StatusMessageTooBig, max: DefaultMaxMessage},
		// Not a DEFLATE stream (block type 11 is reserved): 1007.
		{name: "corrupt", in: func(t *testing.T) []byte { return rsvFrame(ws.OpBinary, true, 4, []byte{0xff, 0xff, 0xff}) },
			code: ws.StatusInvalidFramePayloadData},
		// A stream cut short: 1007.
		{name: "truncated", in: func(t *testing.T) []byte { return rsvFrame(ws.OpBinary, true, 4, z[:len(z)/2]) },
			code: ws.StatusInvalidFramePayloadData},
		// Text that inflates to invalid UTF-8: 1007.
		{name: "invalid-utf8", in: func(t *testing.T) []byte { return compressedFrame(t, ws.OpText, []byte{'a', 0xff}) },
			code: ws.StatusInvalidFramePayloadData},
		// RSV1 on a continuation frame: 1002 (RFC 7692 section 6.1).
		{name: "rsv1-continuation", in: func(t *testing.T) []byte {
			return cat(maskedFrame(ws.OpText, false, []byte("a")), rsvFrame(ws.OpContinuation, true, 4, []byte("b")))
		}, code: ws.StatusProtocolError},
		// RSV1 on a control frame: 1002.
		{name: "rsv1-ping", in: func(t *testing.T) []byte { return rsvFrame(ws.OpPing, true, 4, []byte("x")) },
			code: ws.StatusProtocolError},
		// RSV1 on a close frame: 1002.
		{name: "rsv1-close", in: func(t *testing.T) []byte { return rsvFrame(ws.OpClose, true, 4, closeBody(1000, "")) },
			code: ws.StatusProtocolError},
		// RSV2 means nothing with permessage-deflate: 1002.
		{name: "rsv2", in: func(t *testing.T) []byte { return rsvFrame(ws.OpText, true, 2, []byte("x")) },
			code: ws.StatusProtocolError},
		// RSV1 without the extension negotiated: 1002.
		{name: "rsv1-not-negotiated", noFlate: true,
			in:   func(t *testing.T) []byte { return compressedFrame(t, ws.OpText, []byte("x")) },
			code: ws.StatusProtocolError},
		// The compressed size is checked against MaxMessage from the header, too.
		{name: "compressed-over-max", in: func(t *testing.T) []byte { return rsvFrame(ws.OpBinary, true, 4, make([]byte, maxMsg+1)) },
			code: ws.StatusMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in(t)
			c, s := deflateCodec(cmp.Or(tc.max, maxMsg))
			s.deflate = !tc.noFlate
			n, closing, code := c.feed(s, in)
			if closing != (tc.code != 0) || code != tc.code {
				t.Fatalf("closing %v code %d, want code %d", closing, code, tc.code)
			}
			out := c.out
			if closing {
				out = out[:c.closeAt]
			} else if n != len(in) {
				t.Fatalf("consumed %d of %d bytes", n, len(in))
			}
			got := parseServerFrames(t, out)
			if len(got) != len(tc.want) {
				t.Fatalf("%d frames, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				if got[i].op != w.op || got[i].compressed != w.compressed || !bytes.Equal(got[i].payload, w.payload) {
					t.Errorf("frame %d: %v compressed %v %d bytes, want %v compressed %v %d bytes",
						i, got[i].op, got[i].compressed, len(got[i].payload), w.op, w.compressed, len(w.payload))
				}
			}
			var wantComp uint64
			for _, w := range tc.want {
				if w.compressed {
					wantComp++
				}
			}
			if c.compIn != wantComp || c.compOut != wantComp {
				t.Errorf("compressed in %d out %d, want %d", c.compIn, c.compOut, wantComp)
			}
		})
	}
}

// TestFeedDeflateSplitAnywhere: compressed and uncompressed messages give
// the same replies however the input is cut into reads.
func TestFeedDeflateSplitAnywhere(t *testing.T) {
	z := deflated(t, pattern(70000, 3))
	in := bytes.Join([][]byte{
		compressedFrame(t, ws.OpText, []byte("hello")),
		rsvFrame(ws.OpBinary, false, 4, z[:100]),
		maskedFrame(ws.OpContinuation, true, z[100:]),
		maskedFrame(ws.OpBinary, true, pattern(300, 1)),
		maskedFrame(ws.OpClose, true, []byte{0x03, 0xe8}),
	}, nil)
	feed := func(chunk int) []byte {
		c, s := deflateCodec(1 << 17)
		var carry []byte
		closing := false
		for off := 0; off < len(in) && !closing; off += chunk {
			data := append(carry, in[off:min(off+chunk, len(in))]...)
			var n int
			n, closing, _ = c.feed(s, data)
			carry = append([]byte(nil), data[n:]...)
		}
		if !closing {
			t.Fatalf("chunk %d: no close", chunk)
		}
		return c.out
	}
	want := feed(len(in))
	msgs := parseServerFrames(t, want)
	if len(msgs) != 4 || !msgs[0].compressed || !msgs[1].compressed || msgs[2].compressed ||
		!bytes.Equal(msgs[1].payload, pattern(70000, 3)) {
		t.Fatalf("whole input: %d replies", len(msgs))
	}
	for _, chunk := range []int{1, 7, 125, 4093, 65536} {
		if got := feed(chunk); !bytes.Equal(got, want) {
			t.Errorf("chunk %d: %d output bytes, want the same %d as in one read", chunk, len(got), len(want))
		}
	}
}

// TestFeedDeflateBroadcast: in broadcast mode (fanout) the codec holds each
// run twice once a message of it arrived compressed: plain for members
// without permessage-deflate, compressed where it came compressed for those
// with it.
func TestFeedDeflateBroadcast(t *testing.T) {
	c, s := deflateCodec(1 << 16)
	c.hold, c.fanout = true, true
	in := bytes.Join([][]byte{
		maskedFrame(ws.OpText, true, []byte("one")),
		compressedFrame(t, ws.OpText, []byte("two")),
		maskedFrame(ws.OpBinary, true, []byte("three")),
	}, nil)
	if _, closing, _ := c.feed(s, in); closing {
		t.Fatal("closing")
	}
	fr := c.takeHeld()
	plain, z := parseServerFrames(t, fr.b), parseServerFrames(t, fr.z)
	if fr.n != 3 || fr.nz != 1 || len(plain) != 3 || len(z) != 3 {
		t.Fatalf("n %d nz %d, %d plain and %d deflate frames; want 3, 1, 3, 3", fr.n, fr.nz, len(plain), len(z))
	}
	for i, want := range []string{"one", "two", "three"} {
		if plain[i].compressed || string(plain[i].payload) != want {
			t.Errorf("plain %d: compressed %v %q, want %q uncompressed", i, plain[i].compressed, plain[i].payload, want)
		}
		if z[i].compressed != (i == 1) || string(z[i].payload) != want {
			t.Errorf("deflate %d: compressed %v %q, want %q compressed %v", i, z[i].compressed, z[i].payload, want, i == 1)
		}
	}
	// A run with no compressed message has no deflate copy.
	if _, closing, _ := c.feed(s, maskedFrame(ws.OpText, true, []byte("four"))); closing {
		t.Fatal("closing")
	}
	if fr := c.takeHeld(); fr.n != 1 || fr.nz != 0 || len(fr.z) != 0 {
		t.Errorf("plain run: n %d nz %d z %d bytes, want 1, 0, 0", fr.n, fr.nz, len(fr.z))
	}
}

// TestFeedDeflateDoesNotAllocate: once the loop's compressor and
// decompressor exist, a compressed echo allocates nothing.
func TestFeedDeflateDoesNotAllocate(t *testing.T) {
	for _, size := range []int{16, 1024, 100 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			in := compressedFrame(t, ws.OpText, pattern(size, 0))
			buf := make([]byte, len(in))
			c, s := deflateCodec(1 << 20)
			step := func() {
				copy(buf, in)
				if n, closing, _ := c.feed(s, buf); n != len(buf) || closing {
					t.Fatalf("n %d closing %v", n, closing)
				}
				c.out = c.out[:0]
			}
			step()
			if n := testing.AllocsPerRun(100, step); n != 0 {
				t.Errorf("%v allocations per compressed echo, want 0", n)
			}
		})
	}
}

// BenchmarkEchoDeflate is BenchmarkEcho for compressed messages: inflate,
// validate, deflate and queue the echo. The payload is a repetitive pattern
// (it compresses about 60:1), as chat or JSON traffic would.
func BenchmarkEchoDeflate(b *testing.B) {
	for _, tc := range []struct {
		op   ws.OpCode
		size int
	}{{ws.OpBinary, 16}, {ws.OpText, 128}, {ws.OpBinary, 1024}, {ws.OpText, 16 << 10}} {
		b.Run(fmt.Sprintf("%s-%d", wire.OpName(tc.op), tc.size), func(b *testing.B) {
			in := compressedFrame(b, tc.op, pattern(tc.size, 0))
			buf := make([]byte, len(in))
			c, s := deflateCodec(1 << 20)
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, in)
				n, closing, _ := c.feed(s, buf)
				if n != len(buf) || closing {
					b.Fatalf("n %d closing %v", n, closing)
				}
				c.out = c.out[:0]
			}
		})
	}
}
