// Package netpoll is a thin, allocation-free wrapper around Linux epoll for the
// event loops of the reference server and the load driver: a Poller that
// reports readiness of raw socket file descriptors and can be woken from another
// goroutine, and TakeFD, which detaches a connected socket from Go's own poller
// so that one event loop owns it.
//
// Readiness is level-triggered: a loop may read once per event and come back
// for the rest later, which keeps one busy connection from starving the others.
package netpoll

import "errors"

// Event flags, re-exported so callers need not import x/sys/unix for them.
const (
	In    = 0x1  // EPOLLIN: readable
	Out   = 0x4  // EPOLLOUT: writable
	Err   = 0x8  // EPOLLERR
	Hup   = 0x10 // EPOLLHUP
	RdHup = 0x2000
)

// Event is one readiness report: the file descriptor and what it is ready for.
type Event struct {
	FD     int
	Events uint32
}

// ErrClosed is returned by Wait after Close.
var ErrClosed = errors.New("netpoll: poller closed")
