package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/results"
)

// TestRunNoServerReconnect: with --reconnect, a run in which no connection
// ever opened exits 1, as it does without the flag, with one line that says
// so and counts the tries; the result is still written.
func TestRunNoServerReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := "ws://" + ln.Addr().String() + "/"
	ln.Close() // nothing listens there now
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := runCLI("run", "--kind", "hold", "-c", "2", "-d", "600ms", "--warmup", "0s",
		"--reconnect", "50ms", "-o", out, target)
	rep, err := results.Read(out)
	if err != nil {
		t.Fatalf("exit %d, stderr %q: %v", code, stderr, err)
	}
	c := rep.Connections
	if code != exitFailed || rep.StopReason != "no_connections" {
		t.Errorf("exit %d, stop reason %q: want %d and no_connections", code, rep.StopReason, exitFailed)
	}
	if c.Opened != 0 || c.Attempted <= 2 || c.Failed != c.Attempted {
		t.Errorf("connections %+v: want the 2 slots tried again, every try failed", c)
	}
	want := fmt.Sprintf("no connection to %s could be opened in %d attempts", target, c.Attempted)
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); !strings.Contains(lines[len(lines)-1], want) {
		t.Errorf("stderr %q: want a last line saying %q", stderr, want)
	}
}
