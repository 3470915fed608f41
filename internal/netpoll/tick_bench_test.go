//go:build linux

package netpoll

import (
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkTickWake prints what one wake-up on a 1 ms tick costs the process
// in CPU (cpu-µs/tick, user + system, every thread): through a ticking
// Poller (a timerfd, the runtime poller and an epoll_wait, as the driver's
// ticking loop sleeps), and through a single raw clock_nanosleep, the least
// any loop that sleeps between ticks can pay (one system call, no runtime).
// The difference is all that fewer system calls per tick can save; the
// rest is the kernel's (and on a VM, the hypervisor's) cost of putting a
// thread to sleep and waking it.
//
//	go test -run X -bench TickWake ./internal/netpoll
func BenchmarkTickWake(b *testing.B) {
	const tick = time.Millisecond
	b.Run("poller", func(b *testing.B) {
		p, err := NewTicking(16)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		measureTicks(b, func() {
			if _, err := p.WaitFor(tick); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("clock_nanosleep", func(b *testing.B) {
		ts := unix.NsecToTimespec(int64(tick))
		measureTicks(b, func() {
			unix.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		})
	})
}

func measureTicks(b *testing.B, wait func()) {
	wait() // the first wait arms what later ones reuse
	c0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-c0)/1e3/float64(b.N), "cpu-µs/tick")
}

// processCPU is the process's user + system CPU so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
