package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
	if code, _, errOut := runCLI("run", "--threshold", "rtt.p75<1ms"); code != exitUsage || !strings.Contains(errOut, `--threshold "rtt.p75<1ms": unknown subject`) {
		t.Errorf("malformed threshold: exit %d %q", code, errOut)
	}
}
