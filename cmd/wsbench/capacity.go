package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

const capacityUsage = `Usage: wsbench capacity --slo EXPR [--slo EXPR …] [flags] [URL]

How much load does the server take before its latency target breaks? Runs
the open model at a rising load — doubling from --start until an SLO fails
(or --max) — then bisects between the last load that held and the first
that failed, until they are within --precision. Each step is a full run
(--warmup, then --step); every run flag applies. A step where the client,
not the server, was saturated (the rule of run's SATURATED: its CPU, most
sends late, late sends while busy, sends never made, GC; see README) stops
the search: "client-limited at X; the server's limit is at least the last
good step". A step whose rtt SLOs fail only through the client's own send
lag (a busy machine's scheduler) holds for the server when they hold on
rtt_uncorrected, timed from the actual send; the verdict says so. Without
a URL the bundled server is measured.

What rises from step to step (--dimension):
  rate   the total message rate over --conns connections (the default);
         --start and --max are rates in msg/s (default 1000 and 1000000)
  conns  the number of connections, each sending --conn-rate msg/s, so the
         total rate is conns × --conn-rate; --start and --max are connection
         counts (default 10 and 10000), bisected to whole connections. A
         step the machine's open-file or port limits cannot hold ends the
         search there.

SLOs are thresholds (see wsbench run --help): rtt.p99<10ms, errors.rate<0.1%,
messages.rate>... They must all hold for a step to pass.

Output (--format): text, the table of steps and the verdict (default); json,
every step; html, one self-contained page with the knee plot (rtt p50, p90,
p99 and max against the load, the SLO and the maximum sustainable load
marked) and the table. -o FILE writes it there instead of stdout.

Examples:
  wsbench capacity --slo 'rtt.p99<10ms'
  wsbench capacity --slo 'rtt.p99<50ms' --slo 'errors.rate<0.1%' -c 1000 --start 5000 ws://127.0.0.1:8080/
  wsbench capacity --dimension conns --conn-rate 10 --start 100 --max 20000 --slo 'rtt.p99<20ms' ws://127.0.0.1:8080/
  wsbench capacity --slo 'rtt.p99<2ms' --format html -o capacity.html

Exit codes: 0 a maximum was found, or a lower bound of it (held up to --max,
or client-limited after a step that held), 1 the search failed (also: the
client was limited at the first step), 2 bad usage, 3 even --start breaks
the SLO.
`

// Defaults of --start and --max in the conns dimension (connections).
const (
	defaultStartConns = 10
	defaultMaxConns   = 10000
)

// capacityRefuses are the run flags capacity's search has no use for, and
// what to use instead: hidden from its --help, refused when given.
var capacityRefuses = map[string]string{
	"file":       "the search builds each step from flags (give the scenario's settings as flags)",
	"stage":      "the search sets each step's load itself (--start, --max)",
	"repeat":     "each step is measured once; run 'wsbench run --repeat' at the load you want to compare",
	"procs":      "each step runs in this process",
	"cpuprofile": "profile one load with 'wsbench run --cpuprofile'",
	"duration":   "each step's measured duration is --step",
	"threshold":  "the search's targets are --slo",
}

