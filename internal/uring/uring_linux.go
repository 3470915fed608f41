//go:build linux

// Package uring is the small part of Linux io_uring that the event loops use:
// one ring per loop, used to hand the kernel a whole batch of non-blocking
// sends and receives in one system call instead of one call each.
//
// Why: on a virtual machine a system call costs about a microsecond before it
// does any work (1.03 µs for getppid on the machine this was measured on), and
// an echo round trip otherwise needs two of them (write and read). Batched,
// the same round trip pays for about 2/N calls, N being the batch.
//
// Only synchronous use is supported, on purpose: every operation is issued
// with MSG_DONTWAIT, so the kernel completes it while the submitting call is
// still running (or fails it with EAGAIN) and never leaves it pending. That
// keeps io_uring's task work, worker threads and thread affinity out of a Go
// program whose goroutines move between threads, and means a buffer handed to
// the kernel is free again as soon as Submit returns.
//
// Written against the kernel ABI (include/uapi/linux/io_uring.h) with
// golang.org/x/sys/unix rather than a library: the Go io_uring libraries are
// either unmaintained or built around the asynchronous model avoided here, and
// the part needed is some 200 lines.
package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Opcodes (enum io_uring_op).
const (
	opNop     = 0
	opRecvmsg = 10
	opSend    = 26
	opRecv    = 27
)

// Setup flags and features.
const (
	setupCQSize      = 1 << 3
	setupSubmitAll   = 1 << 7
	setupCoopTaskrun = 1 << 8
	featSingleMmap   = 1 << 0
	enterGetEvents   = 1 << 0
)

// mmap offsets.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// sqe is struct io_uring_sqe (64 bytes).
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFDIn  int32
	addr3       uint64
	_           uint64
}

// CQE is struct io_uring_cqe: the result of one operation.
type CQE struct {
	UserData uint64
	Res      int32 // bytes transferred, or -errno
	Flags    uint32
}

// Err is the operation's error, nil if it succeeded.
func (c CQE) Err() error {
	if c.Res < 0 {
		return unix.Errno(-c.Res)
	}
	return nil
}

// ErrUnsupported: the kernel has no io_uring, or it is disabled (the
// kernel.io_uring_disabled sysctl, a seccomp filter such as Docker's default).
var ErrUnsupported = errors.New("io_uring is not available")

// Ring is one io_uring instance. It is not safe for concurrent use.
type Ring struct {
	fd                int
	sqRing, cqRing    []byte
	sqeMem            []byte
	sqHead, sqTail    *uint32
	sqMask, sqEntries uint32
	sqes              []sqe
	cqHead, cqTail    *uint32
	cqMask            uint32
	cqes              []CQE

	queued uint32   // SQEs written since the last Submit
	keep   [][]byte // buffers referenced by queued SQEs, kept reachable until Submit
	done   []CQE
}

// New sets up a ring with room for entries operations per Submit.
func New(entries uint32) (*Ring, error) {
	p := params{flags: setupCQSize | setupSubmitAll | setupCoopTaskrun, cqEntries: 2 * entries}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		switch errno {
		case unix.ENOSYS, unix.EPERM, unix.EACCES:
			return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnsupported, errno)
		case unix.EINVAL:
			// An older kernel refusing a setup flag; the flags used need 5.19.
			return nil, fmt.Errorf("%w: io_uring_setup: %v (kernel older than 5.19?)", ErrUnsupported, errno)
		}
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &Ring{fd: int(fd)}
	if err := r.mmap(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mmap(p *params) error {
	if p.features&featSingleMmap == 0 {
		return fmt.Errorf("%w: kernel lacks IORING_FEAT_SINGLE_MMAP (older than 5.4)", ErrUnsupported)
	}
	sqSize := p.sqOff.array + p.sqEntries*4
	cqSize := p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(CQE{}))
	size := max(sqSize, cqSize)
	var err error
	r.sqRing, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap io_uring rings: %w", err)
	}
	r.cqRing = r.sqRing
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap io_uring SQEs: %w", err)
	}
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r.sqHead = u32(r.sqRing, p.sqOff.head)
	r.sqTail = u32(r.sqRing, p.sqOff.tail)
	r.sqMask = *u32(r.sqRing, p.sqOff.ringMask)
	r.sqEntries = *u32(r.sqRing, p.sqOff.ringEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	// The SQ array maps ring slots to SQE indexes: identity, set once.
	array := unsafe.Slice(u32(r.sqRing, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.cqHead = u32(r.cqRing, p.cqOff.head)
	r.cqTail = u32(r.cqRing, p.cqOff.tail)
	r.cqMask = *u32(r.cqRing, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&r.cqRing[p.cqOff.cqes])), p.cqEntries)
	r.done = make([]CQE, 0, p.cqEntries)
	return nil
}

