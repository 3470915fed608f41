//go:build linux

package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/internal/wire"
	"golang.org/x/sys/unix"
)

func TestHandshake(t *testing.T) {
	plain, plainAddr := startServer(t, Config{})
	chat, chatAddr := startServer(t, Config{Subprotocols: []string{"chat", "superchat"}})
	cases := []struct {
		name     string
		addr     string
		req      string
		status   string   // expected status line prefix
		headers  []string // lines the response must contain
		excluded string   // header name the response must not contain ("" for none)
	}{
		// RFC 6455 section 1.3's example key gets the example accept value.
		{"rfc-key", plainAddr, upgradeRequest(""), "HTTP/1.1 101 ",
			[]string{"Sec-WebSocket-Accept: " + rfcAccept + "\r\n"}, "Sec-WebSocket-Protocol"},
		// No subprotocol configured: an offer is not answered.
		{"no-subprotocols-configured", plainAddr, upgradeRequest("Sec-WebSocket-Protocol: chat\r\n"), "HTTP/1.1 101 ",
			[]string{"Sec-WebSocket-Accept: " + rfcAccept + "\r\n"}, "Sec-WebSocket-Protocol"},
		// The client's first offer that the server supports wins, in the client's order.
		{"subprotocol-client-order", chatAddr, upgradeRequest("Sec-WebSocket-Protocol: superchat, chat\r\n"), "HTTP/1.1 101 ",
			[]string{"Sec-WebSocket-Protocol: superchat\r\n"}, ""},
		// Unknown offers are skipped.
		{"subprotocol-skip-unknown", chatAddr, upgradeRequest("Sec-WebSocket-Protocol: mqtt, chat\r\n"), "HTTP/1.1 101 ",
			[]string{"Sec-WebSocket-Protocol: chat\r\n"}, ""},
		// Nothing in common: upgrade without a subprotocol.
		{"subprotocol-none-in-common", chatAddr, upgradeRequest("Sec-WebSocket-Protocol: mqtt\r\n"), "HTTP/1.1 101 ",
			nil, "Sec-WebSocket-Protocol"},
		// Only GET upgrades.
		{"post", plainAddr, strings.Replace(upgradeRequest(""), "GET", "POST", 1), "HTTP/1.1 405 ", nil, ""},
		// Sec-WebSocket-Key is required.
		{"no-key", plainAddr, strings.Replace(upgradeRequest(""), "Sec-WebSocket-Key: "+rfcKey+"\r\n", "", 1), "HTTP/1.1 400 ", nil, ""},
		// Only version 13 is spoken.
		{"version-12", plainAddr, strings.Replace(upgradeRequest(""), "Version: 13", "Version: 12", 1), "HTTP/1.1 426 ",
			[]string{"Sec-WebSocket-Version: 13\r\n"}, ""},
		// The checks gobwas leaves out (FuzzHandshake found them): a key
		// of the right length that is not base64, a second key, a
		// Connection value that is not a token list, a version gobwas
		// reads as 1.10.
		{"key-not-base64", plainAddr, strings.Replace(upgradeRequest(""), rfcKey, strings.Repeat("!", len(rfcKey)), 1), "HTTP/1.1 400 ", nil, ""},
		{"key-twice", plainAddr, upgradeRequest("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"), "HTTP/1.1 400 ", nil, ""},
		{"connection-not-tokens", plainAddr, strings.Replace(upgradeRequest(""), "Connection: Upgrade", `Connection: Upgrade"0`, 1), "HTTP/1.1 400 ", nil, ""},
		{"version-1.colon", plainAddr, strings.Replace(upgradeRequest(""), "HTTP/1.1", "HTTP/1.:", 1), "HTTP/1.1 400 ", nil, ""},
		// A request line gobwas cannot parse gets 400, not silence.
		{"bad-request-line", plainAddr, strings.Replace(upgradeRequest(""), "HTTP/1.1", "HTTP/1.1 extra", 1), "HTTP/1.1 400 ", nil, ""},
	}
	wantFail := map[*Server]uint64{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialTCP(t, tc.addr)
			resp := c.roundTrip(t, tc.req)
			if !strings.HasPrefix(resp, tc.status) {
				t.Fatalf("response %q, want status %q", resp, tc.status)
			}
			for _, h := range tc.headers {
				if !strings.Contains(resp, "\r\n"+h) {
					t.Errorf("response %q lacks %q", resp, h)
				}
			}
			if tc.excluded != "" && strings.Contains(strings.ToLower(resp), strings.ToLower(tc.excluded)) {
				t.Errorf("response %q has %s", resp, tc.excluded)
			}
		})
		if !strings.Contains(tc.status, "101") {
			if tc.addr == plainAddr {
				wantFail[plain]++
			} else {
				wantFail[chat]++
			}
		}
	}
	for s, want := range map[*Server]uint64{plain: wantFail[plain], chat: wantFail[chat]} {
		if !waitFor(time.Second, func() bool { return s.Stats().HandshakeFailures == want }) {
			t.Errorf("HandshakeFailures = %d, want %d", s.Stats().HandshakeFailures, want)
		}
	}
}

