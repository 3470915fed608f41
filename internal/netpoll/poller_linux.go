//go:build linux

package netpoll

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poller is one epoll instance plus an eventfd that wakes a waiting loop and a
// timerfd that gives Wait its timeout.
//
// Why not just block in epoll_wait: a goroutine blocked in a system call keeps
// its P (Go's processor slot) until the runtime's sysmon takes it back, which
// can take from 20 µs to 10 ms. With several event loops on few cores — the
// client's and the in-process server's — every other goroutine would wait that
// long for a slot, and latency figures would show the harness, not the server.
// So Wait never blocks in the kernel: the epoll fd itself is registered with Go's
// runtime poller and the goroutine parks there, holding no P, until some
// socket, the eventfd or the timerfd is ready. The timerfd keeps timeouts to
// the nanosecond (Go's own timers round idle sleeps up to the millisecond),
// without spinning.
//
// A ticking Poller (NewTicking) is for loops that wake on a clock, not on
// their sockets: it parks on a second epoll instance that holds only the
// timerfd and the eventfd, so data arriving on a socket wakes no thread at
// all; WaitFor(d) sleeps the whole d (or until Wake) and then reports what
// the sockets have. Between a loop's ticks, readiness costs nothing.
//
// Add, Mod and Wake are safe to call from any goroutine; Wait from one.
type Poller struct {
	epfd    int
	wakefd  int
	timerfd int
	ctlfd   int      // ticking: epoll of timerfd and wakefd; else -1
	file    *os.File // the fd parked on (ctlfd if ticking, else epfd), registered with Go's runtime poller
	raw     syscall.RawConn
	ctlCb   func(uintptr) bool
	armed   bool
	armedAt int64 // when the timer expires, in ns since clockBase, while armed
	closed  atomic.Bool
	woken   atomic.Bool // a ticking Poller's Wake not yet seen by a wait
	events  []unix.EpollEvent
	out     []Event

	// set by the wait callback, kept here so the callback does not allocate
	n   int
	err error
	cb  func(uintptr) bool
}

// clockBase anchors armedAt to Go's monotonic clock (read through the vDSO,
// unlike clock_gettime through x/sys/unix, which is a real system call).
var clockBase = time.Now()

// New returns a Poller that reports up to maxEvents readiness events per
// Wait and wakes when a socket is ready.
func New(maxEvents int) (*Poller, error) { return newPoller(maxEvents, false) }

// NewTicking returns a Poller whose WaitFor sleeps until its timeout or a
// Wake, whatever the sockets do (see Poller).
func NewTicking(maxEvents int) (*Poller, error) { return newPoller(maxEvents, true) }

func newPoller(maxEvents int, ticking bool) (*Poller, error) {
	if maxEvents <= 0 {
		maxEvents = 256
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	p := &Poller{epfd: epfd, wakefd: -1, timerfd: -1, ctlfd: -1, events: make([]unix.EpollEvent, maxEvents), out: make([]Event, 0, maxEvents)}
	fail := func(what string, err error) (*Poller, error) {
		p.closeFDs()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if p.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fail("eventfd", err)
	}
	if p.timerfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		return fail("timerfd_create", err)
	}
	parkfd := epfd
	if ticking {
		if p.ctlfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
			return fail("epoll_create1", err)
		}
		parkfd = p.ctlfd
	}
	// Edge-triggered: every expiry of the (one-shot) timer and every Wake
	// is a new edge, so neither counter need be read back, a system call
	// each, to stop it being reported again. (A periodic timerfd would
	// spare setting the timer each tick, but the kernel restarts one only
	// when it is read: the same one call per tick.)
	for _, fd := range []int{p.wakefd, p.timerfd} {
		ev := unix.EpollEvent{Events: In | unix.EPOLLET, Fd: int32(fd)}
		if err := unix.EpollCtl(parkfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fail("register", err)
		}
	}
	if err := unix.SetNonblock(parkfd, true); err != nil {
		return fail("set epoll fd non-blocking", err)
	}
	p.file = os.NewFile(uintptr(parkfd), "epoll")
	if p.raw, err = p.file.SyscallConn(); err != nil {
		return fail("register epoll fd with the runtime poller", err)
	}
	p.cb = func(uintptr) bool {
		p.n, p.err = epollWaitNow(p.epfd, p.events)
		return p.n > 0 || p.err != nil
	}
	// A ticking wait never asks the kernel whether it is over: the clock
	// says whether the timer has expired, and woken whether a Wake came.
	// RawConn.Read asks before it parks (the runtime poller has just
	// forgotten the edges it latched) and after each wake-up (which may be
	// an edge of a Wake or an expiry already seen that way). So ctlfd's
	// ready list is never drained; its edge-triggered items still make a
	// new edge on ctlfd at every expiry and every Wake, which is all the
	// runtime poller needs.
	p.ctlCb = func(uintptr) bool {
		return p.woken.Swap(false) || p.armed && int64(time.Since(clockBase)) >= p.armedAt
	}
	return p, nil
}

