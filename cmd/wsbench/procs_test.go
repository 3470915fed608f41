package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/results"
)

// runJSON runs the binary with args and reads the result it wrote.
func runJSON(t *testing.T, args ...string) *results.Report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, binary, append([]string{"run", "-o", out}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, b)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestProcsMergeExactly runs the same open-model workload in one process and
// split over two: the schedule is the same, so the counts are the same, and
// the merged histogram holds every sample of both processes.
func TestProcsMergeExactly(t *testing.T) {
	_, url, _ := startServe(t)
	load := []string{"-c", "20", "-r", "1000", "-d", "1s", "--warmup", "200ms", url}
	one := runJSON(t, load...)
	two := runJSON(t, append([]string{"--procs", "2"}, load...)...)
	for name, r := range map[string]*results.Report{"--procs 1": one, "--procs 2": two} {
		m := r.Messages
		if m.Sent != 1000 || m.Received != m.Sent || m.Unsent != 0 || !m.Balanced || len(r.Errors) != 0 || r.Connections.Opened != 20 {
			t.Errorf("%s: messages %+v connections %+v errors %v; want 1000 sent (1000/s for 1s), all received", name, m, r.Connections, r.Errors)
		}
	}
	if len(two.Processes) != 2 {
		t.Fatalf("--procs 2 reported %d processes", len(two.Processes))
	}
	var sum int64
	for i, p := range two.Processes {
		if p.Conns != 10 || p.Opened != 10 || p.RTTCount == 0 || p.StopReason != "completed" {
			t.Errorf("process %d: %+v", i, p)
		}
		sum += p.RTTCount
	}
	h, err := two.Histogram("rtt")
	if err != nil {
		t.Fatal(err)
	}
	if h.Count() != sum || sum != two.Messages.Received {
		t.Errorf("merged rtt histogram holds %d samples, the processes %d, received %d", h.Count(), sum, two.Messages.Received)
	}
	var inIntervals int64
	for _, iv := range two.Intervals {
		inIntervals += iv.Received
	}
	if len(two.Intervals) == 0 || inIntervals != two.Messages.Received {
		t.Errorf("merged intervals: %d of them holding %d messages, the run %d", len(two.Intervals), inIntervals, two.Messages.Received)
	}
	if two.Scenario.Procs != 2 || two.Harness.InProcessServer {
		t.Errorf("scenario procs %d, harness in-process %v", two.Scenario.Procs, two.Harness.InProcessServer)
	}
}

// TestProcsInterrupted: SIGINT to the parent of a split run stops every
// child gracefully; the merged result is written, interrupted, balanced.
func TestProcsInterrupted(t *testing.T) {
	_, url, _ := startServe(t)
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binary, "run", "--procs", "2", "-c", "10", "-d", "60s", "--warmup", "0s", "-o", out, url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if cmd.ProcessState.ExitCode() != exitInterrupted {
			t.Fatalf("exit: %v, want %d (interrupted)", err, exitInterrupted)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("split run did not stop on SIGINT")
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopReason != "interrupted" || !rep.Messages.Balanced || rep.Messages.Sent == 0 || len(rep.Processes) != 2 {
		t.Errorf("stop %q messages %+v processes %d", rep.StopReason, rep.Messages, len(rep.Processes))
	}
}

// TestPreflightFileLimit: under a hard open-file limit of 500, asking for
// 1,000 connections fails at once with the one error that names the limit
// and the remedies, before any connection is made.
func TestPreflightFileLimit(t *testing.T) {
	_, url, _ := startServe(t)
	cases := []struct {
		name string
		args string
		want []string
	}{
		{"bundled server in-process", "run -c 1000", []string{"--conns 1000 needs 2064 file descriptors", "RLIMIT_NOFILE) is 500", "ulimit -Hn"}},
		{"bundled server in-process, separate server would fit", "run -c 400", []string{"--conns 400 needs 864 file descriptors", "wsbench serve", "--procs 2"}},
		{"separate server", "run -c 1000 " + url, []string{"--conns 1000 needs 1064 file descriptors", "is 500", "--procs 3"}},
		{"split run, bundled server in the parent", "run -c 1000 --procs 4", []string{"in the process holding the bundled server", "is 500"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			cmd := exec.Command("bash", "-c", "ulimit -n 500 && exec "+binary+" "+tc.args)
			b, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2\n%s", err, b)
			}
			// One line of error, then the CLI's pointer to --help.
			out, hint, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
			if !strings.HasPrefix(hint, "Run 'wsbench run --help'") {
				t.Errorf("want one line of error, got:\n%s", b)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("error lacks %q: %s", w, out)
				}
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v: should fail before connecting", el)
			}
		})
	}
}

// TestProcsBroadcastRoomsSpanProcesses: a broadcast run split so that a room
// spans two processes (40 connections in rooms of 20 over 3 processes) runs,
// and every member of every room gets every message.
func TestProcsBroadcastRoomsSpanProcesses(t *testing.T) {
	_, url, _ := startServe(t, "--mode", "broadcast")
	rep := runJSON(t, "--procs", "3", "--kind", "broadcast", "-c", "40", "--room-size", "20", "--publishers", "2",
		"-r", "100", "-d", "1s", "--warmup", "0s", "--grace", "5s", url)
	b := rep.Broadcast
	if b == nil || rep.Messages.Sent == 0 || b.Expected != rep.Messages.Sent*20 || b.Deliveries != b.Expected || b.Gaps != 0 || len(rep.Errors) != 0 {
		t.Fatalf("broadcast %+v, sent %d, errors %v: want every member to get every message", b, rep.Messages.Sent, rep.Errors)
	}
	if len(rep.Processes) != 3 {
		t.Errorf("%d processes reported, want 3", len(rep.Processes))
	}
}