// TestFramesRightBehindRequest covers a client that does not wait for the
// 101 before sending its first frame: the frame must not be lost.
func TestFramesRightBehindRequest(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dialTCP(t, addr)
	req := upgradeRequest("") + string(mf(ws.OpText, true, []byte("early")))
	if resp := c.roundTrip(t, req); !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
		t.Fatalf("response %q", resp)
	}
	if f := c.readFrame(t); f.Header.OpCode != ws.OpText || string(f.Payload) != "early" {
		t.Fatalf("got %v %q, want text \"early\"", f.Header.OpCode, f.Payload)
	}
}

// reply is one frame expected from the server. For a close frame only the
// code is compared (0 = empty body).
type reply struct {
	op      ws.OpCode
	payload []byte
	code    ws.StatusCode
}

func closeReply(code ws.StatusCode) reply { return reply{op: ws.OpClose, code: code} }

func TestStrictness(t *testing.T) {
	const maxMsg = 1024
	s, addr := startServer(t, Config{MaxMessage: maxMsg})
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	cases := []struct {
		name string
		send []byte
		want []reply // the test adds a client close 1000 when this does not end in a close
	}{
		// RFC 6455 5.1: a client frame must be masked.
		{"unmasked", frame(ws.Header{Fin: true, OpCode: ws.OpText}, []byte("hello")), []reply{closeReply(1002)}},
		// Text must be UTF-8.
		{"invalid-utf8", mf(ws.OpText, true, []byte{'a', 0xff, 0xfe}), []reply{closeReply(1007)}},
		// UTF-8 is checked over the reassembled message.
		{"invalid-utf8-fragmented", cat(mf(ws.OpText, false, []byte("a")), mf(ws.OpContinuation, true, []byte{0xc3})),
			[]reply{closeReply(1007)}},
		// A character split across fragments is fine.
		{"utf8-split-across-fragments", cat(mf(ws.OpText, false, []byte{0xc3}), mf(ws.OpContinuation, true, []byte{0xa9})),
			[]reply{{op: ws.OpText, payload: []byte("é")}}},
		// One frame over MaxMessage.
		{"oversize-frame", mf(ws.OpBinary, true, make([]byte, 2000)), []reply{closeReply(1009)}},
		// The limit is checked from the header: no payload needs to arrive.
		{"oversize-header-only", mf(ws.OpBinary, true, make([]byte, 2000))[:8], []reply{closeReply(1009)}},
		// Fragments whose total exceeds MaxMessage.
		{"oversize-fragments", cat(mf(ws.OpBinary, false, make([]byte, 600)), mf(ws.OpContinuation, true, make([]byte, 600))),
			[]reply{closeReply(1009)}},
		// Exactly MaxMessage is allowed.
		{"max-size", mf(ws.OpBinary, true, pattern(maxMsg, 1)), []reply{{op: ws.OpBinary, payload: pattern(maxMsg, 1)}}},
		// Reserved data opcode.
		{"opcode-3", mf(3, true, []byte("x")), []reply{closeReply(1002)}},
		// Reserved control opcode.
		{"opcode-0xB", mf(0xB, true, nil), []reply{closeReply(1002)}},
		// RSV1 without a negotiated extension (this client offers none).
		{"rsv1", frame(ws.Header{Fin: true, Rsv: 4, OpCode: ws.OpText, Masked: true}, []byte("x")), []reply{closeReply(1002)}},
		// RSV3.
		{"rsv3", frame(ws.Header{Fin: true, Rsv: 1, OpCode: ws.OpBinary, Masked: true}, []byte("x")), []reply{closeReply(1002)}},
		// Continuation with no message to continue.
		{"orphan-continuation", mf(ws.OpContinuation, true, []byte("x")), []reply{closeReply(1002)}},
		// A new data frame while a fragmented message is open.
		{"data-inside-fragmented", cat(mf(ws.OpText, false, []byte("a")), mf(ws.OpText, true, []byte("b"))),
			[]reply{closeReply(1002)}},
		// Control frame payloads are at most 125 bytes.
		{"ping-126", mf(ws.OpPing, true, make([]byte, 126)), []reply{closeReply(1002)}},
		// Control frames cannot be fragmented.
		{"ping-not-fin", mf(ws.OpPing, false, []byte("x")), []reply{closeReply(1002)}},
		// 64-bit length with the most significant bit set.
		{"length-msb", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, []reply{closeReply(1002)}},
		// Ping is answered with the same payload.
		{"ping", mf(ws.OpPing, true, []byte("are you there")), []reply{{op: ws.OpPong, payload: []byte("are you there")}}},
		// Ping of the maximal 125 bytes.
		{"ping-125", mf(ws.OpPing, true, pattern(125, 3)), []reply{{op: ws.OpPong, payload: pattern(125, 3)}}},
		// A ping between fragments is answered at once, before the message.
		{"ping-between-fragments", cat(mf(ws.OpText, false, []byte("Hel")), mf(ws.OpPing, true, []byte("p")), mf(ws.OpContinuation, true, []byte("lo"))),
			[]reply{{op: ws.OpPong, payload: []byte("p")}, {op: ws.OpText, payload: []byte("Hello")}}},
		// Unsolicited pongs are ignored: the first reply is the text's echo.
		{"pong-ignored", cat(mf(ws.OpPong, true, []byte("x")), mf(ws.OpText, true, []byte("y"))),
			[]reply{{op: ws.OpText, payload: []byte("y")}}},
		// Client close 1000 is echoed.
		{"close-1000", mf(ws.OpClose, true, closeBody(1000, "bye")), []reply{closeReply(1000)}},
		// Application codes are echoed.
		{"close-3000", mf(ws.OpClose, true, closeBody(3000, "")), []reply{closeReply(3000)}},
		// The highest valid code.
		{"close-4999", mf(ws.OpClose, true, closeBody(4999, "")), []reply{closeReply(4999)}},
		// Empty close body: empty reply.
		{"close-empty", mf(ws.OpClose, true, nil), []reply{closeReply(0)}},
		// 1005 must not be sent on the wire.
		{"close-1005", mf(ws.OpClose, true, closeBody(1005, "")), []reply{closeReply(1002)}},
		// Codes below 1000 are not used.
		{"close-999", mf(ws.OpClose, true, closeBody(999, "")), []reply{closeReply(1002)}},
		// Undefined protocol code.
		{"close-1016", mf(ws.OpClose, true, closeBody(1016, "")), []reply{closeReply(1002)}},
		// Codes above 4999 do not exist.
		{"close-5000", mf(ws.OpClose, true, closeBody(5000, "")), []reply{closeReply(1002)}},
		// A one-byte close body cannot hold a code.
		{"close-1-byte", mf(ws.OpClose, true, []byte{3}), []reply{closeReply(1002)}},
		// The close reason must be UTF-8.
		{"close-bad-reason", mf(ws.OpClose, true, append(closeBody(1000, ""), 0xff)), []reply{closeReply(1007)}},
		// Frames after a close are ignored.
		{"data-after-close", cat(mf(ws.OpClose, true, closeBody(1000, "")), mf(ws.OpText, true, []byte("late"))),
			[]reply{closeReply(1000)}},
		// Data behind a close is drained, not left unread: closing with
		// unread input would reset the connection and lose the close reply.
		{"close-then-data", cat(mf(ws.OpClose, true, closeBody(1000, "")), bytes.Repeat([]byte("junk"), 100000)),
			[]reply{closeReply(1000)}},
		// Messages before a violation are still answered.
		{"echo-then-violation", cat(mf(ws.OpText, true, []byte("ok")), mf(3, true, nil)),
			[]reply{{op: ws.OpText, payload: []byte("ok")}, closeReply(1002)}},
	}
	wantCodes := map[uint16]uint64{}
	for _, tc := range cases {
		want := tc.want
		send := tc.send
		if last := want[len(want)-1]; last.op != ws.OpClose {
			send = append(bytes.Clone(send), mf(ws.OpClose, true, closeBody(1000, ""))...)
			want = append(want, closeReply(1000))
		}
		code := uint16(want[len(want)-1].code)
		if code == 0 {
			code = 1005 // an empty close is counted as 1005
		}
		wantCodes[code]++
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(t, send)
			for i, w := range want {
				f := c.readFrame(t)
				if f.Header.OpCode != w.op || !f.Header.Fin {
					t.Fatalf("reply %d: opcode %v fin %v, want %v fin", i, f.Header.OpCode, f.Header.Fin, w.op)
				}
				if w.op == ws.OpClose {
					got, _ := ws.ParseCloseFrameData(f.Payload)
					if got != w.code || (w.code == 0 && len(f.Payload) != 0) {
						t.Fatalf("reply %d: close body %x (code %d), want code %d", i, f.Payload, got, w.code)
					}
					continue
				}
				if !bytes.Equal(f.Payload, w.payload) {
					t.Fatalf("reply %d: payload %q, want %q", i, f.Payload, w.payload)
				}
			}
			c.expectEOF(t)
		})
	}
	got := s.Stats().CloseCodesSent
	for code, n := range wantCodes {
		if got[code] != n {
			t.Errorf("CloseCodesSent[%d] = %d, want %d (all: %v)", code, got[code], n, got)
		}
	}
	if len(got) != len(wantCodes) {
		t.Errorf("CloseCodesSent = %v, want %v", got, wantCodes)
	}
}

