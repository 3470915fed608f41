package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/results"
)

// flowFile is a login, then a request repeated 5 times, then a close:
// JSON-RPC-shaped messages the bundled server's rpc mode answers by id.
const flowFile = `kind: flow
steps:
  - name: login
    send: '{"jsonrpc":"2.0","id":{{id}},"method":"login","params":{"user":"u{{conn}}"}}'
  - expect: '$.result.user'
    timeout: 2s
  - repeat: 5
    steps:
      - name: request
        send: '{"jsonrpc":"2.0","id":{{id}},"method":"echo","params":[{{seq}}]}'
      - expect: '$.id'
        timeout: 2s
  - close: true
`

// runFlow runs the binary's run with args (a flow file written for it
// first as FLOW) and returns its exit code, its output and the result it
// wrote (nil if none).
func runFlow(t *testing.T, file string, args ...string) (int, string, *results.Report) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "flow.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r.json")
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "FLOW", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, binary, append([]string{"run", "-q", "-o", out}, args...)...).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	rep, _ := results.Read(out)
	return code, string(b), rep
}

// TestFlowAgainstDelayedServer: a flow against `wsbench serve --mode rpc
// --delay 20ms`, in one process and split over two: each step's latency
// is at least the delay, the steps are counted exactly (login once per
// connection, the request 5 times) whether one process ran them or two
// (the merged histograms hold the sum), they show in the summary, and a
// step threshold set below the delay fails the run with exit 3.
func TestFlowAgainstDelayedServer(t *testing.T) {
	const delay = 20 * time.Millisecond
	_, url, _ := startServe(t, "--mode", "rpc", "--delay", "20ms")
	load := []string{"-f", "FLOW", "-c", "6", "-d", "1500ms", "--warmup", "0", url}
	for _, procs := range []string{"1", "2"} {
		code, out, rep := runFlow(t, flowFile, append([]string{"--procs", procs, "--threshold", "step.request.p99<5ms", "--threshold", "step.login.errors<1"}, load...)...)
		if code != 3 || rep == nil {
			t.Fatalf("--procs %s: exit %d, want 3 (step.request.p99 below the delay)\n%s", procs, code, out)
		}
		login, req := rep.Step("login"), rep.Step("request")
		if login == nil || req == nil {
			t.Fatalf("--procs %s: steps %+v", procs, rep.Steps)
		}
		if login.Latency.Count != 6 || req.Latency.Count != 30 || login.ErrorCount+req.ErrorCount != 0 {
			t.Errorf("--procs %s: login %d, request %d done (errors %v %v); want 6 and 30", procs, login.Latency.Count, req.Latency.Count, login.Errors, req.Errors)
		}
		for _, st := range []*results.Step{login, req} {
			if min := time.Duration(st.Latency.MinUs * float64(time.Microsecond)); min < delay-time.Millisecond {
				t.Errorf("--procs %s: step %s fastest %v, below the server's delay", procs, st.Name, min)
			}
		}
		h, err := rep.StepHistogram("request")
		if err != nil || h.Count() != 30 {
			t.Errorf("--procs %s: request histogram %v, %v; want 30 values", procs, h, err)
		}
		if m := rep.Messages; m.Sent != 36 || m.Received != 36 || !m.Balanced {
			t.Errorf("--procs %s: messages %+v, want 36 sent and received", procs, m)
		}
		if len(rep.Thresholds) != 2 || rep.Thresholds[0].Pass || !rep.Thresholds[1].Pass {
			t.Errorf("--procs %s: thresholds %+v", procs, rep.Thresholds)
		}
		for _, want := range []string{"Step", "request", "✗ FAIL  step.request.p99<5ms"} {
			if !strings.Contains(out, want) {
				t.Errorf("--procs %s: the summary lacks %q:\n%s", procs, want, out)
			}
		}
		if procs == "2" && len(rep.Processes) != 2 {
			t.Errorf("--procs 2: %d processes", len(rep.Processes))
		}
	}
}

// TestFlowBundledAndBadThreshold: with no URL a flow runs against the
// bundled server in rpc mode (offline, answered by id); a threshold on a
// step the flow does not have is refused before the run, exit 2, naming
// it; --session-rate replaces -c.
func TestFlowBundledAndBadThreshold(t *testing.T) {
	code, out, rep := runFlow(t, flowFile, "-f", "FLOW", "-c", "3", "-d", "500ms", "--warmup", "0")
	if code != 0 || rep == nil || !rep.Bundled || rep.Step("request") == nil || rep.Step("request").Latency.Count != 15 {
		t.Fatalf("bundled flow: exit %d\n%s", code, out)
	}
	code, out, _ = runFlow(t, flowFile, "-f", "FLOW", "-d", "500ms", "--threshold", "step.reqest.p99<1s")
	if code != 2 || !strings.Contains(out, `"step.reqest.p99<1s"`) || !strings.Contains(out, "login, request") {
		t.Errorf("unknown step: exit %d, want 2 naming the threshold and the steps:\n%s", code, out)
	}
	code, out, _ = runFlow(t, flowFile, "-f", "FLOW", "-c", "3", "--session-rate", "10")
	if code != 2 || !strings.Contains(out, "--conns") {
		t.Errorf("--session-rate with -c: exit %d, want 2 naming --conns:\n%s", code, out)
	}
	code, out, rep = runFlow(t, flowFile, "-f", "FLOW", "--session-rate", "20", "-d", "1s", "--warmup", "0")
	if code != 0 || rep == nil || rep.Scenario.Conns != 20 || rep.Connections.Attempted > 20 || rep.Step("login").Latency.Count > 20 || rep.Step("login").Latency.Count < 1 {
		t.Errorf("--session-rate 20 for 1s: exit %d\n%s", code, out)
	}
	// Split over two processes, the sessions are the schedule's still: each
	// process opens its own slots' sessions, none twice.
	_, url, _ := startServe(t, "--mode", "rpc")
	code, out, rep = runFlow(t, flowFile, "-f", "FLOW", "--session-rate", "20", "-d", "1s", "--warmup", "0", "--procs", "2", url)
	if code != 0 || rep == nil || len(rep.Processes) != 2 || rep.Scenario.Conns != 20 || rep.Connections.Attempted > 20 || rep.Flow == nil ||
		rep.Flow.Sessions > 20 || rep.Step("login").Latency.Count > rep.Flow.Sessions || rep.Step("login").Latency.Count < 1 {
		t.Errorf("--session-rate 20 for 1s, --procs 2: exit %d\n%s", code, out)
	}
}

// TestFlowAgainstEchoServer: a flow whose expects never match (an echo
// server sends each request back, with no result) fails with exit 1 and
// one line saying what the step waited for and what came instead.
func TestFlowAgainstEchoServer(t *testing.T) {
	_, url, _ := startServe(t)
	code, out, rep := runFlow(t, flowFile, "-f", "FLOW", "-c", "2", "-d", "2500ms", "--warmup", "0", url)
	if code != 1 || rep == nil || rep.Failure == "" {
		t.Fatalf("exit %d, want 1 with a failure line:\n%s", code, out)
	}
	for _, want := range []string{"no step of the flow got what it waited for", "expect login waited for a message matching `$.result.user`", `got the`, `text message`, `"method":"login"`} {
		if !strings.Contains(rep.Failure, want) {
			t.Errorf("failure line %q lacks %q", rep.Failure, want)
		}
	}
	if st := rep.Step("login"); st == nil || st.Errors["timeout"] != 2 || st.Latency.Count != 0 {
		t.Errorf("login: %+v, want 2 timeouts", st)
	}
}
