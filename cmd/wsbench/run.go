package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/internal/iomode"
	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

const runUsage = `Usage: wsbench run [flags] [URL...]

Benchmark the WebSocket server at URL (ws:// or wss://host:port/path), or several side
by side (each run --repeat times, interleaved, then compared). With no URL, the
bundled reference echo server is started in this process on a free loopback
port and benchmarked: the quickest way to see what wsbench measures.

Every message carries a sequence number and its send times, so each echo is
matched to the message that caused it and checked byte for byte.

Load models:
  closed (default)  each connection sends its next message when the previous
                    reply arrives: measures the server at full speed.
  open (--rate R)   R messages per second in total, spread evenly over the
                    connections, on a fixed schedule whether or not replies came
                    back. Latency is measured from each message's intended send
                    time (coordinated omission corrected, as wrk2 does).

Examples:
  wsbench run                                  # 50 connections against the bundled server
  wsbench run -c 1000 -d 30s ws://127.0.0.1:8080/echo
  wsbench run -c 1000 -r 20000 -d 30s --max-inflight 4 ws://127.0.0.1:8080/
  wsbench run -s 1024 --binary -o result.json ws://127.0.0.1:8080/
  wsbench run --json | jq .latency.rtt.p99_us
  wsbench run --threshold 'rtt.p99<10ms' --threshold 'errors.rate<0.1%' ws://127.0.0.1:8080/
  wsbench run --subprotocol chat -H 'Authorization: Bearer T' --origin https://app.example ws://127.0.0.1:8080/
  wsbench run --fragment 4 -s 4096 ws://127.0.0.1:8080/
  wsbench run --kind connect -c 64 -d 10s                        # connection storm: connects per second
  wsbench run --kind broadcast -c 1000 --room-size 100 --publishers 1 -r 100   # chat rooms, bundled server
  wsbench run -f scenario/examples/open-rate.yaml -d 5s   # a scenario file; flags override it
  wsbench run --repeat 4 -d 10s -o cmp/ ws://127.0.0.1:8080/ ws://127.0.0.1:8081/   # A B A B …, then compared
  wsbench run --procs 2 -c 30000 --source-ip 127.0.0.1-127.0.0.2 ws://127.0.0.1:8080/
  wsbench run --stage 0s:100:1000 --stage 30s:1000:20000:ramp --stage 60s:1000:20000:hold ws://127.0.0.1:8080/
  wsbench run -f scenario/examples/mix.yaml                  # groups: idle connections beside an echo group
  wsbench run --template '{"user":{{conn}},"id":"{{stamp}}"}' --query 'token={{token}}' --tokens-file t.txt URL
  wsbench run --deflate --reconnect 200ms --ca ca.pem wss://127.0.0.1:8443/

Past one process's limits: --procs N runs N client processes, each with its
share of the connections and of the rate, and merges their results exactly
(histograms and counts); --source-ip spreads connections over local addresses,
each good for one ephemeral port range of connections to one server address.
Before connecting, run checks the open-file and port limits and says which
one the run would hit and what to do.

Thresholds: SUBJECT OP VALUE, OP one of < <= > >=: a latency METRIC.STAT
(rtt.p99<20ms; STAT min, mean, max or any percentile p95, p99.9, p(99.99)),
errors.count, errors.rate (0.1%), messages.rate, connections.failed, … A
suffix :abort on errors.count (errors.count<100:abort) stops the run once the
errors reach the bound (checked every --interval); the rest are judged at the
end.

Exit codes: 0 success, 1 the run failed (no connection opened, the server
does not echo or broadcast, nothing measured, result not written), 2 bad usage or bad input, 3 a --threshold failed, 4 a --threshold
marked :abort stopped the run early, 130 interrupted (SIGINT or SIGTERM). With
3, 4 and 130 the result and the summary are still written.
`

