package driver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/deflate"
)

// got is one event as a test records it: payloads copied, since the codec's
// are valid only until its next call.
type got struct {
	kind    eventKind
	op      ws.OpCode
	payload string
	wireLen int
	code    ws.StatusCode
	errKind string
}

func (g got) String() string {
	names := [...]string{"more", "message", "ping", "pong", "close", "violation"}
	return fmt.Sprintf("%s(op=%d %q wire=%d code=%d %s)", names[g.kind], g.op, g.payload, g.wireLen, g.code, g.errKind)
}

// testZip is the tests' deflater (1.2 MiB: one for all, as it keeps no
// state between messages), and testZ their compressor.
var (
	testZip = newDeflater()
	testZ   = deflate.NewCodec()
)

// testCodec is a client codec with a small message limit, and with
// permessage-deflate when zip is set.
func testCodec(maxMessage int64, zip bool) *clientCodec {
	d := &clientCodec{maxMessage: maxMessage}
	if zip {
		d.zip = testZip
	}
	return d
}

// feed drives d as the event loop does: stream arrives in reads of the
// sizes cuts gives in turn (0 or none: as much as the buffer takes), each
// into the buffer readInto names and no more than it holds. It returns the
// events up to the first close or violation, and what is left in carry.
func feed(d *clientCodec, stream []byte, cuts []int) ([]got, []byte) {
	var s readState
	var out []got
	rbuf := make([]byte, 4096)
	for i := 0; len(stream) > 0 && !s.ended; i++ {
		b := d.readInto(&s, rbuf)
		n := min(len(b), len(stream))
		if len(cuts) > 0 && cuts[i%len(cuts)] > 0 {
			n = min(n, cuts[i%len(cuts)])
		}
		copy(b, stream[:n])
		stream = stream[n:]
		in := d.received(&s, b, n)
		for {
			ev := d.next(&s, &in)
			if ev.kind == evMore {
				break
			}
			out = append(out, got{ev.kind, ev.op, string(ev.payload), ev.wireLen, ev.code, ev.errKind})
		}
	}
	return out, s.carry
}

// frame encodes one server frame (unmasked) with gobwas/ws.
func frame(fin bool, rsv byte, op ws.OpCode, p []byte) []byte {
	var b bytes.Buffer
	f := ws.Frame{Header: ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: int64(len(p))}, Payload: p}
	if err := ws.WriteFrame(&b, f); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// cat joins frames into one stream.
func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func compressed(p []byte) []byte { return testZ.Compress(nil, p) }

const rsv1 = 4 // ws.Rsv(true, false, false)

