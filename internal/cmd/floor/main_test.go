//go:build linux

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/server"
)

// The floor client keeps its messages going against the bundled server and
// accounts for its CPU; every echo it counts was checked byte for byte.
func TestFloorAgainstBundledServer(t *testing.T) {
	s, addr := startBundled(t)
	r, err := run(addr, 10, 2, 100*time.Millisecond, 300*time.Millisecond, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.rounds < 100 || r.waits == 0 || r.cpu <= 0 || r.wall < 300*time.Millisecond {
		t.Fatalf("result %+v: want at least 100 round trips, some waits, CPU and a 300ms window", r)
	}
	if st := s.Stats(); st.MessagesIn < uint64(r.rounds) {
		t.Fatalf("server received %d messages, floor counted %d round trips", st.MessagesIn, r.rounds)
	}
}

func TestCheckEchoStream(t *testing.T) {
	stream := append(append([]byte{}, echo...), echo...)
	// Any split of two echoes reads back as two whole ones.
	for cut := 0; cut <= len(stream); cut++ {
		g, err := check(0, stream[:cut])
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		g, err = check(g, stream[cut:])
		if err != nil || g != 2*len(echo) {
			t.Fatalf("cut %d: got %d, %v; want %d", cut, g, err, 2*len(echo))
		}
	}
	bad := append([]byte{}, echo...)
	bad[0] = 0x88 // a close frame instead
	if _, err := check(0, bad); err == nil || !strings.Contains(err.Error(), "offset 0") {
		t.Fatalf("a close frame was taken for an echo: %v", err)
	}
	bad = append([]byte{}, echo...)
	bad[40]++
	if _, err := check(0, bad); err == nil {
		t.Fatal("a changed payload byte was taken for an echo")
	}
}

// The open-model floor sends on schedule, never ahead of it: it completes
// some round trips, no more than the schedule allowed over the warm-up and
// the window, and the server saw every one it counts.
func TestFloorOpenModel(t *testing.T) {
	s, addr := startBundled(t)
	const rate = 2000
	t0 := time.Now()
	r, err := run(addr, 10, 2, 100*time.Millisecond, 300*time.Millisecond, rate, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// The loops start before the connections are all open and stop after
	// the window: the whole call bounds what the schedule allowed.
	allowed := int64(rate*time.Since(t0).Seconds()) + 2
	if r.rounds < 1 || r.rounds > allowed || r.waits == 0 || r.cpu <= 0 {
		t.Fatalf("result %+v: want 1 to %d round trips (the schedule), some waits and CPU", r, allowed)
	}
	if st := s.Stats(); st.MessagesIn < uint64(r.rounds) {
		t.Fatalf("server received %d messages, floor counted %d round trips", st.MessagesIn, r.rounds)
	}
}

// startBundled starts the bundled server on a loopback port for the test's
// length, or skips the test where the floor client cannot run (no io_uring).
func startBundled(t *testing.T) (*server.Server, string) {
	t.Helper()
	if err := uring.Probe(); err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	s, err := server.New(server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s, addr.String()
}