// driverOptions checks the run flags that go to the driver rather than into
// the scenario, and returns them as a driver.Config to fill in.
func (o runOptions) driverOptions() (driver.Config, error) {
	if *o.workers < 0 {
		return driver.Config{}, usagef("--workers: must not be negative, got %d", *o.workers)
	}
	switch iomode.Mode(*o.ioMode) {
	case driver.IOAuto, driver.IOUring, driver.IOSyscalls:
	default:
		return driver.Config{}, usagef("--io: want %s, %s or %s, got %q", driver.IOAuto, driver.IOUring, driver.IOSyscalls, *o.ioMode)
	}
	switch *o.rxStamps {
	case driver.TimestampsKernel, driver.TimestampsRead:
	default:
		return driver.Config{}, usagef("--rx-timestamps: want %s or %s, got %q", driver.TimestampsKernel, driver.TimestampsRead, *o.rxStamps)
	}
	return driver.Config{Workers: *o.workers, IO: iomode.Mode(*o.ioMode), Timestamps: *o.rxStamps}, nil
}

// checkIOForKind refuses --io io_uring for a connection storm, whose loops
// are goroutines doing blocking I/O on Go's poller: it would be ignored.
func checkIOForKind(spec scenario.Spec, opts driver.Config) error {
	if opts.IO == driver.IOUring && spec.Kind == scenario.KindConnect {
		return usagef("--io: a connection storm (--kind connect) opens short-lived connections on Go's own poller, one system call per operation; io_uring does not apply (drop --io, or --io syscalls)")
	}
	return nil
}

// fileFlag finds the value of -f/--file in args before the other flags are
// defined, since the file's settings are their defaults.
func fileFlag(args []string) string {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.ParseErrorsAllowlist.UnknownFlags = true
	path := fs.StringP("file", "f", "", "")
	fs.BoolP("help", "h", false, "")
	fs.Parse(args)
	return *path
}

// runOptions are the run flags that are not part of the scenario.
type runOptions struct {
	workers          *int
	rxStamps, ioMode *string
	out, cpuProfile  *string
	asJSON           *bool
	file             *string
	repeat           *int
	quiet, progress  *bool
	stages           *[]string
}

