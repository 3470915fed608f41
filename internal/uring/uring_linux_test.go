//go:build linux

package uring

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func newRing(t *testing.T, entries uint32) *Ring {
	t.Helper()
	r, err := New(entries)
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func socketpair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestNopsCompleteInOrder(t *testing.T) {
	r := newRing(t, 8)
	for round := 0; round < 3; round++ { // the ring wraps
		for i := 0; i < 8; i++ {
			if !r.Nop(uint64(round*100 + i)) {
				t.Fatalf("Nop %d refused with %d queued", i, i)
			}
		}
		if r.Nop(999) {
			t.Fatal("a ninth operation fit in an 8-entry ring")
		}
		cqes, err := r.Submit()
		if err != nil {
			t.Fatal(err)
		}
		if len(cqes) != 8 {
			t.Fatalf("got %d completions, want 8", len(cqes))
		}
		for i, c := range cqes {
			if c.UserData != uint64(round*100+i) || c.Res != 0 {
				t.Fatalf("completion %d = %+v", i, c)
			}
		}
	}
	if cqes, err := r.Submit(); err != nil || len(cqes) != 0 {
		t.Fatalf("empty Submit = %v, %v", cqes, err)
	}
}

func TestSendRecvBatch(t *testing.T) {
	r := newRing(t, 16)
	type pair struct{ a, b int }
	pairs := make([]pair, 4)
	for i := range pairs {
		pairs[i].a, pairs[i].b = socketpair(t)
	}
	// One batch of sends over four sockets.
	for i, p := range pairs {
		r.Send(p.a, bytes.Repeat([]byte{byte('a' + i)}, 10+i), uint64(i))
	}
	cqes, err := r.Submit()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cqes {
		if c.UserData != uint64(i) || c.Res != int32(10+i) {
			t.Fatalf("send %d: %+v", i, c)
		}
	}
	// One batch of receives, plus one on a socket with nothing to read.
	bufs := make([][]byte, len(pairs))
	for i, p := range pairs {
		bufs[i] = make([]byte, 64)
		r.Recv(p.b, bufs[i], uint64(i))
	}
	empty := make([]byte, 64)
	r.Recv(pairs[0].a, empty, 99)
	cqes, err = r.Submit()
	if err != nil {
		t.Fatal(err)
	}
	if len(cqes) != 5 {
		t.Fatalf("got %d completions, want 5", len(cqes))
	}
	for _, c := range cqes {
		if c.UserData == 99 {
			if !errors.Is(c.Err(), unix.EAGAIN) {
				t.Fatalf("recv on an empty socket: %+v, want EAGAIN at once", c)
			}
			continue
		}
		i := int(c.UserData)
		want := bytes.Repeat([]byte{byte('a' + i)}, 10+i)
		if c.Err() != nil || !bytes.Equal(bufs[i][:c.Res], want) {
			t.Fatalf("recv %d: %+v %q", i, c, bufs[i][:max(c.Res, 0)])
		}
	}
}

func TestSendToClosedPeerFails(t *testing.T) {
	r := newRing(t, 4)
	a, b := socketpair(t)
	unix.Close(b)
	r.Send(a, []byte("x"), 1)
	cqes, err := r.Submit()
	if err != nil {
		t.Fatal(err)
	}
	if len(cqes) != 1 || !errors.Is(cqes[0].Err(), unix.EPIPE) {
		t.Fatalf("send to a closed peer: %+v, want EPIPE (and no SIGPIPE)", cqes)
	}
}

func TestSendFillsSocketThenEAGAIN(t *testing.T) {
	r := newRing(t, 4)
	a, _ := socketpair(t)
	big := make([]byte, 1<<20)
	total := 0
	for i := 0; i < 64; i++ {
		r.Send(a, big, 0)
		cqes, err := r.Submit()
		if err != nil {
			t.Fatal(err)
		}
		if errors.Is(cqes[0].Err(), unix.EAGAIN) {
			if total == 0 {
				t.Fatal("EAGAIN before anything was sent")
			}
			return
		}
		if cqes[0].Res <= 0 {
			t.Fatalf("send: %+v", cqes[0])
		}
		total += int(cqes[0].Res)
	}
	t.Fatalf("sent %d bytes to a peer that never reads without EAGAIN", total)
}

func BenchmarkSubmitNop32(b *testing.B) {
	r, err := New(32)
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < 32; i++ {
			r.Nop(uint64(i))
		}
		if _, err := r.Submit(); err != nil {
			b.Fatal(err)
		}
	}
}