func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// TestClientCodecEvents: every rule the driver holds a server to, and what
// each breach fails the connection with (close code and error kind); and
// the events of well-formed streams. Every row is fed whole and one byte per
// read, which must agree.
func TestClientCodecEvents(t *testing.T) {
	const max = 1000
	big := bytes.Repeat([]byte("a"), max)
	masked := func() []byte {
		b := frame(true, 0, ws.OpText, []byte("hi"))
		b[1] |= 0x80
		return append(b[:2], append([]byte{1, 2, 3, 4}, b[2:]...)...)
	}()
	violation := func(code ws.StatusCode, kind string) got { return got{kind: evViolation, code: code, errKind: kind} }
	msg := func(op ws.OpCode, p string, wire int) got {
		return got{kind: evMessage, op: op, payload: p, wireLen: wire}
	}
	cases := []struct {
		name   string
		zip    bool
		stream []byte
		want   []got
	}{
		// a text and a binary message: payload and wire size (header + payload)
		{"messages", false, cat(frame(true, 0, ws.OpText, []byte("héllo")), frame(true, 0, ws.OpBinary, []byte{0xff, 0})),
			[]got{msg(ws.OpText, "héllo", 8), msg(ws.OpBinary, "\xff\x00", 4)}},
		// a fragmented message with a ping between its fragments; a rune cut
		// between fragments is valid once reassembled
		{"fragments", false, cat(frame(false, 0, ws.OpText, []byte("h\xc3")), frame(true, 0, ws.OpPing, []byte("p")),
			frame(true, 0, ws.OpContinuation, []byte("\xa9llo"))),
			[]got{{kind: evPing, payload: "p"}, msg(ws.OpText, "héllo", 6+14)}},
		// a control frame does not count towards the open message (RFC 6455
		// §5.4: it may be injected in the middle of a fragmented message)
		{"ping inside a full message", false, cat(frame(false, 0, ws.OpBinary, big[:max-10]), frame(true, 0, ws.OpPing, big[:100]),
			frame(true, 0, ws.OpContinuation, big[:10])),
			[]got{{kind: evPing, payload: string(big[:100])}, msg(ws.OpBinary, string(big[:max]), max+14)}},
		// a pong carries its wire size (the ping workload measures it)
		{"pong", false, frame(true, 0, ws.OpPong, []byte("12345678")), []got{{kind: evPong, payload: "12345678", wireLen: 10}}},
		// close frames: the server's code, 1005 when there is none; nothing after a close is decoded
		{"close 1001", false, cat(frame(true, 0, ws.OpClose, closeBody(1001, "bye")), frame(true, 0, ws.OpText, []byte("x"))),
			[]got{{kind: evClose, code: 1001}}},
		{"close empty", false, frame(true, 0, ws.OpClose, nil), []got{{kind: evClose, code: ws.StatusNoStatusRcvd}}},
		{"close 1 byte", false, frame(true, 0, ws.OpClose, []byte{3}), []got{{kind: evClose, code: ws.StatusNoStatusRcvd}}},
		// a compressed message is inflated; an uncompressed one passes as is
		{"deflate", true, cat(frame(true, rsv1, ws.OpText, compressed([]byte("hello hello hello"))), frame(true, 0, ws.OpBinary, []byte("raw"))),
			[]got{msg(ws.OpText, "hello hello hello", 2+len(compressed([]byte("hello hello hello")))), msg(ws.OpBinary, "raw", 5)}},
		// a compressed message fragmented: RSV1 on its first frame only
		{"deflate fragments", true, func() []byte {
			z := compressed([]byte("fragmented and compressed"))
			return cat(frame(false, rsv1, ws.OpText, z[:3]), frame(true, 0, ws.OpContinuation, z[3:]))
		}(), []got{msg(ws.OpText, "fragmented and compressed", len(compressed([]byte("fragmented and compressed")))+14)}},

		// Violations: all 1002 protocol_error unless said otherwise.
		{"masked frame", false, masked, []got{violation(1002, "protocol_error")}},
		{"rsv1 without deflate", false, frame(true, rsv1, ws.OpText, []byte("x")), []got{violation(1002, "protocol_error")}},
		{"rsv2 with deflate", true, frame(true, 2, ws.OpText, []byte("x")), []got{violation(1002, "protocol_error")}},
		{"rsv1 on a continuation", true, cat(frame(false, rsv1, ws.OpText, compressed([]byte("x"))), frame(true, rsv1, ws.OpContinuation, nil)),
			[]got{violation(1002, "protocol_error")}},
		{"rsv1 on a ping", true, frame(true, rsv1, ws.OpPing, nil), []got{violation(1002, "protocol_error")}},
		{"reserved data opcode", false, frame(true, 0, 3, []byte("x")), []got{violation(1002, "protocol_error")}},
		{"reserved control opcode", false, frame(true, 0, 0xb, nil), []got{violation(1002, "protocol_error")}},
		{"long ping", false, frame(true, 0, ws.OpPing, big[:126]), []got{violation(1002, "protocol_error")}},
		{"fragmented ping", false, frame(false, 0, ws.OpPing, nil), []got{violation(1002, "protocol_error")}},
		{"orphan continuation", false, frame(true, 0, ws.OpContinuation, []byte("x")), []got{violation(1002, "protocol_error")}},
		{"data frame inside a fragmented message", false, cat(frame(false, 0, ws.OpText, []byte("a")), frame(true, 0, ws.OpText, []byte("b"))),
			[]got{violation(1002, "protocol_error")}},
		{"64-bit length with its top bit set", false, []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}, []got{violation(1002, "protocol_error")}},
		// too big: refused on the header, before the payload arrives
		{"header of a message over the limit", false, []byte{0x82, 126, 0x03, 0xe9}, []got{violation(1009, "message_too_big")}},
		{"fragments over the limit", false, cat(frame(false, 0, ws.OpBinary, big), frame(true, 0, ws.OpContinuation, big)),
			[]got{violation(1009, "message_too_big")}},
		{"inflates over the limit", true, frame(true, rsv1, ws.OpBinary, compressed(bytes.Repeat([]byte("z"), max+1))),
			[]got{violation(1009, "message_too_big")}},
		{"not deflate", true, frame(true, rsv1, ws.OpBinary, []byte{0xff, 0xff, 0xff}), []got{violation(1007, "deflate_error")}},
		{"text not UTF-8", false, frame(true, 0, ws.OpText, []byte("a\xffb")), []got{violation(1007, "invalid_utf8")}},
		{"fragmented text not UTF-8", false, cat(frame(false, 0, ws.OpText, []byte("a")), frame(true, 0, ws.OpContinuation, []byte("\xc3"))),
			[]got{violation(1007, "invalid_utf8")}},
		{"compressed text not UTF-8", true, frame(true, rsv1, ws.OpText, compressed([]byte("a\xffb"))), []got{violation(1007, "invalid_utf8")}},
		// binary is not checked
		{"binary not UTF-8", false, frame(true, 0, ws.OpBinary, []byte("a\xffb")), []got{msg(ws.OpBinary, "a\xffb", 5)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			whole, carry := feed(testCodec(max, tc.zip), tc.stream, nil)
			if !slices.Equal(whole, tc.want) {
				t.Errorf("fed whole: %v, want %v", whole, tc.want)
			}
			if len(carry) != 0 && (len(whole) == 0 || whole[len(whole)-1].kind != evViolation) {
				t.Errorf("%d bytes left in carry after whole frames", len(carry))
			}
			bytewise, _ := feed(testCodec(max, tc.zip), tc.stream, []int{1})
			if !slices.Equal(bytewise, tc.want) {
				t.Errorf("one byte per read: %v, want %v", bytewise, tc.want)
			}
		})
	}
}

