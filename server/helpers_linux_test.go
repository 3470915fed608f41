//go:build linux

package server

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/internal/wire"
)

// testIO is the I/O mode of the servers the tests start (Config.IO, where a
// test leaves it empty). TestMain runs the whole suite once per mode.
var testIO = IOSyscalls

// TestMain runs every test (and benchmark) once with io_uring, unless the
// kernel refuses it, and once with one system call per operation. The
// environment variable WSBENCH_SERVER_TEST_IO=io_uring (or syscalls) picks
// one mode. Listing tests (-test.list) and fuzzing (-test.fuzz, in the
// coordinator and in its workers) run once, quietly: the fuzz targets use no
// sockets, and a second m.Run would list every name twice or fuzz again.
func TestMain(m *testing.M) {
	flag.Parse()
	if flagSet("test.list") || flagSet("test.fuzz") || flagSet("test.fuzzworker") {
		os.Exit(m.Run())
	}
	modes := []string{IOUring, IOSyscalls}
	if v := os.Getenv("WSBENCH_SERVER_TEST_IO"); v != "" {
		modes = strings.Split(v, ",")
	}
	code := 0
	for _, mode := range modes {
		if mode == IOUring {
			if err := uring.Probe(); err != nil {
				fmt.Printf("server tests: not testing I/O mode %s: %v\n", mode, err)
				continue
			}
		}
		fmt.Printf("server tests: I/O mode %s\n", mode)
		testIO = mode
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	os.Exit(code)
}

// flagSet reports whether the testing flag name has a value other than its
// default ("" or false).
func flagSet(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != f.DefValue
}

// ioTimeout bounds every blocking read or write a test does.
const ioTimeout = 5 * time.Second

// rfcKey is the example Sec-WebSocket-Key of RFC 6455 section 1.3.
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// startServer starts a server on a free loopback port, in I/O mode testIO
// unless cfg says otherwise, and shuts it down when the test ends.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.IO == "" {
		cfg.IO = testIO
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IO != IOAuto && s.Stats().IO != cfg.IO {
		t.Fatalf("Stats().IO = %q, want %q", s.Stats().IO, cfg.IO)
	}
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, addr.String()
}

// rawConn is a client TCP connection driven by hand.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

// dialTCP opens a plain TCP connection, closed when the test ends.
func dialTCP(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

// upgradeRequest is a minimal valid opening handshake with the RFC key.
func upgradeRequest(extraHeaders string) string {
	return "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + rfcKey + "\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n"
}

// roundTrip writes an HTTP request and returns the response head (status
// line and headers, up to the empty line).
func (c *rawConn) roundTrip(t testing.TB, req string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var head strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response after %q: %v", head.String(), err)
		}
		head.WriteString(line)
		if line == "\r\n" {
			return head.String()
		}
	}
}

// dialRaw opens a TCP connection and completes the opening handshake by hand.
func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c := dialTCP(t, addr)
	if resp := c.roundTrip(t, upgradeRequest("")); !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
		t.Fatalf("handshake response: %q", resp)
	}
	return c
}

// send writes bytes under a deadline.
func (c *rawConn) send(t testing.TB, b []byte) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// readFrame reads one server frame under a deadline.
func (c *rawConn) readFrame(t testing.TB) ws.Frame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	f, err := ws.ReadFrame(c.br)
	if err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	if f.Header.Masked {
		t.Fatalf("server frame is masked: %+v", f.Header)
	}
	return f
}

// expectEOF checks that the server ends the connection cleanly (FIN, not
// RST) with nothing more to read.
// echoesThenClose sends text messages m0 … m<n-1> and a close 1000 in one
// write, and expects the n echoes in order, then the close reply 1000.
func (c *rawConn) echoesThenClose(t testing.TB, n int) {
	t.Helper()
	var b []byte
	for i := range n {
		b = append(b, mf(ws.OpText, true, fmt.Appendf(nil, "m%d", i))...)
	}
	c.send(t, append(b, mf(ws.OpClose, true, closeBody(1000, ""))...))
	for i := range n {
		if f := c.readFrame(t); f.Header.OpCode != ws.OpText || string(f.Payload) != fmt.Sprintf("m%d", i) {
			t.Fatalf("frame %d: %v %q, want echo m%d", i, f.Header.OpCode, f.Payload, i)
		}
	}
	f := c.readFrame(t)
	if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != 1000 {
		t.Fatalf("got %v code %d, want close 1000 after the echoes", f.Header.OpCode, code)
	}
}

func (c *rawConn) expectEOF(t testing.TB) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	var b [64]byte
	n, err := c.br.Read(b[:])
	if n != 0 || err != io.EOF {
		t.Fatalf("after close: read %d bytes %x, err %v; want EOF", n, b[:n], err)
	}
}

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame builds a client frame: masked unless h says otherwise (Masked must
// be set explicitly when h is given). h.Length is set from p.
func frame(h ws.Header, p []byte) []byte {
	h.Length = int64(len(p))
	if h.Masked {
		h.Mask = testMask
	}
	var hb [wire.MaxHeaderSize]byte
	n := wire.PutHeader(hb[:], h)
	out := append(hb[:n:n], p...)
	if h.Masked {
		ws.Cipher(out[n:], h.Mask, 0)
	}
	return out
}

// mf builds a masked client frame.
func mf(op ws.OpCode, fin bool, p []byte) []byte {
	return frame(ws.Header{Fin: fin, OpCode: op, Masked: true}, p)
}

// closeBody is a close frame body with code and reason.
func closeBody(code ws.StatusCode, reason string) []byte {
	b := make([]byte, 2+len(reason))
	return wire.CloseBody(b, code, reason)
}

// wsClient is a client connection made with gobwas's ws.Dial.
type wsClient struct {
	net.Conn
	r io.Reader // buffered handshake leftovers, then the conn
}

func (c *wsClient) Read(p []byte) (int, error) { return c.r.Read(p) }

// dialWS dials with gobwas ws.Dial; the connection is closed when the test ends.
func dialWS(t testing.TB, addr string) *wsClient {
	t.Helper()
	c, err := dialWSErr(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialWSErr(addr string) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		return nil, err
	}
	c := &wsClient{Conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	return c, nil
}

// waitFor polls cond every few milliseconds for at most d and reports
// whether it became true.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settledGoroutines waits (bounded) for the goroutine count to drop to at
// most limit and returns the last count seen.
func settledGoroutines(limit int, d time.Duration) int {
	n := runtime.NumGoroutine()
	waitFor(d, func() bool {
		n = runtime.NumGoroutine()
		return n <= limit
	})
	return n
}
