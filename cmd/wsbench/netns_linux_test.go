//go:build linux

package main

// netns part (issue 16): the multi-host test. Network namespaces joined by
// veth pairs stand for machines: `wsbench serve` runs in one, each shard of
// a run in another, each a process of its own started as a Kubernetes
// Indexed Job starts a pod (JOB_COMPLETION_INDEX, `--shard auto/N
// --start-at T`), and `wsbench merge` puts their results together.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/results"
)

// netLabPrefix starts the name of every namespace a netLab makes, followed
// by the test process's PID: a later test run deletes what a killed one
// left behind (sweepNetLabs), and never another live run's.
const netLabPrefix = "wsbt"

// netServerIP is the server namespace's address, the same for every shard
// (one URL, one plan): on its loopback, routed to over each shard's own
// veth. The whole lab is in 198.18.0.0/16, the RFC 2544 benchmarking range
// the netns test has to itself (the Kubernetes e2e test uses 198.19.0.0/16).
const netServerIP = "198.18.0.1"

// netLab is a set of network namespaces made for one test: "srv" and one
// per client, client i joined to srv by a veth pair on 198.18.(i+1).0/24
// (srv .1, client .2). Every namespace and process is removed when the test
// ends, however it ends; a test process killed outright leaves namespaces
// named after its PID, which the next newNetLab deletes.
type netLab struct {
	t       *testing.T
	srv     string   // the server's namespace
	clients []string // the clients' namespaces
}

// needNetns skips the test without root or iproute2, except in CI (CI=true),
// where the multi-host test must run: there it fails instead.
func needNetns(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to make network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs iproute2's ip command (.ci/run installs it)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI must run the multi-host test", why)
	}
	t.Skip(why)
}

// ip runs `ip ARGS…` and fails the test, with ip's output, if it fails.
func (l *netLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sweepNetLabs deletes the namespaces of test processes that no longer run.
func sweepNetLabs(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, netLabPrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // not ours, ours, or its test still runs
		}
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Logf("left over from test process %d: ip netns delete %s: %v %s", pid, name, err, out)
		}
	}
}

// newNetLab makes the server's namespace and n clients' (see netLab).
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	needNetns(t)
	sweepNetLabs(t)
	base := fmt.Sprintf("%s%d-%d-", netLabPrefix, os.Getpid(), time.Now().UnixNano()%1e6)
	l := &netLab{t: t, srv: base + "srv"}
	add := func(ns string) {
		l.ip("netns", "add", ns)
		// Deleting the namespace deletes its interfaces, veth peers too.
		// Registered at once: a failure further on still removes it.
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
				t.Errorf("cleanup: ip netns delete %s: %v %s", ns, err, out)
			}
		})
		l.ip("-n", ns, "link", "set", "lo", "up")
	}
	add(l.srv)
	l.ip("-n", l.srv, "addr", "add", netServerIP+"/32", "dev", "lo")
	for i := range n {
		ns := fmt.Sprintf("%sc%d", base, i)
		add(ns)
		l.clients = append(l.clients, ns)
		// The pair is made inside the server's namespace, one end moved
		// to the client's: the names never meet the host's interfaces.
		srvEnd, cliEnd := fmt.Sprintf("to-c%d", i), "eth0"
		l.ip("-n", l.srv, "link", "add", srvEnd, "type", "veth", "peer", "name", cliEnd, "netns", ns)
		l.ip("-n", l.srv, "addr", "add", fmt.Sprintf("198.18.%d.1/24", i+1), "dev", srvEnd)
		l.ip("-n", ns, "addr", "add", fmt.Sprintf("198.18.%d.2/24", i+1), "dev", cliEnd)
		l.ip("-n", l.srv, "link", "set", srvEnd, "up")
		l.ip("-n", ns, "link", "set", cliEnd, "up")
		l.ip("-n", ns, "route", "add", netServerIP+"/32", "via", fmt.Sprintf("198.18.%d.1", i+1))
	}
	return l
}

