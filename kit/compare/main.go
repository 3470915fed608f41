// Command compare runs the server comparison of issue 17 and writes its
// folder: every kit server (kit/README.md) through the case matrix (closed-
// and open-loop echo, the knee, idle connections, broadcast fan-out, a
// connection storm), each case against a fresh server process, server and
// client on disjoint CPUs (taskset), cases interleaved across servers and
// repeated; then raw/ (every wsbench result, with its histograms),
// summary.md (medians, spread, rank, Mann-Whitney), index.html and html/
// (offline pages: wsbench compare's per case) and env.json.
//
// scripts/compare-servers.sh installs what the servers need and runs it:
//
//	scripts/compare-servers.sh            # the full matrix, 4 trials: results/DATE-MACHINE/
//	scripts/compare-servers.sh --quick    # 2 servers, 2 trials, tiny cases: about a minute
//
// Each server first passes a conformance smoke check (a wsbench echo,
// broadcast and ping run, every count balanced, nothing lost); one that
// fails is left out and summary.md says why.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AllServers is the kit in its stable order: the order of every table.
var AllServers = []string{"gorilla", "coder", "gobwas", "nbio", "gws", "fasthttp", "node-ws", "bun", "nginx", "haproxy"}

// quickServers are --quick's two: a goroutine-per-connection server and
// an event-loop one.
var quickServers = []string{"gorilla", "gws"}

// goBinaries are built from kit/servers into the binaries folder.
var goBinaries = []string{"gorilla", "coder", "gobwas", "nbio", "gws", "fasthttp", "nginx", "haproxy"}

// budget bounds each wait for a server to start or stop.
const budget = 20 * time.Second

type options struct {
	root, out, bin, machine   string
	servers, cases            []string
	trials                    int
	quick                     bool
	serverCPUs, clientCPUs    string
	stderr                    io.Writer
	scale                     Scale
	wsbench, nodeDir, command string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare-servers: %v\n", err)
		os.Exit(2)
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "compare-servers: %v\n", err)
		if ctx.Err() != nil {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	o := &options{stderr: os.Stderr, command: strings.Join(append([]string{"scripts/compare-servers.sh"}, args...), " ")}
	fs := flag.NewFlagSet("compare-servers", flag.ContinueOnError)
	fs.StringVar(&o.out, "out", "", "output folder (default results/DATE-MACHINE, or bench-out/compare-DATE-MACHINE-quick with --quick)")
	fs.StringVar(&o.bin, "bin", "", "folder of already built binaries (wsbench and the kit's Go servers); default: build them into a temporary folder")
	fs.StringVar(&o.machine, "machine", "", "machine name in the folder's name (default: the host name)")
	servers := fs.String("servers", "", "comma-separated servers to compare (default all: "+strings.Join(AllServers, ",")+")")
	cases := fs.String("cases", "", "comma-separated case names or prefixes (echo, open, knee, idle, bcast, storm); default all")
	fs.IntVar(&o.trials, "trials", 0, "trials per case and server (default 4; --quick 2)")
	fs.BoolVar(&o.quick, "quick", false, "two servers, two trials, tiny cases: to try the kit (about a minute)")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "CPUs for the server (taskset list; default the first half of this process's CPUs)")
	fs.StringVar(&o.clientCPUs, "client-cpus", "", "CPUs for wsbench (default the other half)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.scale, o.servers = Full, AllServers
	if o.quick {
		o.scale, o.servers = Quick, quickServers
	}
	if o.trials == 0 {
		o.trials = map[bool]int{false: 4, true: 2}[o.quick]
	}
	if o.trials < 1 {
		return nil, fmt.Errorf("--trials: want at least 1, got %d", o.trials)
	}
	if *servers != "" {
		o.servers = nil
		for _, s := range strings.Split(*servers, ",") {
			if !slices.Contains(AllServers, s) {
				return nil, fmt.Errorf("--servers: no server %q (the kit has %s)", s, strings.Join(AllServers, ", "))
			}
			o.servers = append(o.servers, s)
		}
		// The tables keep the kit's order, whatever the flag's.
		slices.SortStableFunc(o.servers, func(a, b string) int {
			return slices.Index(AllServers, a) - slices.Index(AllServers, b)
		})
	}
	if *cases != "" {
		o.cases = strings.Split(*cases, ",")
	}
	return o, nil
}