// Probe reports whether a ring can be set up here (nil) or why not.
func Probe() error {
	r, err := New(4)
	if err != nil {
		return err
	}
	return r.Close()
}

// Space is how many more operations fit before Submit must be called.
func (r *Ring) Space() int { return int(r.sqEntries - r.queued) }

func (r *Ring) next(op uint8, fd int, b []byte, flags uint32, userData uint64) bool {
	if r.queued == r.sqEntries {
		return false
	}
	tail := atomic.LoadUint32(r.sqTail) + r.queued
	e := &r.sqes[tail&r.sqMask]
	*e = sqe{opcode: op, fd: int32(fd), len: uint32(len(b)), opFlags: flags, userData: userData}
	if len(b) > 0 {
		e.addr = uint64(uintptr(unsafe.Pointer(&b[0])))
		r.keep = append(r.keep, b)
	}
	r.queued++
	return true
}

// Send queues a non-blocking send(2) of b on fd. False: the ring is full; Submit first.
func (r *Ring) Send(fd int, b []byte, userData uint64) bool {
	return r.next(opSend, fd, b, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, userData)
}

// Recv queues a non-blocking recv(2) into b from fd. False: the ring is full.
func (r *Ring) Recv(fd int, b []byte, userData uint64) bool {
	return r.next(opRecv, fd, b, unix.MSG_DONTWAIT, userData)
}

// Recvmsg queues a non-blocking recvmsg(2) on fd with msg (its buffers and
// control space), for receives that need ancillary data such as kernel
// receive timestamps. The kernel writes msg.Controllen and msg.Flags back.
// False: the ring is full.
func (r *Ring) Recvmsg(fd int, msg *unix.Msghdr, userData uint64) bool {
	if r.queued == r.sqEntries {
		return false
	}
	tail := atomic.LoadUint32(r.sqTail) + r.queued
	e := &r.sqes[tail&r.sqMask]
	*e = sqe{opcode: opRecvmsg, fd: int32(fd), len: 1, opFlags: unix.MSG_DONTWAIT, userData: userData,
		addr: uint64(uintptr(unsafe.Pointer(msg)))}
	r.queued++
	return true
}

// Nop queues an operation that does nothing (for tests).
func (r *Ring) Nop(userData uint64) bool { return r.next(opNop, -1, nil, 0, userData) }

// Submit hands the queued operations to the kernel in one system call and
// returns their results in the order they completed, which for the
// non-blocking operations of this package is the order they were queued. The
// slice is reused by the next Submit.
func (r *Ring) Submit() ([]CQE, error) {
	n := r.queued
	r.done = r.done[:0]
	if n == 0 {
		return r.done, nil
	}
	defer r.release()
	atomic.StoreUint32(r.sqTail, atomic.LoadUint32(r.sqTail)+n)
	r.queued = 0
	for uint32(len(r.done)) < n {
		left := atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead)
		var errno unix.Errno
		if left > 0 {
			// Every operation completes (or fails with EAGAIN) while the kernel
			// is submitting it, so this call does not sleep: a raw system call
			// spares the runtime's bookkeeping for blocking ones.
			_, _, errno = unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(left), 0, enterGetEvents, 0, 0)
		} else if r.reap(); uint32(len(r.done)) < n {
			// Not expected for non-blocking operations; wait rather than
			// return while the kernel may still use a queued buffer.
			_, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 0, uintptr(n-uint32(len(r.done))), enterGetEvents, 0, 0)
		}
		if errno != 0 && errno != unix.EINTR && errno != unix.EAGAIN && errno != unix.EBUSY {
			return nil, fmt.Errorf("io_uring_enter: %w", errno)
		}
		r.reap()
	}
	return r.done, nil
}

// release drops the references to the buffers of submitted operations.
func (r *Ring) release() {
	clear(r.keep)
	r.keep = r.keep[:0]
}

// reap moves every posted completion into r.done.
func (r *Ring) reap() {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		r.done = append(r.done, r.cqes[head&r.cqMask])
	}
	atomic.StoreUint32(r.cqHead, head)
}

// Close releases the ring.
func (r *Ring) Close() error {
	var errs []error
	if r.sqeMem != nil {
		errs = append(errs, unix.Munmap(r.sqeMem))
		r.sqeMem = nil
	}
	if r.sqRing != nil {
		errs = append(errs, unix.Munmap(r.sqRing))
		r.sqRing, r.cqRing = nil, nil
	}
	if r.fd >= 0 {
		errs = append(errs, unix.Close(r.fd))
		r.fd = -1
	}
	return errors.Join(errs...)
}
