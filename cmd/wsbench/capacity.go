package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

const capacityUsage = `Usage: wsbench capacity --slo EXPR [--slo EXPR …] [flags] [URL]

How much load does the server take before its latency target breaks? Runs
the open model at a rising total message rate — doubling from --start until
an SLO fails (or --max) — then bisects between the last rate that held and
the first that failed, until they are within --precision. Each step is a full
run (--warmup, then --step); every run flag applies. A step where the client,
not the server, was saturated stops the search: the limit found would be the
client's. Without a URL the bundled server is measured.

SLOs are thresholds (see wsbench run --help): rtt.p99<10ms, errors.rate<0.1%,
messages.rate>... They must all hold for a step to pass.

Examples:
  wsbench capacity --slo 'rtt.p99<10ms'
  wsbench capacity --slo 'rtt.p99<50ms' --slo 'errors.rate<0.1%' -c 1000 --start 5000 ws://127.0.0.1:8080/

Exit codes: 0 a maximum was found, 1 the search failed, 2 bad usage, 3 even
--start breaks the SLO.
`

// capacityStep is one measured rate of the search.
type capacityStep struct {
	Offered   float64  `json:"offered_rate"`
	Achieved  float64  `json:"achieved_rate"`
	P50Us     float64  `json:"rtt_p50_us"`
	P99Us     float64  `json:"rtt_p99_us"`
	P999Us    float64  `json:"rtt_p999_us"`
	Errors    int64    `json:"errors"`
	Pass      bool     `json:"pass"`
	Saturated bool     `json:"client_saturated"`
	Failed    []string `json:"failed_slos,omitempty"`
}

type capacityResult struct {
	SLOs        []string       `json:"slos"`
	MaxRate     float64        `json:"max_sustainable_rate"` // 0: none held
	HitCeiling  bool           `json:"held_up_to_max"`
	ClientBound bool           `json:"stopped_client_saturated"`
	Steps       []capacityStep `json:"steps"`
}