// selectCases keeps the cases whose name is, or starts with, one asked for.
func selectCases(all []Case, names []string) ([]Case, error) {
	if len(names) == 0 {
		return all, nil
	}
	var cs []Case
	for _, c := range all {
		for _, n := range names {
			if c.Name == n || strings.HasPrefix(c.Name, n+"-") || strings.HasPrefix(c.Name, n) {
				cs = append(cs, c)
				break
			}
		}
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("--cases: none of %q names a case", names)
	}
	return cs, nil
}

func run(ctx context.Context, o *options) error {
	start := time.Now().UTC()
	var err error
	if o.root, err = repoRoot(); err != nil {
		return err
	}
	o.nodeDir = filepath.Join(o.root, "kit", "servers", "node")
	if o.machine == "" {
		o.machine, _ = os.Hostname()
	}
	o.machine = sanitize(o.machine)
	if o.out == "" {
		o.out = filepath.Join(o.root, "results", start.Format("2006-01-02")+"-"+o.machine)
		if o.quick {
			o.out = filepath.Join(o.root, "bench-out", "compare-"+start.Format("2006-01-02")+"-"+o.machine+"-quick")
		}
	}
	cases, err := selectCases(Cases(o.scale), o.cases)
	if err != nil {
		return err
	}
	if o.serverCPUs == "" || o.clientCPUs == "" {
		s, c, err := splitCPUs()
		if err != nil {
			return err
		}
		o.serverCPUs, o.clientCPUs = cmp(o.serverCPUs, s), cmp(o.clientCPUs, c)
	}
	if err := os.MkdirAll(filepath.Join(o.out, "raw"), 0o755); err != nil {
		return err
	}
	if o.bin == "" {
		dir, err := os.MkdirTemp("", "wsbench-compare")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.bin = dir
		if err := build(o); err != nil {
			return err
		}
	}
	o.wsbench = filepath.Join(o.bin, "wsbench")
	fmt.Fprintf(o.stderr, "compare-servers: %d servers × %d cases × %d trials; server on CPUs %s, wsbench on %s; writing %s\n",
		len(o.servers), len(cases), o.trials, o.serverCPUs, o.clientCPUs, o.out)

	// The conformance smoke check: a server that fails it is not measured.
	excluded := map[string]string{}
	var measured []string
	for _, s := range o.servers {
		if err := smoke(ctx, o, s); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(o.stderr, "compare-servers: %s fails the conformance smoke check, not measured: %v\n", s, err)
			excluded[s] = oneLine(err.Error())
			continue
		}
		measured = append(measured, s)
	}

	var trials []Trial
	total, done := 0, 0
	for _, c := range cases {
		total += len(measured) * map[bool]int{false: o.trials, true: 1}[c.Capacity]
	}
	for n := 1; n <= o.trials; n++ {
		for ci, c := range cases {
			if c.Capacity && n > 1 {
				continue
			}
			// Interleaved: each trial and case starts with another server, so
			// no server always runs first (or right after the same one).
			for k := range measured {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s := measured[(k+n-1+ci)%len(measured)]
				done++
				tr := measure(ctx, o, c, s, n)
				trials = append(trials, tr)
				fmt.Fprintf(o.stderr, "[%d/%d] %s %s trial %d: %s\n", done, total, c.Name, s, n, progress(o.out, c, tr))
			}
		}
	}

	tables := Merge(o.out, cases, measured, trials)
	env := environment(o, start, cases)
	if err := writeJSON(filepath.Join(o.out, "env.json"), env); err != nil {
		return err
	}
	h := Header{Title: "Server comparison " + filepath.Base(o.out), Excluded: excluded, Lines: headerLines(o, env, start)}
	f, err := os.Create(filepath.Join(o.out, "summary.md"))
	if err != nil {
		return err
	}
	if err := WriteSummary(f, h, tables); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	pages := comparePages(ctx, o, tables, trials)
	knees := map[string]*Result{}
	for _, tr := range trials {
		if tr.Case == "knee" && tr.File != "" {
			if r, err := readResult(filepath.Join(o.out, tr.File)); err == nil {
				knees[tr.Server] = r
			}
		}
	}
	if err := writeIndex(filepath.Join(o.out, "index.html"), h, tables, pages, knees); err != nil {
		return err
	}
	fmt.Fprintf(o.stderr, "compare-servers: done in %v: %s\n", time.Since(start).Round(time.Second), filepath.Join(o.out, "summary.md"))
	return nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

// repoRoot is the folder holding the wsbench module and kit/servers.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "kit", "servers", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run it inside the wsbench repository (no kit/servers/go.mod above the current folder)")
		}
		dir = parent
	}
}

