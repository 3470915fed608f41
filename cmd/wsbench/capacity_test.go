package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/results"
)

// TestCapacityConns: the conns dimension against the bundled server, 20
// msg/s per connection, 300 ms steps. With an SLO on the received rate that
// 6 connections meet (120 msg/s) and 7 do not (140), the search doubles 2,
// 4, 8, then bisects 6 and 7 and stops, no whole count being left between
// them: the maximum is 6 connections. The JSON gives every step's
// connections and rate; the text table has a conns column.
func TestCapacityConns(t *testing.T) {
	base := []string{"capacity", "--dimension", "conns", "--conn-rate", "20", "--start", "2", "--max", "16",
		"--step", "300ms", "--warmup", "0s", "--grace", "500ms"}
	code, out, errOut := runCLI(append(base, "--slo", "messages.rate<130", "--format", "json")...)
	var res results.Capacity
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	var conns []int
	for _, s := range res.Steps {
		conns = append(conns, s.Conns)
		if s.Offered != 20*float64(s.Conns) {
			t.Errorf("step of %d connections offered %g msg/s, want %d", s.Conns, s.Offered, 20*s.Conns)
		}
		if s.Pass != (s.Conns <= 6) {
			t.Errorf("step of %d connections: pass %v (achieved %.1f msg/s)", s.Conns, s.Pass, s.Achieved)
		}
	}
	if got := fmt.Sprint(conns); got != "[2 4 8 6 7]" {
		t.Errorf("steps at %s connections, want [2 4 8 6 7]", got)
	}
	if res.Dimension != "conns" || res.ConnRate != 20 || res.MaxConns != 6 || res.MaxRate != 120 || res.HitCeiling {
		t.Errorf("result %+v: want a maximum of 6 connections, 120 msg/s", res)
	}
	if !strings.Contains(errOut, "wsbench capacity: 6 connections (120 msg/s): holds") ||
		!strings.Contains(errOut, "Maximum sustainable load: 6 connections at 20 msg/s each (120 msg/s).") {
		t.Errorf("progress and verdict on stderr:\n%s", errOut)
	}

	// Text: a conns column; an impossible SLO stops at the first step, exit 3.
	code, out, _ = runCLI(append(base, "--max", "4", "--slo", "rtt.p99<1us")...)
	if code != exitThresh || !strings.HasPrefix(strings.TrimSpace(out), "conns  offered msg/s") ||
		!strings.Contains(out, "Even the first connection count breaks the SLO.") || strings.Count(out, "fails: rtt.p99<1us") != 1 {
		t.Errorf("impossible SLO: exit %d\n%s", code, out)
	}
}

// TestCapacityHTML: --format html -o writes the knee plot and the table to
// the file, and the verdict to stderr.
func TestCapacityHTML(t *testing.T) {
	page := filepath.Join(t.TempDir(), "capacity.html")
	code, out, errOut := runCLI("capacity", "-c", "2", "--step", "200ms", "--warmup", "0s", "--grace", "500ms", "--start", "100", "--max", "200",
		"--slo", "rtt.p99<5s", "--format", "html", "-o", page)
	if code != exitOK || out != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errOut)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<figure id="knee">`, "<svg ", ">SLO rtt.p99&lt;5s</text>", ">max sustainable: 200 msg/s</text>",
		"Held up to --max, 200 msg/s: the server&#39;s limit is higher."} {
		if !strings.Contains(string(b), want) {
			t.Errorf("page has no %q", want)
		}
	}
	if !strings.Contains(errOut, "wsbench capacity: Held up to --max, 200 msg/s") {
		t.Errorf("no verdict on stderr: %s", errOut)
	}
}

// TestCapacityRefusesRunOnlyFlags: capacity's --help lists only the flags it
// honours, and each run flag it has no use for is refused by name (exit 2)
// instead of being silently ignored.
func TestCapacityRefusesRunOnlyFlags(t *testing.T) {
	code, help, _ := runCLI("capacity", "--help")
	if code != exitOK || !strings.Contains(help, "--slo") {
		t.Fatalf("capacity --help: exit %d\n%s", code, help)
	}
	for _, flag := range []string{"--file", "--stage", "--repeat", "--procs", "--cpuprofile", "--duration", "--rate", "--threshold"} {
		if regexp.MustCompile(`(?m)^\s+(-\w, )?` + flag + `\b`).MatchString(help) {
			t.Errorf("capacity --help offers %s, which it does not honour", flag)
		}
	}
	for flag, value := range map[string]string{"-f": "x.yaml", "--stage": "1s:10", "--repeat": "2", "--procs": "2",
		"--cpuprofile": "cpu.out", "-d": "5s", "-r": "100", "--threshold": "rtt.p99<1ms"} {
		code, _, errOut := runCLI("capacity", "--slo", "rtt.p99<10ms", flag, value)
		long := map[string]string{"-f": "--file", "-d": "--duration", "-r": "--rate"}[flag]
		if long == "" {
			long = flag
		}
		if code != exitUsage || !strings.HasPrefix(errOut, "wsbench capacity: "+long+": ") {
			t.Errorf("capacity %s %s: exit %d, stderr %q; want exit 2 naming %s", flag, value, code, errOut, long)
		}
	}
}
