package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// writeShard writes shard k of an n-shard run of plan into dir as
// shard-k.json, as `wsbench run --shard k/n -o` does: shard k opened 2
// connections and sent 10·(k+1) messages, all answered in (k+1) ms.
func writeShard(t *testing.T, dir string, k, n int, plan string) string {
	t.Helper()
	snap := metrics.NewSnapshot()
	for range 10 * (k + 1) {
		snap.Hist[metrics.RTT].Record(time.Duration(k+1) * time.Millisecond)
		snap.Hist[metrics.RTTUncorrected].Record(time.Duration(k+1) * time.Millisecond)
	}
	for range 2 {
		snap.Hist[metrics.Connect].Record(100 * time.Microsecond)
	}
	snap.Counts = metrics.Counts{ConnsAttempted: 2, ConnsOpened: 2, Sent: int64(10 * (k + 1)), Received: int64(10 * (k + 1))}
	start := time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)
	began := start.Add(time.Duration(k) * time.Millisecond)
	m := &metrics.Measurement{Started: began, MeasureStart: began, MeasureEnd: began.Add(time.Second), StopReason: "completed",
		Snapshot: snap, Processes: 1, GOMAXPROCS: 1, IO: "syscalls", Timestamps: "read",
		CPU: metrics.Usage{User: 10 * time.Millisecond, MaxRSSKiB: 8192}}
	spec := scenario.Default()
	spec.Conns = 2
	spec.Thresholds = []string{"connections.opened>=" + fmt.Sprint(2*n)} // true of the whole run only
	rep, err := results.Build(results.About{ToolVersion: "test", Spec: spec, Target: "ws://127.0.0.1:1/", Ended: m.MeasureEnd}, m)
	if err != nil {
		t.Fatal(err)
	}
	rep.Shard = &results.ShardResult{Shard: results.ShardInfo{Index: k, Count: n, Plan: plan, StartAt: start, StartedAt: began,
		SkewNs: began.Sub(start).Nanoseconds(), FirstSlot: 2 * k, Conns: 2, Host: fmt.Sprintf("node-%d", k)}, Measurement: m}
	path := filepath.Join(dir, fmt.Sprintf("shard-%d.json", k))
	if err := rep.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// shardDir is a folder with the results of all n shards of plan.
func shardDir(t *testing.T, n int, plan string) (string, []string) {
	dir := t.TempDir()
	var files []string
	for k := range n {
		files = append(files, writeShard(t, dir, k, n, plan))
	}
	return dir, files
}

