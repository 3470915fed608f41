package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/results"
)

// runShards runs `wsbench run --shard i/n --start-at START` for every i at
// once and reads their results. A start ahead of the processes by lead; on
// a machine too busy to connect in time (exit 5) it tries again with twice
// the lead, up to three times: what the test checks is the split, not how
// fast this machine starts processes.
func runShards(t *testing.T, n int, env []string, args ...string) []*results.Report {
	t.Helper()
	lead := 2 * time.Second
	for try := 0; ; try++ {
		dir := t.TempDir()
		start := time.Now().Add(lead).UTC().Format(time.RFC3339Nano)
		cmds := make([]*exec.Cmd, n)
		outs := make([]bytes.Buffer, n)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		for i := range n {
			shard := []string{"--shard", fmt.Sprintf("%d/%d", i, n), "--start-at", start}
			cmds[i] = exec.CommandContext(ctx, binary, append(append([]string{"run", "-q", "-o", filepath.Join(dir, fmt.Sprint(i)+".json")}, shard...), args...)...)
			cmds[i].Env = append(os.Environ(), env...)
			cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		missed := false
		var failed []string
		for i, c := range cmds {
			err := c.Wait()
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee) && ee.ExitCode() == exitMissedStart:
				missed = true
			case err != nil:
				failed = append(failed, outs[i].String())
			}
		}
		cancel()
		if len(failed) > 0 {
			t.Fatalf("shards failed: %s", strings.Join(failed, "\n"))
		}
		if missed && try < 2 {
			t.Logf("a shard missed a start %s ahead on this busy machine; again with twice that", lead)
			lead *= 2
			continue
		}
		reps := make([]*results.Report, n)
		for i := range n {
			r, err := results.Read(filepath.Join(dir, fmt.Sprint(i)+".json"))
			if err != nil {
				t.Fatalf("shard %d: %v\n%s", i, err, outs[i].String())
			}
			reps[i] = r
		}
		return reps
	}
}

// TestShardsStartTogetherAndSumExactly: three shards of an open-model run
// started with one --start-at send, together, exactly the planned messages
// (rate × duration), each starting its clock at the start itself (the
// schedule's epoch), reporting its place, one plan and its skew; merged,
// they are the whole run.
func TestShardsStartTogetherAndSumExactly(t *testing.T) {
	_, url, _ := startServe(t)
	reps := runShards(t, 3, nil, "-c", "10", "-r", "600", "-d", "1s", "--warmup", "200ms", url)
	var planned, sent, received int64
	next := 0
	for i, r := range reps {
		if r.Shard == nil {
			t.Fatalf("shard %d: no shard section in its result", i)
		}
		s := r.Shard.Shard
		if s.Index != i || s.Count != 3 || s.Plan != reps[0].Shard.Shard.Plan || !strings.HasPrefix(s.Plan, "sha256:") {
			t.Errorf("shard %d says %+v", i, s)
		}
		if s.FirstSlot != next || s.Conns < 3 || s.Conns > 4 || r.Connections.Opened != int64(s.Conns) {
			t.Errorf("shard %d: slots %d+%d (opened %d), want from %d", i, s.FirstSlot, s.Conns, r.Connections.Opened, next)
		}
		next += s.Conns
		if s.StartAt.IsZero() || !s.StartAt.Equal(reps[0].Shard.Shard.StartAt) {
			t.Errorf("shard %d: start %v, shard 0's %v", i, s.StartAt, reps[0].Shard.Shard.StartAt)
		}
		// The clock's origin is the start itself; the shard woke at or after it.
		if !r.Shard.Measurement.Started.Equal(s.StartAt) || !r.StartedAt.Equal(s.StartAt) {
			t.Errorf("shard %d: clock started %v, want the common start %v", i, r.Shard.Measurement.Started, s.StartAt)
		}
		if s.SkewNs < 0 || s.StartedAt.Sub(s.StartAt).Nanoseconds() != s.SkewNs {
			t.Errorf("shard %d: started %v, skew %dns, start %v", i, s.StartedAt, s.SkewNs, s.StartAt)
		}
		if r.StopReason != "completed" || !r.Messages.Balanced {
			t.Errorf("shard %d: stop %s, messages %+v", i, r.StopReason, r.Messages)
		}
		// What fell due is sent or, on a machine too busy to keep up, unsent:
		// either way each planned message is counted once, by one shard.
		planned += r.Messages.Sent + r.Messages.Unsent
		sent += r.Messages.Sent
		received += r.Messages.Received
	}
	if next != 10 || planned != 600 || received != sent || sent == 0 {
		t.Errorf("shards cover %d slots, planned %d (sent %d), received %d; want 10 slots and 600 messages (600/s for 1s), all sent received", next, planned, sent, received)
	}
	merged, err := results.MergeShards(reps, false)
	if err != nil {
		t.Fatal(err)
	}
	if merged.Messages.Sent+merged.Messages.Unsent != 600 || merged.Messages.Received != sent || merged.Connections.Opened != 10 || merged.Scenario.Conns != 10 {
		t.Errorf("merged: messages %+v, connections %+v, scenario conns %d", merged.Messages, merged.Connections, merged.Scenario.Conns)
	}
}

