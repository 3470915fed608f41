//go:build linux

package server

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// offerDeflate is the permessage-deflate offer browsers and Node's ws make.
const offerDeflate = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

// dialPath opens a TCP connection and completes the opening handshake for
// path with extra request headers, returning the response head.
func dialPath(t testing.TB, addr, path, headers string) (*rawConn, string) {
	t.Helper()
	c := dialTCP(t, addr)
	req := strings.Replace(upgradeRequest(headers), "GET /ws ", "GET "+path+" ", 1)
	resp := c.roundTrip(t, req)
	if !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
		t.Fatalf("handshake response: %q", resp)
	}
	return c, resp
}

// dialDeflate is dialPath that offers permessage-deflate and checks that the
// server accepted it.
func dialDeflate(t testing.TB, addr, path string) *rawConn {
	t.Helper()
	c, resp := dialPath(t, addr, path, offerDeflate)
	if !strings.Contains(resp, "\r\nSec-WebSocket-Extensions: permessage-deflate;client_no_context_takeover\r\n") {
		t.Fatalf("permessage-deflate not accepted: %q", resp)
	}
	return c
}

// readMessage reads one server data frame and returns its opcode, whether it
// was compressed, and its payload (inflated).
func (c *rawConn) readMessage(t testing.TB) (ws.OpCode, bool, []byte) {
	t.Helper()
	f := c.readFrame(t)
	if !f.Header.Fin || f.Header.Rsv&^ws.Rsv(true, false, false) != 0 {
		t.Fatalf("server frame header %+v", f.Header)
	}
	compressed := f.Header.Rsv != 0
	p := f.Payload
	if compressed {
		var err error
		if p, err = wsflate.DefaultHelper.Decompress(p); err != nil {
			t.Fatalf("server's compressed %v frame does not inflate: %v", f.Header.OpCode, err)
		}
	}
	return f.Header.OpCode, compressed, p
}

// expectClose reads the server's close frame, checks its code, answers it
// and waits for the server's EOF.
func (c *rawConn) expectClose(t testing.TB, code ws.StatusCode) {
	t.Helper()
	f := c.readFrame(t)
	got, _ := ws.ParseCloseFrameData(f.Payload)
	if f.Header.OpCode != ws.OpClose || got != code {
		t.Fatalf("got %v %x (code %d), want close %d", f.Header.OpCode, f.Payload, got, code)
	}
	c.expectEOF(t)
}