// command returns the wsbench binary with args to run in namespace ns, with
// env added to this process's environment. Started, it is killed when the
// test ends, before the namespaces go (cleanups run last first).
func (l *netLab) command(ctx context.Context, ns string, env []string, args ...string) *exec.Cmd {
	// `ip netns exec` enters the namespace and execs the binary: the
	// process started is wsbench itself, so its PID is the shard's.
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, binary}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	l.t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// served is a `wsbench serve` process a netLab started.
type served struct {
	cmd  *exec.Cmd
	last chan string // its last line of output, once it has ended
}

// serve starts `wsbench serve` on port in the server's namespace with the
// extra flags and returns it and its URL once it listens.
func (l *netLab) serve(port int, flags ...string) (*served, string) {
	l.t.Helper()
	addr := fmt.Sprintf("%s:%d", netServerIP, port)
	cmd := l.command(context.Background(), l.srv, nil, append([]string{"serve", "--addr", addr}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	first := make(chan string, 1)
	srv := &served{cmd: cmd, last: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		last := ""
		for sc.Scan() {
			last = sc.Text()
		}
		srv.last <- last
	}()
	select {
	case line := <-first:
		if !strings.Contains(line, "listening on ws://"+addr+"/") {
			l.t.Fatalf("serve in %s: first line %q, stderr %s", l.srv, line, stderr.String())
		}
	case <-time.After(20 * time.Second):
		l.t.Fatalf("serve in %s did not print its address in 20s", l.srv)
	}
	return srv, "ws://" + addr + "/"
}

// shardRun is one sharded run: its processes, their output and results.
type shardRun struct {
	dir   string
	cmds  []*exec.Cmd
	outs  []*bytes.Buffer
	start time.Time
}

// startShards starts `wsbench run --shard auto/N --start-at START -o
// DIR/shard-I.json ARGS…`, shard I in client namespace I, with
// JOB_COMPLETION_INDEX=I as an Indexed Job gives it.
func (l *netLab) startShards(ctx context.Context, start time.Time, args ...string) *shardRun {
	l.t.Helper()
	n := len(l.clients)
	r := &shardRun{dir: l.t.TempDir(), start: start}
	for i, ns := range l.clients {
		a := append([]string{"run", "-q", "--shard", fmt.Sprintf("auto/%d", n),
			"--start-at", start.UTC().Format(time.RFC3339Nano),
			"-o", filepath.Join(r.dir, fmt.Sprintf("shard-%d.json", i))}, args...)
		cmd := l.command(ctx, ns, []string{fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i)}, a...)
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			l.t.Fatal(err)
		}
		r.cmds = append(r.cmds, cmd)
		r.outs = append(r.outs, out)
	}
	return r
}

// wait waits for every shard and returns their exit codes (-1: killed).
func (r *shardRun) wait() []int {
	codes := make([]int, len(r.cmds))
	for i, c := range r.cmds {
		err := c.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			codes[i] = ee.ExitCode()
		default:
			codes[i] = -2
		}
	}
	return codes
}

// runShardsOnce runs the N shards to their end with a start lead ahead and
// reads their results. On a machine too busy to connect in time (a shard
// exits 5, missed start) it says so with missed true: the caller tries
// again with a longer lead.
func (l *netLab) runShardsOnce(start time.Time, args ...string) (reps []*results.Report, dir string, missed bool) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := l.startShards(ctx, start, args...)
	var failed []string
	for i, code := range r.wait() {
		switch code {
		case 0:
		case exitMissedStart:
			missed = true
		default:
			failed = append(failed, fmt.Sprintf("shard %d exit %d: %s", i, code, r.outs[i]))
		}
	}
	if len(failed) > 0 {
		l.t.Fatalf("shards failed:\n%s", strings.Join(failed, "\n"))
	}
	if missed {
		return nil, "", true
	}
	for i := range l.clients {
		rep, err := results.Read(filepath.Join(r.dir, fmt.Sprintf("shard-%d.json", i)))
		if err != nil {
			l.t.Fatalf("shard %d: %v\n%s", i, err, r.outs[i])
		}
		reps = append(reps, rep)
	}
	return reps, r.dir, false
}