// Add registers fd for the given events.
func (p *Poller) Add(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add fd %d: %w", fd, err)
	}
	return nil
}

// Mod changes the events fd is registered for.
func (p *Poller) Mod(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl mod fd %d: %w", fd, err)
	}
	return nil
}

// Wait is WaitFor with a timeout in milliseconds (-1: none, 0: do not block).
func (p *Poller) Wait(timeoutMs int) ([]Event, error) {
	if timeoutMs < 0 {
		return p.WaitFor(-1)
	}
	return p.WaitFor(time.Duration(timeoutMs) * time.Millisecond)
}

// WaitFor returns the ready file descriptors, waiting until at least one is
// ready, Wake is called, or d passes (d < 0: no timeout; d == 0: do not wait).
// The returned slice is reused by the next call. Wake-ups and timeouts are
// consumed here and show as no event.
func (p *Poller) WaitFor(d time.Duration) ([]Event, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	if p.ctlfd >= 0 {
		return p.tick(d)
	}
	if d == 0 {
		p.cb(0)
	} else {
		// Arm, then let RawConn.Read look (once, after it has cleared what
		// the runtime poller latched) and park if there is nothing.
		if err := p.arm(d); err != nil {
			return nil, err
		}
		if err := p.raw.Read(p.cb); err != nil {
			if p.closed.Load() {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("wait on epoll fd: %w", err)
		}
	}
	if p.err != nil {
		if p.closed.Load() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("epoll_wait: %w", p.err)
	}
	return p.collect(), nil
}

// tick is WaitFor of a ticking Poller: sleep d (or until Wake), then report
// what the sockets have.
func (p *Poller) tick(d time.Duration) ([]Event, error) {
	if d != 0 {
		if err := p.arm(d); err != nil {
			return nil, err
		}
		if err := p.raw.Read(p.ctlCb); err != nil {
			if p.closed.Load() {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("wait on epoll fd: %w", err)
		}
		p.armed = false // perhaps still set, if a Wake ended the wait: set it again
	}
	p.cb(0)
	if p.err != nil {
		if p.closed.Load() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("epoll_wait: %w", p.err)
	}
	return p.collect(), nil
}

// collect turns the last epoll_wait's events into the reused result slice,
// consuming wake-ups and timer expiries.
func (p *Poller) collect() []Event {
	out := p.out[:0]
	for i := 0; i < p.n; i++ {
		switch fd := int(p.events[i].Fd); fd {
		case p.wakefd:
		case p.timerfd:
			p.armed = false
		default:
			out = append(out, Event{FD: fd, Events: p.events[i].Events})
		}
	}
	p.out = out
	return out
}

// epollWaitNow is epoll_wait with a zero timeout. It cannot block, so it is a
// raw system call: the runtime's bookkeeping for calls that may block (and the
// sysmon wake-ups it can cause) would cost more than the call itself. EINTR
// reads as no events.
func epollWaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	switch errno {
	case 0:
		return int(n), nil
	case unix.EINTR:
		return 0, nil
	}
	return 0, errno
}

// arm sets the timerfd to expire after d, or disarms it for d < 0. A timer
// already set to expire no later is left alone: waking early costs one more
// pass through the caller's loop, a system call per wait costs more.
func (p *Poller) arm(d time.Duration) error {
	if d < 0 && !p.armed {
		return nil
	}
	var spec unix.ItimerSpec
	var at int64
	if d > 0 {
		at = int64(time.Since(clockBase) + d)
		if p.armed && p.armedAt <= at {
			return nil
		}
		spec.Value = unix.NsecToTimespec(int64(d))
	}
	// Raw, like every call on a loop's path that cannot block: see Read.
	if _, _, errno := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(p.timerfd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("timerfd_settime: %w", errno)
	}
	p.armed, p.armedAt = d > 0, at
	return nil
}

// Wake makes a waiting (or the next) Wait return.
func (p *Poller) Wake() error {
	p.woken.Store(true) // before the write: a wait that misses the edge sees this
	one := [8]byte{1}
	_, err := unix.Write(p.wakefd, one[:])
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("eventfd write: %w", err)
	}
	return nil
}

