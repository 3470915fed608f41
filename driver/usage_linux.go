//go:build linux

package driver

import (
	"time"

	"golang.org/x/sys/unix"
)

// Usage is the CPU time this process used over an interval and its peak
// resident memory. It covers the whole process: with the bundled server
// in-process, the server's share is included.
type Usage struct {
	User, System time.Duration
	MaxRSSKiB    int64
}

func processUsage() Usage {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return Usage{}
	}
	return Usage{
		User:      time.Duration(ru.Utime.Nano()),
		System:    time.Duration(ru.Stime.Nano()),
		MaxRSSKiB: ru.Maxrss,
	}
}

func (u Usage) since(start Usage) Usage {
	return Usage{User: u.User - start.User, System: u.System - start.System, MaxRSSKiB: u.MaxRSSKiB}
}
