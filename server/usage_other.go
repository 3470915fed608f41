//go:build !linux

package server

import "time"

// procSample is this process's CPU time at one moment. Off Linux the server
// does not run (New reports ErrUnsupported), so nothing is read: these stubs
// only keep the package's shape the same on every platform.
type procSample struct {
	at time.Time
}

// sampleProcess records the time only.
func sampleProcess() procSample { return procSample{at: time.Now()} }

// residentKiB returns 0: the current RSS is not read on this platform.
func residentKiB() int64 { return 0 }

// setProcess leaves st's process fields zero.
func (st *Stats) setProcess(start procSample) {}