// Close releases the epoll instance, the eventfd and the timerfd. The
// registered file descriptors stay open: they belong to the caller. Close
// must not run while Wait is running, nor Wake after it.
func (p *Poller) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	return p.closeFDs()
}

func (p *Poller) closeFDs() error {
	var errs []error
	parkfd := p.epfd
	if p.ctlfd >= 0 {
		parkfd = p.ctlfd
		errs = append(errs, unix.Close(p.epfd)) // not parked on: closed here
	}
	if p.file != nil {
		errs = append(errs, p.file.Close()) // closes parkfd
	} else if parkfd >= 0 {
		errs = append(errs, unix.Close(parkfd))
	}
	for _, fd := range []int{p.wakefd, p.timerfd} {
		if fd >= 0 {
			errs = append(errs, unix.Close(fd))
		}
	}
	return errors.Join(errs...)
}

// TakeFD detaches the socket behind c from Go's runtime poller and returns a
// non-blocking file descriptor that the caller now owns (and must close): the
// socket's only descriptor from then on, so closing it also takes it out of
// any epoll set. c is closed. c must come from Go's net package (whose sockets
// are all non-blocking). Use it after the opening handshake, once the connection is handed to
// an event loop.
func TakeFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("netpoll: %T has no file descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, fmt.Errorf("dup socket: %w", dupErr)
	}
	c.Close()
	// Already non-blocking: Go's net package makes every socket with
	// SOCK_NONBLOCK, and a duplicate shares the file status flags. (Asking
	// would be one more system call per connection.)
	return fd, nil
}

// Read is read(2) on a non-blocking fd, retried on EINTR; n is never negative.
//
// It is a raw system call, as are the other calls here that cannot block:
// the runtime's bookkeeping for a call that may block (entersyscall) wakes
// the runtime's sysmon thread whenever it sleeps, which it does whenever
// every P is idle. A loop that wakes on a tick would then pay, every tick,
// for a futex wake-up of sysmon and the few 20 µs naps sysmon takes before it
// sleeps again: on this project's 2-core VM that was over a third of the
// open model's client CPU at 5,000 msg/s.
func Read(fd int, b []byte) (int, error) {
	return rawIO(unix.SYS_READ, fd, b)
}

// Write is write(2) on a non-blocking fd, retried on EINTR; n is never
// negative. A raw system call, like Read.
func Write(fd int, b []byte) (int, error) {
	return rawIO(unix.SYS_WRITE, fd, b)
}

var zero byte

func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	p := unsafe.Pointer(&zero)
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	for {
		n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(p), uintptr(len(b)))
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// Recvmsg is recvmsg(2) with MSG_DONTWAIT, retried on EINTR; a raw system
// call, like Read.
func Recvmsg(fd int, msg *unix.Msghdr) (int, error) {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(msg)), unix.MSG_DONTWAIT)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}
