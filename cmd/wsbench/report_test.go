package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/results"
)

// TestReportAndCompare saves two short runs, prints one again in each
// format, and compares them, with one file per side and with labelled
// repeated runs.
func TestReportAndCompare(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := range 4 {
		f := filepath.Join(dir, []string{"a1", "a2", "b1", "b2"}[i]+".json")
		if code, _, errOut := runCLI("run", "-c", "3", "-d", "200ms", "--warmup", "0s", "-o", f); code != exitOK {
			t.Fatalf("run: %s", errOut)
		}
		files = append(files, f)
	}

	code, out, _ := runCLI("report", files[0])
	if code != exitOK || !strings.Contains(out, "✓ sent = received + lost + in flight") {
		t.Errorf("report text: %d\n%s", code, out)
	}
	code, out, _ = runCLI("report", "--format", "json", files[0])
	orig, _ := os.ReadFile(files[0])
	if code != exitOK || out != string(orig) {
		t.Errorf("report json differs from the file it read")
	}
	code, out, errOut := runCLI("report", "--format", "csv", files[0])
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || !strings.HasPrefix(rows[0], "start_s,end_s,sent,received,received_per_s,errors,conns_open,rtt_p50_us") || len(rows) < 2 {
		t.Errorf("report csv: %d %s\n%s", code, errOut, out)
	}
	hgrm := filepath.Join(dir, "rtt.hgrm")
	if code, _, errOut := runCLI("report", "--format", "hgrm", "--metric", "rtt", "-o", hgrm, files[0]); code != exitOK {
		t.Fatalf("report hgrm: %s", errOut)
	}
	b, _ := os.ReadFile(hgrm)
	if !strings.Contains(string(b), "Percentile") || !strings.Contains(string(b), "#[Max") {
		t.Errorf("hgrm output:\n%s", b)
	}
	if code, _, errOut := runCLI("report", "--format", "hgrm", "--metric", "latency", files[0]); code != exitUsage || !strings.Contains(errOut, "--metric") {
		t.Errorf("bad metric: %d %q", code, errOut)
	}
	// an echo run recorded no delivery latency: exit 2, naming what it has
	// (rtt first, handshake among them), no empty histogram
	if code, out, errOut := runCLI("report", "--format", "hgrm", "--metric", "delivery", files[0]); code != exitUsage ||
		!strings.Contains(errOut, `--metric: the result recorded no "delivery" latency; it has rtt, `) || !strings.Contains(errOut, "handshake") || out != "" {
		t.Errorf("metric the run did not record: %d %q, stdout %q", code, errOut, out)
	}
	if code, _, errOut := runCLI("report", "--format", "pdf", files[0]); code != exitUsage || !strings.Contains(errOut, "--format") {
		t.Errorf("bad format: %d %q", code, errOut)
	}

	code, out, errOut = runCLI("compare", files[0], files[2])
	if code != exitOK || !strings.Contains(out, "a1 (1 run)") || !strings.Contains(out, "vs a1") || !strings.Contains(out, "rtt p99") {
		t.Errorf("compare: %d %s\n%s", code, errOut, out)
	}
	code, out, errOut = runCLI("compare", "--json", "--label", "A", files[0], files[1], "--label", "B", files[2], files[3])
	var c results.Comparison
	if code != exitOK || json.Unmarshal([]byte(out), &c) != nil || len(c.Sides) != 2 || c.Runs[0] != 2 || c.Runs[1] != 2 {
		t.Errorf("compare --label --json: %d %s\n%s", code, errOut, out)
	}
	for _, bad := range [][]string{
		{"compare", files[0]},
		{"compare", "--label", "A", files[0], "--label", "B"},
		{"compare", files[0], "--label", "A", files[1]},
		{"compare", files[0], filepath.Join(dir, "missing.json")},
	} {
		if code, _, _ := runCLI(bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", bad[1:], code)
		}
	}
}

