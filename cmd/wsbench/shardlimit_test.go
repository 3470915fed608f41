package main

// image part (scale): a shard's process holds only its share of the
// connections, so the open-file and port preflight counts that share.

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/results"
)

// runLimited runs the binary with its open-file limit (soft and hard)
// lowered to nofile, and returns its combined output and exit code.
func runLimited(t *testing.T, nofile string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `ulimit -Sn "$1" && ulimit -Hn "$1" && shift && exec "$@"`, "sh", nofile, binary}, args...)...)
	b, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(b), code
}

// TestShardPreflightCountsItsShare: under an open-file limit of 1,000, a
// run of 1,600 connections does not fit one process, but shard 0 of 16
// (100 connections) does and runs, while 4,000 over 2 shards (2,000 each)
// is refused with exit 2, saying which share did not fit.
func TestShardPreflightCountsItsShare(t *testing.T) {
	_, url, _ := startServe(t)
	out := filepath.Join(t.TempDir(), "shard.json")
	text, code := runLimited(t, "1000", "run", "-q", "--shard", "0/16", "-c", "1600", "-r", "100", "-d", "1s", "--warmup", "0s", "-o", out, url)
	if code != 0 {
		t.Fatalf("shard 0/16 of 1,600 connections under a limit of 1,000: exit %d, want 0:\n%s", code, text)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Shard == nil || rep.Connections.Opened != 100 {
		t.Errorf("shard 0/16: opened %d connections (shard set: %v), want 100", rep.Connections.Opened, rep.Shard != nil)
	}

	text, code = runLimited(t, "1000", "run", "--shard", "1/2", "-c", "4000", "-d", "1s", url)
	if code != exitUsage {
		t.Fatalf("shard 1/2 of 4,000 connections under a limit of 1,000: exit %d, want %d:\n%s", code, exitUsage, text)
	}
	for _, want := range []string{"shard 1/2 holds up to 2000 of the run's 4000 connections", "file descriptors", "1000"} {
		if !strings.Contains(text, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, text)
		}
	}
}