// mergeCLI runs `wsbench merge ARGS…` as its own process.
func mergeCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(binary, append([]string{"merge"}, args...)...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("merge: %v", err)
	}
	return code, o.String(), e.String()
}

// serveStats are the counters `wsbench serve` prints as it stops.
type serveStats struct {
	MessagesIn  int64 `json:"messages_in"`
	MessagesOut int64 `json:"messages_out"`
	Stalled     int64 `json:"stalled"`
}

// stop stops the server with SIGINT, waits for it and returns the counters
// it printed.
func (s *served) stop(t *testing.T) serveStats {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-done
		t.Fatalf("serve did not stop on SIGINT in 15s")
	}
	last := <-s.last
	var st serveStats
	_, js, ok := strings.Cut(last, "stopped; stats ")
	if !ok {
		t.Fatalf("serve's last line %q, want its stats", last)
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("serve's stats %q: %v", js, err)
	}
	return st
}

// countAbove returns how many of a result's latency values of metric name
// are above d (to the histogram's precision, 0.1%).
func countAbove(t *testing.T, r *results.Report, name string, d time.Duration) int64 {
	t.Helper()
	h, err := r.Histogram(name)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, b := range h.Raw().Distribution() {
		if b.From > d.Microseconds() {
			n += b.Count
		}
	}
	return n
}

// The plan of the multi-host test: open model, 300 messages a second over 6
// connections (2 a shard) for 3 s, no warm-up: 900 messages, exactly. At
// most one message in flight per connection (--max-inflight 1), so a
// stalled server holds every connection's sends back: the corrected
// latency (from each message's intended time) shows the whole stall, the
// uncorrected one (from the actual send) only one message per connection:
// coordinated omission, which the shards must correct together as one
// process does. The server stalls 1 s after the common start, for 500 ms.
const (
	mhConns      = 6
	mhRate       = 300
	mhDuration   = 3 * time.Second
	mhStallAfter = time.Second
	mhStall      = 500 * time.Millisecond
	mhPlanned    = int64(mhRate * 3) // rate × duration
)

var mhLoad = []string{"-c", strconv.Itoa(mhConns), "-r", strconv.Itoa(mhRate), "-d", mhDuration.String(),
	"--warmup", "0s", "--max-inflight", "1"}

// runStalled runs the plan on the namespaces of lab.clients[:n] (n shards,
// auto/n with JOB_COMPLETION_INDEX) against a server in lab.srv on port
// that stalls mhStallAfter after their common start, and returns their
// results and folder. The start is lead ahead; a shard that misses it on a
// busy machine (exit 5) makes it try again, a fresh server and twice the
// lead, up to three times: the test is about what shards measure, not how
// fast this machine starts processes. It returns the lead that worked.
func runStalled(t *testing.T, lab *netLab, n, port int, lead time.Duration) ([]*results.Report, string, time.Duration) {
	t.Helper()
	sub := &netLab{t: t, srv: lab.srv, clients: lab.clients[:n]}
	for try := 0; ; try++ {
		start := time.Now().Add(lead)
		stall := start.Add(mhStallAfter).UTC().Format(time.RFC3339Nano) + ":" + mhStall.String()
		srv, url := lab.serve(port+try, "--stall", stall)
		reps, dir, missed := sub.runShardsOnce(start, append(mhLoad, url)...)
		st := srv.stop(t)
		if !missed {
			// The server got every planned message through the veths and
			// answered each; with one in flight per connection, it held
			// at most one per connection in the stall, and at least one.
			if st.MessagesIn != mhPlanned || st.MessagesOut != mhPlanned || st.Stalled < 1 || st.Stalled > mhConns {
				t.Errorf("%d shards: server stats %+v, want %d in and out, 1 to %d stalled", n, st, mhPlanned, mhConns)
			}
			return reps, dir, lead
		}
		if try == 2 {
			t.Fatalf("a shard missed a start %v ahead three times", lead)
		}
		t.Logf("a shard missed a start %v ahead on this busy machine; again with twice that", lead)
		lead *= 2
	}
}

