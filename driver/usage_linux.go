//go:build linux

package driver

import (
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// usage is a sample of this process's CPU time, peak resident memory and
// garbage collection, with the machine's CPU ticks; since makes two samples
// the Usage of the window between them. It covers the whole process: with
// the bundled server in-process, the server's share is included.
type usage struct {
	Usage
	machineBusy, machineTotal uint64 // /proc/stat clock ticks at the sample
}

func processUsage() usage {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	var gc debug.GCStats
	gc.Pause = make([]time.Duration, 0) // only the totals are wanted
	debug.ReadGCStats(&gc)
	busy, total := machineTicks()
	return usage{Usage: Usage{
		User:      time.Duration(ru.Utime.Nano()),
		System:    time.Duration(ru.Stime.Nano()),
		MaxRSSKiB: ru.Maxrss,
		GCPause:   gc.PauseTotal,
		GCCycles:  gc.NumGC,
		Machine:   -1,
	}, machineBusy: busy, machineTotal: total}
}

// machineTicks reads the machine's busy and total CPU time, in clock ticks,
// from the first line of /proc/stat (0, 0 if it cannot). Idle and I/O wait
// count as not busy; steal counts as busy (the CPU was not ours to use).
func machineTicks() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0
	}
	// user nice system idle iowait irq softirq steal (guest time is in user)
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0
		}
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total
}

func (u usage) since(start usage) Usage {
	d := Usage{
		User: u.User - start.User, System: u.System - start.System, MaxRSSKiB: u.MaxRSSKiB,
		GCPause: u.GCPause - start.GCPause, GCCycles: u.GCCycles - start.GCCycles, Machine: -1,
	}
	if start.machineTotal > 0 && u.machineTotal > start.machineTotal && u.machineBusy >= start.machineBusy {
		d.Machine = float64(u.machineBusy-start.machineBusy) / float64(u.machineTotal-start.machineTotal)
	}
	return d
}
