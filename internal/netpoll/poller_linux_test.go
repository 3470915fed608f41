//go:build linux

package netpoll

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// takenConn connects over loopback and returns the client end as a taken fd,
// which the caller closes, and the server end, closed when the test ends.
func takenConn(t *testing.T) (fd int, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { peer.Close() })
	if fd, err = TakeFD(c); err != nil {
		t.Fatal(err)
	}
	return fd, peer
}

func TestPollerReadinessAndTakeFD(t *testing.T) {
	fd, peer := takenConn(t)
	defer unix.Close(fd)
	p, err := New(8)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Add(fd, In); err != nil {
		t.Fatal(err)
	}
	// Nothing to read yet: a zero timeout reports nothing.
	if evs, err := p.Wait(0); err != nil || len(evs) != 0 {
		t.Fatalf("idle wait = %v, %v", evs, err)
	}
	peer.Write([]byte("ping"))
	evs, err := p.Wait(2000)
	if err != nil || len(evs) != 1 || evs[0].FD != fd || evs[0].Events&In == 0 {
		t.Fatalf("wait = %+v, %v", evs, err)
	}
	var b [16]byte
	n, err := unix.Read(fd, b[:])
	if err != nil || string(b[:n]) != "ping" {
		t.Fatalf("read %q %v", b[:n], err)
	}
	// The taken fd is non-blocking: an empty read says EAGAIN, not a hang.
	if _, err := unix.Read(fd, b[:]); err != unix.EAGAIN {
		t.Fatalf("second read err = %v, want EAGAIN", err)
	}
}

// The taken fd is its socket's only descriptor, so closing it, with no
// EPOLL_CTL_DEL first, ends its registration: the server's close path relies
// on it. Were another descriptor still open, the socket would stay in the set
// and the peer's data would show as an event for the closed number.
func TestTakenFDLeavesEpollOnClose(t *testing.T) {
	fd, peer := takenConn(t)
	p, err := New(8)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Add(fd, In); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	peer.Write([]byte("after close"))
	if evs, err := p.Wait(200); err != nil || len(evs) != 0 {
		t.Fatalf("wait after close = %+v, %v: the closed socket is still in the epoll set", evs, err)
	}
}

func TestPollerWake(t *testing.T) {
	p, err := New(4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan error, 1)
	go func() { _, err := p.Wait(10_000); done <- err }()
	time.Sleep(20 * time.Millisecond)
	p.Wake()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wake did not end Wait")
	}
}