// TestMultiHostShards (netns, issue 16): three shards in three network
// namespaces, each a process started as an Indexed Job starts a pod, run one
// open-model plan against `wsbench serve` in a fourth, which stalls 500 ms
// in the middle; the same plan runs in one process against the same kind of
// server. Then:
//   - every shard started measuring at the common start, late by no more
//     than this machine's scheduling delay allows, and the merge reports the
//     largest skew and the spread;
//   - `wsbench merge` of the folder gives exactly the planned 900 messages,
//     sent and answered, over 6 connections;
//   - the stall shows in the merged corrected latency as in the one
//     process's: max at least 90% of the stall, and the values above half
//     the stall at least the messages due in its first half (rate × stall/2,
//     less a grid step per connection), at most that plus what a scheduling
//     hiccup adds; the uncorrected latency shows it at most once per
//     connection (a third of that, with room for hiccups);
//   - a shard killed with SIGKILL makes `wsbench merge` refuse (exit 6) and
//     `--allow-partial` merge the other two, saying which one is missing.
func TestMultiHostShards(t *testing.T) {
	lab := newNetLab(t, 3)
	watch := schedwatch.Watch()
	const port = 18080
	shardReps, dir, lead := runStalled(t, lab, 3, port, 3*time.Second)
	single, _, _ := runStalled(t, lab, 1, port+10, lead)
	delay := watch()
	t.Logf("scheduling delay: max %v, mean %v", delay.Max, delay.Mean)

	// Skew: each shard woke at the common start, late by what the
	// scheduler allows (a sleep's wake-up, its own process's start-up is
	// before the start), and the merge reports the largest and the spread.
	skewBound := 100*time.Millisecond + 4*delay.Max
	var skewMax, first, last int64
	for i, r := range shardReps {
		if r.Shard == nil {
			t.Fatalf("shard %d: no shard section in its result", i)
		}
		s := r.Shard.Shard
		if s.Index != i || s.Count != 3 || s.Plan != shardReps[0].Shard.Shard.Plan || r.StopReason != "completed" {
			t.Errorf("shard %d: %+v, stop %s", i, s, r.StopReason)
		}
		if s.SkewNs < 0 || time.Duration(s.SkewNs) > skewBound {
			t.Errorf("shard %d started %v after the common start, want 0 to %v (4 × the scheduling delay seen, + 100ms)", i, time.Duration(s.SkewNs), skewBound)
		}
		skewMax = max(skewMax, s.SkewNs)
		if i == 0 || s.StartedAt.UnixNano() < first {
			first = s.StartedAt.UnixNano()
		}
		last = max(last, s.StartedAt.UnixNano())
	}

	// The merge, by the command, of the folder the shards wrote.
	mergedPath := filepath.Join(t.TempDir(), "merged.json")
	if code, stdout, stderr := mergeCLI(t, "-o", mergedPath, dir); code != exitOK {
		t.Fatalf("merge: exit %d\n%s%s", code, stdout, stderr)
	}
	merged, err := results.Read(mergedPath)
	if err != nil {
		t.Fatal(err)
	}
	if sh := merged.Shards; sh == nil || sh.Count != 3 || len(sh.Present) != 3 || sh.Partial || sh.SkewMaxNs != skewMax || sh.SpreadNs != last-first {
		t.Errorf("merged shards %+v, want 3 of 3, skew max %d, spread %d", merged.Shards, skewMax, last-first)
	}
	t.Logf("start skew: max %v, spread %v", time.Duration(skewMax), time.Duration(last-first))

	// Above half the stall: at least every message due in its first half
	// (each answered at its end at the earliest; less a grid step per
	// connection), at most those plus the sends that queued behind the
	// stall (--max-inflight 1) and are caught up a little late: 200 ms of
	// the rate, plus 4 × the scheduling delay seen.
	hiLo := mhRate*int64(mhStall/2)/int64(time.Second) - mhConns
	hiHi := hiLo + mhConns + mhRate*int64(200*time.Millisecond+4*delay.Max)/int64(time.Second)
	for _, run := range []struct {
		name string
		r    *results.Report
	}{{"3 shards merged", merged}, {"1 process", single[0]}} {
		m := run.r.Messages
		if m.Sent != mhPlanned || m.Received != mhPlanned || m.Unsent != 0 || !m.Balanced || run.r.Connections.Opened != mhConns {
			t.Errorf("%s: messages %+v, %d connections; want %d sent and answered (%d/s for %v) over %d",
				run.name, m, run.r.Connections.Opened, mhPlanned, mhRate, mhDuration, mhConns)
		}
		rtt, raw := run.r.Latency["rtt"], run.r.Latency["rtt_uncorrected"]
		hi := countAbove(t, run.r, "rtt", mhStall/2)
		rawHi := countAbove(t, run.r, "rtt_uncorrected", mhStall/2)
		t.Logf("%s: rtt max %v, %d above %v; uncorrected max %v, %d above", run.name,
			usDur(rtt.MaxUs), hi, mhStall/2, usDur(raw.MaxUs), rawHi)
		if rtt.Count != mhPlanned || usDur(rtt.MaxUs) < mhStall*9/10 {
			t.Errorf("%s: rtt count %d, max %.0fµs; want %d values, max at least 90%% of the %v stall", run.name, rtt.Count, rtt.MaxUs, mhPlanned, mhStall)
		}
		if hi < hiLo || hi > hiHi {
			t.Errorf("%s: %d rtt values above %v, want %d to %d (the messages due in the stall's first half)", run.name, hi, mhStall/2, hiLo, hiHi)
		}
		// At least one: a connection's first send in the stall's first
		// half waits out the rest of it, unless the client was frozen
		// that whole half (a scheduling delay of a quarter stall, seen).
		if (rawHi < 1 && delay.Max < mhStall/4) || rawHi > hi/3 {
			t.Errorf("%s: %d uncorrected values above %v, want 1 to %d: one per connection held (%d), a third of the corrected %d", run.name, rawHi, mhStall/2, hi/3, mhConns, hi)
		}
	}

	// A shard killed outright (SIGKILL: no result written, as when a node
	// dies) mid-run: the other two complete; the merge refuses, naming the
	// missing shard, unless --allow-partial, which merges the two and says
	// the totals are partial.
	killedDir := killOneShard(t, lab, port+20, lead)
	code, stdout, stderr := mergeCLI(t, killedDir)
	if code != exitMergeRefused || stdout != "" || !strings.Contains(stderr, "shard 1 of 3 missing") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("merge with shard 1 killed: exit %d, stdout %q, stderr %q; want exit 6 and one line naming shard 1", code, stdout, stderr)
	}
	partialPath := filepath.Join(t.TempDir(), "partial.json")
	code, stdout, stderr = mergeCLI(t, "--allow-partial", "-o", partialPath, killedDir)
	if code != exitOK || !strings.Contains(stdout, "partial result: shard 1 of 3 missing; totals cover 2 of 3 shards, not the whole run") {
		t.Errorf("merge --allow-partial: exit %d\n%s%s", code, stdout, stderr)
	}
	partial, err := results.Read(partialPath)
	if err != nil {
		t.Fatal(err)
	}
	var twoSent int64
	for _, i := range []int{0, 2} {
		r, err := results.Read(filepath.Join(killedDir, fmt.Sprintf("shard-%d.json", i)))
		if err != nil {
			t.Fatal(err)
		}
		twoSent += r.Messages.Sent
	}
	if sh := partial.Shards; sh == nil || !sh.Partial || len(sh.Missing) != 1 || sh.Missing[0] != 1 || partial.Messages.Sent != twoSent || twoSent == 0 {
		t.Errorf("partial merge: shards %+v, sent %d; want shard 1 missing and the other two's %d", partial.Shards, partial.Messages.Sent, twoSent)
	}
}