// build compiles wsbench and the kit's Go servers into o.bin.
func build(o *options) error {
	fmt.Fprintf(o.stderr, "compare-servers: building wsbench and the kit's Go servers into %s\n", o.bin)
	pkgs := []string{"build", "-o", o.bin + string(filepath.Separator)}
	for _, s := range goBinaries {
		pkgs = append(pkgs, "./"+s)
	}
	for _, b := range []struct {
		dir  string
		args []string
	}{
		{o.root, []string{"build", "-o", o.bin + string(filepath.Separator), "./cmd/wsbench"}},
		{filepath.Join(o.root, "kit", "servers"), pkgs},
	} {
		cmd := exec.Command("go", b.args...)
		cmd.Dir = b.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s in %s: %v\n%s", strings.Join(b.args, " "), b.dir, err, out)
		}
	}
	return nil
}

// serverCommand is how to start a server of the kit.
func serverCommand(o *options, name string) (*exec.Cmd, error) {
	args := []string{"-c", o.serverCPUs}
	var dir string
	switch name {
	case "node-ws":
		node, err := exec.LookPath("node")
		if err != nil {
			return nil, fmt.Errorf("node-ws: node is not on PATH")
		}
		args = append(args, node, "ws-server.js")
		dir = o.nodeDir
	case "bun":
		bun := filepath.Join(o.nodeDir, "node_modules", ".bin", "bun")
		if _, err := os.Stat(bun); err != nil {
			return nil, fmt.Errorf("bun: run npm ci in kit/servers/node: %w", err)
		}
		args = append(args, bun, "bun-server.js")
		dir = o.nodeDir
	default:
		args = append(args, filepath.Join(o.bin, name))
	}
	cmd := exec.Command("taskset", append(args, "-addr", "127.0.0.1:0")...)
	cmd.Dir = dir
	return cmd, nil
}

// server is a started kit server.
type server struct {
	name   string
	cmd    *exec.Cmd
	addr   string
	pids   []int
	exited chan error
	stderr *tailBuffer
}

// startServer starts a fresh server process on the server CPUs and reads
// its address; pids are what --server-pid samples: the process and its
// descendants (for a proxy: its descendants, nginx or HAProxy and gorilla,
// not the idle Go process that started them).
func startServer(o *options, name string) (*server, error) {
	cmd, err := serverCommand(o, name)
	if err != nil {
		return nil, err
	}
	s := &server{name: name, cmd: cmd, exited: make(chan error, 1), stderr: &tailBuffer{}}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		lines <- sc.Text()
		_, _ = io.Copy(io.Discard, out)
		s.exited <- cmd.Wait()
	}()
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			s.stop()
			return nil, fmt.Errorf("%s: first line %q, want \"listening on ADDR\"; stderr: %s", name, line, s.stderr)
		}
		s.addr = addr
	case <-time.After(budget):
		s.stop()
		return nil, fmt.Errorf("%s: no \"listening on\" line within %v; stderr: %s", name, budget, s.stderr)
	}
	s.pids = descendants(cmd.Process.Pid)
	if name != "nginx" && name != "haproxy" {
		s.pids = append([]int{cmd.Process.Pid}, s.pids...)
	}
	return s, nil
}

// stop sends SIGTERM and waits (SIGKILL after the budget).
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(budget):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) pidList() string {
	var p []string
	for _, pid := range s.pids {
		p = append(p, strconv.Itoa(pid))
	}
	return strings.Join(p, ",")
}

// descendants lists every process whose parent chain leads to pid, from
// /proc/*/stat.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 {
				parent[child], _ = strconv.Atoi(f[1])
			}
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		kids := []int{}
		for c, pp := range parent {
			if pp == p {
				kids = append(kids, c)
			}
		}
		slices.Sort(kids)
		for _, c := range kids {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }

// wsbench runs the wsbench binary on the client CPUs and returns its last
// stderr line on failure. Exit status 1 with a result file is a run that
// failed and said why in the file: not an error here.
func wsbench(ctx context.Context, o *options, out string, args ...string) error {
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", o.clientCPUs, o.wsbench}, args...)...)
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	cmd.Stdout = io.Discard
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if out != "" {
		if _, serr := os.Stat(out); serr == nil {
			return nil
		}
	}
	lines := strings.Split(stderr.String(), "\n")
	return fmt.Errorf("wsbench %s: %v: %s", args[0], err, lines[len(lines)-1])
}

