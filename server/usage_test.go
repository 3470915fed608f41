//go:build linux

package server

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestStatsProcess: after the server has echoed load for a while, Stats
// reports the process's CPU time, memory and uptime, and a CPU-cores figure
// no machine could exceed.
func TestStatsProcess(t *testing.T) {
	s, addr := startServer(t, Config{})
	c := dialRaw(t, addr)
	msg := bytes.Repeat([]byte("x"), 1024)
	req := mf(ws.OpBinary, true, msg)
	// Echo for at least 200 ms (and at least 100 messages), so that CPU time
	// is well above getrusage's resolution and uptime is long enough for
	// CPUCores to be a steady ratio.
	start := time.Now()
	var echoed uint64
	for echoed < 100 || time.Since(start) < 200*time.Millisecond {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("echoed only %d messages in 10s", echoed)
		}
		c.send(t, req)
		f := c.readFrame(t)
		if f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, msg) {
			t.Fatalf("echo %d: op %v, %d bytes", echoed, f.Header.OpCode, len(f.Payload))
		}
		echoed++
	}
	ran := time.Since(start).Seconds() // before Stats: its uptime runs from New, earlier
	st := s.Stats()
	if st.MessagesIn < echoed {
		t.Errorf("MessagesIn %d, want at least %d", st.MessagesIn, echoed)
	}
	if cpu := st.CPUUserSeconds + st.CPUSysSeconds; cpu <= 0 || st.CPUUserSeconds < 0 || st.CPUSysSeconds < 0 {
		t.Errorf("CPU user %vs + sys %vs = %vs, want > 0 and neither negative", st.CPUUserSeconds, st.CPUSysSeconds, cpu)
	}
	if st.MaxRSSKiB <= 0 || st.RSSKiB <= 0 {
		t.Errorf("MaxRSSKiB %d, RSSKiB %d, want both > 0", st.MaxRSSKiB, st.RSSKiB)
	}
	if st.UptimeSeconds < ran-1e-6 { // -1e-6: Stats rounds to microseconds
		t.Errorf("UptimeSeconds %v, want at least the %vs the load ran", st.UptimeSeconds, ran)
	}
	if limit := float64(runtime.NumCPU()) + 0.5; st.CPUCores <= 0 || st.CPUCores > limit {
		t.Errorf("CPUCores %v, want within (0, %v]", st.CPUCores, limit)
	}
	// The process keeps running: CPU time and uptime only grow.
	later := s.Stats()
	if later.UptimeSeconds < st.UptimeSeconds || later.CPUUserSeconds < st.CPUUserSeconds || later.CPUSysSeconds < st.CPUSysSeconds {
		t.Errorf("process figures went back: %+v then %+v", st, later)
	}
}

// TestStatsProcessJSON: the process figures have snake_case JSON names.
func TestStatsProcessJSON(t *testing.T) {
	b, err := json.Marshal(Stats{CPUUserSeconds: 1.5, CPUSysSeconds: 0.25, CPUCores: 0.875, MaxRSSKiB: 2048, RSSKiB: 1024, UptimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"cpu_user_s":1.5`, `"cpu_sys_s":0.25`, `"cpu_cores":0.875`,
		`"max_rss_kib":2048`, `"rss_kib":1024`, `"uptime_s":2`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}

// TestResidentKiB: the current RSS read from /proc/self/statm is positive and
// no more than the peak getrusage reports (both in KiB).
func TestResidentKiB(t *testing.T) {
	rss := residentKiB()
	peak := sampleProcess().maxRSSKiB
	if rss <= 0 || peak <= 0 {
		t.Fatalf("residentKiB %d, ru_maxrss %d KiB; want both > 0", rss, peak)
	}
	// A KiB/byte or pages/KiB mix-up would be off by 4x or more.
	if rss > 2*peak {
		t.Errorf("residentKiB %d is far above the peak %d KiB", rss, peak)
	}
}
