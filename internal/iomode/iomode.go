// Package iomode names how an event loop uses the kernel, for the driver's
// loops and the server's alike: io_uring batches, one system call per
// socket operation, or whichever the kernel allows.
//
//	m, err := iomode.Parse(flagValue) // "" is Auto
//	if err != nil {
//		return fmt.Errorf("--io: %w", err)
//	}
package iomode

import "fmt"

// Mode is an event loop's I/O mode.
type Mode string

// The I/O modes.
const (
	// Auto uses io_uring when the kernel allows it, else system calls.
	Auto Mode = "auto"
	// Uring batches each pass of an event loop, its sends and its reads,
	// into one io_uring_enter system call; it fails where io_uring is not
	// available (an old kernel, the kernel.io_uring_disabled sysctl, a
	// seccomp filter such as Docker's).
	Uring Mode = "io_uring"
	// Syscalls makes one read(2) or write(2) per socket operation.
	Syscalls Mode = "syscalls"
)

// Parse returns the mode s names; the empty string is Auto.
func Parse(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return Auto, nil
	case Auto, Uring, Syscalls:
		return m, nil
	}
	return "", fmt.Errorf("unknown I/O mode %q (supported: %q, %q, %q)", s, Auto, Uring, Syscalls)
}
