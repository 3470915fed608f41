package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wsbench/wsbench/internal/cliflag"
	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

//go:embed help/capacity.txt
var capacityUsage string

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
			*start = orchestrate.ConnsStart
		}
		if !fs.Changed("max") {
			*maxLoad = orchestrate.ConnsMax
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
	if !slices.Contains(results.ViewFormats, *format) {
		return usagef("--format: want %s, got %q", cliflag.OrList(results.ViewFormats), *format)
	}
	bounds := orchestrate.Bounds{Start: *start, Max: *maxLoad, Precision: *precision}
	if err := bounds.Check(*step); err != nil {
		return usageError{withFlag(err)}
	}
	if err := checkOut(*o.out, false); err != nil {
		return err
	}
	opts := o.driver
	if fs.NArg() > 1 {
		return usagef("one target URL at most, got %d", fs.NArg())
	}
	if fs.NArg() == 1 {
		spec.Target = fs.Arg(0)
	}
	spec.Duration = scenario.Duration(*step)
	// rpc: what the bundled server needs said, said in the spec.
	spec.FillBundled()
	o.stream() // stream part
	search := orchestrate.Search{Spec: spec, Dimension: *dimension, ConnRate: *connRate, SLOs: ths, Bounds: bounds}
	compiled, err := scenario.Compile(search.At(*start))
	if err != nil {
		return usageError{withFlag(err)}
	}
	if err := orchestrate.CheckIO(spec, opts); err != nil {
		return usageError{withFlag(err)}
	}
	if err := withFlag(orchestrate.Preflight(search.At(*start), len(compiled.Sources))); err != nil {
		return usageError{err}
	}
	target, bundled, stopServer, err := targetOf(spec)
	if err != nil {
		return err
	}
	defer stopServer()
	ctx, abort, stop := orchestrate.Signals(stderr)
	defer stop()
	plan := orchestrate.Plan{Compiled: compiled, Target: target, Bundled: bundled, Driver: opts, Version: version}
	res, err := search.RunPlan(ctx, abort, plan, flagName, func(line string) { fmt.Fprintf(stderr, "wsbench capacity: %s\n", line) })
	if err != nil {
		return failedError{withFlag(err)}
	}

	var b bytes.Buffer
	if err := results.CapacityAs(&b, *format, res, version); err != nil {
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
	case res.MaxRate == 0 && !res.ClientBound:
		return thresholdError{1}
	case res.MaxRate == 0:
		return failedError{fmt.Errorf("client-limited at the first step: it cannot measure this server here")}
	}
	return nil
}