// runFlags defines the run command's flags, filling spec.
func runFlags(spec *scenario.Spec, stdout io.Writer) (*pflag.FlagSet, runOptions) {
	fs := newFlagSet("run", runUsage, stdout)
	var o runOptions
	o.file = fs.StringP("file", "f", "", "read the scenario from this YAML file (keys as in the result's \"scenario\"); flags override it")
	o.quiet = fs.BoolP("quiet", "q", false, "no live status on stderr while the run measures")
	o.progress = fs.Bool("progress", false, "show the live status even when stderr is not a terminal")
	o.repeat = fs.Int("repeat", 1, "with several target URLs (or one): run each this many times, interleaved (A B A B …), then compare them; -o names a folder for the results")
	fs.StringVar((*string)(&spec.Kind), "kind", string(spec.Kind), "workload: echo (data messages echoed back; the default), ping (ping frames answered by pongs), broadcast (chat rooms), connect (a connection storm: open, one message, close, again) or hold (long-lived connections, idle or with --rate light traffic)")
	fs.Float64Var(&spec.ConnectRate, "connect-rate", spec.ConnectRate, "open at most this many connections per second (0 = as fast as --dial-concurrency allows): a ramp")
	fs.BoolVar(&spec.ConnectMessage, "connect-message", spec.ConnectMessage, "connect: send one message on each connection and wait for its echo before closing")
	fs.IntVar(&spec.RoomSize, "room-size", spec.RoomSize, "broadcast: connections per room")
	fs.IntVar(&spec.Publishers, "publishers", spec.Publishers, "broadcast: publishers per room (the first members); --rate is their total")
	fs.StringVar(&spec.RoomPath, "room-path", spec.RoomPath, "broadcast: the URL path of room %d")
	fs.IntVarP(&spec.Conns, "conns", "c", spec.Conns, "number of connections")
	o.stages = fs.StringArray("stage", nil, "a stage DURATION:CONNS[:RATE[:NAME]] (repeatable): connections and rate ramp linearly to these targets over DURATION from the previous stage's (0 before the first; a 0s stage jumps); replaces -c, -d, -r and --warmup")
	fs.DurationVarP((*time.Duration)(&spec.Duration), "duration", "d", time.Duration(spec.Duration), "measured duration")
	fs.DurationVar((*time.Duration)(&spec.Warmup), "warmup", time.Duration(spec.Warmup), "warm-up before measuring (same load, not counted)")
	fs.Float64VarP(&spec.Rate, "rate", "r", spec.Rate, "total messages per second across all connections (0 = closed model)")
	fs.DurationVar((*time.Duration)(&spec.Think), "think", time.Duration(spec.Think), "closed model: pause between a reply and the connection's next send")
	fs.StringVar((*string)(&spec.Arrival), "arrival", string(spec.Arrival), "open model: arrival process, uniform (default) or poisson")
	fs.Uint64Var(&spec.Seed, "seed", spec.Seed, "open model: seed of the poisson schedule (0 = pick one; the result records it)")
	fs.DurationVar((*time.Duration)(&spec.Interval), "interval", time.Duration(spec.Interval), "slice the measured window into intervals this long in the result (rates and latency over time); 0 = none")
	fs.DurationVar((*time.Duration)(&spec.Tick), "tick", time.Duration(spec.Tick), "open model: sends fall due on multiples of this (0 = each at its own exact time)")
	fs.IntVar(&spec.MaxInflight, "max-inflight", spec.MaxInflight, "open model: cap on messages awaiting a reply per connection (0 = no cap)")
	fs.VarP(&sizeFlag{spec}, "size", "s", "payload bytes per message, or a range MIN-MAX to draw each message's size from (uniformly)")
	fs.StringVar(&spec.Payload, "payload", spec.Payload, "filler after each message's stamp: pattern (default) or random")
	fs.StringVar(&spec.PayloadFile, "payload-file", spec.PayloadFile, "fill messages with this file's bytes (repeated to the size)")
	fs.StringVar(&spec.Template, "template", spec.Template, `each message's text, with {{conn}} (connection index), {{seq}} (its sequence number) and {{stamp}} (required: the timing the echo carries back), e.g. '{"user":"u{{conn}}","id":"{{stamp}}"}'`)
	fs.StringVar(&spec.Query, "query", spec.Query, "query parameters added to each connection's URL, with {{conn}} and {{token}} (from --tokens-file), e.g. 'user={{conn}}&token={{token}}'")
	fs.StringVar(&spec.TokensFile, "tokens-file", spec.TokensFile, "tokens for --query's {{token}}, one per line: connection i takes line i mod N (never written to results)")
	fs.BoolVar(&spec.Binary, "binary", spec.Binary, "send binary messages (default text)")
	fs.DurationVar((*time.Duration)(&spec.Grace), "grace", time.Duration(spec.Grace), "after sending stops, how long to wait for in-flight replies")
	fs.DurationVar((*time.Duration)(&spec.ConnectTimeout), "connect-timeout", time.Duration(spec.ConnectTimeout), "limit on TCP connect plus opening handshake, per connection")
	fs.IntVar(&spec.DialConcurrency, "dial-concurrency", spec.DialConcurrency, "connections opening at once")
	o.workers = fs.Int("workers", 0, "client event loops (0 = GOMAXPROCS)")
	fs.StringSliceVar(&spec.Subprotocols, "subprotocol", spec.Subprotocols, "subprotocols to offer in Sec-WebSocket-Protocol, in order of preference (comma-separated or repeated)")
	fs.BoolVar(&spec.RequireSubprotocol, "require-subprotocol", spec.RequireSubprotocol, "fail a connection whose server picks none of the offered subprotocols")
	fs.StringArrayVarP(&spec.Headers, "header", "H", spec.Headers, `extra opening-handshake header "Name: value" (repeatable)`)
	fs.Var(addFlag{&spec.SecretHeaders}, "secret-header", "more headers whose values are redacted everywhere, added to the built-in ones (Authorization, Cookie, X-…-Key, X-…-Token, X-Auth…, see README)")
	fs.Var(addFlag{&spec.SecretParams}, "secret-param", "more query parameters whose values are redacted everywhere, added to the built-in ones (token, key, password, sig, session, …, see README)")
	fs.StringVar(&spec.Origin, "origin", spec.Origin, "Origin header of the opening handshake")
	fs.StringVar(&spec.CA, "ca", spec.CA, "wss://: also trust the certificates in this PEM file (besides the system's roots)")
	fs.DurationVar((*time.Duration)(&spec.Reconnect), "reconnect", time.Duration(spec.Reconnect), "reopen a connection that dropped or failed to open after this backoff (doubled per failed try up to 10s, with jitter); 0 = never")
	fs.BoolVar(&spec.Deflate, "deflate", spec.Deflate, "offer permessage-deflate (no context takeover) and send every message compressed; a server that declines fails the connection; the result gives the compression ratio")
	fs.BoolVar(&spec.Insecure, "insecure", spec.Insecure, "wss://: do not verify the server's certificate (the summary and the result say so)")
	fs.IntVar(&spec.Fragment, "fragment", spec.Fragment, "send each message as N frames (first frame + continuations), to exercise the server's reassembly")
	fs.StringArrayVar(&spec.Thresholds, "threshold", spec.Thresholds, `pass/fail check on the result, e.g. "rtt.p99<20ms", "rtt.p(99.9)<50ms", "errors.rate<0.1%", "messages.rate>50000" (repeatable; exit 3 when one fails); "errors.count<100:abort" stops the run once it fails (exit 4)`)
	fs.StringVar(&spec.SourceIP, "source-ip", spec.SourceIP, "local addresses to spread connections over: addresses and ranges, comma-separated (127.0.0.1-127.0.0.16,::1)")
	fs.IntVar(&spec.Procs, "procs", spec.Procs, "client processes sharing the connections and the rate; their results are merged exactly")
	o.rxStamps = fs.String("rx-timestamps", driver.TimestampsKernel, "when an echo arrived: kernel (the kernel's receive timestamp; the client's reading delay is recorded as read_lag) or read (when the client read it)")
	o.ioMode = fs.String("io", string(driver.IOAuto), "how the event loops use the kernel: auto, io_uring (a system call per batch of sends or receives) or syscalls (one per operation)")
	o.out = fs.StringP("out", "o", "", "write the JSON result to this file (atomically)")
	o.asJSON = fs.Bool("json", false, "print the JSON result to stdout instead of the text summary")
	o.cpuProfile = fs.String("cpuprofile", "", "write a Go CPU profile of the client to this file (read it with go tool pprof)")
	return fs, o
}

