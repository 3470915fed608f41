//go:build linux

package driver

import (
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"
)

// Usage is the CPU time this process used over an interval and its peak
// resident memory. It covers the whole process: with the bundled server
// in-process, the server's share is included.
type Usage struct {
	User, System time.Duration
	MaxRSSKiB    int64
	// GCPause is the time the Go runtime stopped the world for garbage
	// collection, GCCycles the collections.
	GCPause  time.Duration
	GCCycles int64
}

func processUsage() Usage {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return Usage{}
	}
	var gc debug.GCStats
	gc.Pause = make([]time.Duration, 0) // only the totals are wanted
	debug.ReadGCStats(&gc)
	return Usage{
		User:      time.Duration(ru.Utime.Nano()),
		System:    time.Duration(ru.Stime.Nano()),
		MaxRSSKiB: ru.Maxrss,
		GCPause:   gc.PauseTotal,
		GCCycles:  gc.NumGC,
	}
}

func (u Usage) since(start Usage) Usage {
	return Usage{
		User: u.User - start.User, System: u.System - start.System, MaxRSSKiB: u.MaxRSSKiB,
		GCPause: u.GCPause - start.GCPause, GCCycles: u.GCCycles - start.GCCycles,
	}
}
