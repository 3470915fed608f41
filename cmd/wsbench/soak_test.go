package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/results"
)

// rssSample is one reading of a process's resident memory.
type rssSample struct {
	at  time.Duration // since the process started
	kib int64
}

// vmRSS reads VmRSS (KiB) from /proc/PID/status; false once the process has
// ended (a zombie has no VmRSS line) or on a system without /proc.
func vmRSS(pid int) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib, err == nil
		}
	}
	return 0, false
}

// nearest is the sample taken nearest to at.
func nearest(samples []rssSample, at time.Duration) rssSample {
	best := samples[0]
	for _, s := range samples[1:] {
		if (s.at - at).Abs() < (best.at - at).Abs() {
			best = s
		}
	}
	return best
}

// soakRun runs `wsbench run` with args against url, samples the client's
// RSS every second until it exits, and returns the samples and the result.
func soakRun(t *testing.T, url string, limit time.Duration, args ...string) ([]rssSample, *results.Report) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binary, append(append([]string{"run", "-q", "-o", out}, args...), url)...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})

	var samples []rssSample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(limit)
	for {
		select {
		case err := <-done:
			done <- err // for the cleanup
			if err != nil {
				t.Fatalf("run: %v\n%s", err, output.String())
			}
			rep, err := results.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			return samples, rep
		case <-tick.C:
			if kib, ok := vmRSS(cmd.Process.Pid); ok {
				samples = append(samples, rssSample{time.Since(start), kib})
			}
		case <-deadline:
			t.Fatalf("run did not finish in %v; output so far:\n%s", limit, output.String())
		}
	}
}

// TestSoakMemoryFlat is the CI version of scripts/soak.sh: open-model runs
// of 200 connections at 2,000 msg/s for 19 s against `wsbench serve` in its
// own process. The client's RSS, sampled every second, may differ by at most
// 8 MiB between 9 s (connected, warm, heap at its GC goal) and the end of the measured window:
// memory that grows with the messages sent (about 38,000 per run) or with
// time fails it. The result's counts must add up as well.
//
// Two cases run side by side. "no intervals" (--interval 0) holds the
// per-message and per-connection paths to the bound. "intervals" is a plain
// run (--interval 1s, the default), which keeps every finished interval
// compact (metrics.Compact: a few KiB). The first sample compared is taken
// once the Go heap has had time to reach its GC goal (about twice the live
// heap, which stays flat). (Before intervals were kept compact, this case
// grew by ~2 MiB a second; while each interval was still cut from copies
// of the loops' histograms, the garbage took the heap up by ~12 MiB to its
// goal in this window.)
func TestSoakMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("a 20 s soak; scripts/soak.sh runs the long one")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the client's RSS from /proc")
	}
	const (
		conns    = 200
		rate     = 2000
		warmup   = time.Second
		window   = 19 * time.Second
		warm     = 9 * time.Second // the first sample compared: past the GC's ramp to its goal
		boundKiB = 8 << 10
	)
	_, url, _ := startServe(t)
	cases := []struct {
		name     string
		interval time.Duration
	}{
		// the per-message and per-connection paths alone
		{"no intervals", 0},
		// a plain run: one interval slice kept per second
		{"intervals", time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			samples, rep := soakRun(t, url, warmup+window+20*time.Second,
				"-c", strconv.Itoa(conns), "-r", strconv.Itoa(rate), "-d", window.String(),
				"--warmup", warmup.String(), "--interval", tc.interval.String())

			// The end: the last sample inside the measured window, before the
			// grace period and the result's encoding.
			var end rssSample
			for _, s := range samples {
				if s.at <= warmup+window {
					end = s
				}
			}
			curve := make([]string, len(samples))
			for i, s := range samples {
				curve[i] = fmt.Sprintf("%.0fs %d", s.at.Seconds(), s.kib)
			}
			t.Logf("client RSS (KiB) each second: %s", strings.Join(curve, ", "))
			if len(samples) < 10 {
				t.Fatalf("only %d samples", len(samples))
			}
			first := nearest(samples, warm)
			if end.at-first.at < 9*time.Second {
				t.Fatalf("samples from %v to %v: too short a span to compare", first.at, end.at)
			}
			if d := end.kib - first.kib; d > boundKiB || d < -boundKiB {
				t.Errorf("client RSS %d KiB at %.0fs, %d KiB at %.0fs: %+d KiB, more than the %d KiB allowed",
					first.kib, first.at.Seconds(), end.kib, end.at.Seconds(), d, boundKiB)
			}

			m, c := rep.Messages, rep.Connections
			if c.Opened != conns || c.Failed != 0 || c.Dropped != 0 || len(rep.Errors) != 0 || rep.StopReason != "completed" {
				t.Errorf("connections %+v, errors %v, stop %q", c, rep.Errors, rep.StopReason)
			}
			if !m.Balanced || m.Sent != m.Received+m.Lost+m.InFlight || m.Lost != 0 {
				t.Errorf("counts do not add up: %+v", m)
			}
			// Every send that fell due in the window was made or counted as
			// unsent: rate × window of them, give or take the window's edges.
			if due, want := float64(m.Sent+m.Unsent), rate*window.Seconds(); due < want*0.99 || due > want*1.01 {
				t.Errorf("sent %d + unsent %d = %.0f, want %.0f ± 1%%", m.Sent, m.Unsent, due, want)
			}
			if rtt := rep.Latency["rtt"]; rtt.Count != m.Received {
				t.Errorf("rtt count %d, received %d", rtt.Count, m.Received)
			}
			if tc.interval > 0 {
				var sent int64
				for _, iv := range rep.Intervals {
					sent += iv.Sent
				}
				if want := int(window / tc.interval); len(rep.Intervals) != want || sent != m.Sent {
					t.Errorf("%d intervals (want %d) that sent %d in all (want %d)", len(rep.Intervals), want, sent, m.Sent)
				}
			}
		})
	}
}