// killOneShard runs the plan's load for 3 shards against a server that does
// not stall and kills shard 1 with SIGKILL once the run has started: the
// others run to their end. It returns the folder of results, which holds
// no result of shard 1.
func killOneShard(t *testing.T, lab *netLab, port int, lead time.Duration) string {
	t.Helper()
	for try := 0; ; try++ {
		srv, url := lab.serve(port + try)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		start := time.Now().Add(lead)
		r := lab.startShards(ctx, start, append(mhLoad, url)...)
		time.Sleep(time.Until(start.Add(300 * time.Millisecond)))
		if err := r.cmds[1].Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill shard 1 (pid %d): %v", r.cmds[1].Process.Pid, err)
		}
		codes := r.wait()
		cancel()
		srv.stop(t)
		if codes[0] == exitMissedStart || codes[2] == exitMissedStart {
			if try == 2 {
				t.Fatalf("a shard missed a start %v ahead three times", lead)
			}
			lead *= 2
			continue
		}
		if codes[0] != 0 || codes[1] != -1 || codes[2] != 0 {
			t.Fatalf("exit codes %v, want 0, killed (-1), 0\n%s\n%s", codes, r.outs[0], r.outs[2])
		}
		if _, err := os.Stat(filepath.Join(r.dir, "shard-1.json")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the killed shard left a result (%v)", err)
		}
		return r.dir
	}
}