// noise returns n bytes that do not compress.
func noise(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestDeflateHandshake: the server accepts permessage-deflate offers with
// client_no_context_takeover, declines what it cannot honour, and offers
// nothing with DisableDeflate; Stats counts the connections that negotiated
// it.
func TestDeflateHandshake(t *testing.T) {
	on, onAddr := startServer(t, Config{})
	off, offAddr := startServer(t, Config{DisableDeflate: true})
	cases := []struct {
		name, addr, offer string
		want              string // the response's Sec-WebSocket-Extensions line, "" for none
	}{
		// The browsers' offer.
		{"browser", onAddr, offerDeflate, "permessage-deflate;client_no_context_takeover"},
		// server_no_context_takeover offered: echoed.
		{"server-no-context", onAddr, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
			"permessage-deflate;server_no_context_takeover;client_no_context_takeover"},
		// Offers split over two header lines: the first acceptable one wins.
		{"two-lines", onAddr, "Sec-WebSocket-Extensions: x-foo\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15\r\n",
			"permessage-deflate;client_no_context_takeover;server_max_window_bits=15"},
		// A smaller window than the server's: declined, the handshake goes on.
		{"small-window", onAddr, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n", ""},
		// An invalid offer is declined, not an error.
		{"invalid", onAddr, "Sec-WebSocket-Extensions: permessage-deflate; bogus\r\n", ""},
		// No offer, no extension.
		{"no-offer", onAddr, "", ""},
		// DisableDeflate: declined.
		{"disabled", offAddr, offerDeflate, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, resp := dialPath(t, tc.addr, "/", tc.offer)
			got := ""
			for _, line := range strings.Split(resp, "\r\n") {
				if v, ok := strings.CutPrefix(line, "Sec-WebSocket-Extensions: "); ok {
					got = v
				}
			}
			if got != tc.want {
				t.Fatalf("response %q: extensions %q, want %q", resp, got, tc.want)
			}
			c.Close()
		})
	}
	if !waitFor(2*time.Second, func() bool { return on.Stats().DeflateNegotiated == 3 }) {
		t.Errorf("DeflateNegotiated = %d, want 3", on.Stats().DeflateNegotiated)
	}
	if n := off.Stats().DeflateNegotiated; n != 0 {
		t.Errorf("DeflateNegotiated with DisableDeflate = %d, want 0", n)
	}
}

// TestDeflateEcho: over a socket, compressed messages of every length class
// (7-bit, 16-bit and 64-bit, compressed and inflated) come back compressed
// and intact, uncompressed ones uncompressed; Stats counts them.
func TestDeflateEcho(t *testing.T) {
	s, addr := startServer(t, Config{})
	c := dialDeflate(t, addr, "/")
	cases := []struct {
		name       string
		op         ws.OpCode
		payload    []byte
		compressed bool
	}{
		{"text-5", ws.OpText, []byte("hello"), true},
		{"text-1000", ws.OpText, pattern(1000, 1), true},
		// Inflates past 64 KiB, compressed far smaller.
		{"text-200KiB", ws.OpText, pattern(200<<10, 2), true},
		// Incompressible: over 64 KiB on the wire both ways.
		{"binary-100KiB-noise", ws.OpBinary, noise(100<<10, 3), true},
		{"binary-empty", ws.OpBinary, nil, true},
		// Not compressed: the echo is not either.
		{"text-plain", ws.OpText, []byte("plain"), false},
		{"binary-plain-70000", ws.OpBinary, noise(70000, 4), false},
	}
	var comp uint64
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.compressed {
				c.send(t, compressedFrame(t, tc.op, tc.payload))
				comp++
			} else {
				c.send(t, mf(tc.op, true, tc.payload))
			}
			op, compressed, p := c.readMessage(t)
			if op != tc.op || compressed != tc.compressed || !bytes.Equal(p, tc.payload) {
				t.Fatalf("echo: %v compressed %v %d bytes, want %v compressed %v %d bytes",
					op, compressed, len(p), tc.op, tc.compressed, len(tc.payload))
			}
		})
	}
	// A compressed message in fragments, with a ping between them.
	z := deflated(t, pattern(5000, 9))
	c.send(t, bytes.Join([][]byte{
		rsvFrame(ws.OpText, false, 4, z[:len(z)/2]),
		mf(ws.OpPing, true, []byte("mid")),
		mf(ws.OpContinuation, true, z[len(z)/2:]),
	}, nil))
	comp++
	if op, compressed, p := c.readMessage(t); op != ws.OpPong || compressed || string(p) != "mid" {
		t.Fatalf("got %v compressed %v %q, want the pong", op, compressed, p)
	}
	if op, compressed, p := c.readMessage(t); op != ws.OpText || !compressed || !bytes.Equal(p, pattern(5000, 9)) {
		t.Fatalf("fragmented: %v compressed %v %d bytes, want the text compressed", op, compressed, len(p))
	}
	c.send(t, mf(ws.OpClose, true, closeBody(1000, "")))
	c.expectClose(t, 1000)
	waitFor(2*time.Second, func() bool { return s.Stats().CompressedOut == comp })
	st := s.Stats()
	if st.CompressedIn != comp || st.CompressedOut != comp || st.MessagesIn != uint64(len(cases))+1 {
		t.Errorf("compressed in %d out %d, messages in %d; want %d, %d, %d",
			st.CompressedIn, st.CompressedOut, st.MessagesIn, comp, comp, len(cases)+1)
	}
}

// TestDeflateViolations: every misuse of RSV1 and every bad compressed
// message closes the connection with its code, on the wire.
func TestDeflateViolations(t *testing.T) {
	const maxMsg = 64 << 10
	s, addr := startServer(t, Config{MaxMessage: maxMsg})
	_, offAddr := startServer(t, Config{DisableDeflate: true})
	cases := []struct {
		name  string
		addr  string
		offer bool // offer permessage-deflate (accepted unless DisableDeflate)
		send  func(t *testing.T) []byte
		code  ws.StatusCode
	}{
		// RSV1 on a continuation frame.
		{"rsv1-continuation", addr, true, func(t *testing.T) []byte {
			return append(mf(ws.OpText, false, []byte("a")), rsvFrame(ws.OpContinuation, true, 4, []byte("b"))...)
		}, ws.StatusProtocolError},
		// RSV1 on a ping.
		{"rsv1-ping", addr, true, func(t *testing.T) []byte { return rsvFrame(ws.OpPing, true, 4, nil) }, ws.StatusProtocolError},
		// Not DEFLATE data.
		{"corrupt", addr, true, func(t *testing.T) []byte { return rsvFrame(ws.OpBinary, true, 4, []byte{0xff, 0xff, 0xff}) },
			ws.StatusInvalidFramePayloadData},
		// Text that inflates to invalid UTF-8.
		{"invalid-utf8", addr, true, func(t *testing.T) []byte { return compressedFrame(t, ws.OpText, []byte{0xc3, 0x28}) },
			ws.StatusInvalidFramePayloadData},
		// 16 MiB of zeros, about 16 KiB compressed: over MaxMessage once inflated.
		{"bomb", addr, true, func(t *testing.T) []byte { return compressedFrame(t, ws.OpBinary, make([]byte, 16<<20)) },
			ws.StatusMessageTooBig},
		// RSV1 when the client did not offer the extension.
		{"not-offered", addr, false, func(t *testing.T) []byte { return compressedFrame(t, ws.OpText, []byte("x")) },
			ws.StatusProtocolError},
		// RSV1 when the server declined it.
		{"disabled", offAddr, true, func(t *testing.T) []byte { return compressedFrame(t, ws.OpText, []byte("x")) },
			ws.StatusProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			offer := ""
			if tc.offer {
				offer = offerDeflate
			}
			c, _ := dialPath(t, tc.addr, "/", offer)
			c.send(t, tc.send(t))
			c.expectClose(t, tc.code)
		})
	}
	want := map[uint16]uint64{1002: 3, 1007: 2, 1009: 1}
	if !waitFor(2*time.Second, func() bool { return fmt.Sprint(s.Stats().CloseCodesSent) == fmt.Sprint(want) }) {
		t.Errorf("CloseCodesSent = %v, want %v", s.Stats().CloseCodesSent, want)
	}
}