func TestEcho(t *testing.T) {
	s, addr := startServer(t, Config{})
	c := dialWS(t, addr)
	sizes := []int{0, 1, 125, 126, 65535, 65536, 1 << 20}
	var msgs uint64
	for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
		for _, n := range sizes {
			// Each row: one message of n bytes with opcode op, echoed verbatim.
			t.Run(fmt.Sprintf("%s-%d", wire.OpName(op), n), func(t *testing.T) {
				p := pattern(n, n)
				c.SetDeadline(time.Now().Add(ioTimeout))
				if err := wsutil.WriteClientMessage(c, op, p); err != nil {
					t.Fatal(err)
				}
				got, gotOp, err := wsutil.ReadServerData(c)
				if err != nil {
					t.Fatal(err)
				}
				if gotOp != op || !bytes.Equal(got, p) {
					t.Fatalf("echo: op %v, %d bytes; want op %v, %d bytes (equal %v)", gotOp, len(got), op, n, bytes.Equal(got, p))
				}
			})
			msgs++
		}
	}
	st := s.Stats()
	if st.MessagesIn != msgs || st.MessagesOut != msgs {
		t.Errorf("MessagesIn %d, MessagesOut %d, want %d", st.MessagesIn, st.MessagesOut, msgs)
	}
}

