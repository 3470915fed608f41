package main

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/server"
)

// replyServer listens on loopback and answers every message with reply
// (nil: never answers); it returns its URL.
func replyServer(t *testing.T, reply []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				defer c.Close()
				if _, err := ws.Upgrade(c); err != nil {
					return
				}
				for {
					if _, _, err := wsutil.ReadClientData(c); err != nil {
						return
					}
					if reply != nil {
						if err := wsutil.WriteServerMessage(c, ws.OpText, reply); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/"
}

// TestRunNotEcho: against a server that answers {"ok":true}, a run exits 1
// long before its 20 s, with one line saying the server does not echo (what
// was sent, what came back, the error kind), and writes the result marked
// with the stop reason; in the open model no warning blames --grace.
func TestRunNotEcho(t *testing.T) {
	for _, model := range [][]string{{}, {"-r", "200"}} {
		t.Run("rate"+strings.Join(model, ""), func(t *testing.T) {
			url := replyServer(t, []byte(`{"ok":true}`))
			out := filepath.Join(t.TempDir(), "r.json")
			start := time.Now()
			code, stdout, stderr := runCLI(append([]string{"run", "-q", "-c", "4", "-d", "20s", "-o", out, url}, model...)...)
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the run took %v of its 20s", took)
			}
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			line := strings.TrimSpace(stderr)
			for _, want := range []string{"wsbench run: the server answers, but not with an echo of what was sent:", "`{\"ok\":true}`", "echo_mismatch"} {
				if !strings.Contains(line, want) {
					t.Errorf("stderr %q lacks %q", stderr, want)
				}
			}
			if strings.Count(line, "\n") != 0 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			if strings.Contains(stdout, "--grace") || !strings.Contains(stdout, "FAILED: the server answers") {
				t.Errorf("summary:\n%s", stdout)
			}
			rep, err := results.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if rep.StopReason != results.StopNotEcho || !strings.HasPrefix(rep.Failure, "the server answers, but not") {
				t.Errorf("result: stop %q, failure %q", rep.StopReason, rep.Failure)
			}
		})
	}
}

// TestRunNotBroadcast: a broadcast run against an echo server (each
// publisher gets its own messages back, other members nothing) exits 1 long
// before its 20 s with one line saying the server does not broadcast.
func TestRunNotBroadcast(t *testing.T) {
	url := startServer(t, server.DefaultConfig())
	out := filepath.Join(t.TempDir(), "r.json")
	start := time.Now()
	code, _, stderr := runCLI("run", "-q", "--kind", "broadcast", "-c", "4", "--room-size", "2", "-r", "50", "-d", "20s", "-o", out, url)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v of its 20s", took)
	}
	if code != exitFailed || !strings.Contains(stderr, "wsbench run: the server echoes each message to its publisher but does not broadcast it") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopReason != results.StopNotBroadcast {
		t.Errorf("stop reason %q", rep.StopReason)
	}
}

// TestRunNothingMeasured: a closed-model run against a server that never
// answers measures nothing: exit 1 with one plain line, not a summary
// marked ✓ and exit 0.
func TestRunNothingMeasured(t *testing.T) {
	url := replyServer(t, nil)
	code, _, stderr := runCLI("run", "-q", "-c", "2", "-d", "300ms", "--warmup", "0s", "--grace", "100ms", url)
	if code != exitFailed || !strings.Contains(stderr, "wsbench run: nothing was measured: 2 messages sent") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestCapacityNotEcho: capacity against a server that does not echo stops at
// its first step with the same line and exit 1, not "even the first rate
// breaks the SLO" and exit 3.
func TestCapacityNotEcho(t *testing.T) {
	url := replyServer(t, []byte(`{"ok":true}`))
	code, _, stderr := runCLI("capacity", "--slo", "rtt.p99<20ms", "-c", "4", "--start", "100", "--step", "10s", "--warmup", "0s", url)
	if code != exitFailed || !strings.Contains(stderr, "wsbench capacity: the server answers, but not with an echo of what was sent:") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestProcsNotEcho: split over two processes, a run against a server that
// does not echo fails the same way: exit 1, the line, the stop reason.
func TestProcsNotEcho(t *testing.T) {
	url := replyServer(t, []byte(`{"ok":true}`))
	out := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, binary, "run", "-q", "--procs", "2", "-c", "4", "-r", "100", "-d", "20s", "-o", out, url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the run took %v of its 20s", took)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed || !strings.Contains(stderr.String(), "wsbench run: the server answers, but not with an echo of what was sent:") {
		t.Errorf("run: %v, stderr %q", err, stderr.String())
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopReason != results.StopNotEcho || rep.Failure == "" {
		t.Errorf("result: stop %q, failure %q", rep.StopReason, rep.Failure)
	}
}
