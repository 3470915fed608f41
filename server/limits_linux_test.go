//go:build linux

package server

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsbench/wsbench/internal/schedwatch"
)

// TestMaxConns: with MaxConns 3, a fourth connection is closed before any
// handshake response and counted; once one closes, there is room again.
func TestMaxConns(t *testing.T) {
	s, addr := startServer(t, Config{MaxConns: 3})
	var held []*rawConn
	for range 3 {
		held = append(held, dialRaw(t, addr))
	}
	c := dialTCP(t, addr)
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	var b [64]byte
	n, err := c.br.Read(b[:])
	if n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("4th connection: read %d bytes %q, err %v; want it closed with nothing sent", n, b[:n], err)
	}
	if !waitFor(2*time.Second, func() bool { return s.Stats().RefusedMaxConns == 1 }) {
		t.Fatalf("RefusedMaxConns = %d, want 1", s.Stats().RefusedMaxConns)
	}

	// Closing one makes room for another, once the handshakes are over: the
	// client reads its 101 before the server's handshake goroutine moves
	// the connection from inHandshake to open, and a busy machine can hold
	// that goroutine up while Open already reads 2.
	held[0].Close()
	if !waitFor(2*time.Second, func() bool { return s.Stats().Open == 2 && s.inHandshake.Load() == 0 }) {
		t.Fatalf("Open = %d, %d in handshake after a client left, want 2 and 0", s.Stats().Open, s.inHandshake.Load())
	}
	c2 := dialRaw(t, addr)
	c2.send(t, mf(ws.OpText, true, []byte("hi")))
	if f := c2.readFrame(t); f.Header.OpCode != ws.OpText || string(f.Payload) != "hi" {
		t.Fatalf("echo on the new connection: %v %q", f.Header.OpCode, f.Payload)
	}
	// The counters are updated beside the connection's work, not before it.
	waitFor(2*time.Second, func() bool { st := s.Stats(); return st.Upgraded == 4 && st.Accepted == 5 })
	st := s.Stats()
	if st.RefusedMaxConns != 1 || st.Accepted != 5 || st.Upgraded != 4 || st.HandshakeFailures != 0 {
		t.Errorf("stats: refused %d accepted %d upgraded %d handshake failures %d; want 1, 5, 4, 0",
			st.RefusedMaxConns, st.Accepted, st.Upgraded, st.HandshakeFailures)
	}
}

// TestIdleTimeout: with IdleTimeout 500ms, a client that sends nothing gets
// close 1001 after it, within 800ms more (plus four of the largest
// scheduling delays the test saw); one that pings every 50ms stays open (a
// busy machine would have to stall it for 450ms to make it idle).
func TestIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	s, addr := startServer(t, Config{IdleTimeout: idle})
	silent := dialRaw(t, addr)
	start := time.Now()
	stopWatch := schedwatch.Watch()
	busy := dialRaw(t, addr)

	type result struct {
		f       ws.Frame
		err     error
		elapsed time.Duration
	}
	got := make(chan result, 1)
	go func() {
		silent.SetReadDeadline(time.Now().Add(ioTimeout))
		f, err := ws.ReadFrame(silent.br)
		got <- result{f, err, time.Since(start)}
	}()

	// The busy client pings every 50ms for well over the timeout.
	for i := 0; time.Since(start) < 3*idle; i++ {
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], uint64(i))
		busy.send(t, mf(ws.OpPing, true, p[:]))
		if f := busy.readFrame(t); f.Header.OpCode != ws.OpPong || string(f.Payload) != string(p[:]) {
			t.Fatalf("busy client: got %v %q, want the pong to ping %d", f.Header.OpCode, f.Payload, i)
		}
		time.Sleep(idle / 10)
	}

	r := <-got
	if r.err != nil {
		t.Fatalf("silent client: %v", r.err)
	}
	if r.f.Header.OpCode != ws.OpClose || len(r.f.Payload) < 2 ||
		ws.StatusCode(binary.BigEndian.Uint16(r.f.Payload)) != ws.StatusGoingAway {
		t.Fatalf("silent client: got %v %q, want close 1001", r.f.Header.OpCode, r.f.Payload)
	}
	if most := idle + 800*time.Millisecond + 4*stopWatch().Max; r.elapsed < idle*3/4 || r.elapsed > most {
		t.Errorf("silent client closed after %v, want about %v (at most %v)", r.elapsed, idle, most)
	}
	// The closing handshake completes.
	silent.send(t, mf(ws.OpClose, true, closeBody(ws.StatusGoingAway, "")))
	silent.expectEOF(t)
	silent.Close()

	// The busy client is still served.
	busy.send(t, mf(ws.OpText, true, []byte("still here")))
	if f := busy.readFrame(t); f.Header.OpCode != ws.OpText || string(f.Payload) != "still here" {
		t.Fatalf("busy client: got %v %q, want the echo", f.Header.OpCode, f.Payload)
	}
	waitFor(2*time.Second, func() bool { return s.Stats().Open == 1 })
	st := s.Stats()
	if st.IdleCloses != 1 || st.CloseCodesSent[uint16(ws.StatusGoingAway)] != 1 || st.Open != 1 {
		t.Errorf("stats: idle closes %d, 1001 sent %d, open %d; want 1, 1, 1",
			st.IdleCloses, st.CloseCodesSent[uint16(ws.StatusGoingAway)], st.Open)
	}
}

