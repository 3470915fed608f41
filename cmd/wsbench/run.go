package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/internal/cliflag"
	"github.com/wsbench/wsbench/internal/iomode"
	"github.com/wsbench/wsbench/kube"
	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

//go:embed help/run.txt
var runUsage string

// runOptions are the run flags that are not part of the scenario.
type runOptions struct {
	driver          driver.Config // Workers, IO and Timestamps
	out, cpuProfile *string
	asJSON          *bool
	file            *string
	repeat          int
	quiet, progress *bool
	stream          func() // stream part: puts the stream flags into the spec once parsed
	// shard part: --shard I/N|auto/N, --shard-index-env, --start-at.
	shard, shardIndexEnv, startAt *string
	resultLine                    *bool // kube part: --result-line
}

// runFlags defines the run command's flags, filling spec.
func runFlags(spec *scenario.Spec, stdout io.Writer) (*pflag.FlagSet, *runOptions) {
	fs := cliflag.NewSet("run", runUsage, stdout)
	o := &runOptions{}
	o.file = fs.StringP("file", "f", "", "read the scenario from this YAML file (keys as in the result's \"scenario\"); flags override it")
	o.quiet = fs.BoolP("quiet", "q", false, "no live status on stderr while the run measures")
	o.progress = fs.Bool("progress", false, "show the live status even when stderr is not a terminal")
	o.repeat = 1
	fs.Var(cliflag.Min{P: &o.repeat, Name: "repeat", Min: 1}, "repeat", "with several target URLs (or one): run each this many times, interleaved (A B A B …), then compare them; -o names a folder for the results")
	fs.StringVar((*string)(&spec.Kind), "kind", string(spec.Kind), "workload: echo (data messages echoed back; the default), ping (ping frames answered by pongs), broadcast (chat rooms), connect (a connection storm: open, one message, close, again), hold (long-lived connections, idle or with --rate light traffic), subscribe (each connection sends its --subscribe messages, then measures the server's stream) or request (requests matched to their replies by id: --send, --match)")
	protocolFlags(fs, spec) // rpc: --send, --match, --error-match, --replies, --timeout, --open, --rule, --every
	presetFlags(fs, spec)   // presets: --protocol, --protocol-opt
	fs.Float64Var(&spec.ConnectRate, "connect-rate", spec.ConnectRate, "open at most this many connections per second (0 = as fast as --dial-concurrency allows): a ramp")
	fs.BoolVar(&spec.ConnectMessage, "connect-message", spec.ConnectMessage, "connect: send one message on each connection and wait for its echo before closing")
	fs.IntVar(&spec.RoomSize, "room-size", spec.RoomSize, "broadcast: connections per room")
	fs.IntVar(&spec.Publishers, "publishers", spec.Publishers, "broadcast: publishers per room (the first members); --rate is their total")
	fs.StringVar(&spec.RoomPath, "room-path", spec.RoomPath, "broadcast: the URL path of room %d")
	fs.IntVarP(&spec.Conns, "conns", "c", spec.Conns, "number of connections")
	fs.Var(&cliflag.List[scenario.Stage]{P: &spec.Stages, Name: "stage", Parse: scenario.ParseStage}, "stage", "a stage DURATION:CONNS[:RATE[:NAME]] (repeatable): connections and rate ramp linearly to these targets over DURATION from the previous stage's (0 before the first; a 0s stage jumps); replaces -c, -d, -r and --warmup")
	fs.DurationVarP((*time.Duration)(&spec.Duration), "duration", "d", time.Duration(spec.Duration), "measured duration")
	fs.DurationVar((*time.Duration)(&spec.Warmup), "warmup", time.Duration(spec.Warmup), "warm-up before measuring (same load, not counted)")
	fs.Float64VarP(&spec.Rate, "rate", "r", spec.Rate, "total messages per second across all connections (0 = closed model)")
	fs.DurationVar((*time.Duration)(&spec.Think), "think", time.Duration(spec.Think), "closed model: pause between a reply and the connection's next send")
	fs.StringVar((*string)(&spec.Arrival), "arrival", string(spec.Arrival), "open model: arrival process, uniform (default) or poisson")
	fs.Uint64Var(&spec.Seed, "seed", spec.Seed, "open model: seed of the poisson schedule (0 = pick one; the result records it)")
	fs.DurationVar((*time.Duration)(&spec.Interval), "interval", time.Duration(spec.Interval), "slice the measured window into intervals this long in the result (rates and latency over time); 0 = none")
	fs.DurationVar((*time.Duration)(&spec.Tick), "tick", time.Duration(spec.Tick), "open model: sends fall due on multiples of this (0 = each at its own exact time)")
	fs.IntVar(&spec.MaxInflight, "max-inflight", spec.MaxInflight, "open model: cap on messages awaiting a reply per connection (0 = no cap)")
	fs.VarP(cliflag.Size{Min: &spec.Size, Max: &spec.SizeMax}, "size", "s", "payload bytes per message, or a range MIN-MAX to draw each message's size from (uniformly)")
	fs.StringVar(&spec.Payload, "payload", spec.Payload, "filler after each message's stamp: pattern (default) or random")
	fs.StringVar(&spec.PayloadFile, "payload-file", spec.PayloadFile, "fill messages with this file's bytes (repeated to the size)")
	fs.StringVar(&spec.Template, "template", spec.Template, `each message's text, with {{conn}} (connection index), {{seq}} (its sequence number) and {{stamp}} (required: the timing the echo carries back), e.g. '{"user":"u{{conn}}","id":"{{stamp}}"}'`)
	fs.StringVar(&spec.Query, "query", spec.Query, "query parameters added to each connection's URL, with {{conn}} and {{token}} (from --tokens-file), e.g. 'user={{conn}}&token={{token}}'")
	fs.StringVar(&spec.TokensFile, "tokens-file", spec.TokensFile, "tokens for --query's {{token}}, one per line: connection i takes line i mod N (never written to results)")
	fs.BoolVar(&spec.Binary, "binary", spec.Binary, "send binary messages (default text)")
	fs.DurationVar((*time.Duration)(&spec.Grace), "grace", time.Duration(spec.Grace), "after sending stops, how long to wait for in-flight replies")
	fs.DurationVar((*time.Duration)(&spec.ConnectTimeout), "connect-timeout", time.Duration(spec.ConnectTimeout), "limit on TCP connect plus opening handshake, per connection")
	fs.IntVar(&spec.DialConcurrency, "dial-concurrency", spec.DialConcurrency, "connections opening at once")
	fs.Var(cliflag.Min{P: &o.driver.Workers, Name: "workers"}, "workers", "client event loops (0 = GOMAXPROCS)")
	fs.StringSliceVar(&spec.Subprotocols, "subprotocol", spec.Subprotocols, "subprotocols to offer in Sec-WebSocket-Protocol, in order of preference (comma-separated or repeated)")
	fs.BoolVar(&spec.RequireSubprotocol, "require-subprotocol", spec.RequireSubprotocol, "fail a connection whose server picks none of the offered subprotocols")
	fs.StringArrayVarP(&spec.Headers, "header", "H", spec.Headers, `extra opening-handshake header "Name: value" (repeatable)`)
	fs.Var(cliflag.Add{List: &spec.SecretHeaders}, "secret-header", "more headers whose values are redacted everywhere, added to the built-in ones (Authorization, Cookie, X-…-Key, X-…-Token, X-Auth…, see README)")
	fs.Var(cliflag.Add{List: &spec.SecretParams}, "secret-param", "more query parameters whose values are redacted everywhere, added to the built-in ones (token, key, password, sig, session, …, see README)")
	fs.StringVar(&spec.Origin, "origin", spec.Origin, "Origin header of the opening handshake")
	fs.StringVar(&spec.CA, "ca", spec.CA, "wss://: also trust the certificates in this PEM file (besides the system's roots)")
	fs.DurationVar((*time.Duration)(&spec.Reconnect), "reconnect", time.Duration(spec.Reconnect), "reopen a connection that dropped or failed to open after this backoff (doubled per failed try up to 10s, with jitter); 0 = never")
	fs.BoolVar(&spec.Deflate, "deflate", spec.Deflate, "offer permessage-deflate (no context takeover) and send every message compressed; a server that declines fails the connection; the result gives the compression ratio")
	fs.BoolVar(&spec.Insecure, "insecure", spec.Insecure, "wss://: do not verify the server's certificate (the summary and the result say so)")
	fs.IntVar(&spec.Fragment, "fragment", spec.Fragment, "send each message as N frames (first frame + continuations), to exercise the server's reassembly")
	fs.StringArrayVar(&spec.Thresholds, "threshold", spec.Thresholds, `pass/fail check on the result, e.g. "rtt.p99<20ms", "rtt.p(99.9)<50ms", "errors.rate<0.1%", "messages.rate>50000" (repeatable; exit 3 when one fails); "errors.count<100:abort" stops the run once it fails (exit 4)`)
	fs.StringVar(&spec.SourceIP, "source-ip", spec.SourceIP, "local addresses to spread connections over: addresses and ranges, comma-separated (127.0.0.1-127.0.0.16,::1)")
	fs.Float64Var(&spec.SessionRate, "session-rate", spec.SessionRate, "flow: start this many sessions per second (open model), each on a connection of its own that runs the steps once and closes; replaces -c (without it, -c connections loop the steps)")
	fs.IntVar(&spec.Procs, "procs", spec.Procs, "client processes sharing the connections and the rate; their results are merged exactly")
	o.stream = streamFlags(fs, spec) // stream part
	// shard part
	o.shard = fs.String("shard", "", "run shard I of N of the scenario (I from 0): its share of the connections and of the one schedule; auto/N takes I from $JOB_COMPLETION_INDEX (or $NOMAD_ALLOC_INDEX, $AWS_BATCH_JOB_ARRAY_INDEX, $SLURM_ARRAY_TASK_ID); the result carries what wsbench merge needs")
	o.shardIndexEnv = fs.String("shard-index-env", "", "with --shard auto/N: read the shard index from this environment variable instead")
	o.startAt = fs.String("start-at", "", "with --shard: connect, then start measuring at this instant (RFC 3339, or +30s from now), the schedule's epoch for every shard; a shard not ready by then exits 5")
	o.driver.IO, o.driver.Timestamps = driver.IOAuto, driver.TimestampsKernel
	fs.Var(cliflag.Choice[string]{P: &o.driver.Timestamps, Name: "rx-timestamps", Choices: []string{driver.TimestampsKernel, driver.TimestampsRead}}, "rx-timestamps", "when an echo arrived: kernel (the kernel's receive timestamp; the client's reading delay is recorded as read_lag) or read (when the client read it)")
	fs.Var(cliflag.Choice[iomode.Mode]{P: &o.driver.IO, Name: "io", Choices: []iomode.Mode{driver.IOAuto, driver.IOUring, driver.IOSyscalls}}, "io", "how the event loops use the kernel: auto, io_uring (a system call per batch of sends or receives) or syscalls (one per operation)")
	o.out = fs.StringP("out", "o", "", "write the JSON result to this file (atomically)")
	o.asJSON = fs.Bool("json", false, "print the JSON result to stdout instead of the text summary")
	o.cpuProfile = fs.String("cpuprofile", "", "write a Go CPU profile of the client to this file (read it with go tool pprof)")
	// kube part: a shard of a Job gives its result in its log.
	o.resultLine = fs.Bool("result-line", false, "also print the JSON result on stdout as one checksummed line (wsbench-result v1 sha256=… BASE64(gzip)), last: how a Kubernetes Job's shard hands its result to wsbench kube run through its log")
	return fs, o
}