func capacityCmd(args []string, stdout, stderr io.Writer) (err error) {
	spec := scenario.Default()
	defer func() { err = redactError(err, spec) }()
	spec.Warmup = scenario.Duration(time.Second)
	fs, o := runFlags(&spec, stdout)
	fs.Usage = func() { fmt.Fprint(stdout, capacityUsage); fmt.Fprintf(stdout, "\nFlags:\n%s", fs.FlagUsages()) }
	slos := fs.StringArray("slo", nil, "a threshold every step must meet (repeatable), e.g. rtt.p99<10ms")
	dimension := fs.String("dimension", results.DimensionRate, "what the search raises: rate (the total message rate over --conns connections) or conns (the connection count, each at --conn-rate)")
	connRate := fs.Float64("conn-rate", 10, "--dimension conns: messages per second of each connection")
	start := fs.Float64("start", 1000, "first load tried: total msg/s (--dimension conns: connections, default 10)")
	maxLoad := fs.Float64("max", 1e6, "highest load tried: total msg/s (--dimension conns: connections, default 10000)")
	fs.Lookup("max").DefValue = "1000000" // not Go's "1e+06"
	step := fs.Duration("step", 5*time.Second, "measured duration of each step")
	precision := fs.Float64("precision", 0.05, "stop bisecting when the gap between held and failed is below this fraction")
	format := fs.String("format", "text", "text, json (every step) or html (the knee plot and the table, one self-contained page)")
	fs.Lookup("out").Usage = "write the output (--format) to this file (atomically) instead of stdout"
	fs.Lookup("json").Usage = "the same as --format json"
	for name := range capacityRefuses {
		fs.MarkHidden(name) // --help lists only what capacity honours
	}
	fs.MarkHidden("rate") // refused below, with a word for each dimension
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(capacityRefuses)) {
		if fs.Changed(name) {
			return usagef("--%s: capacity does not take it: %s", name, capacityRefuses[name])
		}
	}
	if len(*slos) == 0 {
		return usagef("--slo: at least one, e.g. --slo 'rtt.p99<10ms'")
	}
	var ths []results.Threshold
	for _, e := range *slos {
		th, err := results.ParseThreshold(e)
		if err != nil {
			// The same syntax as run's --threshold, but this flag is --slo.
			return usagef("%s", strings.Replace(withFlag(err).Error(), "--threshold", "--slo", 1))
		}
		if th.Abort {
			return usagef("--slo %q: :abort belongs to run --threshold; a failed step already ends the search's doubling", e)
		}
		ths = append(ths, th)
	}
	conns := *dimension == results.DimensionConns
	switch {
	case *dimension != results.DimensionRate && !conns:
		return usagef("--dimension: want rate or conns, got %q", *dimension)
	case !conns && fs.Changed("conn-rate"):
		return usagef("--conn-rate: only with --dimension conns (the rate dimension raises the total --rate)")
	case conns && fs.Changed("conns"):
		return usagef("--conns: with --dimension conns the search sets the connection count (--start, --max)")
	case !conns && fs.Changed("rate"):
		return usagef("--rate: the search sets the total rate itself, from --start up to --max")
	case conns && fs.Changed("rate"):
		return usagef("--rate: with --dimension conns the total rate is the connections × --conn-rate")
	case conns && !(*connRate > 0):
		return usagef("--conn-rate: must be positive, got %g", *connRate)
	}
	if conns {
		if !fs.Changed("start") {
			*start = defaultStartConns
		}
		if !fs.Changed("max") {
			*maxLoad = defaultMaxConns
		}
		if *start != math.Trunc(*start) || *maxLoad != math.Trunc(*maxLoad) {
			return usagef("--start, --max: with --dimension conns they count connections, got %g and %g", *start, *maxLoad)
		}
	}
	if *o.asJSON {
		if fs.Changed("format") && *format != "json" {
			return usagef("--json: and --format %s: pick one", *format)
		}
		*format = "json"
	}
	switch *format {
	case "text", "json", "html":
	default:
		return usagef("--format: want text, json or html, got %q", *format)
	}
	switch {
	case *start <= 0:
		return usagef("--start: must be positive, got %g", *start)
	case *maxLoad < *start:
		return usagef("--max: %g is below --start %g", *maxLoad, *start)
	case *precision <= 0 || *precision >= 1:
		return usagef("--precision: want a fraction between 0 and 1, got %g", *precision)
	case *step <= 0:
		return usagef("--step: must be positive, got %s", *step)
	}
	if *o.out != "" {
		if err := results.CheckWritable(*o.out); err != nil {
			return usagef("--out: %v", err)
		}
	}
	opts, err := o.driverOptions()
	if err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("one target URL at most, got %d", fs.NArg())
	}
	if fs.NArg() == 1 {
		spec.Target = fs.Arg(0)
	}
	spec.Duration = scenario.Duration(*step)
	// specAt is the scenario of the step at load.
	specAt := func(load float64) scenario.Spec {
		s := spec
		if conns {
			s.Conns, s.Rate = int(load), load**connRate
		} else {
			s.Rate = load
		}
		return s
	}
	compiled, err := scenario.Compile(specAt(*start))
	if err != nil {
		return usageError{withFlag(err)}
	}
	if err := checkIOForKind(spec, opts); err != nil {
		return err
	}
	if err := preflight(specAt(*start), len(compiled.Sources)); err != nil {
		return usageError{err}
	}
	target, bundled, stopServer, err := targetOf(spec)
	if err != nil {
		return err
	}
	defer stopServer()
	ctx, abort, stop := signalContexts(stderr)
	defer stop()

	res := results.Capacity{SLOs: *slos, Dimension: *dimension, Steps: []results.CapacityStep{}}
	if conns {
		res.ConnRate = *connRate
	}
	measure := func(load float64) (results.CapacityStep, error) {
		c, err := compiled.Recompile(specAt(load)) // the files as read once
		if err != nil {
			return results.CapacityStep{}, withFlag(err)
		}
		plan := orchestrate.Plan{Spec: c.Spec, Compiled: c, Target: target, Bundled: bundled, Driver: opts, Version: version}
		rep, err := orchestrate.One(ctx, abort, plan)
		if err != nil {
			return results.CapacityStep{}, err
		}
		st, err := orchestrate.Step(rep, plan.Spec, ths)
		if err != nil {
			return results.CapacityStep{}, err
		}
		what := fmt.Sprintf("%.0f msg/s", st.Offered)
		if conns {
			what = fmt.Sprintf("%d connections (%.0f msg/s)", st.Conns, st.Offered)
		}
		verdict := "holds"
		switch {
		case st.Saturated:
			verdict = "client-limited: " + strings.Join(st.Saturation, "; ")
		case !st.Held():
			verdict = "fails " + strings.Join(st.Failed, ", ")
		case !st.Pass:
			verdict = "holds for the server: " + st.SendLag
		}
		fmt.Fprintf(stderr, "wsbench capacity: %s: %s\n", what, verdict)
		res.Steps = append(res.Steps, st)
		return st, nil
	}
	// fits says whether the machine's file and port limits allow a step at
	// load; when they do not, the search stops there, saying why.
	fits := func(load float64) bool {
		if !conns {
			return true
		}
		if err := preflight(specAt(load), len(compiled.Sources)); err != nil {
			res.Limit = err.Error()
			fmt.Fprintf(stderr, "wsbench capacity: %.0f connections: beyond this machine's limits: %v\n", load, err)
			return false
		}
		return true
	}

	good, err := orchestrate.Capacity(&res, orchestrate.Bounds{Start: *start, Max: *maxLoad, Precision: *precision, Whole: conns},
		measure, fits, func() bool { return ctx.Err() != nil })
	if err != nil {
		return failedError{withFlag(err)}
	}
	res.MaxRate = good
	if conns {
		res.MaxConns, res.MaxRate = int(good), good**connRate
	}

	var b bytes.Buffer
	switch *format {
	case "json":
		err = results.CapacityJSON(&b, &res)
	case "html":
		err = results.CapacityHTML(&b, &res, version)
	default:
		err = results.CapacityText(&b, &res)
	}
	if err != nil {
		return failedError{err}
	}
	if err := writeOutput(*o.out, b.Bytes(), stdout); err != nil {
		return err
	}
	if *format != "text" || *o.out != "" {
		fmt.Fprintf(stderr, "wsbench capacity: %s\n", res.Conclusion())
	}
	if ctx.Err() != nil {
		return interruptedError{} // what was measured is written above
	}
	switch {
	case good == 0 && !res.ClientBound:
		return thresholdError{1}
	case good == 0:
		return failedError{fmt.Errorf("client-limited at the first step: it cannot measure this server here")}
	}
	return nil
}