// TestMergeCommand: wsbench merge of a folder (or its files) prints the
// merged summary with a row per shard and its skew, writes the merged
// result, and checks the run's thresholds on the whole.
func TestMergeCommand(t *testing.T) {
	dir, files := shardDir(t, 3, "sha256:0123456789abcdef")
	out := filepath.Join(t.TempDir(), "run.json")
	code, stdout, stderr := runCLI("merge", "-o", out, dir)
	if code != exitOK {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Shards: 3 of 3 merged · plan 0123456789ab · start skew max 2.00ms · spread 2.00ms",
		"node-2", "+2.00ms", "4-5", // shard 2: its host, its skew, its connections
		"✓ pass  connections.opened>=6",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages.Sent != 60 || rep.Messages.Received != 60 || rep.Connections.Opened != 6 || rep.Latency["rtt"].Count != 60 ||
		rep.Shards == nil || rep.Shards.Count != 3 || len(rep.Shards.Present) != 3 || rep.Shards.Partial {
		t.Errorf("merged result: sent %d received %d opened %d rtt %d shards %+v", rep.Messages.Sent, rep.Messages.Received,
			rep.Connections.Opened, rep.Latency["rtt"].Count, rep.Shards)
	}
	// Files in any order, JSON on stdout: the same totals.
	code, stdout, _ = runCLI("merge", "--format", "json", files[2], files[0], files[1])
	var j results.Report
	if code != exitOK || json.Unmarshal([]byte(stdout), &j) != nil || j.Messages.Sent != 60 || j.Shards.Count != 3 {
		t.Errorf("merge --format json: exit %d, sent %d", code, j.Messages.Sent)
	}
	code, stdout, _ = runCLI("merge", "--format", "html", dir)
	if code != exitOK || !strings.Contains(stdout, `<section id="shards">`) || !strings.Contains(stdout, "node-1") {
		t.Errorf("merge --format html: exit %d, no shards section", code)
	}
	// A threshold given to merge is checked on the merged result: exit 3.
	code, stdout, _ = runCLI("merge", "--threshold", "connections.opened>6", dir)
	if code != exitThresh || !strings.Contains(stdout, "✗ FAIL  connections.opened>6") {
		t.Errorf("failed threshold: exit %d\n%s", code, stdout)
	}
	// The merged result written into the folder does not stop a later
	// report of it, which merges the shards again.
	if code, _, stderr := runCLI("merge", "-o", filepath.Join(dir, "merged.json"), dir); code != exitOK {
		t.Fatalf("merge into the folder: %s", stderr)
	}
	code, stdout, stderr = runCLI("report", dir)
	if code != exitOK || !strings.Contains(stdout, "Shards: 3 of 3 merged") {
		t.Errorf("report of the folder: exit %d %s\n%s", code, stderr, stdout)
	}
	// compare takes a folder as one result.
	other, _ := shardDir(t, 2, "sha256:other")
	code, stdout, stderr = runCLI("compare", dir, other)
	if code != exitOK || !strings.Contains(stdout, filepath.Base(dir)) || !strings.Contains(stdout, filepath.Base(other)) {
		t.Errorf("compare of folders: exit %d %s\n%s", code, stderr, stdout)
	}
}

// TestMergeRefuses: a missing shard, a duplicate, another plan, a result
// that is no shard's: exit 6 with one line naming the file and why;
// --allow-partial merges what is there when only shards are missing, and
// says so.
func TestMergeRefuses(t *testing.T) {
	dir, files := shardDir(t, 3, "sha256:plan")
	plainDir := t.TempDir()
	plain := filepath.Join(plainDir, "plain.json")
	if code, _, stderr := runCLI("run", "-c", "2", "-d", "100ms", "--warmup", "0s", "-o", plain); code != exitOK {
		t.Fatalf("run: %s", stderr)
	}
	otherPlan := writeShard(t, t.TempDir(), 1, 3, "sha256:another")
	otherCount := writeShard(t, t.TempDir(), 1, 4, "sha256:plan")
	partialDir := t.TempDir()
	for _, k := range []int{0, 2} {
		writeShard(t, partialDir, k, 3, "sha256:plan")
	}
	cases := []struct {
		name string
		args []string
		code int
		want string // in the one line on stderr
	}{
		// shard 1 never reported
		{"missing", []string{"merge", files[0], files[2]}, exitMergeRefused, "wsbench merge: shard 1 of 3 missing (plan plan): merge every shard's result, or --allow-partial"},
		// a folder short of a shard, through report and compare too
		{"missing folder", []string{"merge", partialDir}, exitMergeRefused, "shard 1 of 3 missing"},
		{"report missing", []string{"report", partialDir}, exitMergeRefused, "shard 1 of 3 missing"},
		{"compare missing", []string{"compare", dir, partialDir}, exitMergeRefused, "shard 1 of 3 missing"},
		// the same shard twice
		{"duplicate", []string{"merge", dir, files[1]}, exitMergeRefused, files[1] + ": shard 1/3 again (" + files[1] + " is that shard too)"},
		// a shard of another scenario
		{"other plan", []string{"merge", files[0], otherPlan, files[2]}, exitMergeRefused, otherPlan + ": shard 1/3 of plan another, not of the run of " + files[0]},
		// a shard of the run split otherwise
		{"other count", []string{"merge", files[0], otherCount, files[2]}, exitMergeRefused, otherCount + ": shard 1/4 of plan plan"},
		// a result of a run without --shard
		{"not a shard", []string{"merge", plain, files[0]}, exitMergeRefused, plain + ": not a shard's result"},
		// even with --allow-partial, a duplicate is refused
		{"duplicate partial", []string{"merge", "--allow-partial", files[0], files[0]}, exitMergeRefused, "shard 0/3 again"},
		// bad input: exit 2
		{"no files", []string{"merge"}, exitUsage, "want the shards' result files or a folder of them"},
		{"no such file", []string{"merge", filepath.Join(dir, "none.json")}, exitUsage, "none.json"},
		{"empty folder", []string{"merge", t.TempDir()}, exitUsage, "no shard results (*.json) in this folder"},
		{"bad format", []string{"merge", "--format", "pdf", dir}, exitUsage, "--format"},
		{"bad threshold", []string{"merge", "--threshold", "rtt.p99<<1", dir}, exitUsage, "--threshold"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", c.args, code, stderr, c.code, c.want)
			}
			if c.code == exitMergeRefused && (stdout != "" || strings.Count(stderr, "\n") != 1) {
				t.Errorf("refused, yet printed %q, stderr %q (want one line)", stdout, stderr)
			}
		})
	}

	// --allow-partial: the shards there, merged, and one line on what is
	// missing; the run's threshold on the whole fails on partial totals.
	out := filepath.Join(t.TempDir(), "partial.json")
	code, stdout, stderr := runCLI("merge", "--allow-partial", "-o", out, partialDir)
	line := "partial result: shard 1 of 3 missing; totals cover 2 of 3 shards, not the whole run"
	if code != exitThresh || !strings.Contains(stdout, "✗ FAIL  connections.opened>=6        measured 4") || !strings.Contains(stdout, line) || !strings.Contains(stdout, "Shards: 2 of 3 merged (PARTIAL: shard 1 missing)") {
		t.Errorf("--allow-partial: exit %d %s\n%s", code, stderr, stdout)
	}
	rep, err := results.Read(out)
	if err != nil || !rep.Shards.Partial || len(rep.Shards.Missing) != 1 || rep.Shards.Missing[0] != 1 || rep.Messages.Sent != 10+30 {
		t.Errorf("partial result: %v %+v, sent %d", err, rep.Shards, rep.Messages.Sent)
	}
	if code, stdout, _ := runCLI("report", "--allow-partial", "--format", "html", partialDir); code != exitOK || !strings.Contains(stdout, "PARTIAL: "+line) {
		t.Errorf("report --allow-partial --format html: exit %d, no partial line", code)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

// TestMergeHelp: merge --help prints its usage once, with the exit code it
// adds, and wsbench's command list names it.
func TestMergeHelp(t *testing.T) {
	code, out, _ := runCLI("merge", "--help")
	if code != exitOK || strings.Count(out, "Usage:") != 1 || !strings.Contains(out, "(exit 6)") || !strings.Contains(out, "--allow-partial") {
		t.Errorf("merge --help: exit %d\n%s", code, out)
	}
	if _, out, _ := runCLI("--help"); !strings.Contains(out, "  merge ") {
		t.Errorf("wsbench --help does not list merge:\n%s", out)
	}
}

// TestMergeRealShards: the results of real shards (wsbench run --shard
// i/3 --start-at) in a folder merge to the planned totals exactly; a shard
// that missed its start (exit 5, its result written) is refused by name,
// and with --allow-partial is shown missing, how late it was ready.
func TestMergeRealShards(t *testing.T) {
	_, url, _ := startServe(t)
	args := []string{"-c", "6", "-r", "300", "-d", "1s", "--warmup", "0s", url}
	reps := runShards(t, 3, nil, args...)
	dir := t.TempDir()
	for i, r := range reps {
		if err := r.WriteFile(filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "run.json")
	code, stdout, stderr := runCLI("merge", "-o", out, dir)
	if code != exitOK || !strings.Contains(stdout, "Shards: 3 of 3 merged") {
		t.Fatalf("merge: exit %d %s\n%s", code, stderr, stdout)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	// The shards' counts, summed exactly (that the shards send rate ×
	// duration between them is the shard part's test).
	var sent, received, rtts int64
	for _, r := range reps {
		sent, received, rtts = sent+r.Messages.Sent, received+r.Messages.Received, rtts+r.Latency["rtt"].Count
	}
	if sent == 0 || rep.Messages.Sent != sent || rep.Messages.Received != received || rep.Connections.Opened != 6 || rep.Latency["rtt"].Count != rtts || !rep.Messages.Balanced {
		t.Errorf("merged: messages %+v, opened %d, rtt count %d; want the shards' %d sent, %d received, %d rtt on 6 connections",
			rep.Messages, rep.Connections.Opened, rep.Latency["rtt"].Count, sent, received, rtts)
	}
	for i, s := range rep.Shards.Present {
		if s.Index != i || s.SkewNs != reps[i].Shard.Shard.SkewNs || rep.Shards.SkewMaxNs < s.SkewNs {
			t.Errorf("shard %d: %+v, skew max %d", i, s, rep.Shards.SkewMaxNs)
		}
	}

	// Shard 1 again, given a start long past: it connects, misses it, writes
	// its result and exits 5.
	late := filepath.Join(t.TempDir(), "late-1.json")
	cmd := exec.Command(binary, append([]string{"run", "-q", "-o", late, "--shard", "1/3", "--start-at", time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)}, args...)...)
	if b, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != exitMissedStart {
		t.Fatalf("late shard: %v, exit %d\n%s", err, cmd.ProcessState.ExitCode(), b)
	}
	files := []string{filepath.Join(dir, "shard-0.json"), late, filepath.Join(dir, "shard-2.json")}
	code, _, stderr = runCLI(append([]string{"merge"}, files...)...)
	if code != exitMergeRefused || !strings.Contains(stderr, late+": shard 1/3 missed the common start") {
		t.Errorf("merge with a late shard: exit %d %q", code, stderr)
	}
	code, stdout, stderr = runCLI(append([]string{"merge", "--allow-partial"}, files...)...)
	if code != exitOK || !strings.Contains(stdout, "partial result: shard 1 of 3 missing (shard 1 missed the common start and measured nothing)") ||
		!strings.Contains(stdout, "MISSED START: ready +") {
		t.Errorf("--allow-partial with a late shard: exit %d %s\n%s", code, stderr, stdout)
	}
}
