package orchestrate

import (
	"errors"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// TestFits: the limits a run must fit, by where its sockets are. Each row
// is a hard open-file limit of 500 and a run; want is in the error ("" for
// none).
func TestFits(t *testing.T) {
	lim := driver.Limits{NoFileSoft: 500, NoFileHard: 500}
	for _, tc := range []struct {
		name   string
		target string
		conns  int
		procs  int
		want   string
	}{
		// the bundled server in this process holds a socket per connection too
		{"bundled, one process", "", 300, 1, "conns 300 needs 664 file descriptors"},
		{"bundled, one process, fits", "", 200, 1, ""},
		// a separate server: the client sockets only
		{"separate server", "ws://127.0.0.1:1/", 300, 1, ""},
		// wss: three descriptors per connection (the TLS bridge's socket pair)
		{"wss", "wss://127.0.0.1:1/", 300, 1, "conns 300 needs 964 file descriptors"},
		// split: the children fit, the parent's server sockets do not
		{"split, bundled server in the parent", "", 1000, 4, "in the process holding the bundled server (1000 server sockets + 64 reserved)"},
		{"split, separate server", "ws://127.0.0.1:1/", 1000, 4, ""},
	} {
		spec := scenario.Default()
		spec.Target, spec.Conns, spec.Procs = tc.target, tc.conns, tc.procs
		err := fits(lim, spec, 0)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// The errors name settings by key, for the command line to name flags.
	spec := scenario.Default()
	spec.Conns, spec.Procs = 1000, 4
	var fe *FieldError
	if err := fits(lim, spec, 0); !errors.As(err, &fe) || !strings.HasPrefix(fe.Text(func(k string) string { return "--" + k }), "--conns 1000 needs") {
		t.Errorf("split, bundled: %v, want a FieldError naming conns", err)
	}
	// Unknown limits pass.
	spec.Conns = 1e6
	if err := fits(driver.Limits{}, spec, 0); err != nil {
		t.Errorf("unknown limits: %v", err)
	}
}

// TestCheckIOAndAbort: the driver options and :abort thresholds a run
// refuses, each a FieldError on its key.
func TestCheckIOAndAbort(t *testing.T) {
	spec := func(f func(*scenario.Spec)) scenario.Spec {
		s := scenario.Default()
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		err  error
		key  string // "" for no error
		why  error  // the FieldError's Err
	}{
		{"io_uring for a connection storm", CheckIO(spec(func(s *scenario.Spec) { s.Kind = scenario.KindConnect }), driver.Config{IO: driver.IOUring}), "io", ErrStormIO},
		{"syscalls for a connection storm", CheckIO(spec(func(s *scenario.Spec) { s.Kind = scenario.KindConnect }), driver.Config{IO: driver.IOSyscalls}), "", nil},
		{"io_uring for echo", CheckIO(scenario.Default(), driver.Config{IO: driver.IOUring}), "", nil},
		{"abort with intervals, one run", CheckAbort(scenario.Default(), false), "", nil},
		{"abort without intervals", CheckAbort(spec(func(s *scenario.Spec) { s.Interval = 0 }), false), "threshold", ErrAbortNoIntervals},
		{"abort over a series", CheckAbort(scenario.Default(), true), "threshold", ErrAbortSeries},
		{"abort over processes", CheckAbort(spec(func(s *scenario.Spec) { s.Procs = 2 }), false), "threshold", ErrAbortSeries},
	} {
		var fe *FieldError
		if errors.As(tc.err, &fe) {
			if fe.Key != tc.key || fe.Err != tc.why {
				t.Errorf("%s: %q: %v, want %q: %v", tc.name, fe.Key, fe.Err, tc.key, tc.why)
			}
		} else if tc.err != nil || tc.key != "" {
			t.Errorf("%s: %v, want a FieldError on %q", tc.name, tc.err, tc.key)
		}
	}
}

// TestCheck: the thresholds come back parsed, with a Watch only for
// :abort ones; a bad threshold, an :abort nothing could watch and
// io_uring for a storm are refused before the limits are looked at.
func TestCheck(t *testing.T) {
	spec := scenario.Default()
	spec.Target = "ws://127.0.0.1:1/"
	spec.Conns = 1
	spec.Thresholds = []string{"rtt.p99<10ms", "errors.count<5"}
	check := func(spec scenario.Spec, cfg driver.Config, series bool) ([]results.Threshold, *results.Watch, error) {
		c, err := scenario.Compile(spec)
		if err != nil {
			return nil, nil, err
		}
		return Check(c, cfg, series)
	}
	ths, watch, err := check(spec, driver.Config{}, false)
	if err != nil || len(ths) != 2 || ths[1].Expr != "errors.count<5" || watch != nil {
		t.Errorf("plain thresholds: %v, %v, %v", ths, watch, err)
	}
	spec.Thresholds = append(spec.Thresholds, "errors.count<100:abort")
	if _, watch, err := check(spec, driver.Config{}, false); err != nil || watch == nil {
		t.Errorf(":abort: watch %v, %v", watch, err)
	}
	var fe *FieldError
	if _, _, err := check(spec, driver.Config{}, true); !errors.As(err, &fe) || fe.Key != "threshold" {
		t.Errorf(":abort over a series: %v", err)
	}
	spec.Thresholds = []string{"rtt.q75<1ms"}
	if _, _, err := check(spec, driver.Config{}, false); err == nil || !strings.Contains(err.Error(), "unknown subject") {
		t.Errorf("a bad threshold: %v", err)
	}
	spec.Thresholds, spec.Kind = nil, scenario.KindConnect
	if _, _, err := check(spec, driver.Config{IO: driver.IOUring}, false); !errors.As(err, &fe) || fe.Key != "io" {
		t.Errorf("io_uring for a storm: %v", err)
	}
}
