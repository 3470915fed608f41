package orchestrate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/internal/iomode"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// A split run (Spec.Procs N > 1): this process (the parent) starts N
// copies of itself with Plan.ChildArgs, each calling Child and opening its
// share of the connections. Each reads its settings as one line of JSON on
// stdin (so no secret is on a command line, which every user can read),
// reports "ready" on fd 3 once its connections are open and waits for a
// "go START" line on stdin; when every child is ready the parent sends all
// one start a little ahead (procsStartLead), which each waits for as a
// shard waits for --start-at: their clocks start together, on one epoch.
// What a child prints on stderr passes through the parent's redaction of
// the run's secret values. Each child is shard i/N of the parent's plan
// (scenario.PlanHash) and prints its shard result (results.ShardResult: its
// place, start, skew and measurement) as JSON on stdout; the parent merges
// them exactly (results.MergeShards, by metrics.Merge). Children
// run in their own process group: a terminal's Ctrl-C reaches only the
// parent, which forwards each signal once (the first stops the children
// gracefully, the second at once).

// share is child i's part of n connections split over procs: its first slot
// and its count.
func share(n, procs, i int) (first, count int) {
	base, extra := n/procs, n%procs
	first = i*base + min(i, extra)
	count = base
	if i < extra {
		count++
	}
	return first, count
}

// procsStartLead is how far ahead of the "go" line a split run's common
// start lies: time for every process to read it and wake before it.
const procsStartLead = 100 * time.Millisecond

type child struct {
	cmd    *exec.Cmd
	first  int
	conns  int
	stdin  io.WriteCloser
	stdout bytes.Buffer
	ready  chan bool // true: ready; false: exited or failed before
	done   chan error
}

