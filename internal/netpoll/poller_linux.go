//go:build linux

package netpoll

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poller is one epoll instance plus an eventfd used to wake a blocked Wait.
// Add, Mod, Del and Wake are safe to call from any goroutine; Wait from one.
type Poller struct {
	epfd   int
	wakefd int
	closed atomic.Bool
	raw    []unix.EpollEvent
	out    []Event
}

// New returns a Poller that reports up to maxEvents readiness events per Wait.
func New(maxEvents int) (*Poller, error) {
	if maxEvents <= 0 {
		maxEvents = 256
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	p := &Poller{epfd: epfd, wakefd: wfd, raw: make([]unix.EpollEvent, maxEvents), out: make([]Event, 0, maxEvents)}
	if err := p.Add(wfd, In); err != nil {
		p.Close()
		return nil, err
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

// Del removes fd. Closing fd removes it too; Del is for keeping fd open.
func (p *Poller) Del(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("epoll_ctl del fd %d: %w", fd, err)
	}
	return nil
}

// Wait blocks until at least one fd is ready, Wake is called, or timeoutMs
// passes (-1: no timeout, 0: do not block). The returned slice is reused by the
// next call. A wake-up is consumed here and shows as no event.
func (p *Poller) Wait(timeoutMs int) ([]Event, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	n, err := unix.EpollWait(p.epfd, p.raw, timeoutMs)
	return p.collect(n, err)
}

// noPwait2 is set once epoll_pwait2 has answered ENOSYS (kernels before 5.11).
var noPwait2 atomic.Bool

// WaitFor is Wait with a nanosecond timeout (d < 0: none). It uses
// epoll_pwait2 so that a scheduler can sleep until a send is due without
// rounding up to a whole millisecond and without spinning; on kernels without
// it, the timeout is rounded up to the next millisecond.
func (p *Poller) WaitFor(d time.Duration) ([]Event, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	if d < 0 {
		return p.Wait(-1)
	}
	if noPwait2.Load() {
		return p.Wait(int((d + time.Millisecond - 1) / time.Millisecond))
	}
	ts := unix.NsecToTimespec(int64(d))
	r, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(p.epfd), uintptr(unsafe.Pointer(&p.raw[0])),
		uintptr(len(p.raw)), uintptr(unsafe.Pointer(&ts)), 0, 0)
	if errno == unix.ENOSYS {
		noPwait2.Store(true)
		return p.WaitFor(d)
	}
	var err error
	if errno != 0 {
		err = errno
	}
	return p.collect(int(r), err)
}

func (p *Poller) collect(n int, err error) ([]Event, error) {
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return p.out[:0], nil
		}
		if p.closed.Load() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("epoll_wait: %w", err)
	}
	out := p.out[:0]
	for i := 0; i < n; i++ {
		fd := int(p.raw[i].Fd)
		if fd == p.wakefd {
			var b [8]byte
			unix.Read(p.wakefd, b[:])
			continue
		}
		out = append(out, Event{FD: fd, Events: p.raw[i].Events})
	}
	p.out = out
	return out, nil
}

// Wake makes a blocked (or the next) Wait return.
func (p *Poller) Wake() error {
	one := [8]byte{1}
	_, err := unix.Write(p.wakefd, one[:])
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("eventfd write: %w", err)
	}
	return nil
}

// Close releases the epoll instance and the eventfd. The registered file
// descriptors stay open: they belong to the caller.
func (p *Poller) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.Wake()
	err1 := unix.Close(p.epfd)
	err2 := unix.Close(p.wakefd)
	return errors.Join(err1, err2)
}

// TakeFD detaches the socket behind c from Go's runtime poller and returns a
// non-blocking file descriptor that the caller now owns (and must close). c is
// closed. Use it after the opening handshake, once the connection is handed to
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
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("set non-blocking: %w", err)
	}
	return fd, nil
}
