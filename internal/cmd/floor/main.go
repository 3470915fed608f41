//go:build linux

// Command floor is the cheapest echo client this machine can run: the kernel
// floor under wsbench's closed-model figure. It opens -c WebSocket
// connections, then each of -loops event loops keeps one 64-byte masked
// message in flight per connection, exactly as `wsbench run -c N -s 64` does,
// with the same batching (epoll for readiness, one io_uring_enter for the
// batch's reads and one for its sends) but none of the work that makes a
// measurement: no timestamps, no histograms, no frame parsing beyond counting
// bytes, no per-message state. It prints the round trips per second and the
// process's CPU per round trip over the window.
//
// With -r it is the open model's floor instead: -r messages a second in all,
// sent on -tick ticks round the connections, as `wsbench run -c N -r R` sends
// them, with the same ticking poller (a loop that sleeps a whole tick, then
// reads what is ready and sends what fell due in one io_uring_enter) and
// again nothing else. It prints the same line; the CPU per round trip then
// includes the wake-up every tick.
//
// Its figure is what any client pays, on this machine at this moment, for the
// TCP work of one round trip; wsbench's figure minus it is what wsbench adds.
// The VM this project runs on changes speed by up to 2x within minutes, so
// scripts/bench-echo.sh runs the two back to back against the same server.
//
//	go run ./internal/cmd/floor -addr 127.0.0.1:9100 -c 100 -d 10s
//	go run ./internal/cmd/floor -addr 127.0.0.1:9100 -c 100 -r 5000 -loops 1 -d 10s
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/uring"
)

const payload = 64

// frame is one masked binary frame with a 64-byte payload; every send is the
// same bytes. echo is the server's unmasked reply to it.
var frame, echo = func() ([]byte, []byte) {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x82, 0x80 | payload, key[0], key[1], key[2], key[3]}
	e := []byte{0x82, payload}
	for i := range payload {
		f = append(f, byte(i)^key[i%4])
		e = append(e, byte(i))
	}
	return f, e
}()

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "host:port of a WebSocket echo server on this machine")
	flag.StringVar(&path, "path", "/", "the request path of the opening handshakes")
	conns := flag.Int("c", 100, "connections")
	loops := flag.Int("loops", 2, "event loops")
	warm := flag.Duration("warmup", time.Second, "time before the window")
	dur := flag.Duration("d", 10*time.Second, "window")
	rate := flag.Float64("r", 0, "open model: messages per second in all (0: closed, one in flight per connection)")
	tick := flag.Duration("tick", time.Millisecond, "open model: the schedule tick")
	flag.Parse()
	r, err := run(*addr, *conns, *loops, *warm, *dur, *rate, *tick)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	fmt.Printf("floor  %d conns %d loops: %10.0f rt/s  client %5.2f µs/rt (%.2f cores)  %.1f round trips per wait\n",
		*conns, *loops, r.rate(), r.cpuPerRound(), r.cpu.Seconds()/r.wall.Seconds(), float64(r.rounds)/float64(r.waits))
}

type result struct {
	rounds, waits int64
	cpu, wall     time.Duration
}

func (r result) rate() float64 { return float64(r.rounds) / r.wall.Seconds() }

func (r result) cpuPerRound() float64 { return float64(r.cpu.Nanoseconds()) / 1e3 / float64(r.rounds) }

// path is the request path of the opening handshakes (-path).
var path = "/"

func dial(addr string) (int, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return -1, err
	}
	c.(*net.TCPConn).SetNoDelay(true)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr)
	br := bufio.NewReader(c)
	for first := true; ; first = false {
		line, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return -1, fmt.Errorf("handshake: %w", err)
		}
		if first && (len(line) < 12 || line[9:12] != "101") {
			c.Close()
			return -1, fmt.Errorf("handshake: %q", line)
		}
		if line == "\r\n" {
			break
		}
	}
	if br.Buffered() > 0 {
		c.Close()
		return -1, errors.New("handshake: server sent data before any message")
	}
	return netpoll.TakeFD(c)
}

// loop owns some connections: one epoll set, one ring.
type loop struct {
	fds   []int
	ring  *uring.Ring
	poll  *netpoll.Poller
	got   map[int]int // bytes of the current echo received, per fd
	bufs  [][]byte
	round atomic.Int64 // round trips completed
	waits atomic.Int64 // epoll waits
}