// TestClientCodecCarry: a partial frame is kept between reads in a buffer
// sized to the whole frame, and released once the frame is whole.
func TestClientCodecCarry(t *testing.T) {
	d := testCodec(1<<20, false)
	var s readState
	f := frame(true, 0, ws.OpBinary, bytes.Repeat([]byte("x"), 300))
	rbuf := make([]byte, 4096)
	b := d.readInto(&s, rbuf)
	copy(b, f[:100])
	in := d.received(&s, b, 100)
	if ev := d.next(&s, &in); ev.kind != evMore || len(s.carry) != 100 || cap(s.carry) < len(f) {
		t.Fatalf("after 100 of %d bytes: event %v, carry %d bytes of %d", len(f), ev.kind, len(s.carry), cap(s.carry))
	}
	b = d.readInto(&s, rbuf)
	if len(b) != cap(s.carry)-100 {
		t.Fatalf("read goes into %d bytes, want the carry's %d free", len(b), cap(s.carry)-100)
	}
	n := copy(b, f[100:])
	in = d.received(&s, b, n)
	if ev := d.next(&s, &in); ev.kind != evMessage || len(ev.payload) != 300 {
		t.Fatalf("event %v with %d bytes, want the 300-byte message", ev.kind, len(ev.payload))
	}
	if ev := d.next(&s, &in); ev.kind != evMore || s.carry != nil {
		t.Fatalf("event %v, carry %d bytes: want more, and no carry", ev.kind, len(s.carry))
	}
}

// BenchmarkClientCodec is one 64-byte echo decoded from the loop's read
// buffer, as the event loop does it, with and without permessage-deflate.
func BenchmarkClientCodec(b *testing.B) {
	p := bytes.Repeat([]byte("0123456789abcdef"), 4)
	for _, zip := range []bool{false, true} {
		name, f := "plain", frame(true, 0, ws.OpBinary, p)
		if zip {
			name, f = "deflate", frame(true, rsv1, ws.OpBinary, compressed(p))
		}
		b.Run(name, func(b *testing.B) {
			d := testCodec(1<<20, zip)
			var s readState
			rbuf := make([]byte, 4096)
			b.ReportAllocs()
			for b.Loop() {
				buf := d.readInto(&s, rbuf)
				n := copy(buf, f)
				in := d.received(&s, buf, n)
				if ev := d.next(&s, &in); ev.kind != evMessage || len(ev.payload) != len(p) {
					b.Fatalf("event %v", ev.kind)
				}
				if ev := d.next(&s, &in); ev.kind != evMore {
					b.Fatalf("event %v", ev.kind)
				}
			}
		})
	}
}