// measure runs one trial of case c against a fresh server s.
func measure(ctx context.Context, o *options, c Case, s string, n int) Trial {
	tr := Trial{Case: c.Name, Server: s, N: n}
	srv, err := startServer(o, s)
	if err != nil {
		tr.Err = err.Error()
		return tr
	}
	defer srv.stop()
	rel := filepath.Join("raw", c.Name, fmt.Sprintf("%s-%d.json", s, n))
	file := filepath.Join(o.out, rel)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		tr.Err = err.Error()
		return tr
	}
	url := "ws://" + srv.addr + c.Path
	var args []string
	if c.Capacity {
		args = append(append([]string{"capacity", "-q", "--format", "json", "-o", file}, c.Args...), url)
	} else {
		args = append(append([]string{"run", "-q", "-o", file, "--server-pid", srv.pidList()}, c.Args...), url)
	}
	if err := wsbench(ctx, o, file, args...); err != nil {
		tr.Err = err.Error()
		return tr
	}
	select {
	case err := <-srv.exited:
		srv.exited <- err
		tr.Err = fmt.Sprintf("%s exited during the run (%v): %s", s, err, srv.stderr)
		return tr
	default:
	}
	tr.File = rel
	return tr
}

func progress(dir string, c Case, tr Trial) string {
	if tr.File == "" {
		return "FAILED: " + oneLine(tr.Err)
	}
	r, err := readResult(filepath.Join(dir, tr.File))
	if err != nil {
		return err.Error()
	}
	line := ""
	if v, ok := get(c.Primary, r); ok {
		line = c.Primary.Name + " " + format(v, c.Primary.Unit)
	}
	if why := r.failed(c); why != "" {
		line += " FAILED: " + oneLine(why)
	}
	if why := r.saturated(); why != "" {
		line += " SATURATED"
	}
	return line
}

// smoke is the conformance smoke check: a fresh server, then wsbench runs
// of echo, broadcast (at /bcast/0) and ping, each of which must complete
// with every connection open, counts balanced, no error and, for broadcast,
// every delivery made.
func smoke(ctx context.Context, o *options, name string) error {
	srv, err := startServer(o, name)
	if err != nil {
		return err
	}
	defer srv.stop()
	dir, err := os.MkdirTemp("", "wsbench-smoke")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	checks := []struct {
		name, path string
		args       []string
	}{
		{"echo", "/echo", []string{"-c", "4", "-d", "1s", "--warmup", "200ms"}},
		{"broadcast", "/", []string{"--kind", "broadcast", "-c", "4", "--room-size", "4", "--room-path", "/bcast/%d", "-r", "20", "-d", "1s", "--warmup", "200ms"}},
		{"ping", "/echo", []string{"--kind", "ping", "-c", "2", "-d", "1s", "--warmup", "200ms"}},
	}
	for _, c := range checks {
		// A busy machine can starve a short run (nothing sent in its
		// window): a check fails only when three tries in a row do.
		var err error
		for try := 1; try <= 3; try++ {
			if err = smokeCheck(ctx, o, srv.addr, dir, c.name, c.path, c.args); err == nil || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func smokeCheck(ctx context.Context, o *options, addr, dir, name, path string, extra []string) error {
	file := filepath.Join(dir, name+".json")
	_ = os.Remove(file)
	// A long grace: this checks what arrives, not how soon (a fresh
	// runtime on a busy CPU can take seconds over its first messages).
	args := append(append([]string{"run", "-q", "-o", file, "--grace", "10s"}, extra...), "ws://"+addr+path)
	if err := wsbench(ctx, o, file, args...); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r, err := readResult(file)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case r.StopReason != "completed" || r.Failure != "":
		return fmt.Errorf("%s: stop reason %s %s", name, r.StopReason, r.Failure)
	case r.Connections.Failed > 0 || r.Connections.Opened == 0:
		return fmt.Errorf("%s: %d connections failed (%s)", name, r.Connections.Failed, errorText(r.Errors))
	case !r.Messages.Balanced || r.Messages.Received == 0 || len(r.Errors) > 0:
		return fmt.Errorf("%s: %d sent, %d received, balanced %v, errors %s", name, r.Messages.Sent, r.Messages.Received, r.Messages.Balanced, errorText(r.Errors))
	case name == "broadcast" && (r.Broadcast == nil || r.Broadcast.Reach < 1 || r.Broadcast.Gaps > 0):
		return fmt.Errorf("broadcast: not every member got every message (%+v)", r.Broadcast)
	}
	return nil
}