func runCmd(args []string, stdout, stderr io.Writer) (err error) {
	if len(args) == 1 && args[0] == childStdin {
		return runChild(os.Stdin, stdout) // a process of a --procs run
	}
	spec := scenario.Default()
	defer func() { err = redactError(err, spec) }()
	if path := cliflag.Peek(args, "file", "f"); path != "" {
		var err error
		if spec, err = scenario.LoadFile(path, spec); err != nil {
			return usageError{err}
		}
	}
	fs, o := runFlags(&spec, stdout)
	serverPIDs := fs.IntSlice("server-pid", nil, "sample these server processes (comma-separated PIDs, summed) from /proc during the run: their CPU-seconds and peak RSS in the measured window go into the result (server_usage)")
	prom := promRunFlags(fs) // prom part
	out, asJSON, cpuProfile := o.out, o.asJSON, o.cpuProfile
	if err := parse(fs, args); err != nil {
		return err
	}
	multi := fs.NArg() > 1 || o.repeat > 1
	if err := prom.check(multi); err != nil { // prom part
		return err
	}
	if multi && len(*serverPIDs) > 0 {
		return usagef("--server-pid: samples one run's server; not with --repeat or several targets")
	}
	for _, a := range fs.Args() {
		if err := scenario.CheckURL(a); err != nil {
			return usageError{err}
		}
	}
	if fs.NArg() >= 1 {
		spec.Target = fs.Arg(0)
	}
	spec.FillBundled() // rpc: what the bundled server needs said, said in the spec (and so in the result)
	if err := applyLoadShape(&spec, fs); err != nil {
		return err
	}
	o.stream()
	shard, err := shardOf(o, &spec, multi) // shard part
	if err != nil {
		return err
	}
	if spec.Arrival == scenario.ArrivalPoisson && spec.Seed == 0 {
		spec.Seed = rand.Uint64() | 1 // chosen here so the result records it
	}
	if shard != nil {
		shard.Plan = scenario.PlanHash(spec, shard.Count) // shard part: with the seed every shard derived
	}
	compiled, err := scenario.Compile(spec)
	if err != nil {
		return usageError{withFlag(err)}
	}
	opts := o.driver
	checked := compiled
	if shard != nil { // image part (scale): a shard's process must fit the limits with its share of the connections, not the whole run's
		c := *compiled
		c.Spec.Conns = (spec.Conns + shard.Count - 1) / shard.Count
		checked = &c
	}
	thresholds, watch, err := orchestrate.Check(checked, opts, multi)
	if err != nil {
		if shard != nil && checked.Spec.Conns != spec.Conns { // image part
			return usageError{fmt.Errorf("shard %d/%d holds up to %d of the run's %d connections: %w", shard.Index, shard.Count, checked.Spec.Conns, spec.Conns, withFlag(err))}
		}
		return usageError{withFlag(err)}
	}
	if err := checkOut(*out, multi); err != nil {
		return err
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return usagef("--cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return failedError{fmt.Errorf("--cpuprofile: %w", err)}
		}
		defer pprof.StopCPUProfile()
	}

	target, bundled, stopServer, err := targetOf(spec)
	if err != nil {
		return err
	}
	defer stopServer()

	ctx, abort, stop := orchestrate.Signals(stderr)
	defer stop()
	signalled := ctx
	plan := orchestrate.Plan{Spec: spec, Compiled: compiled, Target: target, Bundled: bundled, Driver: opts, Version: version,
		Stderr: stderr, ChildArgs: []string{"run", childStdin}, Shard: shard}
	if multi {
		targets := fs.Args()
		if len(targets) == 0 {
			targets = []string{target}
		}
		err := runMulti(ctx, abort, plan, targets, o.repeat, thresholds, *out, stdout)
		if signalled.Err() != nil && (err == nil || errors.As(err, &thresholdError{})) {
			return interruptedError{}
		}
		return err
	}
	ctx, st := orchestrate.Attend(ctx, &plan, stderr, orchestrate.ShowStatus(stderr, *o.quiet, *o.progress), watch)
	var sampler *orchestrate.ServerSampler
	if len(*serverPIDs) > 0 {
		if sampler, err = orchestrate.SampleServer(*serverPIDs, 50*time.Millisecond); err != nil {
			return usageError{withFlag(err)}
		}
		defer sampler.Stop()
	}
	pr, err := prom.start(&plan, stderr) // prom part: serves until the run ends (and --metrics-linger)
	if err != nil {
		return err
	}
	defer pr.close(signalled)
	rep, err := orchestrate.Run(ctx, abort, plan)
	st.Done()
	pr.finish(rep) // prom part
	if sampler != nil && rep != nil {
		rep.ServerUsage = sampler.Window(orchestrate.ServerWindow(rep))
	}
	if err != nil {
		if signalled.Err() != nil {
			// Scrubbed here, so that redactError keeps the type (and exit 130).
			return interruptedError{cause: errors.New(spec.Scrubber()(withFlag(err).Error())), nothingMeasured: true}
		}
		return failedError{withFlag(err)}
	}
	passed := true
	if shard == nil { // shard part: a shard's thresholds are the merged run's (wsbench merge --threshold)
		passed = results.ApplyThresholds(rep, thresholds)
	}
	// The result file first, so that nothing measured is lost if stdout fails.
	var writeErr error
	if *out != "" {
		writeErr = rep.WriteFile(*out)
	}
	if err := results.Show(stdout, rep, *asJSON); err != nil {
		return failedError{fmt.Errorf("print result: %w", err)}
	}
	if *o.resultLine { // kube part
		if err := kube.WriteFrame(stdout, rep); err != nil {
			return failedError{fmt.Errorf("--result-line: %w", err)}
		}
	}
	switch {
	case writeErr != nil:
		return failedError{fmt.Errorf("--out: %w", writeErr)}
	case rep.Interrupted || signalled.Err() != nil:
		return interruptedError{nothingMeasured: rep.DurationS == 0}
	case rep.StopReason == driver.StopNoConnections && rep.Failure == "": // (rpc: an opening that failed has its own line)
		return failedError{fmt.Errorf("no connection to %s could be opened in %d attempts (errors: %s)%s", rep.Target, rep.Connections.Attempted, results.ErrorCounts(rep.Errors), orchestrate.DNSReason(target, rep.Errors)+orchestrate.SubprotocolReason(compiled, rep.Errors))}
	case rep.StopReason == driver.StopMissedStart: // shard part: exit 5, the result written
		return missedStartError{rep.Failure}
	case rep.StopReason == results.StopThresholdAbort:
		var ta orchestrate.ThresholdAbort
		errors.As(context.Cause(ctx), &ta)
		return thresholdAbortError{ta.Threshold}
	case rep.Failure != "":
		return failedError{errors.New(rep.Failure)}
	case !passed:
		return thresholdError{rep.FailedThresholds()}
	}
	return nil
}