func TestEchoFragmented(t *testing.T) {
	_, addr := startServer(t, Config{})
	cases := []struct {
		name  string
		op    ws.OpCode
		parts [][]byte
	}{
		// The RFC's three-frame example shape.
		{"text-3", ws.OpText, [][]byte{[]byte("Hel"), []byte("lo, "), []byte("world")}},
		// Empty fragments count too.
		{"binary-empty-parts", ws.OpBinary, [][]byte{nil, []byte{1, 2, 3}, nil}},
		// Large fragments, reassembled past the 64 KiB read buffer.
		{"binary-3x30000", ws.OpBinary, [][]byte{pattern(30000, 1), pattern(30000, 2), pattern(30000, 3)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			var b []byte
			for i, p := range tc.parts {
				op := ws.OpContinuation
				if i == 0 {
					op = tc.op
				}
				b = append(b, mf(op, i == len(tc.parts)-1, p)...)
			}
			c.send(t, b)
			f := c.readFrame(t)
			want := bytes.Join(tc.parts, nil)
			if !f.Header.Fin || f.Header.OpCode != tc.op || !bytes.Equal(f.Payload, want) {
				t.Fatalf("got fin %v op %v %d bytes, want one final %v frame of %d bytes",
					f.Header.Fin, f.Header.OpCode, len(f.Payload), tc.op, len(want))
			}
		})
	}
}

