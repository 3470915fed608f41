package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMix: a scenario file with two groups — held idle connections beside
// an echo group at a fixed rate — runs both at once against the bundled
// server; each group has its own results, and the whole adds them up.
func TestMix(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mix.yaml")
	os.WriteFile(file, []byte(`
duration: 1s
warmup: 200ms
interval: 250ms
groups:
  - {name: idle, kind: hold, conns: 40}
  - {name: chat, kind: echo, conns: 8, rate: 400}
`), 0o644)
	rep := runJSON(t, "-f", file)
	if len(rep.Groups) != 2 || rep.Groups[0].Group != "idle" || rep.Groups[1].Group != "chat" {
		t.Fatalf("groups: %+v", rep.Groups)
	}
	idle, chat := rep.Groups[0], rep.Groups[1]
	if idle.Connections.Opened != 40 || idle.Messages.Sent != 0 || idle.Connections.Dropped != 0 {
		t.Errorf("idle group: %+v %+v", idle.Connections, idle.Messages)
	}
	if chat.Connections.Opened != 8 || chat.Messages.Sent < 350 || chat.Messages.Sent > 450 || chat.Latency["rtt"].Count != chat.Messages.Received {
		t.Errorf("chat group: %+v %+v rtt %d", chat.Connections, chat.Messages, chat.Latency["rtt"].Count)
	}
	if rep.Connections.Opened != 48 || rep.Messages.Sent != chat.Messages.Sent || !rep.Messages.Balanced || rep.Scenario.Conns != 48 {
		t.Errorf("whole: %+v %+v conns %d", rep.Connections, rep.Messages, rep.Scenario.Conns)
	}
	// The loops' read backlog is the groups' together, not left at zero.
	if b, ib, cb := rep.Harness.ReadBacklog, idle.Harness.ReadBacklog, chat.Harness.ReadBacklog; cb.LoopPasses == 0 ||
		b.LoopPasses != ib.LoopPasses+cb.LoopPasses || b.ReadyMax != max(ib.ReadyMax, cb.ReadyMax) || b.ReadyMean == 0 {
		t.Errorf("read backlog: whole %+v, groups %+v and %+v", b, ib, cb)
	}
	// The held connections stayed open alongside the echo group's.
	for i, iv := range rep.Intervals {
		if iv.Open != 48 {
			t.Errorf("interval %d: %d open, want 48", i, iv.Open)
		}
	}
	if len(rep.Intervals) < 3 {
		t.Errorf("%d intervals", len(rep.Intervals))
	}

	code, _, stderr := runCLI("run", "-f", file, "-c", "5")
	if code != 2 || !strings.Contains(stderr, "--conns: a mix takes it from its groups") {
		t.Errorf("exit %d, %q", code, stderr)
	}
	os.WriteFile(file, []byte("groups:\n  - {name: a, conns: 2}\n  - {name: a, conns: 0}\n"), 0o644)
	code, _, stderr = runCLI("run", "-f", file)
	if code != 2 || !strings.Contains(stderr, `"a" names two groups`) || !strings.Contains(stderr, "groups[1].conns: must be at least 1, got 0 (group \"a\")") {
		t.Errorf("exit %d, %q", code, stderr)
	}
}