// run measures; rate > 0 is the open model, on tick ticks.
func run(addr string, conns, loops int, warm, dur time.Duration, rate float64, tick time.Duration) (result, error) {
	ls := make([]*loop, loops)
	defer func() {
		for _, l := range ls {
			if l == nil {
				continue
			}
			for _, fd := range l.fds {
				unix.Close(fd)
			}
			l.poll.Close()
			l.ring.Close()
		}
	}()
	for i := range ls {
		r, err := uring.New(1024)
		if err != nil {
			return result{}, err
		}
		newPoller := netpoll.New
		if rate > 0 {
			newPoller = netpoll.NewTicking
		}
		p, err := newPoller(maxReady)
		if err != nil {
			r.Close()
			return result{}, err
		}
		ls[i] = &loop{ring: r, poll: p, got: map[int]int{}}
		for range 1024 {
			ls[i].bufs = append(ls[i].bufs, make([]byte, 4096))
		}
	}
	for i := range conns {
		fd, err := dial(addr)
		if err != nil {
			return result{}, fmt.Errorf("connection %d: %w", i, err)
		}
		l := ls[i%loops]
		l.fds = append(l.fds, fd)
		l.got[fd] = 0
		if err := l.poll.Add(fd, unix.EPOLLIN); err != nil {
			return result{}, err
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make([]error, loops)
	for i, l := range ls {
		if rate > 0 {
			wg.Go(func() { errs[i] = l.runOpen(&stop, rate/float64(loops), tick) })
		} else {
			wg.Go(func() { errs[i] = l.run(&stop) })
		}
	}
	count := func() (n, w int64) {
		for _, l := range ls {
			n += l.round.Load()
			w += l.waits.Load()
		}
		return n, w
	}
	time.Sleep(warm)
	var u0, u1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &u0)
	n0, w0 := count()
	t0 := time.Now()
	time.Sleep(dur)
	unix.Getrusage(unix.RUSAGE_SELF, &u1)
	n1, w1 := count()
	wall := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return result{}, err
	}
	cpu := time.Duration(u1.Utime.Nano() + u1.Stime.Nano() - u0.Utime.Nano() - u0.Stime.Nano())
	return result{rounds: n1 - n0, waits: w1 - w0, cpu: cpu, wall: wall}, nil
}

// run keeps one message in flight per connection until stop is set: wait
// for readable sockets, read them all in one io_uring_enter, then send the
// next message on each connection whose echo is complete in another.
func (l *loop) run(stop *atomic.Bool) error {
	for _, fd := range l.fds {
		l.ring.Send(fd, frame, uint64(fd))
	}
	if _, err := l.ring.Submit(); err != nil {
		return err
	}
	for !stop.Load() {
		evs, err := l.poll.WaitFor(100 * time.Millisecond)
		if err != nil {
			return err
		}
		l.waits.Add(1)
		for i, ev := range evs {
			l.ring.Recv(ev.FD, l.bufs[i], uint64(ev.FD)<<32|uint64(i))
		}
		cqes, err := l.ring.Submit()
		if err != nil {
			return err
		}
		done := 0
		for _, c := range cqes {
			fd, i := int(c.UserData>>32), int(uint32(c.UserData))
			if c.Res == -int32(unix.EAGAIN) {
				continue
			}
			if c.Res <= 0 {
				return fmt.Errorf("fd %d: read: %v (0: the server closed)", fd, c.Err())
			}
			g, err := check(l.got[fd], l.bufs[i][:c.Res])
			if err != nil {
				return fmt.Errorf("fd %d: %w", fd, err)
			}
			for ; g >= len(echo); g -= len(echo) {
				l.ring.Send(fd, frame, uint64(fd))
				done++
			}
			l.got[fd] = g
		}
		if done > 0 {
			if _, err := l.ring.Submit(); err != nil {
				return err
			}
			l.round.Add(int64(done))
		}
	}
	return nil
}

// maxReady bounds the sockets one wait reports: with a tick's sends they fit
// the ring (1,024 entries).
const maxReady = 512

// sendTag marks a send's completion in a mixed batch.
const sendTag = 1 << 63

// runOpen sends rate messages a second round its connections until stop is
// set: each tick it sleeps (the ticking poller: sockets do not wake it), then
// hands the kernel, in one io_uring_enter, one receive per ready socket and
// the sends that fell due since the last tick (as many as fit, the rest
// wait for the next).
func (l *loop) runOpen(stop *atomic.Bool, rate float64, tick time.Duration) error {
	start := time.Now()
	var sent int64
	next := 0
	var evs []netpoll.Event
	for !stop.Load() {
		for i, ev := range evs {
			l.ring.Recv(ev.FD, l.bufs[i], uint64(ev.FD)<<32|uint64(i))
		}
		for due := int64(time.Since(start).Seconds() * rate); sent < due; sent++ {
			if !l.ring.Send(l.fds[next], frame, sendTag) {
				break
			}
			next = (next + 1) % len(l.fds)
		}
		cqes, err := l.ring.Submit()
		if err != nil {
			return err
		}
		done := 0
		for _, c := range cqes {
			if c.UserData&sendTag != 0 {
				if c.Res != int32(len(frame)) {
					return fmt.Errorf("send: %d bytes of %d: %v", max(c.Res, 0), len(frame), c.Err())
				}
				continue
			}
			fd, i := int(c.UserData>>32), int(uint32(c.UserData))
			if c.Res == -int32(unix.EAGAIN) {
				continue
			}
			if c.Res <= 0 {
				return fmt.Errorf("fd %d: read: %v (0: the server closed)", fd, c.Err())
			}
			g, err := check(l.got[fd], l.bufs[i][:c.Res])
			if err != nil {
				return fmt.Errorf("fd %d: %w", fd, err)
			}
			done += g / len(echo)
			l.got[fd] = g % len(echo)
		}
		l.round.Add(int64(done))
		if evs, err = l.poll.WaitFor(tick - time.Since(start)%tick); err != nil {
			return err
		}
		l.waits.Add(1)
	}
	return nil
}

// check compares b, read at offset got of a stream of echoes, with what the
// server must send, and returns the new offset (past whole echoes too).
func check(got int, b []byte) (int, error) {
	for len(b) > 0 {
		off := got % len(echo)
		n := min(len(b), len(echo)-off)
		if !bytes.Equal(b[:n], echo[off:off+n]) {
			return got, fmt.Errorf("unexpected bytes from the server at offset %d of an echo: % x", off, b[:n])
		}
		got += n
		b = b[n:]
	}
	return got, nil
}
