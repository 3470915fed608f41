//go:build linux

package server

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/internal/wire"
)

// TestIOMode: Config.IO picks how the loops do their I/O and Stats.IO says
// which: auto is io_uring where the kernel allows it; io_uring is an error
// where it does not.
func TestIOMode(t *testing.T) {
	ringOK := uring.Probe() == nil
	auto := IOSyscalls
	if ringOK {
		auto = IOUring
	}
	for _, tc := range []struct{ io, want string }{
		{"", auto}, {IOAuto, auto}, {IOSyscalls, IOSyscalls}, {IOUring, IOUring},
	} {
		t.Run("io="+tc.io, func(t *testing.T) {
			s, err := New(Config{Addr: "127.0.0.1:0", IO: tc.io})
			if tc.io == IOUring && !ringOK {
				if err == nil || !strings.Contains(err.Error(), "Config.IO:") || !errors.Is(err, uring.ErrUnsupported) {
					t.Fatalf("New without io_uring: %v, want a Config.IO error wrapping uring.ErrUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			if got := s.Stats().IO; got != tc.want {
				t.Errorf("Stats().IO = %q, want %q", got, tc.want)
			}
			want := tc.io
			if want == "" {
				want = IOAuto
			}
			if got := s.Config().IO; got != want {
				t.Errorf("Config().IO = %q, want %q", got, want)
			}
		})
	}
}

// TestEchoDoesNotAllocate: in steady state an echoed message allocates
// nothing, with either I/O mode: read buffers are the loop's, reply buffers
// come from its pool and go back to it. The loop is driven by hand over a
// socketpair. With permessage-deflate negotiated the same holds for a
// compressed message once the loop's compressor and decompressor exist.
func TestEchoDoesNotAllocate(t *testing.T) {
	payload := pattern(64, 7)
	cases := []struct {
		name    string
		deflate bool   // the connection negotiated permessage-deflate
		in      []byte // what the client sends
	}{
		// The plain echo path.
		{"plain", false, mf(ws.OpBinary, true, payload)},
		// An uncompressed message on a deflate connection.
		{"deflate-uncompressed", true, mf(ws.OpBinary, true, payload)},
		// A compressed message: inflated, checked, deflated.
		{"deflate-compressed", true, compressedFrame(t, ws.OpBinary, payload)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { echoAllocs(t, tc.deflate, tc.in, payload) })
	}
}

// echoAllocs is TestEchoDoesNotAllocate for one connection sending in, whose
// echo carries payload.
func echoAllocs(t *testing.T, deflate bool, in, payload []byte) {
	s, err := New(Config{Loops: 1, IO: testIO})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	l := s.loops[0]
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := fds[1]
	t.Cleanup(func() { unix.Close(peer) })
	l.register(handoff{fd: fds[0], deflate: deflate})
	c := l.conns[fds[0]]
	if c == nil {
		t.Fatal("connection not registered")
	}
	t.Cleanup(func() { l.closeConn(c, false) })

	got := make([]byte, 4096)
	evs := []netpoll.Event{{FD: fds[0], Events: netpoll.In}}
	step := func() {
		if _, err := unix.Write(peer, in); err != nil {
			t.Fatal(err)
		}
		if err := l.serve(evs); err != nil {
			t.Fatal(err)
		}
		if l.ring != nil {
			if len(l.dirty) != 1 {
				t.Fatalf("%d connections queued to send, want 1", len(l.dirty))
			}
			if err := l.flushAll(); err != nil {
				t.Fatal(err)
			}
		}
		n, err := unix.Read(peer, got)
		if err != nil {
			t.Fatalf("peer read: %v", err)
		}
		h, hn, err := wire.ParseHeader(got[:n])
		if err != nil || hn == 0 || hn+int(h.Length) != n || h.OpCode != ws.OpBinary {
			t.Fatalf("peer read %d bytes %x: not one binary frame", n, got[:n])
		}
		if compressed := h.Rsv != 0; compressed != (in[0]&0x40 != 0) {
			t.Fatalf("echo compressed %v, want as the message came", compressed)
		}
		if h.Rsv == 0 && !bytes.Equal(got[hn:n], payload) {
			t.Fatalf("echo %x, want %x", got[hn:n], payload)
		}
		if c.pending != nil || c.carry != nil {
			t.Fatalf("connection holds buffers between messages: pending %d, carry %d", cap(c.pending), cap(c.carry))
		}
	}
	step()
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per echoed message, want 0", n)
	}
	if in, out := l.msgsIn.Load(), l.msgsOut.Load(); in < 1000 || out != in {
		t.Errorf("messages in %d, out %d", in, out)
	}
}

// TestEchoManyPartialFrames: many connections each hold the start of a frame
// larger than a read slot of a busy pass, then send the rest at once. With
// io_uring the loop's read buffer is cut into small slots, so the rest is
// read into a buffer of the frame's own size instead.
func TestEchoManyPartialFrames(t *testing.T) {
	const conns, size, head = 100, 20000, 100
	_, addr := startServer(t, Config{Loops: 1})
	cs := make([]*rawConn, conns)
	frames := make([][]byte, conns)
	for i := range cs {
		cs[i] = dialRaw(t, addr)
		frames[i] = mf(ws.OpBinary, true, pattern(size, i))
		cs[i].send(t, frames[i][:head])
	}
	time.Sleep(50 * time.Millisecond) // let the server read every head
	for i, c := range cs {
		c.send(t, frames[i][head:])
	}
	for i, c := range cs {
		f := c.readFrame(t)
		if f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, pattern(size, i)) {
			t.Fatalf("conn %d: op %v, %d bytes; want binary %d bytes", i, f.Header.OpCode, len(f.Payload), size)
		}
	}
}

// TestBackpressure: a client that reads nothing for a while makes the kernel
// refuse part of the replies; the server keeps the rest, in order, resumes
// on writability, and every echo arrives once the client reads. The cap on
// pending bytes is set high enough not to close it.
func TestBackpressure(t *testing.T) {
	const frames, size = 768, 16 << 10 // 12 MiB: more than socket buffers hold (4 MiB by default)
	_, addr := startServer(t, Config{MaxPendingWrite: 64 << 20})
	c := dialSmallRcvBuf(t, addr)
	if resp := c.roundTrip(t, upgradeRequest("")); !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
		t.Fatalf("handshake: %q", resp)
	}
	var b []byte
	payloads := make([][]byte, frames)
	for i := range frames {
		payloads[i] = pattern(size, i)
		b = append(b, mf(ws.OpBinary, true, payloads[i])...)
	}
	werr := make(chan error, 1)
	go func() {
		c.Conn.SetWriteDeadline(time.Now().Add(2 * ioTimeout))
		_, err := c.Conn.Write(b)
		werr <- err
	}()
	time.Sleep(200 * time.Millisecond) // the server reads and queues meanwhile
	for i := range frames {
		f := c.readFrame(t)
		if f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, payloads[i]) {
			t.Fatalf("message %d: op %v, %d bytes; want binary %d bytes", i, f.Header.OpCode, len(f.Payload), size)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}