// Split runs p over p.Spec.Procs child processes, each started as this
// program with p.ChildArgs (which must call Child), and merges their
// results exactly. The first cancellation of ctx or abort stops the
// children gracefully, a cancelled abort at once. It returns an error only
// when no child reported a result; a child that did not is a warning.
func Split(ctx, abort context.Context, p Plan) (*results.Report, error) {
	spec, target, opts := p.Spec, p.Target, p.Driver
	if len(p.ChildArgs) == 0 {
		return nil, errors.New("a split run needs Plan.ChildArgs, the arguments that make this program call Child")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fieldErrorf("procs", "find this program: %w", err)
	}
	kids := make([]*child, spec.Procs)
	// What the children print goes through one redaction, whatever it is.
	childErr := &scrubWriter{w: p.Stderr, scrub: spec.Scrubber()}
	defer func() {
		for _, k := range kids {
			if k != nil && k.cmd.Process != nil && k.cmd.ProcessState == nil {
				k.cmd.Process.Kill()
			}
		}
	}()
	plan := scenario.PlanHash(spec, spec.Procs) // shard part: the children are shards i/N of this plan
	for i := range kids {
		first, n := share(spec.Conns, spec.Procs, i)
		settings, err := childInput(spec, target, first, n, opts, shardOf(i, spec.Procs, plan))
		if err != nil {
			return nil, fieldErrorf("procs", "settings of client process %d: %w", i, err)
		}
		k, err := startChild(exe, p.ChildArgs, settings, first, n, childErr)
		if err != nil {
			return nil, fieldErrorf("procs", "start client process %d: %w", i, err)
		}
		kids[i] = k
	}

	// Wait until every child has opened its connections (or given up).
	signalAll := func() {
		for _, k := range kids {
			k.cmd.Process.Signal(syscall.SIGINT)
		}
	}
	for _, k := range kids {
		select {
		case <-k.ready:
		case <-ctx.Done():
			// Interrupted while connecting: nothing is measured yet.
			for _, k := range kids {
				k.stdin.Close()
			}
			signalAll()
			for _, k := range kids {
				<-k.done
			}
			return nil, errors.New("interrupted before the load started")
		}
	}
	// shard part: one start a little ahead, for every process, so that
	// their schedules share one epoch (as shards given --start-at).
	start := time.Now().Add(procsStartLead)
	for _, k := range kids {
		io.WriteString(k.stdin, "go "+start.UTC().Format(time.RFC3339Nano)+"\n")
		k.stdin.Close()
	}
	// The processes report only at the end: the live line shows the time.
	if p.OnTick != nil {
		started := time.Now()
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		stopTicks := make(chan struct{})
		defer close(stopTicks)
		go func() {
			for {
				select {
				case <-ticker.C:
					if el := time.Since(started) - time.Duration(spec.Warmup); el > 0 {
						p.OnTick(el, fmt.Sprintf("%d client processes measuring", len(kids)))
					}
				case <-stopTicks:
					return
				}
			}
		}()
	}

	// Forward signals: the first stops the children gracefully, the second at once.
	allDone := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, len(kids))
	for i, k := range kids {
		wg.Go(func() { errs[i] = <-k.done })
	}
	go func() { wg.Wait(); close(allDone) }()
	interrupted, aborted := ctx.Done(), abort.Done()
	for waiting := true; waiting; {
		select {
		case <-allDone:
			waiting = false
		case <-interrupted:
			interrupted = nil
			signalAll()
		case <-aborted:
			aborted = nil
			signalAll()
			signalAll() // a child that missed the first still gets two
		}
	}

	// shard part: each child's result is a shard's (its place, its start
	// and skew, its raw measurement), merged as wsbench merge merges
	// shards: results.MergeShards, exact.
	var shards []*results.Report
	var lost []string
	for i, k := range kids {
		sr, err := readShardResult(k.stdout.Bytes())
		if err != nil {
			lost = append(lost, fmt.Sprintf("client process %d (connections %d-%d) reported no result: %v (%v)", i, k.first, k.first+k.conns-1, errs[i], err))
			continue
		}
		// Judged on its own: its intervals and stages are the whole's to report.
		totals := *sr.Measurement
		totals.Intervals, totals.Stages = nil, nil
		own, err := results.Build(p.about(childSpec(spec, target, k.conns)), &totals)
		if err != nil {
			return nil, fmt.Errorf("client process %d: %w", i, err)
		}
		own.Shard = sr
		shards = append(shards, own)
	}
	if len(shards) == 0 {
		return nil, fieldErrorf("procs", "no client process reported a result: %s", strings.Join(lost, "; "))
	}
	rep, err := results.MergeShards(shards, true)
	if err != nil {
		return nil, err
	}
	// The run's own scenario (its --procs, connect rate, thresholds), not
	// a child's share, and the parent's knowledge of the target.
	// Redacted as results.Build redacts them: the merge kept a child's.
	whole := p.about(spec)
	whole.Spec.Target = whole.Target
	rep.Scenario = results.Redact(whole.Spec)
	rep.Target, rep.Bundled = rep.Scenario.Target, whole.Bundled
	rep.Harness.ServerOnThisMachine = whole.ServerLocal
	rep.Warnings = append(rep.Warnings, lost...)
	// The processes load one server: what one found wrong with it is the
	// run's, said as a run in one process says it.
	if f, ok := strings.CutPrefix(rep.Failure, "shard "); ok {
		if _, line, ok := strings.Cut(f, ": "); ok {
			rep.Failure = line
		}
	}
	return rep, nil
}

// shardOf is child i's shard of a split run of n processes.
func shardOf(i, n int, plan string) results.ShardInfo {
	return results.ShardInfo{Index: i, Count: n, Plan: plan}
}

// readShardResult reads what a child printed on its standard output: its
// shard result (its place and measurement), as JSON.
func readShardResult(b []byte) (*results.ShardResult, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("nothing on its standard output")
	}
	var sr results.ShardResult
	if err := json.Unmarshal(b, &sr); err != nil {
		return nil, fmt.Errorf("its result: %w", err)
	}
	if sr.Measurement == nil || sr.Measurement.Snapshot == nil {
		return nil, errors.New("its result holds no measurement")
	}
	return &sr, nil
}

