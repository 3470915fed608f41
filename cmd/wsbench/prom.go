package main

// prom part: --metrics-addr on run and serve, Prometheus exposition of a
// run as it measures (live) and of the bundled server's counters (server).

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/internal/promserve"
	"github.com/wsbench/wsbench/live"
	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
)

// promRunOptions are run's --metrics-addr and --metrics-linger.
type promRunOptions struct {
	addr   *string
	linger *time.Duration
}

// promRunFlags defines run's metrics flags on fs.
func promRunFlags(fs *pflag.FlagSet) *promRunOptions {
	return &promRunOptions{
		addr:   fs.String("metrics-addr", "", "serve the run's metrics live for Prometheus at http://ADDR/metrics (e.g. :9090; port 0 picks a free port, printed on stderr): messages, errors by kind, connections, latency histograms, client CPU"),
		linger: fs.Duration("metrics-linger", 0, "with --metrics-addr: keep serving the final figures this long after the run ended, so a scraper gets them (e.g. a little more than its scrape interval)"),
	}
}

// check refuses the metrics flags where they cannot apply: several runs
// (--repeat, several targets) would mix into one set of series.
func (o *promRunOptions) check(multi bool) error {
	switch {
	case *o.addr == "" && *o.linger != 0:
		return usagef("--metrics-linger: only with --metrics-addr")
	case *o.linger < 0:
		return usagef("--metrics-linger: must not be negative, got %v", *o.linger)
	case *o.addr == "":
		return nil
	case multi:
		return usagef("--metrics-addr: exports one run; not with --repeat or several targets")
	}
	if err := promserve.CheckAddr(*o.addr); err != nil {
		return usagef("--metrics-addr %s: %v", *o.addr, err)
	}
	return nil
}

// promRun is a run's metrics endpoint; a nil one does nothing.
type promRun struct {
	exp    *live.Client
	ep     *promserve.Endpoint
	linger time.Duration
	stderr io.Writer
}

// start serves the metrics of the run p describes (labelled with its
// shard, when it is one) and feeds them p's intervals; nil without
// --metrics-addr.
func (o *promRunOptions) start(p *orchestrate.Plan, stderr io.Writer) (*promRun, error) {
	if *o.addr == "" {
		return nil, nil
	}
	var shard live.Shard
	if p.Shard != nil {
		shard = live.Shard{Index: p.Shard.Index, Count: p.Shard.Count}
	}
	exp := live.NewClient(shard)
	ep, err := promserve.Listen(*o.addr, exp.Registry())
	if err != nil {
		return nil, failedError{fmt.Errorf("--metrics-addr: %w", err)}
	}
	fmt.Fprintf(stderr, "wsbench run: metrics on %s\n", ep.URL())
	p.OnInterval = exp.Chain(p.OnInterval)
	return &promRun{exp: exp, ep: ep, linger: *o.linger, stderr: stderr}, nil
}

// finish sets the metrics to the run's result (rep; nil when the run
// failed to set up: the figures stay as they were). A histogram it cannot
// read is a warning: the result itself is not at stake.
func (r *promRun) finish(rep *results.Report) {
	if r == nil || rep == nil {
		return
	}
	if err := r.exp.Finish(rep); err != nil {
		fmt.Fprintf(r.stderr, "wsbench run: warning: --metrics-addr: %v\n", err)
	}
}

// close waits out --metrics-linger (or ctx: a signal) and stops serving.
func (r *promRun) close(ctx context.Context) {
	if r == nil {
		return
	}
	if r.linger > 0 {
		t := time.NewTimer(r.linger)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	r.ep.Close()
}