// usDur is a summary's microseconds as a duration.
func usDur(us float64) time.Duration { return time.Duration(us * float64(time.Microsecond)) }

// TestNetLabCleanup (netns, issue 16): the namespaces of a lab are gone
// when its test ends, even a test that failed (a test process of its own,
// TestNetLabFails, made a lab and failed on an ip command); those a killed
// test process left behind are deleted by the next lab, and those of a
// process still running are left alone.
func TestNetLabCleanup(t *testing.T) {
	needNetns(t)
	list := func() string {
		out, err := exec.Command("ip", "netns", "list").Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestNetLabFails$", "-test.count=1", "-test.v")
	child.Env = append(os.Environ(), "WSBENCH_NETLAB_FAIL=1")
	out, err := child.CombinedOutput()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if _, ns, ok := strings.Cut(line, "lab namespace "); ok {
			names = append(names, strings.TrimSpace(ns))
		}
	}
	if err == nil || len(names) != 3 || !strings.Contains(string(out), "addr add "+netServerIP+"/32 dev lo: exit status") {
		t.Fatalf("the failing test: %v, namespaces %q, want the failure of ip adding an address twice after 3 namespaces\n%s", err, names, out)
	}
	after := list()
	for _, ns := range names {
		if strings.Contains(after, ns) {
			t.Errorf("namespace %s of the failed test left behind:\n%s", ns, after)
		}
	}

	// What a killed test process leaves: namespaces named after its PID.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-0-srv", netLabPrefix, dead.Process.Pid)
	live := fmt.Sprintf("%s%d-0-srv", netLabPrefix, os.Getppid()) // a running process's
	for _, ns := range []string{stale, live} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v %s", ns, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	}
	sweepNetLabs(t)
	after = list()
	if strings.Contains(after, stale) || !strings.Contains(after, live) {
		t.Errorf("after the sweep:\n%s\nwant %s (process gone) deleted, %s (process %d running) kept", after, stale, live, os.Getppid())
	}
}

// TestNetLabFails is TestNetLabCleanup's failing test, run only by it (in a
// process of its own): it makes a lab of two clients, says its namespaces,
// and fails on an ip command (an address added twice).
func TestNetLabFails(t *testing.T) {
	if os.Getenv("WSBENCH_NETLAB_FAIL") != "1" {
		t.Skip("run by TestNetLabCleanup")
	}
	lab := newNetLab(t, 2)
	for _, ns := range append([]string{lab.srv}, lab.clients...) {
		t.Logf("lab namespace %s", ns)
	}
	lab.ip("-n", lab.srv, "addr", "add", netServerIP+"/32", "dev", "lo")
	t.Error("ip added an address twice")
}