// TestWaitForSubMillisecond checks that a sub-millisecond timeout is honoured
// (timerfd, not Go's millisecond-rounded idle timers): waits of 200 µs never
// end sooner, and some end well under the millisecond that rounding up
// would cost each one. A busy machine may wake many of them late, so the
// test waits until one is on time (a rounded timer never is), up to 2000
// waits.
func TestWaitForSubMillisecond(t *testing.T) {
	const d = 200 * time.Microsecond
	p, err := New(4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fastest := time.Hour
	var n int
	start := time.Now()
	for n = 1; n <= 2000 && fastest >= 900*time.Microsecond; n++ {
		t0 := time.Now()
		if _, err := p.WaitFor(d); err != nil {
			t.Fatal(err)
		}
		fastest = min(fastest, time.Since(t0))
	}
	if fastest < d {
		t.Errorf("a WaitFor(%v) returned after %v", d, fastest)
	}
	if fastest >= 900*time.Microsecond {
		t.Errorf("%d × WaitFor(%v) in %v, the fastest %v: want some well under the 1ms of millisecond rounding", n-1, d, time.Since(start), fastest)
	}
}

// TestWaitHoldsNoP checks that a goroutine waiting in the poller leaves its P
// free: with GOMAXPROCS=1, another goroutine runs while Wait waits.
func TestWaitHoldsNoP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p, err := New(4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan struct{})
	go func() { p.WaitFor(2 * time.Second); close(done) }()
	ran := make(chan time.Duration, 1)
	start := time.Now()
	go func() { ran <- time.Since(start) }()
	select {
	case d := <-ran:
		if d > 500*time.Millisecond {
			t.Errorf("other goroutine waited %v for the only P", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("other goroutine never ran")
	}
	p.Wake()
	<-done
}

// TestTickingSleepsThroughReadiness: a ticking Poller's WaitFor sleeps its
// whole timeout although a socket is ready the whole time, then reports the
// socket; Wake cuts the sleep short; WaitFor(0) only looks.
func TestTickingSleepsThroughReadiness(t *testing.T) {
	p, err := NewTicking(8)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if err := p.Add(fds[0], In); err != nil {
		t.Fatal(err)
	}
	if evs, err := p.WaitFor(0); err != nil || len(evs) != 0 {
		t.Fatalf("nothing written yet: %v %v", evs, err)
	}
	unix.Write(fds[1], []byte("x"))
	if evs, err := p.WaitFor(0); err != nil || len(evs) != 1 || evs[0].FD != fds[0] {
		t.Fatalf("WaitFor(0) with data waiting: %v %v", evs, err)
	}
	start := time.Now()
	evs, err := p.WaitFor(150 * time.Millisecond)
	if el := time.Since(start); el < 140*time.Millisecond {
		t.Errorf("returned after %v with a socket ready: a ticking poller sleeps its whole timeout", el)
	}
	if err != nil || len(evs) != 1 || evs[0].FD != fds[0] {
		t.Fatalf("after the tick: %v %v", evs, err)
	}
	time.AfterFunc(50*time.Millisecond, func() { p.Wake() })
	start = time.Now()
	if _, err := p.WaitFor(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Wake did not cut the sleep short (%v)", el)
	}
}

// TestTimerAndWakeEdges: timer expiries and wake-ups are reported one by
// one though nothing reads their counters back, by both kinds of Poller: a
// wait after one sleeps whole, and each new one ends a wait.
func TestTimerAndWakeEdges(t *testing.T) {
	for _, ticking := range []bool{false, true} {
		p, err := newPoller(8, ticking)
		if err != nil {
			t.Fatal(err)
		}
		const d = 30 * time.Millisecond
		for i := 0; i < 5; i++ {
			t0 := time.Now()
			if _, err := p.WaitFor(d); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(t0); el < d-time.Millisecond || el > 2*time.Second {
				t.Errorf("ticking=%v: sleep %d of %v took %v", ticking, i, d, el)
			}
		}
		for i := 0; i < 3; i++ {
			p.Wake()
			t0 := time.Now()
			if _, err := p.WaitFor(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(t0); el > 5*time.Second {
				t.Fatalf("ticking=%v: wake %d not seen (%v)", ticking, i, el)
			}
			t0 = time.Now()
			if _, err := p.WaitFor(d); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(t0); el < d-time.Millisecond {
				t.Errorf("ticking=%v: after wake %d, a %v sleep ended after %v: the wake was reported twice", ticking, i, d, el)
			}
		}
		p.Close()
	}
}

// TestNoLostWakeups races timer expiries, Wakes and socket data against the
// moment a wait parks, many times over. A wake-up lost there would leave a
// wait asleep: each must end well within its bound.
func TestNoLostWakeups(t *testing.T) {
	const rounds = 3000
	bounded := func(t *testing.T, name string, f func(i int) error) {
		t.Helper()
		done := make(chan error, 1)
		progress := make(chan int, 1)
		go func() {
			for i := range rounds {
				if err := f(i); err != nil {
					done <- err
					return
				}
				select {
				case progress <- i:
				default:
				}
			}
			done <- nil
		}()
		last := -1
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return
			case last = <-progress:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: a wait never ended (round %d of %d was the last seen)", name, last+1, rounds)
			}
		}
	}
	for _, ticking := range []bool{false, true} {
		p, err := newPoller(8, ticking)
		if err != nil {
			t.Fatal(err)
		}
		// Timers that expire about when the wait parks.
		bounded(t, fmt.Sprintf("ticking=%v timers", ticking), func(i int) error {
			_, err := p.WaitFor(time.Duration(1 + i%20*1000))
			return err
		})
		// Wakes from another goroutine, just before or just after the park.
		bounded(t, fmt.Sprintf("ticking=%v wakes", ticking), func(i int) error {
			go func() {
				for range i % 50 {
					runtime.Gosched()
				}
				p.Wake()
			}()
			_, err := p.WaitFor(time.Minute)
			return err
		})
		if !ticking {
			// Socket data, just before or just after the park.
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Add(fds[0], In); err != nil {
				t.Fatal(err)
			}
			var b [1]byte
			bounded(t, "socket data", func(i int) error {
				go func() {
					for range i % 50 {
						runtime.Gosched()
					}
					unix.Write(fds[1], []byte{1})
				}()
				for {
					evs, err := p.WaitFor(-1)
					if err != nil {
						return err
					}
					if len(evs) > 0 {
						_, err := Read(fds[0], b[:])
						return err
					}
				}
			})
			unix.Close(fds[0])
			unix.Close(fds[1])
		}
		p.Close()
	}
}