// script builds a valid stream of server frames from fuzz bytes, with
// gobwas/ws's ws.WriteFrame, and the events it must decode to: text (valid
// UTF-8, possibly cut mid-rune between fragments) and binary messages, each
// in 1 to 4 fragments, compressed or not when zip is set, pings between the
// fragments, pongs, and a close at the end.
func script(data []byte, zip bool, maxMessage int) (stream []byte, want []got) {
	take := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	for len(data) > 0 {
		ctl := take()
		n := int(take()) * int(1+ctl>>6) // up to 1020 bytes
		p := []byte(nil)
		for i := 0; i < n && len(data) > 0; i++ {
			p = append(p, take())
		}
		switch ctl % 4 {
		case 0, 1: // a data message
			op := ws.OpBinary
			if ctl%4 == 0 {
				op = ws.OpText
				p = []byte(strings.ToValidUTF8(string(p), "é"))
			}
			if len(p) > maxMessage-64 { // room for deflate's overhead on incompressible bytes
				p = p[:0]
			}
			wire := p
			rsv := byte(0)
			if zip && ctl&4 != 0 {
				wire, rsv = compressed(p), rsv1
			}
			k := int(ctl>>3&3) + 1 // fragments
			wireLen := 0
			for i := range k {
				lo, hi := len(wire)*i/k, len(wire)*(i+1)/k
				op, r := op, rsv
				if i > 0 {
					op, r = ws.OpContinuation, 0
				}
				f := frame(i == k-1, r, op, wire[lo:hi])
				stream = append(stream, f...)
				wireLen += len(f)
				if i < k-1 && ctl&32 != 0 {
					stream = append(stream, frame(true, 0, ws.OpPing, []byte("between"))...)
					want = append(want, got{kind: evPing, payload: "between"})
				}
			}
			if k > 1 {
				wireLen = len(wire) + 14
			}
			want = append(want, got{kind: evMessage, op: op, payload: string(p), wireLen: wireLen})
		case 2: // a ping
			p = p[:min(len(p), 125)]
			stream = append(stream, frame(true, 0, ws.OpPing, p)...)
			want = append(want, got{kind: evPing, payload: string(p)})
		case 3: // a pong
			p = p[:min(len(p), 125)]
			f := frame(true, 0, ws.OpPong, p)
			stream = append(stream, f...)
			want = append(want, got{kind: evPong, payload: string(p), wireLen: len(f)})
		}
	}
	stream = append(stream, frame(true, 0, ws.OpClose, closeBody(4000, "done"))...)
	want = append(want, got{kind: evClose, code: 4000})
	return stream, want
}

// FuzzClientCodec drives the client codec without a socket. Any stream,
// split into reads anywhere, decodes to the same events as the stream fed
// whole, ends with a close or violation if anything follows one, never
// passes a text message that is not UTF-8 nor one over the limit, and never
// panics. A valid stream built from the same bytes (script) decodes to
// exactly the messages it was built from, however it is split.
func FuzzClientCodec(f *testing.F) {
	f.Add([]byte{0x81, 0x02, 'h', 'i', 0x89, 0x00, 0x88, 0x02, 0x03, 0xe8}, []byte{1, 3}, false)
	f.Add(cat(frame(false, 0, ws.OpText, []byte("h\xc3")), frame(true, 0, ws.OpContinuation, []byte("\xa9"))), []byte{2}, false)
	f.Add(frame(true, rsv1, ws.OpText, compressed([]byte("hello hello"))), []byte{5, 0, 1}, true)
	f.Add([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}, []byte(nil), false)
	f.Add([]byte{0x00, 0x05, 'a', 'b', 'c', 'd', 'e', 0x25, 0x10, 'x'}, []byte{7}, true)
	const maxMessage = 2000
	f.Fuzz(func(t *testing.T, data, cutBytes []byte, zip bool) {
		cuts := make([]int, len(cutBytes))
		for i, c := range cutBytes {
			cuts[i] = int(c)
		}
		whole, _ := feed(testCodec(maxMessage, zip), data, nil)
		split, _ := feed(testCodec(maxMessage, zip), data, cuts)
		if !slices.Equal(whole, split) {
			t.Fatalf("fed whole: %v\nsplit %v: %v", whole, cuts, split)
		}
		for i, ev := range whole {
			if (ev.kind == evClose || ev.kind == evViolation) && i != len(whole)-1 {
				t.Fatalf("event %d of %d after a %v", i+1, len(whole), ev)
			}
			if ev.kind == evMessage && (len(ev.payload) > maxMessage || ev.op == ws.OpText && !utf8.ValidString(ev.payload)) {
				t.Fatalf("message passed: %v", ev)
			}
		}

		stream, want := script(data, zip, maxMessage)
		for _, c := range [][]int{nil, cuts, {1}} {
			if got, _ := feed(testCodec(maxMessage, zip), stream, c); !slices.Equal(got, want) {
				t.Fatalf("valid stream split %v:\n got %v\nwant %v", c, got, want)
			}
		}
	})
}
