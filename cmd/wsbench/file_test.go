package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// TestRunScenarioFile: run -f takes its settings from the file, a flag given
// as well overrides the file, and a bad file is refused with its line.
func TestRunScenarioFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "s.yaml")
	os.WriteFile(good, []byte("conns: 3\nduration: 5s\nwarmup: 0s\nrate: 200\nsize: 48\n"), 0o644)
	code, out, errOut := runCLI("run", "-f", good, "-d", "300ms", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Scenario scenario.Spec        `json:"scenario"`
		Messages struct{ Sent int64 } `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	s := rep.Scenario
	if s.Conns != 3 || s.Rate != 200 || s.Size != 48 || time.Duration(s.Duration) != 300*time.Millisecond {
		t.Errorf("scenario %+v: want conns, rate and size from the file, duration from the flag", s)
	}
	if rep.Messages.Sent != 60 {
		t.Errorf("sent %d, want 60 (200/s for 300ms)", rep.Messages.Sent)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("conns: 3\nconn: 4\n"), 0o644)
	code, _, errOut = runCLI("run", "--file", bad)
	if code != exitUsage || !strings.Contains(errOut, bad+`:2: unknown field "conn" (did you mean "conns"?)`) {
		t.Errorf("bad file: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI("run", "-f", filepath.Join(dir, "missing.yaml"))
	if code != exitUsage || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
}

// TestThresholdExitCode: a run whose thresholds pass exits 0 and lists them;
// one that fails a threshold still writes its result, says which failed,
// and exits 3; a malformed threshold is bad usage.
func TestThresholdExitCode(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	base := []string{"run", "-c", "4", "-d", "300ms", "--warmup", "0s", "-o", out}
	code, stdout, errOut := runCLI(append(base, "--threshold", "rtt.p99<10s", "--threshold", "errors.count<1")...)
	if code != exitOK || !strings.Contains(stdout, "✓ pass  rtt.p99<10s") {
		t.Errorf("passing thresholds: exit %d\n%s%s", code, stdout, errOut)
	}
	code, stdout, errOut = runCLI(append(base, "--threshold", "rtt.p99<10s", "--threshold", "messages.rate>1e12")...)
	if code != exitThresh || !strings.Contains(stdout, "✗ FAIL  messages.rate>1e12") || !strings.Contains(errOut, "1 threshold(s) failed") {
		t.Errorf("failing threshold: exit %d\n%s%s", code, stdout, errOut)
	}
	rep, err := results.Read(out)
	if err != nil || len(rep.Thresholds) != 2 || rep.Thresholds[1].Pass {
		t.Errorf("result thresholds %+v, %v", rep.Thresholds, err)
	}
	if code, _, errOut := runCLI("run", "--threshold", "rtt.q75<1ms"); code != exitUsage || !strings.Contains(errOut, `--threshold "rtt.q75<1ms": unknown subject`) {
		t.Errorf("malformed threshold: exit %d %q", code, errOut)
	}
}

// TestPingWorkloadAgainstServe: --kind ping against `wsbench serve
// --ping-interval`: every ping of the run is answered and timed, and the
// server, pinging the clients in turn, finds them answering.
func TestPingWorkloadAgainstServe(t *testing.T) {
	cmd, url, sc := startServe(t, "--ping-interval", "100ms")
	out := filepath.Join(t.TempDir(), "r.json")
	if b, err := exec.Command(binary, "run", "--kind", "ping", "-s", "32", "-c", "5", "-d", "1s", "--warmup", "0s", "-o", out, url).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, b)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if m := rep.Messages; m.Sent == 0 || m.Received != m.Sent || len(rep.Errors) != 0 || rep.Latency["rtt"].Count != m.Received {
		t.Errorf("pings %+v errors %v", m, rep.Errors)
	}
	cmd.Process.Signal(syscall.SIGINT)
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	_, js, _ := strings.Cut(last, "stats ")
	var st struct {
		PingsSent      int64 `json:"pings_sent"`
		PongsReceived  int64 `json:"pongs_received"`
		DataMessagesIn int64 `json:"messages_in"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("stats %q: %v", last, err)
	}
	// At most one ping per connection can be unanswered: the one in flight
	// when the run closed.
	if st.PingsSent < 20 || st.PongsReceived < st.PingsSent-5 || st.DataMessagesIn != 0 {
		t.Errorf("server stats %+v: the clients must answer its pings", st)
	}
}

// TestBroadcastAgainstBundledServer: --kind broadcast with no URL starts the
// bundled server in broadcast mode; every member gets every message.
func TestBroadcastAgainstBundledServer(t *testing.T) {
	code, out, errOut := runCLI("run", "--kind", "broadcast", "-c", "40", "--room-size", "10", "--publishers", "2",
		"-r", "100", "-d", "500ms", "--warmup", "0s", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep results.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	b := rep.Broadcast
	if b == nil || b.Expected != rep.Messages.Sent*10 || b.Deliveries != b.Expected || b.Reach != 1 || b.Gaps != 0 || len(rep.Errors) != 0 {
		t.Errorf("broadcast %+v, sent %d, errors %v", b, rep.Messages.Sent, rep.Errors)
	}
	if rep.Latency["delivery"].Count != b.Deliveries {
		t.Errorf("%d delivery latencies for %d deliveries", rep.Latency["delivery"].Count, b.Deliveries)
	}
	if code, _, errOut := runCLI("run", "--kind", "broadcast", "-c", "15", "--room-size", "10", "-r", "10"); code != exitUsage || !strings.Contains(errOut, "--room-size: --conns 15 is not a whole number of rooms of 10") {
		t.Errorf("bad rooms: exit %d %q", code, errOut)
	}
}

// TestLiveStatus: the live status is on stderr only when asked for (here
// --progress, since the test's stderr is no terminal), and says each
// interval's rate and latency; a plain run's stderr stays empty.
func TestLiveStatus(t *testing.T) {
	base := []string{"run", "-c", "4", "-d", "1200ms", "--warmup", "0s", "--interval", "400ms"}
	code, _, errOut := runCLI(base...)
	if code != exitOK || errOut != "" {
		t.Errorf("plain run: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := runCLI(append(base, "--progress")...)
	if code != exitOK || !strings.Contains(errOut, "msg/s") || !strings.Contains(errOut, "rtt p50") || !strings.Contains(out, "Messages") {
		t.Errorf("--progress: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI(append(base, "--progress", "--quiet")...); code != exitOK || errOut != "" {
		t.Errorf("--quiet wins: exit %d, stderr %q", code, errOut)
	}
	// A mix shows its groups' intervals merged: all 12 connections open.
	file := filepath.Join(t.TempDir(), "mix.yaml")
	os.WriteFile(file, []byte("duration: 1200ms\nwarmup: 0s\ninterval: 400ms\ngroups:\n  - {name: a, conns: 4}\n  - {name: b, kind: hold, conns: 8}\n"), 0o644)
	if code, _, errOut := runCLI("run", "-f", file, "--progress"); code != exitOK || !strings.Contains(errOut, "msg/s") || !strings.Contains(errOut, "conns 12") {
		t.Errorf("mix --progress: exit %d, stderr %q", code, errOut)
	}
}