func capacityCmd(args []string, stdout, stderr io.Writer) error {
	spec := scenario.Default()
	spec.Warmup = scenario.Duration(time.Second)
	fs, o := runFlags(&spec, stdout)
	fs.Usage = func() { fmt.Fprint(stdout, capacityUsage); fmt.Fprintf(stdout, "\nFlags:\n%s", fs.FlagUsages()) }
	slos := fs.StringArray("slo", nil, "a threshold every step must meet (repeatable), e.g. rtt.p99<10ms")
	start := fs.Float64("start", 1000, "first total message rate tried")
	maxRate := fs.Float64("max", 1e6, "highest rate tried")
	step := fs.Duration("step", 5*time.Second, "measured duration of each step")
	precision := fs.Float64("precision", 0.05, "stop bisecting when the gap between held and failed is below this fraction")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(*slos) == 0 {
		return usagef("--slo: at least one, e.g. --slo 'rtt.p99<10ms'")
	}
	var ths []results.Threshold
	for _, e := range *slos {
		th, err := results.ParseThreshold(e)
		if err != nil {
			return usageError{err}
		}
		ths = append(ths, th)
	}
	switch {
	case *start <= 0:
		return usagef("--start: must be positive, got %g", *start)
	case *maxRate < *start:
		return usagef("--max: %g is below --start %g", *maxRate, *start)
	case *precision <= 0 || *precision >= 1:
		return usagef("--precision: want a fraction between 0 and 1, got %g", *precision)
	case *step <= 0:
		return usagef("--step: must be positive, got %s", *step)
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
	spec.Rate = *start
	if err := spec.Validate(); err != nil {
		return usageError{err}
	}
	if err := preflight(spec); err != nil {
		return usageError{err}
	}
	target, bundled := spec.Target, spec.Target == ""
	if bundled {
		url, stopServer, err := startBundled(spec.Kind)
		if err != nil {
			return failedError{fmt.Errorf("start the bundled server: %w", err)}
		}
		defer stopServer()
		target = url
	}
	ctx, abort, stop := signalContexts(stderr)
	defer stop()

	res := capacityResult{SLOs: *slos}
	measure := func(rate float64) (capacityStep, error) {
		cfg := opts
		cfg.Spec, cfg.Target = spec, target
		cfg.Spec.Rate = rate
		rep, err := runOne(ctx, abort, cfg, bundled)
		if err != nil {
			return capacityStep{}, err
		}
		results.ApplyThresholds(rep, ths)
		st := capacityStep{Offered: rate, Achieved: rep.Rates.Received, Errors: rep.ErrorCount(), Pass: true,
			Saturated: rep.Harness.Saturated && !rep.Harness.InProcessServer}
		if l, ok := rep.Latency["rtt"]; ok {
			st.P50Us, st.P99Us, st.P999Us = l.P50Us, l.P99Us, l.P999Us
		}
		for _, t := range rep.Thresholds {
			if !t.Pass {
				st.Pass = false
				st.Failed = append(st.Failed, t.Threshold)
			}
		}
		if rep.StopReason != driver.StopCompleted {
			st.Pass = false
			st.Failed = append(st.Failed, "run "+rep.StopReason)
		}
		fmt.Fprintf(stderr, "wsbench capacity: %.0f msg/s: %s\n", rate, map[bool]string{true: "holds", false: "fails " + strings.Join(st.Failed, ", ")}[st.Pass])
		res.Steps = append(res.Steps, st)
		return st, nil
	}

	// Double until a step fails, then bisect.
	good, bad := 0.0, 0.0
	for r := *start; ; r = math.Min(r*2, *maxRate) {
		st, err := measure(r)
		if err != nil {
			return failedError{err}
		}
		if st.Saturated {
			res.ClientBound = true
			break
		}
		if !st.Pass {
			bad = r
			break
		}
		good = r
		if r >= *maxRate {
			res.HitCeiling = true
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	for bad > 0 && good > 0 && (bad-good)/good > *precision && ctx.Err() == nil && !res.ClientBound {
		mid := (good + bad) / 2
		st, err := measure(mid)
		if err != nil {
			return failedError{err}
		}
		switch {
		case st.Saturated:
			res.ClientBound = true
		case st.Pass:
			good = mid
		default:
			bad = mid
		}
	}
	res.MaxRate = good

	if *o.asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printCapacity(stdout, res)
	}
	switch {
	case good == 0 && !res.ClientBound:
		return thresholdError{1}
	case good == 0:
		return failedError{fmt.Errorf("the client was saturated at the first step: it cannot measure this server here")}
	}
	return nil
}

func printCapacity(w io.Writer, r capacityResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "offered msg/s\tachieved msg/s\trtt p50\trtt p99\trtt p99.9\terrors\tSLO\t\n")
	for _, s := range r.Steps {
		verdict := "holds"
		switch {
		case s.Saturated:
			verdict = "client saturated"
		case !s.Pass:
			verdict = "fails: " + strings.Join(s.Failed, ", ")
		}
		fmt.Fprintf(tw, "%.0f\t%.0f\t%s\t%s\t%s\t%d\t%s\t\n", s.Offered, s.Achieved, results.FormatUs(s.P50Us), results.FormatUs(s.P99Us), results.FormatUs(s.P999Us), s.Errors, verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nSLO: %s\n", strings.Join(r.SLOs, " and "))
	switch {
	case r.MaxRate == 0:
		fmt.Fprintln(w, "Even the first rate breaks the SLO.")
	case r.ClientBound:
		fmt.Fprintf(w, "Held up to %.0f msg/s; then the client, not the server, ran out: the server's limit is higher than this shows.\n", r.MaxRate)
	case r.HitCeiling:
		fmt.Fprintf(w, "Held up to --max, %.0f msg/s: the server's limit is higher.\n", r.MaxRate)
	default:
		fmt.Fprintf(w, "Maximum sustainable rate: %.0f msg/s.\n", r.MaxRate)
	}
}
