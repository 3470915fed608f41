//go:build linux

package driver

import (
	"github.com/wsbench/wsbench/internal/iomode"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
)

// benchWorker is a worker with one connection over a socketpair: the
// worker's end in c, the peer's end returned for the benchmark to play server.
func benchWorker(b testing.TB, io iomode.Mode, size int, binary bool) (*worker, *conn, int) {
	b.Helper()
	useRing := io == IOUring
	if useRing && uring.Probe() != nil {
		b.Skip("io_uring unavailable")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	r := &run{codec: newCodec(size, binary), op: ws.OpText, maxMessage: 1 << 20, closeTimeout: int64(closeTimeout)}
	if binary {
		r.op = ws.OpBinary
	}
	r.origin = time.Now()
	r.stopAt.Store(1 << 62)
	w, err := newWorker(r, metrics.NewRecorder().NewShard(), useRing)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.adopt(fds[0], 0, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		w.abort()
		w.release()
		unix.Close(fds[1])
	})
	return w, w.conns[0], fds[1]
}

// playServer flushes the worker's queued frame and plays the server: reads
// the masked frame at the peer end and writes back its unmasked echo, so the
// worker's next exchange finds it.
func playServer(tb testing.TB, w *worker, c *conn, peer int, in, out []byte) {
	if err := w.flushAll(); err != nil {
		tb.Fatal(err)
	}
	k, err := unix.Read(peer, in)
	if err != nil {
		tb.Fatal(err)
	}
	h, hn, err := wire.ParseHeader(in[:k])
	if err != nil || hn == 0 {
		tb.Fatalf("no frame: %v", err)
	}
	p := in[hn : hn+int(h.Length)]
	ws.Cipher(p, h.Mask, 0)
	h.Masked = false
	on := wire.PutHeader(out, h)
	on += copy(out[on:], p)
	if _, err := unix.Write(peer, out[:on]); err != nil {
		tb.Fatal(err)
	}
	w.ready = append(w.ready[:0], c)
}

// BenchmarkSendPath is one message out: frame built in the connection's
// queue, stamped, masked, and flushed to the socket (io_uring or write(2)).
func BenchmarkSendPath(b *testing.B) {
	for _, io := range []iomode.Mode{IOUring, IOSyscalls} {
		b.Run(string(io), func(b *testing.B) {
			w, c, peer := benchWorker(b, io, 64, false)
			sink := make([]byte, 1<<16)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				now := w.now()
				w.send(c, now, now)
				if err := w.flushAll(); err != nil {
					b.Fatal(err)
				}
				if n++; n%256 == 0 { // keep the socket from filling
					for {
						if k, _ := unix.Read(peer, sink); k <= 0 {
							break
						}
					}
				}
			}
			if c.state != stateOpen {
				b.Fatal("connection failed")
			}
		})
	}
}

// BenchmarkReceivePath is one echo in: read from the socket (io_uring or
// read(2)), frame parsed and checked, stamp decoded, echo compared with what
// was sent, round trip recorded into the histograms.
func BenchmarkReceivePath(b *testing.B) {
	for _, io := range []iomode.Mode{IOUring, IOSyscalls} {
		b.Run(string(io), func(b *testing.B) {
			w, c, peer := benchWorker(b, io, 64, false)
			w.run.open = true // no automatic next send: this measures the receive alone
			in := make([]byte, 256)
			out := make([]byte, 256)
			w.shard.Record(metrics.RTT, 0) // the shard's histograms are made on first use
			w.shard.Record(metrics.RTTUncorrected, 0)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				now := w.now()
				w.send(c, now, now)
				playServer(b, w, c, peer, in, out)
				b.StartTimer()
				if err := w.exchange(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if got, want := w.shard.Counts.Received, int64(b.N); got != want || c.state != stateOpen {
				b.Fatalf("received %d of %d", got, want)
			}
		})
	}
}

// BenchmarkRoundTrip is the closed model's whole cycle on one connection:
// the echo read, matched and recorded, and the next message sent, with the
// benchmark playing the server in between.
func BenchmarkRoundTrip(b *testing.B) {
	for _, io := range []iomode.Mode{IOUring, IOSyscalls} {
		b.Run(string(io), func(b *testing.B) {
			w, c, peer := benchWorker(b, io, 64, false)
			in := make([]byte, 256)
			out := make([]byte, 256)
			now := w.now()
			w.send(c, now, now)
			w.shard.Record(metrics.RTT, 0)
			w.shard.Record(metrics.RTTUncorrected, 0)
			b.ReportAllocs()
			for b.Loop() {
				playServer(b, w, c, peer, in, out)
				if err := w.exchange(); err != nil { // reads the echo, queues the next send
					b.Fatal(err)
				}
			}
			if got := w.shard.Counts.Received; got < int64(b.N) || c.state != stateOpen {
				b.Fatalf("received %d of %d", got, b.N)
			}
		})
	}
}

// TestRoundTripDoesNotAllocate guards the benchmarks' 0 allocs/op: a
// steady-state round trip (send, flush, read, match, record) allocates nothing.
func TestRoundTripDoesNotAllocate(t *testing.T) {
	for _, io := range []iomode.Mode{IOUring, IOSyscalls} {
		t.Run(string(io), func(t *testing.T) {
			w, c, peer := benchWorker(t, io, 64, false)
			in := make([]byte, 256)
			out := make([]byte, 256)
			now := w.now()
			w.send(c, now, now)
			step := func() {
				playServer(t, w, c, peer, in, out)
				if err := w.exchange(); err != nil {
					t.Fatal(err)
				}
			}
			step() // first use makes the histograms and grows the queues
			if n := testing.AllocsPerRun(1000, step); n != 0 {
				t.Errorf("%v allocations per round trip, want 0", n)
			}
			if w.shard.Counts.Received < 1000 {
				t.Errorf("received %d", w.shard.Counts.Received)
			}
		})
	}
}

// FuzzConsume feeds arbitrary bytes from the "server" to a connection: no
// input panics the client's frame reader, every connection it closes for a
// violation carries an error kind, and the message counts still balance.
func FuzzConsume(f *testing.F) {
	echo := func(op ws.OpCode, fin bool, p []byte) []byte {
		b := make([]byte, wire.MaxHeaderSize+len(p))
		n := wire.PutHeader(b, ws.Header{Fin: fin, OpCode: op, Length: int64(len(p))})
		return append(b[:n], p...)
	}
	f.Add(echo(ws.OpText, true, []byte("hello")))
	f.Add(echo(ws.OpPing, true, []byte("p")))
	f.Add(append(echo(ws.OpText, false, []byte("frag")), echo(ws.OpContinuation, true, []byte("ment"))...))
	f.Add(echo(ws.OpClose, true, []byte{3, 232}))
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0x8f, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		w, c, _ := benchWorker(t, IOSyscalls, 64, false)
		now := w.now()
		w.send(c, now, now) // one message outstanding, as in a real run
		w.consume(c, data, false, now)
		if c.state == stateClosed && w.shard.ErrorTotal() == 0 {
			t.Fatalf("closed without an error kind after %x", data)
		}
		w.settle(c, false)
		if cnt := w.shard.Counts; !cnt.Balanced() {
			t.Fatalf("counts %+v after %x", cnt, data)
		}
	})
}