func runCmd(args []string, stdout, stderr io.Writer) (err error) {
	if len(args) == 1 && args[0] == childStdin {
		return runChild(os.Stdin, stdout) // a process of a --procs run
	}
	spec := scenario.Default()
	defer func() { err = redactError(err, spec) }()
	if path := fileFlag(args); path != "" {
		var err error
		if spec, err = scenario.LoadFile(path, spec); err != nil {
			return usageError{err}
		}
	}
	fs, o := runFlags(&spec, stdout)
	serverPIDs := fs.IntSlice("server-pid", nil, "sample these server processes (comma-separated PIDs, summed) from /proc during the run: their CPU-seconds and peak RSS in the measured window go into the result (server_usage)")
	out, asJSON, cpuProfile := o.out, o.asJSON, o.cpuProfile
	if err := parse(fs, args); err != nil {
		return err
	}
	multi := fs.NArg() > 1 || *o.repeat > 1
	if multi && len(*serverPIDs) > 0 {
		return usagef("--server-pid: samples one run's server; not with --repeat or several targets")
	}
	if *o.repeat < 1 {
		return usagef("--repeat: must be at least 1, got %d", *o.repeat)
	}
	for _, a := range fs.Args() {
		if err := scenario.CheckURL(a); err != nil {
			return usageError{err}
		}
	}
	if fs.NArg() >= 1 {
		spec.Target = fs.Arg(0)
	}
	if err := applyStageFlags(&spec, fs, *o.stages); err != nil {
		return err
	}
	if spec.Arrival == scenario.ArrivalPoisson && spec.Seed == 0 {
		spec.Seed = rand.Uint64() | 1 // chosen here so the result records it
	}
	compiled, err := scenario.Compile(spec)
	if err != nil {
		return usageError{withFlag(err)}
	}
	var thresholds []results.Threshold
	for _, expr := range spec.Thresholds {
		th, err := results.ParseThreshold(expr)
		if err != nil {
			return usageError{withFlag(err)}
		}
		thresholds = append(thresholds, th)
	}
	watch := results.NewWatch(thresholds)
	if watch != nil {
		switch {
		case spec.Interval == 0:
			return usagef("--threshold: :abort is checked at the end of each --interval; --interval 0 leaves nothing to check it on")
		case multi, spec.Procs > 1, spec.Mixed():
			return usagef("--threshold: :abort applies to one run in one process; not with --repeat, several targets, --procs or a mix of groups")
		}
	}
	opts, err := o.driverOptions()
	if err != nil {
		return err
	}
	if err := checkIOForKind(spec, opts); err != nil {
		return err
	}
	if *out != "" && !multi {
		if err := results.CheckWritable(*out); err != nil {
			return usagef("--out: %v", err)
		}
	}
	if *out != "" && multi {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return usagef("--out: with several runs it names a folder: %v", err)
		}
		if err := results.CheckWritable(filepath.Join(*out, "check.json")); err != nil {
			return usagef("--out: %v", err)
		}
	}
	if err := preflight(spec, len(compiled.Sources)); err != nil {
		return usageError{err}
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

	ctx, abort, stop := signalContexts(stderr)
	defer stop()
	signalled := ctx
	plan := orchestrate.Plan{Spec: spec, Compiled: compiled, Target: target, Bundled: bundled, Driver: opts, Version: version,
		Stderr: stderr, ChildArgs: []string{"run", childStdin}}
	if multi {
		targets := fs.Args()
		if len(targets) == 0 {
			targets = []string{target}
		}
		err := runMulti(ctx, abort, plan, targets, *o.repeat, thresholds, *out, stdout)
		if signalled.Err() != nil && (err == nil || errors.As(err, &thresholdError{})) {
			return interruptedError{}
		}
		return err
	}
	st := newStatus(stderr, spec, *o.quiet, *o.progress)
	if st != nil {
		plan.OnInterval, plan.OnTick = st.interval, st.tick // each interval is expanded for it
	}
	if watch != nil {
		ctx, plan.OnInterval = orchestrate.WatchThresholds(ctx, watch, plan.OnInterval)
	}
	var sampler *orchestrate.ServerSampler
	if len(*serverPIDs) > 0 {
		if sampler, err = orchestrate.SampleServer(*serverPIDs, 50*time.Millisecond); err != nil {
			return usageError{withFlag(err)}
		}
		defer sampler.Stop()
	}
	rep, err := orchestrate.Run(ctx, abort, plan)
	st.done()
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
	passed := results.ApplyThresholds(rep, thresholds)
	// The result file first, so that nothing measured is lost if stdout fails.
	var writeErr error
	if *out != "" {
		writeErr = rep.WriteFile(*out)
	}
	enc := results.Encoders["text"]
	if *asJSON {
		enc = results.Encoders["json"]
	}
	if err := enc(stdout, rep, results.Options{}); err != nil {
		return failedError{fmt.Errorf("print result: %w", err)}
	}
	if u := rep.ServerUsage; u != nil && !*asJSON {
		fmt.Fprintf(stdout, "Server (--server-pid %v): %.2f CPU-s in the window (%.2f cores), RSS %.1f MiB before connecting, %.1f MiB peak\n",
			u.PIDs, u.CPUSeconds, u.CPUCores, float64(u.RSSBeforeKiB)/1024, float64(u.MaxRSSKiB)/1024)
	}
	switch {
	case writeErr != nil:
		return failedError{fmt.Errorf("--out: %w", writeErr)}
	case rep.Interrupted || signalled.Err() != nil:
		return interruptedError{nothingMeasured: rep.DurationS == 0}
	case rep.StopReason == driver.StopNoConnections:
		return failedError{fmt.Errorf("no connection to %s could be opened in %d attempts (errors: %s)%s", rep.Target, rep.Connections.Attempted, results.ErrorCounts(rep.Errors), dnsReason(target, rep.Errors))}
	case rep.StopReason == results.StopThresholdAbort:
		var ta orchestrate.ThresholdAbort
		errors.As(context.Cause(ctx), &ta)
		return thresholdAbortError{ta.Threshold}
	case rep.Failure != "":
		return failedError{errors.New(rep.Failure)}
	case !passed:
		n := 0
		for _, t := range rep.Thresholds {
			if !t.Pass {
				n++
			}
		}
		return thresholdError{n}
	}
	return nil
}

