//go:build linux

package driver

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/scenario"
)

func TestPreflight(t *testing.T) {
	// fd rows use a wide port range so that only the descriptor limit binds;
	// port rows use a huge descriptor limit so that only the ports bind.
	fds := func(hard uint64) Limits {
		return Limits{NoFileSoft: 1024, NoFileHard: hard, PortLow: 1024, PortHigh: 65535}
	}
	ports := Limits{NoFileSoft: 1 << 20, NoFileHard: 1 << 20, PortLow: 32768, PortHigh: 60999} // 28232 ports
	cases := []struct {
		name string
		l    Limits
		n    Need
		want []string // substrings the error must all contain; nil: must fit
		not  []string // substrings it must not contain
	}{
		// client sockets + 64 reserved equal to the hard limit fit exactly
		{"fd boundary", fds(20000), Need{Conns: 19936}, nil, nil},
		// one more connection is one descriptor over: names --conns, the need, the limit, and --procs 2
		{"fd one over", fds(20000), Need{Conns: 19937},
			[]string{"--conns 19937", "needs 20001 file descriptors in one process", "19937 client sockets + 64 reserved",
				"hard open-file limit (RLIMIT_NOFILE) is 20000", "--procs 2", "ulimit -Hn"},
			[]string{"in-process", "wsbench serve"}},
		// a soft limit far below the need is not an error: the caller raises it to the hard limit
		{"soft below need", Limits{NoFileSoft: 256, NoFileHard: 20000, PortLow: 1024, PortHigh: 65535}, Need{Conns: 19936}, nil, nil},
		// with the in-process server each connection costs two descriptors: exactly at the limit fits
		{"in-process boundary", fds(20000), Need{Conns: 9968, InProcessServer: true}, nil, nil},
		// one over with the in-process server: names both halves and suggests wsbench serve and
		// --procs 2 (clients in child processes, the server's sockets alone in this one)
		{"in-process one over", fds(20001), Need{Conns: 9969, InProcessServer: true},
			[]string{"--conns 9969", "needs 20002 file descriptors", "9969 client sockets + 9969 in-process server sockets + 64 reserved",
				"is 20001", "costs two", `"wsbench serve"`, "--procs 2 (the bundled server stays in this process)", "ulimit -Hn"}, nil},
		// 30,000 connections: neither a separate server nor the bundled one fits 30,064
		// descriptors in one process, so only raising the limit is offered
		{"in-process far over", fds(20000), Need{Conns: 30000, InProcessServer: true},
			[]string{"--conns 30000 needs 60064 file descriptors", "30000 client sockets + 30000 in-process server sockets + 64 reserved",
				"is 20000", "ulimit -Hn"},
			[]string{"wsbench serve", "--procs"}},
		// splitting over processes makes a run that needs 30064 in one process fit
		{"procs make it fit", fds(20000), Need{Conns: 30000, Procs: 2}, nil, nil},
		// and the in-process server's share splits too
		{"procs make in-process fit", fds(20000), Need{Conns: 30000, Procs: 4, InProcessServer: true}, nil, nil},
		// too few processes: the per-process count is rounded up, and the fewest that fit are named
		{"procs not enough", fds(20000), Need{Conns: 39873, Procs: 2},
			[]string{"--conns 39873 over --procs 2 needs 20001 file descriptors in each process", "19937 client sockets", "--procs 3"}, nil},
		// a hard limit too small for even one connection offers only raising it
		{"hard too small", fds(64), Need{Conns: 1},
			[]string{"needs 65", "is 64", "ulimit -Hn"}, []string{"--procs"}},
		// as many connections as the port range has ports fit from one source address
		{"ports boundary", ports, Need{Conns: 28232}, nil, nil},
		// one more exhausts the ports of one source address; two loopback addresses would do
		{"ports one address", ports, Need{Conns: 28233},
			[]string{"--conns 28233", "32768-60999", "28232 ports", "1 source address", "28232 connections at most",
				"--source-ip 127.0.0.1-127.0.0.2", "net.ipv4.ip_local_port_range"}, nil},
		// SourceAddrs 0 means one address
		{"ports zero addresses", ports, Need{Conns: 28233, SourceAddrs: 0}, []string{"1 source address"}, nil},
		// four source addresses carry four times the ports, exactly
		{"ports four boundary", ports, Need{Conns: 4 * 28232, SourceAddrs: 4}, nil, nil},
		// one more needs a fifth address
		{"ports four addresses", ports, Need{Conns: 4*28232 + 1, SourceAddrs: 4},
			[]string{"--conns 112929", "32768-60999", "28232 ports", "4 source addresses", "112928 connections at most",
				"--source-ip 127.0.0.1-127.0.0.5", "net.ipv4.ip_local_port_range"}, nil},
		// the suggested loopback range carries over into the next octet
		{"ports many addresses", ports, Need{Conns: 300 * 28232},
			[]string{"300 source addresses", "--source-ip 127.0.0.1-127.0.1.44"}, nil},
		// more processes do not add ports: they share the host's
		{"procs add no ports", ports, Need{Conns: 28233, Procs: 8}, []string{"28232 ports"}, nil},
		// both limits exceeded: still one line, stating both
		{"both", Limits{NoFileHard: 20000, PortLow: 32768, PortHigh: 60999}, Need{Conns: 30000},
			[]string{"needs 30064 file descriptors", "--procs 2", "; also, ", "28232 ports", "--source-ip 127.0.0.1-127.0.0.2"}, nil},
		// unknown limits skip their checks
		{"unknown limits", Limits{}, Need{Conns: 1 << 30}, nil, nil},
		// no connections need nothing
		{"no conns", fds(64), Need{Conns: 0}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Preflight(tc.l, tc.n)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Preflight(%+v, %+v): %v", tc.l, tc.n, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Preflight(%+v, %+v) = nil, want an error", tc.l, tc.n)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("error names a flag: %q", err)
			}
			var fe *scenario.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%T is not a scenario.FieldError", err)
			}
			// As the command line shows it, naming flags.
			msg := fe.Text(func(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") })
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not mention %q:\n%s", w, msg)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(msg, w) {
					t.Errorf("error mentions %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestReadLimitsParsesPortRange(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		low, high int
		ok        bool
	}{
		// the kernel's format: two numbers, a tab, a newline
		{"kernel format", "32768\t60999\n", 32768, 60999, true},
		// a range of one port
		{"one port", "40000 40000", 40000, 40000, true},
		// one number is not a range
		{"one number", "32768\n", 0, 0, false},
		// three numbers are not either
		{"three numbers", "1 2 3", 0, 0, false},
		// not numbers
		{"words", "low high", 0, 0, false},
		// reversed
		{"reversed", "60999 32768", 0, 0, false},
		// out of the port space
		{"too high", "1024 70000", 0, 0, false},
		{"zero", "0 1024", 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			low, high, err := parsePortRange(tc.in)
			if (err == nil) != tc.ok || low != tc.low || high != tc.high {
				t.Fatalf("parsePortRange(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, low, high, err, tc.low, tc.high, tc.ok)
			}
		})
	}
}

// TestReadLimits checks the limits of this machine are read and sane.
func TestReadLimits(t *testing.T) {
	l, err := ReadLimits()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", l)
	if l.NoFileHard == 0 || l.NoFileSoft == 0 || l.NoFileSoft > l.NoFileHard {
		t.Errorf("RLIMIT_NOFILE soft %d, hard %d: want 0 < soft <= hard", l.NoFileSoft, l.NoFileHard)
	}
	if l.PortLow < 1 || l.PortLow >= l.PortHigh || l.PortHigh > 65535 {
		t.Errorf("port range %d-%d: want 1 <= low < high <= 65535", l.PortLow, l.PortHigh)
	}
	if l.Ports() != l.PortHigh-l.PortLow+1 {
		t.Errorf("Ports() = %d for %d-%d", l.Ports(), l.PortLow, l.PortHigh)
	}
}

// raiseNoFileChild marks the child process of TestRaiseNoFile.
const raiseNoFileChild = "WSBENCH_TEST_RAISENOFILE_CHILD"

// TestRaiseNoFile re-executes the test binary so that lowering the soft limit
// does not affect this process: the child lowers its soft RLIMIT_NOFILE to
// 256, calls RaiseNoFile and checks the soft limit is back at the hard limit.
func TestRaiseNoFile(t *testing.T) {
	if os.Getenv(raiseNoFileChild) == "1" {
		raiseNoFileInChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRaiseNoFile$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), raiseNoFileChild+"=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("child did not finish in time: %v\n%s", ctx.Err(), out)
	}
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "raised soft limit from 256 to") || !strings.Contains(string(out), "--- PASS: TestRaiseNoFile") {
		t.Fatalf("child did not report raising the limit:\n%s", out)
	}
	t.Logf("child:\n%s", out)
}

func raiseNoFileInChild(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Max < 256 {
		t.Fatalf("hard limit %d is below 256: cannot test", rl.Max)
	}
	lowered := unix.Rlimit{Cur: 256, Max: rl.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatalf("lower the soft limit: %v", err)
	}
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur != 256 {
		t.Fatalf("after lowering: soft %d, %v; want 256", rl.Cur, err)
	}
	l, err := RaiseNoFile()
	if err != nil {
		t.Fatalf("RaiseNoFile: %v", err)
	}
	if l.NoFileSoft != l.NoFileHard || l.NoFileHard != rl.Max {
		t.Fatalf("RaiseNoFile = soft %d, hard %d; want both %d", l.NoFileSoft, l.NoFileHard, rl.Max)
	}
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur != rl.Max {
		t.Fatalf("after RaiseNoFile: soft %d, hard %d, %v", rl.Cur, rl.Max, err)
	}
	t.Logf("raised soft limit from 256 to %d (hard %d)", l.NoFileSoft, l.NoFileHard)
}
