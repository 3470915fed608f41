package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// A run split with --procs N: this process (the parent) starts N copies of
// itself as `wsbench run --part FIRST/TOTAL ...`, each opening its share of
// the connections. Each child reports "ready" on fd 3 once its connections
// are open and waits for a line on stdin; when every child is ready the
// parent sends "go" to all, so their clocks start together. Each child
// prints its result as JSON on stdout; the parent merges them exactly
// (results.Combine). Children run in their own process group: a terminal's
// Ctrl-C reaches only the parent, which forwards each signal once (the first
// stops the children gracefully, the second at once).

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

type child struct {
	cmd    *exec.Cmd
	first  int
	conns  int
	stdin  io.WriteCloser
	stdout bytes.Buffer
	ready  chan bool // true: ready; false: exited or failed before
	done   chan error
}

// runSplit runs spec over spec.Procs child processes and merges their results.
func runSplit(ctx, abort context.Context, spec scenario.Spec, target string, bundled bool, opts driver.Config, stderr io.Writer, st *status) (*results.Report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("--procs: find this program: %w", err)
	}
	kids := make([]*child, spec.Procs)
	defer func() {
		for _, k := range kids {
			if k != nil && k.cmd.Process != nil && k.cmd.ProcessState == nil {
				k.cmd.Process.Kill()
			}
		}
	}()
	for i := range kids {
		first, n := share(spec.Conns, spec.Procs, i)
		k, err := startChild(exe, childArgs(spec, target, first, n, opts), first, n, stderr)
		if err != nil {
			return nil, fmt.Errorf("--procs: start client process %d: %w", i, err)
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
	for _, k := range kids {
		io.WriteString(k.stdin, "go\n")
		k.stdin.Close()
	}
	// The processes report only at the end: the live line shows the time.
	if st != nil {
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
						st.tick(el, fmt.Sprintf("%d client processes measuring", len(kids)))
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

	var parts []results.Part
	var lost []string
	for i, k := range kids {
		rep, err := results.Parse(k.stdout.Bytes())
		if err != nil {
			lost = append(lost, fmt.Sprintf("client process %d (connections %d-%d) reported no result: %v (%v)", i, k.first, k.first+k.conns-1, errs[i], err))
			continue
		}
		parts = append(parts, results.Part{Report: rep, FirstSlot: k.first, Conns: k.conns})
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("--procs: no client process reported a result: %s", strings.Join(lost, "; "))
	}
	in := results.Input{ToolVersion: version, Spec: spec, Target: target, Bundled: bundled, ExtraWarnings: lost}
	return results.Combine(in, parts)
}

// childArgs are the command line of the child that runs slots first … first+n-1.
func childArgs(spec scenario.Spec, target string, first, n int, opts driver.Config) []string {
	args := []string{"run", "--part", fmt.Sprintf("%d/%d", first, spec.Conns), "--kind", spec.Kind,
		"--room-size", strconv.Itoa(spec.RoomSize), "--publishers", strconv.Itoa(spec.Publishers), "--room-path", spec.RoomPath,
		"--connect-message=" + strconv.FormatBool(spec.ConnectMessage),
		"--connect-rate", strconv.FormatFloat(spec.ConnectRate/float64(spec.Procs), 'g', -1, 64), // each process its share
		"-c", strconv.Itoa(n),
		"-d", time.Duration(spec.Duration).String(),
		"--warmup", time.Duration(spec.Warmup).String(),
		"-r", strconv.FormatFloat(spec.Rate, 'g', -1, 64), // the whole run's rate: the child follows its slots of the whole schedule
		"--max-inflight", strconv.Itoa(spec.MaxInflight),
		"-s", (&sizeFlag{&spec}).String(),
		"--binary=" + strconv.FormatBool(spec.Binary),
		"--grace", time.Duration(spec.Grace).String(),
		"--connect-timeout", time.Duration(spec.ConnectTimeout).String(),
		"--dial-concurrency", strconv.Itoa(max(1, spec.DialConcurrency/spec.Procs)),
		"--tick", time.Duration(spec.Tick).String(),
		"--interval", time.Duration(spec.Interval).String(),
		"--arrival", spec.Arrival,
		"--think", time.Duration(spec.Think).String(),
		"--seed", strconv.FormatUint(spec.Seed, 10),
		"--workers", strconv.Itoa(opts.Workers),
		"--io", opts.IO,
		"--rx-timestamps", opts.Timestamps,
	}
	if spec.SourceIP != "" {
		args = append(args, "--source-ip", spec.SourceIP)
	}
	for _, st := range spec.Stages {
		args = append(args, "--stage", fmt.Sprintf("%s:%d:%s:%s", time.Duration(st.Duration), st.Conns, strconv.FormatFloat(st.Rate, 'g', -1, 64), st.Name))
	}
	if spec.Staged() {
		// Every process paces the whole plan's opens, then takes its own slots.
		args[slices.Index(args, "--connect-rate")+1] = strconv.FormatFloat(spec.ConnectRate, 'g', -1, 64)
	}
	for _, p := range spec.Subprotocols {
		args = append(args, "--subprotocol", p)
	}
	if spec.RequireSubprotocol {
		args = append(args, "--require-subprotocol")
	}
	for _, h := range spec.Headers {
		args = append(args, "--header", h)
	}
	args = append(args, "--secret-header="+strings.Join(spec.SecretHeaders, ","), "--secret-param="+strings.Join(spec.SecretParams, ","))
	if spec.Origin != "" {
		args = append(args, "--origin", spec.Origin)
	}
	if spec.CA != "" {
		args = append(args, "--ca", spec.CA)
	}
	if spec.Insecure {
		args = append(args, "--insecure")
	}
	if spec.Deflate {
		args = append(args, "--deflate")
	}
	if spec.Reconnect > 0 {
		args = append(args, "--reconnect", time.Duration(spec.Reconnect).String())
	}
	for flag, v := range map[string]string{"--payload": spec.Payload, "--payload-file": spec.PayloadFile,
		"--template": spec.Template, "--query": spec.Query, "--tokens-file": spec.TokensFile} {
		if v != "" {
			args = append(args, flag+"="+v)
		}
	}
	if spec.Fragment > 0 {
		args = append(args, "--fragment", strconv.Itoa(spec.Fragment))
	}
	return append(args, target)
}

func startChild(exe string, args []string, first, n int, stderr io.Writer) (*child, error) {
	k := &child{first: first, conns: n, ready: make(chan bool, 1), done: make(chan error, 1)}
	k.cmd = exec.Command(exe, args...)
	k.cmd.Stdout = &k.stdout
	k.cmd.Stderr = stderr
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
	go func() {
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		readyR.Close()
		k.ready <- line == "ready\n"
	}()
	go func() { k.done <- k.cmd.Wait() }()
	return k, nil
}

// runPart is the child side: run slots FIRST … FIRST+conns-1 of a run of
// TOTAL connections, report "ready" on fd 3 once connected, start on a line
// from stdin, print the result as JSON.
func runPart(spec scenario.Spec, part string, opts driver.Config, stdout, stderr io.Writer) error {
	var p driver.Part
	if _, err := fmt.Sscanf(part, "%d/%d", &p.First, &p.Total); err != nil || p.First < 0 || p.First+spec.Conns > p.Total {
		return usagef("--part: want FIRST/TOTAL covering -c connections, got %q", part)
	}
	if spec.Target == "" {
		return usagef("--part: needs the target URL")
	}
	driver.RaiseNoFile()
	readyFD := os.NewFile(3, "ready")
	ready := func() error {
		_, err := io.WriteString(readyFD, "ready\n")
		readyFD.Close()
		if err != nil {
			return fmt.Errorf("report ready: %w", err)
		}
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if line != "go\n" {
			return fmt.Errorf("no start signal from the parent process (%v)", err)
		}
		return nil
	}
	ctx, abort, stop := signalContexts(io.Discard)
	defer stop()
	cfg := opts
	cfg.Spec, cfg.Target, cfg.Abort, cfg.Part, cfg.Ready = spec, spec.Target, abort, p, ready
	res, err := driver.Run(ctx, cfg)
	if err != nil {
		return failedError{err}
	}
	rep, err := results.Build(inputOf(spec, spec.Target, false, res))
	if err != nil {
		return failedError{err}
	}
	if err := results.JSON(stdout, rep); err != nil {
		return failedError{err}
	}
	if res.StopReason == driver.StopNoConnections {
		return failedError{fmt.Errorf("no connection to %s could be opened", spec.Target)}
	}
	return nil
}