// sizeFlag is --size: one size, or a range "MIN-MAX".
type sizeFlag struct{ spec *scenario.Spec }

func (f *sizeFlag) String() string {
	if f.spec == nil {
		return ""
	}
	if f.spec.SizeMax > 0 {
		return fmt.Sprintf("%d-%d", f.spec.Size, f.spec.SizeMax)
	}
	return strconv.Itoa(f.spec.Size)
}

func (f *sizeFlag) Type() string { return "bytes" }

func (f *sizeFlag) Set(v string) error {
	lo, hi, isRange := strings.Cut(v, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return fmt.Errorf("want a size in bytes or a range MIN-MAX, got %q", v)
	}
	b := 0
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil || b < a {
			return fmt.Errorf("want a range MIN-MAX with MIN <= MAX, got %q", v)
		}
	}
	f.spec.Size, f.spec.SizeMax = a, b
	return nil
}

// applyStageFlags puts the --stage flags (if any) into spec and derives the
// run-wide settings from its stages. In a staged run -c, -d, -r and --warmup
// are the stages' to set.
func applyStageFlags(spec *scenario.Spec, fs *pflag.FlagSet, flags []string) error {
	if len(flags) > 0 {
		spec.Stages = nil
		for _, f := range flags {
			st, err := parseStage(f)
			if err != nil {
				return usageError{err}
			}
			spec.Stages = append(spec.Stages, st)
		}
	}
	if spec.Mixed() {
		for _, name := range []string{"conns", "rate"} {
			if fs.Changed(name) {
				return usagef("--%s: a mix takes it from its groups; drop it", name)
			}
		}
		spec.ApplyGroups()
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

// parseStage reads a --stage value: DURATION:CONNS[:RATE[:NAME]].
func parseStage(v string) (scenario.Stage, error) {
	f := strings.SplitN(v, ":", 4)
	bad := func(format string, a ...any) (scenario.Stage, error) {
		return scenario.Stage{}, fmt.Errorf("--stage %q: %s", v, fmt.Sprintf(format, a...))
	}
	if len(f) < 2 {
		return bad("want DURATION:CONNS[:RATE[:NAME]], such as 30s:1000:20000:ramp")
	}
	d, err := time.ParseDuration(f[0])
	if err != nil || d < 0 {
		return bad("want a duration such as 30s first, got %q", f[0])
	}
	c, err := strconv.Atoi(f[1])
	if err != nil || c < 0 {
		return bad("want a connection count (0 or more) second, got %q", f[1])
	}
	st := scenario.Stage{Duration: scenario.Duration(d), Conns: c}
	if len(f) > 2 && f[2] != "" {
		if st.Rate, err = strconv.ParseFloat(f[2], 64); err != nil || st.Rate < 0 || math.IsInf(st.Rate, 0) || math.IsNaN(st.Rate) {
			return bad("want a message rate (0 or more) third, got %q", f[2])
		}
	}
	if len(f) > 3 {
		st.Name = f[3]
	}
	return st, nil
}

// targetOf is the URL a run or capacity search aims at: spec's target, or,
// with none (bundled), the reference server started in this process for the
// spec's kind. stop stops that server (a no-op for a target of the user's).
func targetOf(spec scenario.Spec) (target string, bundled bool, stop func(), err error) {
	if spec.Target != "" {
		return spec.Target, false, func() {}, nil
	}
	kind, err := orchestrate.BundledKind(spec)
	if err != nil {
		return "", true, nil, usageError{withFlag(err)}
	}
	url, stop, err := orchestrate.StartBundled(kind)
	if err != nil {
		return "", true, nil, failedError{fmt.Errorf("start the bundled server: %w", err)}
	}
	return url, true, stop, nil
}

// dnsReason says, when connections failed because the target's host name did
// not resolve, what the resolver answers for it now: "; lookup HOST: no such
// host". The driver counts failures by kind only; the message names the host
// and no other part of the URL (no userinfo, no query).
func dnsReason(target string, errs map[string]int64) string {
	if errs["connect_dns"] == 0 {
		return ""
	}
	u, err := url.Parse(target)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, u.Hostname()); err != nil {
		return "; " + err.Error()
	}
	return "; the host " + u.Hostname() + " resolves now, but did not during the run"
}

// preflight checks, before anything starts, that the machine's file and port
// limits allow the run over sources source addresses, raising the soft
// open-file limit to the hard one.
func preflight(spec scenario.Spec, sources int) error {
	lim, err := driver.RaiseNoFile()
	if err != nil && lim.NoFileHard == 0 {
		return nil // limits unknown here: the run reports what fails
	}
	bundled := spec.Target == ""
	fds := 1
	if strings.HasPrefix(strings.ToLower(spec.Target), "wss:") {
		fds = 3 // the TCP socket and the two ends of the TLS bridge's socket pair
	}
	if err := driver.Preflight(lim, driver.Need{Conns: spec.Conns, InProcessServer: bundled && spec.Procs == 1,
		SourceAddrs: sources, Procs: spec.Procs, FDsPerConn: fds}); err != nil {
		return withFlag(err)
	}
	if bundled && spec.Procs > 1 {
		// The client processes hold the client sockets; this one the server's.
		if need := uint64(spec.Conns) + driver.ReservedFDs; lim.NoFileHard > 0 && need > lim.NoFileHard {
			return fmt.Errorf("--conns %d needs %d file descriptors in the process holding the bundled server (%d server sockets + %d reserved), but the hard open-file limit (RLIMIT_NOFILE) is %d: run \"wsbench serve\" in several processes or on another machine and point run at it, or raise the hard limit (ulimit -Hn, limits.conf) as root",
				spec.Conns, need, spec.Conns, driver.ReservedFDs, lim.NoFileHard)
		}
	}
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
	ctx, abort, stop := signalContexts(io.Discard)
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

// signalContexts turns SIGINT/SIGTERM into two contexts: the first signal
// cancels ctx (stop gracefully: stop sending, wait for replies, close), the
// second cancels abort (stop at once, still reporting what was measured).
func signalContexts(stderr io.Writer) (ctx, abort context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	abort, cancelAbort := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "wsbench: %v: stopping gracefully (signal again to stop at once)\n", s)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "wsbench: %v: stopping now\n", s)
			cancelAbort()
		case <-done:
		}
	}()
	return ctx, abort, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
		cancelAbort()
	}
}
