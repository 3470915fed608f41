//go:build linux

package server

import (
	"bytes"
	"math"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// procSample is this process's cumulative CPU time at one moment, read with
// getrusage(RUSAGE_SELF), and when it was taken.
type procSample struct {
	at        time.Time
	user, sys time.Duration
	maxRSSKiB int64
}

// sampleProcess reads the process's CPU time and peak RSS now. If getrusage
// fails (it does not on Linux) the CPU figures are zero.
func sampleProcess() procSample {
	p := procSample{at: time.Now()}
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err == nil {
		p.user = time.Duration(ru.Utime.Nano())
		p.sys = time.Duration(ru.Stime.Nano())
		p.maxRSSKiB = ru.Maxrss // KiB on Linux
	}
	return p
}

// residentKiB returns the process's current resident set size from
// /proc/self/statm (its second field, in pages), 0 if that cannot be read.
func residentKiB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil || pages < 0 {
		return 0
	}
	return pages * int64(os.Getpagesize()) / 1024
}

// setProcess fills st's process fields: CPU time and uptime since start,
// peak and current RSS now.
func (st *Stats) setProcess(start procSample) {
	now := sampleProcess()
	user, sys, up := now.user-start.user, now.sys-start.sys, now.at.Sub(start.at)
	st.CPUUserSeconds = micro(user.Seconds())
	st.CPUSysSeconds = micro(sys.Seconds())
	st.UptimeSeconds = micro(up.Seconds())
	if up > 0 {
		st.CPUCores = micro((user + sys).Seconds() / up.Seconds())
	}
	st.MaxRSSKiB = now.maxRSSKiB
	st.RSSKiB = residentKiB()
}

// micro rounds x to six decimal places (microseconds, for seconds), which
// keeps the JSON short: getrusage itself counts in microseconds.
func micro(x float64) float64 { return math.Round(x*1e6) / 1e6 }
