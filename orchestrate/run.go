package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/server"
)

// Plan is one run as the command line decided it: the scenario, the URL it
// measures, the driver's options and where progress goes.
type Plan struct {
	// Spec is what to run; its Target may be empty when Bundled.
	Spec scenario.Spec
	// Compiled is Spec compiled (scenario.Compile), its files read; nil:
	// compiled when run.
	Compiled *scenario.Compiled
	// Target is the URL measured: the bundled server's when Bundled.
	Target string
	// Bundled says Target is the reference server this process started.
	Bundled bool
	// Driver holds the driver options (Workers, IO, Timestamps); Spec,
	// Target, Abort, Part, Ready and OnInterval are set per run.
	Driver driver.Config
	// Version is the tool version written into every result.
	Version string
	// OnInterval, when set, receives each measured interval as it ends
	// (a mix's groups merged into one); a split run has none to give.
	OnInterval func(driver.Interval)
	// OnTick, when set, is called about once a second while a split run
	// measures (its processes report only at the end) with the time
	// measured so far and a line to show.
	OnTick func(measured time.Duration, what string)
	// Stderr receives what a split run's processes print, line by line,
	// with the run's secrets scrubbed.
	Stderr io.Writer
	// ChildArgs are the arguments that make this program call Child: a
	// split run starts its processes with them.
	ChildArgs []string
	// Shard, when set, makes the run one shard of a larger one (shard
	// part: wsbench run --shard I/N, RunShard).
	Shard *Shard
}

// FieldError is an error about one setting of a run: Key is its key in a
// scenario file (procs, groups); the command line names its flag instead.
// It is scenario's, so that one mapping from keys to flags serves both.
type FieldError = scenario.FieldError

func fieldErrorf(key, format string, a ...any) error {
	return &FieldError{Key: key, Err: fmt.Errorf(format, a...)}
}

// Run runs p: a mix of groups in this process (Mix), split over processes
// (Split) or one driver run in this process (One).
func Run(ctx, abort context.Context, p Plan) (*results.Report, error) {
	switch {
	case p.Shard != nil: // shard part
		return RunShard(ctx, abort, p)
	case p.Spec.Mixed():
		return Mix(ctx, abort, p)
	case p.Spec.Procs > 1:
		return Split(ctx, abort, p)
	}
	return One(ctx, abort, p)
}

// One runs the load in this process and reports it. A run stopped by
// WatchThresholds' context reports the stop reason threshold_abort.
func One(ctx, abort context.Context, p Plan) (*results.Report, error) {
	cfg := p.Driver
	c, err := p.compiled()
	if err != nil {
		return nil, err
	}
	cfg.Scenario, cfg.Target, cfg.Abort, cfg.OnInterval = c, p.Target, abort, p.OnInterval
	res, err := driver.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if res.StopReason == driver.StopInterrupted && errors.As(context.Cause(ctx), &ThresholdAbort{}) {
		res.StopReason = results.StopThresholdAbort
	}
	return results.Build(p.about(p.Spec), res)
}

// compiled is p's scenario compiled: p.Compiled, or p.Spec compiled now.
func (p Plan) compiled() (*scenario.Compiled, error) {
	if p.Compiled != nil {
		return p.Compiled, nil
	}
	return scenario.Compile(p.Spec)
}

// ThresholdAbort is the cause of a context that WatchThresholds cancelled:
// the :abort threshold that failed.
type ThresholdAbort struct{ Threshold string }

func (e ThresholdAbort) Error() string {
	return fmt.Sprintf("threshold %q failed for good", e.Threshold)
}

// WatchThresholds wraps onInterval (which may be nil) so that each interval
// is also counted into watch, and returns a context that is cancelled, with
// a ThresholdAbort as its cause, once an :abort threshold has failed: the
// run then stops as on the first SIGINT (stop sending, wait for replies up
// to the grace period, close), and One reports it as StopThresholdAbort.
func WatchThresholds(ctx context.Context, watch *results.Watch, onInterval func(driver.Interval)) (context.Context, func(driver.Interval)) {
	ctx, stop := context.WithCancelCause(ctx)
	return ctx, func(iv driver.Interval) {
		if onInterval != nil {
			onInterval(iv)
		}
		if th, failed := watch.Add(iv.Snapshot); failed {
			stop(ThresholdAbort{th.Expr})
		}
	}
}

// about is what results says of a run of spec (p's own, or one group's)
// beside what it measured.
func (p Plan) about(spec scenario.Spec) results.About {
	return results.About{ToolVersion: p.Version, Spec: spec, Target: p.Target, Bundled: p.Bundled,
		ServerLocal: p.Bundled || OnThisMachine(p.Target)}
}

// BundledKind is the kind the bundled server must serve for spec: its own
// kind, or for a mix a broadcast server when every group is broadcast, an
// echo server when none is; a mix of both needs a target of the user's
// (a FieldError on groups).
func BundledKind(spec scenario.Spec) (scenario.Kind, error) {
	if !spec.Mixed() {
		return spec.Kind, nil
	}
	broadcast := 0
	for i := range spec.Groups {
		if spec.GroupSpec(i).Kind == scenario.KindBroadcast {
			broadcast++
		}
	}
	switch broadcast {
	case 0:
		return scenario.KindEcho, nil
	case len(spec.Groups):
		return scenario.KindBroadcast, nil
	}
	return "", fieldErrorf("groups", "the bundled server serves either broadcast rooms or echo; a mix of both needs a target URL (a server that does both)")
}

// StartPush starts the reference server in push mode (stream part), as
// StartBundled does: each subscriber gets rate messages a second (0: the
// server's default), count of them (0: no end).
func StartPush(rate float64, count int) (url string, stop func(), err error) {
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Mode, cfg.PushCount = server.ModePush, count
	if rate > 0 {
		cfg.PushRate = rate
	}
	return startServer(cfg)
}

// StartBundled starts the reference server in this process on a free
// loopback port and returns its URL and how to stop it (gracefully, within
// 5 s). A broadcast run gets the server in broadcast mode, a request run
// in rpc mode.
func StartBundled(kind scenario.Kind) (url string, stop func(), err error) {
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	if kind == scenario.KindBroadcast {
		cfg.Mode = server.ModeBroadcast
	}
	if kind == scenario.KindFlow { // flowrun: a flow's JSON requests answered by id
		cfg.Mode = server.ModeRPC
	}
	if kind == scenario.KindRequest {
		cfg.Mode = server.ModeRPC // rpc: answers JSON-RPC requests by id (scenario.BundledRequest)
	}
	return startServer(cfg)
}

// startServer starts a reference server of cfg and returns its URL and how
// to stop it.
func startServer(cfg server.Config) (url string, stop func(), err error) {
	srv, err := server.New(cfg)
	if err != nil {
		return "", nil, err
	}
	addr, err := srv.Listen()
	if err != nil {
		return "", nil, err
	}
	return "ws://" + addr.String() + "/", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