// dialDeflateMember is dialMember for a raw connection that offers
// permessage-deflate (or not): it returns once the connection's loop has
// registered it, so that members dialed one after another go to the loops
// in round-robin order.
func dialDeflateMember(t *testing.T, s *Server, addr, path string, deflate bool) *rawConn {
	t.Helper()
	before := s.next.Load()
	var c *rawConn
	if deflate {
		c = dialDeflate(t, addr, path)
	} else {
		c, _ = dialPath(t, addr, path, "")
	}
	if !waitFor(2*time.Second, func() bool { return s.next.Load() == before+1 }) {
		t.Fatalf("connection to %s not handed to a loop", path)
	}
	c.send(t, mf(ws.OpPing, true, []byte("sync")))
	if op, _, p := c.readMessage(t); op != ws.OpPong || string(p) != "sync" {
		t.Fatalf("got %v %q, want the pong to our ping", op, p)
	}
	return c
}

// TestDeflateBroadcast: in broadcast mode a compressed message reaches the
// members that negotiated permessage-deflate compressed and the others
// uncompressed, on both loops, with and without Delay; an uncompressed one
// reaches everyone uncompressed.
func TestDeflateBroadcast(t *testing.T) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprint("delay-", delay), func(t *testing.T) {
			s, addr := startServer(t, Config{Mode: ModeBroadcast, Loops: 2, Delay: FixedDelay(delay)})
			a := dialDeflateMember(t, s, addr, "/room/z", true)  // loop 0
			b := dialDeflateMember(t, s, addr, "/room/z", false) // loop 1
			c := dialDeflateMember(t, s, addr, "/room/z", true)  // loop 0
			d := dialDeflateMember(t, s, addr, "/room/z", true)  // loop 1
			members := []*rawConn{a, b, c, d}
			deflates := []bool{true, false, true, true}

			msg := pattern(3000, 7)
			a.send(t, compressedFrame(t, ws.OpText, msg))
			for i, m := range members {
				op, compressed, p := m.readMessage(t)
				if op != ws.OpText || compressed != deflates[i] || !bytes.Equal(p, msg) {
					t.Errorf("member %d: %v compressed %v %d bytes, want text compressed %v", i, op, compressed, len(p), deflates[i])
				}
			}
			b.send(t, mf(ws.OpBinary, true, []byte("plain")))
			for i, m := range members {
				if op, compressed, p := m.readMessage(t); op != ws.OpBinary || compressed || string(p) != "plain" {
					t.Errorf("member %d: %v compressed %v %q, want binary \"plain\" uncompressed", i, op, compressed, p)
				}
			}
			waitFor(2*time.Second, func() bool { return s.Stats().MessagesOut == 8 })
			st := s.Stats()
			if st.CompressedIn != 1 || st.CompressedOut != 3 || st.MessagesOut != 8 || st.DeflateNegotiated != 3 {
				t.Errorf("compressed in %d out %d, messages out %d, deflate negotiated %d; want 1, 3, 8, 3",
					st.CompressedIn, st.CompressedOut, st.MessagesOut, st.DeflateNegotiated)
			}
		})
	}
}

// TestDeflateEchoDelay: with Delay, a compressed message's echo is held back
// like any other and still goes out compressed.
func TestDeflateEchoDelay(t *testing.T) {
	const delay = 50 * time.Millisecond
	s, addr := startServer(t, Config{Delay: FixedDelay(delay)})
	c := dialDeflate(t, addr, "/")
	start := time.Now()
	c.send(t, append(compressedFrame(t, ws.OpText, []byte("late")), mf(ws.OpText, true, []byte("plain"))...))
	if op, compressed, p := c.readMessage(t); op != ws.OpText || !compressed || string(p) != "late" {
		t.Fatalf("got %v compressed %v %q, want \"late\" compressed", op, compressed, p)
	}
	if d := time.Since(start); d < delay {
		t.Errorf("echo after %v, want at least %v", d, delay)
	}
	if op, compressed, p := c.readMessage(t); op != ws.OpText || compressed || string(p) != "plain" {
		t.Fatalf("got %v compressed %v %q, want \"plain\" uncompressed", op, compressed, p)
	}
	waitFor(2*time.Second, func() bool { return s.Stats().MessagesOut == 2 })
	if st := s.Stats(); st.CompressedIn != 1 || st.CompressedOut != 1 || st.MessagesOut != 2 {
		t.Errorf("compressed in %d out %d, messages out %d; want 1, 1, 2", st.CompressedIn, st.CompressedOut, st.MessagesOut)
	}
}