// childSettings is what a split run's parent hands a child: one line of
// JSON on its standard input, before the "go" line.
type childSettings struct {
	// Spec is the child's own scenario: its share of the connections.
	Spec scenario.Spec `json:"spec"`
	// First and Total place its connections among the whole run's slots.
	First int `json:"first"`
	Total int `json:"total"`
	// The driver options of the parent's flags.
	Workers    int         `json:"workers"`
	IO         iomode.Mode `json:"io"`
	Timestamps string      `json:"rx_timestamps"`
	// shard part: the child's shard of the parent's plan (index, count, plan).
	Shard results.ShardInfo `json:"shard"`
}

// childSpec is the scenario of the child that runs slots first … first+n-1
// of spec at target.
func childSpec(spec scenario.Spec, target string, n int) scenario.Spec {
	return shareSpec(spec, target, n, spec.Procs) // shard part: one split for shards and processes
}

// childInput is the first line a child reads on its standard input.
func childInput(spec scenario.Spec, target string, first, n int, opts driver.Config, shard results.ShardInfo) ([]byte, error) {
	b, err := json.Marshal(childSettings{Spec: childSpec(spec, target, n), First: first, Total: spec.Conns,
		Workers: opts.Workers, IO: opts.IO, Timestamps: opts.Timestamps, Shard: shard})
	return append(b, '\n'), err
}

// readChildSettings reads the line childInput wrote.
func readChildSettings(in *bufio.Reader) (childSettings, error) {
	var set childSettings
	line, err := in.ReadBytes('\n')
	if err != nil {
		return set, SettingsError{fmt.Errorf("no settings on standard input: %v", err)}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		return set, SettingsError{fmt.Errorf("settings: %v", err)}
	}
	return set, nil
}

// SettingsError is a problem with what a child process read on its
// standard input (not sent by a parent, or not for this version of it).
type SettingsError struct{ Err error }

func (e SettingsError) Error() string { return e.Err.Error() }
func (e SettingsError) Unwrap() error { return e.Err }

// InputError is a child's settings that do not compile (scenario.Compile),
// as the parent's would not have.
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// Child is the child side of Split, in the process a parent started with
// Plan.ChildArgs: read the settings from stdin, check them as the parent
// did, open this part's connections, report "ready" on fd 3, start on a
// "go" line from stdin and print the result as JSON on stdout. ctx and
// abort are the process's signals (the parent forwards its own). It
// returns the child's scenario (to scrub its secrets from the error) and
// a SettingsError or InputError for bad settings, any other error for a
// run that failed.
func Child(ctx, abort context.Context, stdin io.Reader, stdout io.Writer, version string) (scenario.Spec, error) {
	in := bufio.NewReader(stdin)
	set, err := readChildSettings(in)
	if err != nil {
		return set.Spec, err
	}
	// Validated as the whole run the parent checked: a child's share of a
	// broadcast run need not be a whole number of rooms (a room may span
	// processes; the driver places slots by their index in the whole run).
	whole := set.Spec
	whole.Conns = set.Total
	compiled, err := scenario.Compile(whole)
	if err != nil {
		return set.Spec, InputError{err}
	}
	p := Plan{Spec: set.Spec, Compiled: compiled.Share(set.Spec.Conns), Target: set.Spec.Target, Version: version,
		Driver: driver.Config{Workers: set.Workers, IO: set.IO, Timestamps: set.Timestamps}}
	return set.Spec, runPart(ctx, abort, p, driver.Part{First: set.First, Total: set.Total}, set.Shard, in, stdout)
}