// applyLoadShape derives the run-wide settings from spec's groups or stages
// (--stage or the file's), refusing the flags they decide: a mix's -c and
// -r, a staged run's -c, -d, -r and --warmup.
func applyLoadShape(spec *scenario.Spec, fs *pflag.FlagSet) error {
	if spec.Mixed() {
		for _, name := range []string{"conns", "rate"} {
			if fs.Changed(name) {
				return usagef("--%s: a mix takes it from its groups; drop it", name)
			}
		}
		spec.ApplyGroups()
	}
	if spec.SessionRate > 0 { // flowrun: a connection per session
		if fs.Changed("conns") {
			return usagef("--conns: a flow at --session-rate opens a connection per session (%g/s for the warm-up and duration); drop it", spec.SessionRate)
		}
		spec.ApplySessionRate()
	}
	if !spec.Staged() {
		return nil
	}
	for _, name := range []string{"conns", "duration", "rate", "warmup"} {
		if fs.Changed(name) {
			return usagef("--%s: a staged run takes it from its stages (--stage or the file's stages); drop it", name)
		}
	}
	spec.ApplyStages()
	return nil
}

// childStdin is the whole command line of a --procs child: everything
// else, secrets included, comes as settings on its standard input, a pipe
// no other user of the machine can read (a command line is visible to all
// in ps).
const childStdin = "--child-stdin"

// runChild is `wsbench run --child-stdin`, one process of a --procs run
// (orchestrate.Split starts it, orchestrate.Child runs it).
func runChild(stdin io.Reader, stdout io.Writer) error {
	ctx, abort, stop := orchestrate.Signals(io.Discard)
	defer stop()
	spec, err := orchestrate.Child(ctx, abort, stdin, stdout, version)
	var se orchestrate.SettingsError
	var ie orchestrate.InputError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		err = usagef("%s: %v", childStdin, se.Err)
	case errors.As(err, &ie):
		err = usageError{withFlag(ie.Err)}
	default:
		err = failedError{withFlag(err)}
	}
	return redactError(err, spec)
}

// targetOf is orchestrate.Target, its errors sorted for the exit code: a
// kind the bundled server cannot serve is bad usage.
func targetOf(spec scenario.Spec) (target string, bundled bool, stop func(), err error) {
	target, bundled, stop, err = orchestrate.Target(spec)
	if fe := (*orchestrate.FieldError)(nil); errors.As(err, &fe) {
		return "", true, nil, usageError{withFlag(err)}
	} else if err != nil {
		return "", true, nil, failedError{err}
	}
	return target, bundled, stop, nil
}