// TestShardAutoIndex: --shard auto/N reads the index a Kubernetes Indexed
// Job gives (JOB_COMPLETION_INDEX), or the variable --shard-index-env names.
func TestShardAutoIndex(t *testing.T) {
	_, url, _ := startServe(t)
	for _, tc := range []struct {
		env  []string
		args []string
		want int
	}{
		{[]string{"JOB_COMPLETION_INDEX=2"}, []string{"--shard", "auto/3"}, 2},
		{[]string{"JOB_COMPLETION_INDEX=2", "MY_IDX=1"}, []string{"--shard", "auto/3", "--shard-index-env", "MY_IDX"}, 1},
	} {
		out := filepath.Join(t.TempDir(), "r.json")
		cmd := exec.Command(binary, append(append([]string{"run", "-q", "-o", out, "-c", "3", "-d", "200ms"}, tc.args...), url)...)
		cmd.Env = append(os.Environ(), tc.env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, b)
		}
		r, err := results.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		if r.Shard == nil || r.Shard.Shard.Index != tc.want || r.Shard.Shard.Count != 3 || r.Shard.Shard.FirstSlot != tc.want || r.Shard.Shard.Conns != 1 {
			t.Errorf("%v %v: shard %+v, want index %d", tc.env, tc.args, r.Shard, tc.want)
		}
	}
}

// TestShardMissedStart: a shard not connected by --start-at exits 5 with one
// line saying so, and still writes its result, marked missed_start, with
// its place and what it opened.
func TestShardMissedStart(t *testing.T) {
	_, url, _ := startServe(t)
	out := filepath.Join(t.TempDir(), "r.json")
	past := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	cmd := exec.Command(binary, "run", "-q", "-o", out, "-c", "4", "-r", "100", "-d", "1s", "--shard", "1/2", "--start-at", past, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("exit %v, want 5\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "shard 1/2 not connected and ready by the start "+past) {
		t.Errorf("stderr:\n%s\nwant one line naming the shard and the start", stderr.String())
	}
	r, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.StopReason != "missed_start" || r.Shard == nil || r.Shard.Shard.Index != 1 || r.Messages.Sent != 0 || r.Connections.Opened != 2 || r.Shard.Shard.SkewNs < int64(time.Second) {
		t.Errorf("result: stop %s, shard %+v, sent %d, opened %d", r.StopReason, r.Shard, r.Messages.Sent, r.Connections.Opened)
	}
}

// TestShardFlagErrors: bad shard flags are usage errors (exit 2) naming the
// flag, before any connection.
func TestShardFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--shard", "2/2"}, nil, "--shard: shard index 2 is not one of 0 … 1"},
		{[]string{"--shard", "1"}, nil, "--shard: want I/N"},
		{[]string{"--shard", "auto/2"}, []string{"JOB_COMPLETION_INDEX=", "NOMAD_ALLOC_INDEX=", "AWS_BATCH_JOB_ARRAY_INDEX=", "SLURM_ARRAY_TASK_ID="}, "--shard: auto: none of $JOB_COMPLETION_INDEX"},
		{[]string{"--shard", "0/2", "--start-at", "soon"}, nil, "--start-at: want an RFC 3339 time"},
		{[]string{"--start-at", "+10s"}, nil, "--start-at: needs --shard"},
		{[]string{"--shard-index-env", "X"}, nil, "--shard-index-env: needs --shard auto/N"},
		{[]string{"--shard", "0/5", "-c", "4"}, nil, "--shard: 5 shards need at least 5 connections, got 4"},
		{[]string{"--shard", "0/2", "--procs", "2"}, nil, "--shard: a shard runs in one process"},
		{[]string{"--shard", "0/2", "--repeat", "2"}, nil, "--shard: runs one shard of one run"},
	} {
		cmd := exec.Command(binary, append([]string{"run"}, append(tc.args, "ws://127.0.0.1:9/")...)...)
		cmd.Env = append(os.Environ(), tc.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: %v\n%s\nwant exit 2 saying %q", tc.args, err, stderr.String(), tc.want)
		}
	}
	// No URL: each shard would load a bundled server of its own.
	var stderr bytes.Buffer
	cmd := exec.Command(binary, "run", "--shard", "1/2", "-d", "1s")
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "--shard 1/2: needs the target URL") {
		t.Errorf("a shard with no URL: %v\n%s\nwant exit 2 asking for the target URL", err, stderr.String())
	}
}

// TestProcsAreShards: --procs N runs its processes as shards i/N of one
// plan, started on one common start (the "go" line carries it): the merged
// result lists them, each with that start as its clock's origin.
func TestProcsAreShards(t *testing.T) {
	_, url, _ := startServe(t)
	rep := runJSON(t, "--procs", "2", "-c", "6", "-r", "300", "-d", "500ms", "--warmup", "0s", url)
	s := rep.Shards
	if s == nil || s.Count != 2 || len(s.Present) != 2 || s.Partial || !strings.HasPrefix(s.Plan, "sha256:") {
		t.Fatalf("shards of the merged result: %+v", s)
	}
	for i, p := range s.Present {
		if p.Index != i || p.Plan != s.Plan || p.StartAt.IsZero() || !p.StartAt.Equal(s.Present[0].StartAt) || p.SkewNs < 0 || p.Conns != 3 || p.FirstSlot != 3*i {
			t.Errorf("process %d: %+v", i, p)
		}
	}
	if m := rep.Messages; m.Sent+m.Unsent != 150 || m.Received != m.Sent || rep.Scenario.Procs != 2 || !rep.StartedAt.Equal(s.Present[0].StartAt) {
		t.Errorf("merged: messages %+v, procs %d, started %v (common start %v)", rep.Messages, rep.Scenario.Procs, rep.StartedAt, s.Present[0].StartAt)
	}
}