// TestAllowedOrigins: with AllowedOrigins set, a listed Origin (in any case)
// upgrades, another gets 403 and is counted, and no Origin at all upgrades.
func TestAllowedOrigins(t *testing.T) {
	s, addr := startServer(t, Config{AllowedOrigins: []string{"https://ok.example", "http://localhost:3000"}})
	cases := []struct {
		name, header, status string
	}{
		{"allowed", "Origin: https://ok.example\r\n", "101"},
		{"allowed other case", "Origin: HTTPS://OK.Example\r\n", "101"},
		{"second allowed", "Origin: http://localhost:3000\r\n", "101"},
		{"other origin", "Origin: https://evil.example\r\n", "403"},
		{"prefix of allowed", "Origin: https://ok.exampl\r\n", "403"},
		{"no origin", "", "101"},
	}
	for _, tc := range cases {
		c := dialTCP(t, addr)
		resp := c.roundTrip(t, upgradeRequest(tc.header))
		if !strings.HasPrefix(resp, "HTTP/1.1 "+tc.status+" ") {
			t.Errorf("%s: response %q, want status %s", tc.name, resp, tc.status)
		}
	}
	if !waitFor(2*time.Second, func() bool { st := s.Stats(); return st.OriginRejected == 2 && st.Upgraded == 4 }) {
		st := s.Stats()
		t.Fatalf("OriginRejected %d, Upgraded %d; want 2, 4", st.OriginRejected, st.Upgraded)
	}
	if st := s.Stats(); st.HandshakeFailures != 0 {
		t.Errorf("HandshakeFailures = %d, want 0 (origin refusals are counted apart)", st.HandshakeFailures)
	}
}

// TestWarningsLoopback: a server listening on loopback (stats too) has
// nothing to warn about, and none before Listen.
func TestWarningsLoopback(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", StatsAddr: "127.0.0.1:0", IO: testIO})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	if w := s.Warnings(); w != nil {
		t.Errorf("Warnings before Listen = %q, want none", w)
	}
	if _, err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); w != nil {
		t.Errorf("Warnings on loopback = %q, want none", w)
	}
}

// TestHandshakeRequestTooLarge: an opening handshake request over 16 KiB
// is dropped without a response and counted as a failed handshake, before
// HandshakeTimeout: the server never buffers more of it.
func TestHandshakeRequestTooLarge(t *testing.T) {
	s, addr := startServer(t, Config{})
	c := dialTCP(t, addr)
	big := upgradeRequest("X-Padding: " + strings.Repeat("a", 20<<10) + "\r\n")
	start := time.Now()
	c.SetDeadline(time.Now().Add(ioTimeout))
	c.Write([]byte(big)) // may fail part way: the server stops reading
	var b [512]byte
	n, err := c.br.Read(b[:])
	if n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("read %d bytes %q, err %v; want the connection dropped without a response", n, b[:n], err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("dropped after %v, want at once (not at HandshakeTimeout)", d)
	}
	if !waitFor(2*time.Second, func() bool { return s.Stats().HandshakeFailures == 1 }) {
		t.Errorf("HandshakeFailures = %d, want 1", s.Stats().HandshakeFailures)
	}
	if st := s.Stats(); st.HandshakeTimeouts != 0 || st.Upgraded != 0 {
		t.Errorf("HandshakeTimeouts %d, Upgraded %d; want 0, 0", st.HandshakeTimeouts, st.Upgraded)
	}
}