// TestRunSeveralTargets: two servers, --repeat 2: the runs go A B A B, each
// result lands in the -o folder, and the comparison of the two follows.
func TestRunSeveralTargets(t *testing.T) {
	_, a, _ := startServe(t)
	_, b, _ := startServe(t)
	dir := filepath.Join(t.TempDir(), "cmp")
	out, err := exec.Command(binary, "run", "--repeat", "2", "-c", "2", "-d", "200ms", "--warmup", "0s", "-o", dir, a, b).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 4 {
		t.Errorf("result files %v, want 4", files)
	}
	text := string(out)
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "round 1") || !strings.HasPrefix(lines[2], "round 2") ||
		!strings.Contains(text, "(2 runs)") || !strings.Contains(text, "vs 127.0.0.1") {
		t.Errorf("output:\n%s", text)
	}
	if !strings.Contains(lines[0], strings.TrimPrefix(strings.TrimSuffix(a, "/"), "ws://")[:9]) {
		t.Errorf("first run is not against the first target:\n%s", text)
	}
}

// TestCapacity: with an SLO every step meets, the search doubles up to --max
// and says the limit is higher; with one no step can meet, it stops after
// the first and exits 3; without an SLO it is bad usage.
func TestCapacity(t *testing.T) {
	base := []string{"capacity", "-c", "4", "--step", "300ms", "--warmup", "0s", "--start", "200", "--max", "800"}
	code, out, errOut := runCLI(append(base, "--slo", "rtt.p99<5s", "--json")...)
	var res struct {
		MaxRate    float64 `json:"max_sustainable_rate"`
		HitCeiling bool    `json:"held_up_to_max"`
		Steps      []struct {
			Offered float64 `json:"offered_rate"`
			Pass    bool    `json:"pass"`
		} `json:"steps"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if !res.HitCeiling || res.MaxRate != 800 || len(res.Steps) != 3 || res.Steps[1].Offered != 400 {
		t.Errorf("capacity %+v: want 200, 400, 800 all holding", res)
	}
	code, out, _ = runCLI(append(base, "--slo", "rtt.p99<1us")...)
	if code != exitThresh || !strings.Contains(out, "Even the first rate breaks the SLO") || strings.Count(out, "fails: rtt.p99<1us") != 1 {
		t.Errorf("impossible SLO: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI("capacity"); code != exitUsage || !strings.Contains(errOut, "--slo") {
		t.Errorf("no SLO: exit %d %q", code, errOut)
	}
}

// TestCapacityBadInput: capacity checks the run flags it shares with run
// the same way: bad usage, exit 2, naming the flag.
func TestCapacityBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--io", "aio"}, "--io: want auto, io_uring or syscalls"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--rx-timestamps", "nic"}, "--rx-timestamps: want kernel or read"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--workers", "-1"}, "--workers: must not be negative"},
		{[]string{"capacity", "--slo", "rtt.q75<1ms"}, `--slo "rtt.q75<1ms": unknown subject`},
		// a percentile beyond 100 is named, under the flag given
		{[]string{"capacity", "--slo", "rtt.p101<1ms"}, `--slo "rtt.p101<1ms": "p101" is no percentile`},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--start", "0"}, "--start: must be positive"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--dimension", "latency"}, "--dimension: want rate or conns"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--conn-rate", "5"}, "--conn-rate: only with --dimension conns"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--dimension", "conns", "-c", "10"}, "--conns: with --dimension conns the search sets"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--dimension", "conns", "-r", "100"}, "--rate: with --dimension conns"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--dimension", "conns", "--conn-rate", "0"}, "--conn-rate: must be positive"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--dimension", "conns", "--start", "2.5"}, "they count connections"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--dimension", "conns", "--max", "5", "--start", "8"}, "--max: 5 is below --start 8"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--format", "pdf"}, "--format: want text, json or html"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "--json", "--format", "html"}, "--json: and --format html"},
		{[]string{"capacity", "--slo", "rtt.p99<1ms", "-o", "/nonexistent/dir/c.html"}, "--out:"},
	} {
		if code, _, errOut := runCLI(tc.args...); code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args[1:], code, errOut, tc.want)
		}
	}
}
