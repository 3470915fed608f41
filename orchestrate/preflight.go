package orchestrate

import (
	"fmt"
	"strings"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// Preflight checks, before anything starts, that the machine's file and
// port limits allow a run of spec over sources source addresses
// (Compiled.Sources), raising the soft open-file limit to the hard one.
// Limits it cannot read pass: the run reports what fails.
func Preflight(spec scenario.Spec, sources int) error {
	lim, err := driver.RaiseNoFile()
	if err != nil && lim.NoFileHard == 0 {
		return nil
	}
	return fits(lim, spec, sources)
}

// fits says whether a run of spec fits the limits lim: the client sockets
// (driver.Preflight) and, for a split run against the bundled server, the
// server's sockets in this process.
func fits(lim driver.Limits, spec scenario.Spec, sources int) error {
	bundled := spec.Target == ""
	fds := 1
	if strings.HasPrefix(strings.ToLower(spec.Target), "wss:") {
		fds = 3 // the TCP socket and the two ends of the TLS bridge's socket pair
	}
	if err := driver.Preflight(lim, driver.Need{Conns: spec.Conns, InProcessServer: bundled && spec.Procs == 1,
		SourceAddrs: sources, Procs: spec.Procs, FDsPerConn: fds}); err != nil {
		return err
	}
	if bundled && spec.Procs > 1 {
		// The client processes hold the client sockets; this one the server's.
		if need := uint64(spec.Conns) + driver.ReservedFDs; lim.NoFileHard > 0 && need > lim.NoFileHard {
			return &FieldError{Err: fmt.Errorf("%s %d needs %d file descriptors in the process holding the bundled server (%d server sockets + %d reserved), but the hard open-file limit (RLIMIT_NOFILE) is %d: run \"wsbench serve\" in several processes or on another machine and point run at it, or raise the hard limit (ulimit -Hn, limits.conf) as root",
				scenario.Ref("conns"), spec.Conns, need, spec.Conns, driver.ReservedFDs, lim.NoFileHard)}
		}
	}
	return nil
}

// The refusals of CheckIO and CheckAbort, each the Err of a FieldError,
// naming settings by key (scenario.Ref) for the command line to name flags.
var (
	// ErrStormIO: a connection storm's loops are goroutines doing blocking
	// I/O on Go's poller, so io_uring would be ignored.
	ErrStormIO = fmt.Errorf("a connection storm (%s connect) opens short-lived connections on Go's own poller, one system call per operation; io_uring does not apply (drop %s, or %[2]s syscalls)",
		scenario.Ref("kind"), scenario.Ref("io"))
	// ErrAbortNoIntervals: :abort thresholds are checked at the end of each
	// interval, and interval 0 makes none.
	ErrAbortNoIntervals = fmt.Errorf(":abort is checked at the end of each %s; %[1]s 0 leaves nothing to check it on", scenario.Ref("interval"))
	// ErrAbortSeries: :abort thresholds watch one run's intervals in one
	// process.
	ErrAbortSeries = fmt.Errorf(":abort applies to one run in one process; not with %s, several targets, %s or a mix of groups",
		scenario.Ref("repeat"), scenario.Ref("procs"))
)

// CheckIO refuses driver options a run of spec would ignore: io_uring for a
// connection storm (a FieldError on io, ErrStormIO).
func CheckIO(spec scenario.Spec, cfg driver.Config) error {
	if cfg.IO == driver.IOUring && spec.Kind == scenario.KindConnect {
		return &FieldError{Key: "io", Err: ErrStormIO}
	}
	return nil
}

// CheckAbort refuses :abort thresholds nothing could watch (a FieldError on
// threshold): without intervals (ErrAbortNoIntervals), and in a series of
// runs (Repeat), a split run or a mix (ErrAbortSeries), which have no one
// stream of intervals.
func CheckAbort(spec scenario.Spec, series bool) error {
	switch {
	case spec.Interval == 0:
		return &FieldError{Key: "threshold", Err: ErrAbortNoIntervals}
	case series, spec.Procs > 1, spec.Mixed():
		return &FieldError{Key: "threshold", Err: ErrAbortSeries}
	}
	return nil
}

// Check makes the last decisions about a run of c before anything starts:
// it parses the thresholds (Spec.Thresholds), refuses :abort ones nothing
// could watch (CheckAbort; series says the run is one of several, Repeat)
// and driver options the run would ignore (CheckIO), and checks the
// machine's limits (Preflight). It returns the thresholds and the Watch of
// the :abort ones (nil when there are none).
func Check(c *scenario.Compiled, cfg driver.Config, series bool) ([]results.Threshold, *results.Watch, error) {
	spec := c.Spec
	var ths []results.Threshold
	for _, expr := range spec.Thresholds {
		th, err := results.ParseThreshold(expr)
		if err != nil {
			return nil, nil, err
		}
		ths = append(ths, th)
	}
	if err := results.CheckSteps(ths, flow.StepNames(c.Steps)); err != nil { // flowrun: step.NAME thresholds
		return nil, nil, err
	}
	watch := results.NewWatch(ths)
	if watch != nil {
		if err := CheckAbort(spec, series); err != nil {
			return nil, nil, err
		}
	}
	if err := CheckIO(spec, cfg); err != nil {
		return nil, nil, err
	}
	return ths, watch, Preflight(spec, len(c.Sources))
}