func startChild(exe string, args []string, settings []byte, first, n int, stderr *scrubWriter) (*child, error) {
	k := &child{first: first, conns: n, ready: make(chan bool, 1), done: make(chan error, 1)}
	k.cmd = exec.Command(exe, args...)
	k.cmd.Stdout = &k.stdout
	lines := stderr.child()
	k.cmd.Stderr = lines
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	k.cmd.ExtraFiles = []*os.File{readyW}
	if k.stdin, err = k.cmd.StdinPipe(); err != nil {
		readyR.Close()
		readyW.Close()
		return nil, err
	}
	if err := k.cmd.Start(); err != nil {
		readyR.Close()
		readyW.Close()
		return nil, err
	}
	readyW.Close()
	if _, err := k.stdin.Write(settings); err != nil {
		k.cmd.Process.Kill()
		k.cmd.Wait()
		readyR.Close()
		return nil, fmt.Errorf("hand over the settings: %w", err)
	}
	go func() {
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		readyR.Close()
		k.ready <- line == "ready\n"
	}()
	go func() {
		err := k.cmd.Wait()
		lines.Flush()
		k.done <- err
	}()
	return k, nil
}

// runPart is the child side: run slots p.First … p.First+spec.Conns-1 of a
// run of p.Total connections, report "ready" on fd 3 once connected, start
// on a "go" line from stdin, print the result as JSON.
func runPart(ctx, abort context.Context, plan Plan, p driver.Part, shard results.ShardInfo, stdin *bufio.Reader, stdout io.Writer) error {
	spec := plan.Spec
	if p.First < 0 || p.First+spec.Conns > p.Total {
		return SettingsError{fmt.Errorf("slots %d-%d outside a run of %d connections", p.First, p.First+spec.Conns-1, p.Total)}
	}
	if spec.Target == "" {
		return SettingsError{errors.New("needs the target URL")}
	}
	driver.RaiseNoFile()
	readyFD := os.NewFile(3, "ready")
	ready := func() (time.Time, error) {
		_, err := io.WriteString(readyFD, "ready\n")
		readyFD.Close()
		if err != nil {
			return time.Time{}, fmt.Errorf("report ready: %w", err)
		}
		line, err := stdin.ReadString('\n')
		// shard part: "go START": every process starts its clock at START,
		// the schedule's epoch, as shards given --start-at do.
		at, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "go ")
		if !ok {
			return time.Time{}, fmt.Errorf("no start signal from the parent process (%v)", err)
		}
		start, perr := time.Parse(time.RFC3339Nano, at)
		if perr != nil {
			return time.Time{}, fmt.Errorf("start signal from the parent process: %v", perr)
		}
		// A process that reads the line late starts at once, on the same
		// epoch: what fell due meanwhile leaves late (send lag), as in one
		// process that fell behind; only an interruption stops it.
		woke, err := waitStart(ctx, systemClock{}, start)
		if err != nil && !errors.As(err, new(*MissedStartError)) {
			return time.Time{}, err
		}
		shard.StartAt, shard.StartedAt, shard.SkewNs = start, woke, woke.Sub(start).Nanoseconds()
		return start, nil
	}
	cfg := plan.Driver
	c, err := plan.compiled()
	if err != nil {
		return err
	}
	cfg.Scenario, cfg.Target, cfg.Abort, cfg.Part, cfg.Ready = c, spec.Target, abort, p, ready
	res, err := driver.Run(ctx, cfg)
	if err != nil {
		return err
	}
	shard.FirstSlot, shard.Conns = p.First, spec.Conns
	shard.Host, _ = os.Hostname()
	b, err := json.Marshal(results.ShardResult{Shard: shard, Measurement: res})
	if err != nil {
		return fmt.Errorf("encode the measurement: %w", err)
	}
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		return err
	}
	if res.StopReason == driver.StopNoConnections {
		return fmt.Errorf("no connection to %s could be opened", scenario.RedactURL(spec.Target, spec.SecretParams))
	}
	return nil
}