func TestEchoPipelined(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dialRaw(t, addr)
	const n = 100
	var b []byte
	want := make([][]byte, n)
	for i := range n {
		// Sizes vary so that frames straddle the server's read boundaries.
		want[i] = pattern((i*797)%5000, i)
		b = append(b, mf(ws.OpBinary, true, want[i])...)
	}
	go func() { c.SetWriteDeadline(time.Now().Add(ioTimeout)); c.Write(b) }()
	for i := range n {
		f := c.readFrame(t)
		if f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, want[i]) {
			t.Fatalf("message %d: op %v, %d bytes; want binary %d bytes", i, f.Header.OpCode, len(f.Payload), len(want[i]))
		}
	}
}

func TestEchoTinyWrites(t *testing.T) {
	_, addr := startServer(t, Config{})
	cases := []struct {
		name  string
		size  int
		chunk int // payload write size
	}{
		// 16-bit length header, payload in 7-byte writes.
		{"300-bytes", 300, 7},
		// 64-bit length header; payload bigger than the read buffer, read
		// into its own buffer in pieces.
		{"200000-bytes", 200000, 9999},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			p := pattern(tc.size, 5)
			fr := mf(ws.OpText, true, p)
			hl := len(fr) - tc.size
			for i := 0; i < hl; i++ { // header byte by byte, each its own segment
				c.send(t, fr[i:i+1])
				time.Sleep(time.Millisecond)
			}
			for off := hl; off < len(fr); off += tc.chunk {
				c.send(t, fr[off:min(off+tc.chunk, len(fr))])
				if (off/tc.chunk)%8 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			f := c.readFrame(t)
			if f.Header.OpCode != ws.OpText || !bytes.Equal(f.Payload, p) {
				t.Fatalf("got op %v %d bytes, want text %d bytes", f.Header.OpCode, len(f.Payload), tc.size)
			}
		})
	}
}

func TestManyConnections(t *testing.T) {
	const clients, perClient = 200, 50
	s, addr := startServer(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			c, err := dialWSErr(addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			for j := range perClient {
				msg := fmt.Appendf(nil, "client %d message %d", i, j)
				if err := wsutil.WriteClientText(c, msg); err != nil {
					errs <- err
					return
				}
				got, op, err := wsutil.ReadServerData(c)
				if err != nil {
					errs <- err
					return
				}
				if op != ws.OpText || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("client %d: got %v %q, want %q", i, op, got, msg)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	if st.Accepted != clients || st.Upgraded != clients {
		t.Errorf("Accepted %d, Upgraded %d, want %d", st.Accepted, st.Upgraded, clients)
	}
	if st.MessagesIn != clients*perClient || st.MessagesOut != st.MessagesIn {
		t.Errorf("MessagesIn %d, MessagesOut %d, want %d each", st.MessagesIn, st.MessagesOut, clients*perClient)
	}
	if st.BytesIn == 0 || st.BytesOut == 0 || st.BytesOut >= st.BytesIn {
		// Replies are unmasked, so 4 bytes per frame shorter than requests.
		t.Errorf("BytesIn %d, BytesOut %d: want 0 < out < in", st.BytesIn, st.BytesOut)
	}
	if !waitFor(2*time.Second, func() bool { return s.Stats().Open == 0 }) {
		t.Errorf("Open = %d after all clients left", s.Stats().Open)
	}
}

func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const conns = 1000
	cfg := DefaultConfig()
	s, addr := startServer(t, Config{})
	clients := make([]*wsClient, conns)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				c, err := dialWSErr(addr)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				clients[i] = c
				mu.Unlock()
			}
		})
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	})
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if !waitFor(2*time.Second, func() bool { return s.Stats().Open == conns }) {
		t.Fatalf("Open = %d, want %d", s.Stats().Open, conns)
	}
	limit := 50 + cfg.Loops
	if n := settledGoroutines(limit, 3*time.Second); n > limit {
		t.Fatalf("%d goroutines with %d idle connections, want at most %d", n, conns, limit)
	}
	// The idle connections still work.
	for _, c := range []*wsClient{clients[0], clients[conns/2], clients[conns-1]} {
		c.SetDeadline(time.Now().Add(ioTimeout))
		if err := wsutil.WriteClientText(c, []byte("still there?")); err != nil {
			t.Fatal(err)
		}
		if got, _, err := wsutil.ReadServerData(c); err != nil || string(got) != "still there?" {
			t.Fatalf("echo on idle conn: %q, %v", got, err)
		}
	}
}

func TestHandshakeTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s, addr := startServer(t, Config{HandshakeTimeout: timeout})
	cases := []struct {
		name string
		send string
	}{
		// Opens TCP and says nothing.
		{"silent", ""},
		// Starts a request and stalls in the headers.
		{"stalled", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialTCP(t, addr)
			start := time.Now()
			if tc.send != "" {
				c.send(t, []byte(tc.send))
			}
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			n, err := c.br.Read(make([]byte, 512))
			elapsed := time.Since(start)
			if n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
				t.Fatalf("read %d bytes, err %v; want the server to drop the connection", n, err)
			}
			if elapsed < timeout*3/4 || elapsed > timeout+2*time.Second {
				t.Fatalf("dropped after %v, want about %v", elapsed, timeout)
			}
		})
	}
	st := s.Stats()
	if st.HandshakeTimeouts != uint64(len(cases)) || st.HandshakeFailures != uint64(len(cases)) {
		t.Errorf("HandshakeTimeouts %d, HandshakeFailures %d, want %d", st.HandshakeTimeouts, st.HandshakeFailures, len(cases))
	}
}

func TestSlowReader(t *testing.T) {
	const capBytes = 64 << 10
	s, addr := startServer(t, Config{MaxPendingWrite: capBytes})
	// A small receive buffer keeps the amount the kernel absorbs small.
	c := dialSmallRcvBuf(t, addr)
	if resp := c.roundTrip(t, upgradeRequest("")); !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
		t.Fatalf("handshake: %q", resp)
	}
	fr := mf(ws.OpBinary, true, make([]byte, 16<<10))
	batch := bytes.Repeat(fr, 16)
	c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var sent int
	for sent < 256<<20 { // bounded: far more than any socket buffers hold
		n, err := c.Conn.Write(batch)
		sent += n
		if err != nil {
			break
		}
	}
	if sent >= 256<<20 {
		t.Fatalf("server still reading after %d bytes never read back", sent)
	}
	if !waitFor(2*time.Second, func() bool { return s.Stats().SlowReaderCloses == 1 }) {
		t.Fatalf("SlowReaderCloses = %d, want 1", s.Stats().SlowReaderCloses)
	}
	if !waitFor(2*time.Second, func() bool { return s.Stats().Open == 0 }) {
		t.Fatalf("Open = %d, want 0", s.Stats().Open)
	}
}

func TestShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	s, addr := startServer(t, Config{})
	const n = 10
	clients := make([]*wsClient, n)
	for i := range clients {
		clients[i] = dialWS(t, addr)
	}
	// A connection stuck in the handshake must not hold Shutdown up for
	// HandshakeTimeout (5s by default).
	dialTCP(t, addr)
	if !waitFor(2*time.Second, func() bool { return s.Stats().Open == n && s.Stats().Accepted == n+1 }) {
		t.Fatalf("stats before shutdown: %+v", s.Stats())
	}

	start := time.Now()
	stopWatch := schedwatch.Watch()
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc <- s.Shutdown(ctx)
	}()
	for i, c := range clients {
		c.SetDeadline(time.Now().Add(ioTimeout))
		f, err := ws.ReadFrame(c)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusGoingAway {
			t.Fatalf("client %d: got %v code %d, want close 1001", i, f.Header.OpCode, code)
		}
		if i%2 == 0 { // half answer the close properly, half just hang up
			ws.WriteFrame(c, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, ""))))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("client %d: after close, read err %v, want EOF", i, err)
			}
		}
		c.Close()
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	// Not the closing handshake's full second for the clients that hung
	// up; a busy machine's delays (four of the largest the test saw) aside.
	if d, sched := time.Since(start), stopWatch(); d > 900*time.Millisecond+4*sched.Max {
		t.Errorf("Shutdown took %v with cooperative clients (scheduling delays up to %v seen)", d, sched.Max)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if _, err := s.Listen(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Listen after Shutdown: %v, want ErrServerClosed", err)
	}
	st := s.Stats()
	if st.Open != 0 || st.CloseCodesSent[1001] != n {
		t.Errorf("after Shutdown: Open %d, close 1001 sent %d; want 0, %d", st.Open, st.CloseCodesSent[1001], n)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
	if got := settledGoroutines(before, 2*time.Second); got > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Shutdown, %d before\n%s", got, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestShutdownForced(t *testing.T) {
	s, addr := startServer(t, Config{})
	// A client that never reads nor closes: the closing handshake would
	// wait a full second for it.
	c := dialWS(t, addr)
	if !waitFor(2*time.Second, func() bool { return s.Stats().Open == 1 }) {
		t.Fatal("connection not registered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	stopWatch := schedwatch.Watch()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	// The context's 100ms, not the closing handshake's second; a busy
	// machine's delays (four of the largest the test saw) aside.
	if d, sched := time.Since(start), stopWatch(); d > 800*time.Millisecond+4*sched.Max {
		t.Errorf("forced Shutdown took %v (scheduling delays up to %v seen)", d, sched.Max)
	}
	if s.Stats().Open != 0 {
		t.Errorf("Open = %d after forced Shutdown", s.Stats().Open)
	}
	// The client got the 1001 and then the end of the connection.
	c.SetDeadline(time.Now().Add(ioTimeout))
	f, err := ws.ReadFrame(c)
	if code, _ := ws.ParseCloseFrameData(f.Payload); err != nil || code != ws.StatusGoingAway {
		t.Fatalf("got %v code %d err %v, want close 1001", f.Header.OpCode, code, err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after forced Shutdown")
	}
}

func TestShutdownWithoutListen(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil {
		t.Errorf("Addr before Listen = %v, want nil", s.Addr())
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Listen(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Listen after Shutdown: %v", err)
	}
}

func TestListenTwice(t *testing.T) {
	s, addr := startServer(t, Config{})
	if got := s.Addr(); got == nil || got.String() != addr {
		t.Errorf("Addr = %v, want %s", got, addr)
	}
	if _, err := s.Listen(); !errors.Is(err, ErrAlreadyListening) {
		t.Errorf("second Listen: %v, want ErrAlreadyListening", err)
	}
}

func TestRequestEnd(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		// CRLF request followed by frame bytes.
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nXY", 27},
		// Bare LF line ends, as gobwas accepts.
		{"GET / HTTP/1.1\nHost: x\n\nXY", 24},
		// Incomplete request.
		{"GET / HTTP/1.1\r\nHost: x\r\n", -1},
		// No line at all.
		{"GET", -1},
	}
	for _, tc := range cases {
		if got := requestEnd([]byte(tc.in)); got != tc.want {
			t.Errorf("requestEnd(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestCloseDeliversBacklog has a client that is slow to read send messages,
// a close and more bytes: every echo queued before the close must still
// arrive, then the close reply, then EOF (no reset), even though the server
// had unread input and unsent output when it decided to close.
func TestCloseDeliversBacklog(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dialSmallRcvBuf(t, addr)
	if resp := c.roundTrip(t, upgradeRequest("")); !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
		t.Fatalf("handshake: %q", resp)
	}
	const n = 200
	var b []byte
	for i := range n {
		b = append(b, mf(ws.OpBinary, true, pattern(1000, i))...)
	}
	b = append(b, mf(ws.OpClose, true, closeBody(1000, ""))...)
	b = append(b, bytes.Repeat([]byte("junk"), 50000)...)
	go func() { c.Conn.SetWriteDeadline(time.Now().Add(ioTimeout)); c.Conn.Write(b) }()
	time.Sleep(200 * time.Millisecond) // let the server read it all and start closing
	for i := range n {
		f := c.readFrame(t)
		if f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, pattern(1000, i)) {
			t.Fatalf("message %d: op %v, %d bytes", i, f.Header.OpCode, len(f.Payload))
		}
	}
	f := c.readFrame(t)
	if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != 1000 {
		t.Fatalf("got %v code %d, want close 1000", f.Header.OpCode, code)
	}
	c.expectEOF(t)
}

// dialSmallRcvBuf connects with a 4 KiB receive buffer, so that the kernel
// absorbs little of what the server sends to a client that does not read.
func dialSmallRcvBuf(t *testing.T, addr string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{Conn: nc, br: bufio.NewReader(nc)}
}
