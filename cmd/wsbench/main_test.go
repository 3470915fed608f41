package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/results"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = wsbench(args, &o, &e)
	return code, o.String(), e.String()
}

// TestBadInput: every bad input exits 2 with one clear line naming what is wrong.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string // must appear in the first line of stderr
	}{
		// a negative rate names --rate
		{"negative rate", []string{"run", "--rate", "-5"}, "--rate: must not be negative"},
		// zero connections names --conns
		{"zero conns", []string{"run", "-c", "0"}, "--conns"},
		// an unknown flag is named
		{"unknown flag", []string{"run", "--bogus"}, "unknown flag: --bogus"},
		// a malformed duration names the flag
		{"bad duration", []string{"run", "-d", "abc"}, `"-d, --duration"`},
		// a non-ws scheme is refused
		{"http url", []string{"run", "http://127.0.0.1:1/"}, `scheme "http" is not a WebSocket scheme`},
		// a malformed URL is refused
		{"malformed url", []string{"run", "ws://[::1"}, "target URL"},
		// a payload too small to carry its stamp
		{"tiny size", []string{"run", "-s", "4"}, "--size: must be at least 32"},
		// an output folder that does not exist is caught before the run
		{"bad out", []string{"run", "-o", "/nonexistent-dir/x.json"}, "--out:"},
		// a profile file that cannot be created is caught before anything starts
		{"bad cpuprofile", []string{"run", "--cpuprofile", "/nonexistent-dir/x.prof"}, "--cpuprofile:"},
		{"bad io", []string{"run", "--io", "aio"}, "--io: want auto, io_uring or syscalls, got \"aio\""},
		// a connection storm runs on Go's poller: io_uring would be ignored
		{"io_uring for connect", []string{"run", "--kind", "connect", "--io", "io_uring", "ws://127.0.0.1:1/"}, "--io: a connection storm (--kind connect)"},
		// several targets: --repeat below 1, a bad second URL
		{"zero repeats", []string{"run", "--repeat", "0", "ws://127.0.0.1:1/", "ws://127.0.0.1:2/"}, "--repeat: must be at least 1, got 0"},
		{"bad second url", []string{"run", "ws://127.0.0.1:1/", "http://127.0.0.1:2/"}, "scheme \"http\""},
		// stages: a malformed --stage, and a flag the stages decide
		{"bad stage", []string{"run", "--stage", "10s"}, `--stage "10s": want DURATION:CONNS[:RATE[:NAME]]`},
		{"bad stage rate", []string{"run", "--stage", "10s:5:fast"}, `--stage "10s:5:fast": want a message rate`},
		{"stage and conns", []string{"run", "--stage", "10s:5", "-c", "9"}, "--conns: a staged run takes it from its stages"},
		// payload options
		{"bad size range", []string{"run", "-s", "90-40"}, "want a range MIN-MAX with MIN <= MAX"},
		{"template without stamp", []string{"run", "--template", "{}"}, "--template: needs {{stamp}} exactly once"},
		{"missing payload file", []string{"run", "--payload-file", "/nonexistent/p"}, "--payload-file: open /nonexistent/p"},
		// TLS options need a wss:// target
		{"insecure on ws", []string{"run", "--insecure", "ws://127.0.0.1:1/"}, "--insecure: applies to wss:// targets only"},
		{"ca on bundled", []string{"run", "--ca", "/x.pem"}, "--ca: applies to wss:// targets only (the target is the bundled server"},
		// an unknown subcommand
		{"unknown command", []string{"bench"}, `unknown command "bench"`},
		// serve: bad max-message
		{"serve bad max", []string{"serve", "--max-message", "-1"}, "--max-message: -1 is outside"},
		// netns (issue 16): serve --stall AFTER:FOR, each part checked
		{"serve stall no length", []string{"serve", "--stall", "2s"}, `--stall: "2s": want AFTER:FOR`},
		{"serve stall bad start", []string{"serve", "--stall", "soon:1s"}, `--stall: start "soon" in "soon:1s" is neither a duration nor an RFC 3339 time`},
		{"serve stall negative", []string{"serve", "--stall", "1s:-1s"}, "--stall: length -1s is negative"},
		{"serve stall zero", []string{"serve", "--stall", "1s:0s"}, "--stall: a stall starting at"},
		{"serve stall push", []string{"serve", "--mode", "push", "--stall", "1s:1s"}, `--stall: 1s: mode "push" has no replies to hold`},
		// serve: a negative stats interval names --stats-interval
		{"serve negative stats interval", []string{"serve", "--stats-interval", "-1s"}, "--stats-interval: must not be negative"},
		// serve: an unknown I/O mode names --io
		{"serve bad io", []string{"serve", "--io", "bogus"}, `--io: unknown I/O mode "bogus"`},
		// serve: an unknown mode names --mode
		{"serve bad mode", []string{"serve", "--mode", "bogus"}, `--mode: unknown mode "bogus"`},
		// serve: a negative delay names --delay
		{"serve negative delay", []string{"serve", "--delay", "-1s"}, "--delay: -1s is negative"},
		// serve: a delay that is no duration or distribution, an inverted
		// range, an unknown distribution, a distribution missing a
		// parameter: each names --delay and says what is wrong
		{"serve bad delay", []string{"serve", "--delay", "soon"}, `--delay: "soon" is not a delay (want DURATION (5ms), MIN-MAX (2ms-20ms`},
		{"serve inverted delay range", []string{"serve", "--delay", "20ms-2ms"}, "--delay: 20ms-2ms: the minimum is above the maximum"},
		{"serve unknown delay distribution", []string{"serve", "--delay", "pareto:5ms"}, `--delay: "pareto:5ms": unknown distribution "pareto"`},
		{"serve normal delay without deviation", []string{"serve", "--delay", "normal:5ms"}, "--delay: \"normal:5ms\": normal needs a mean and a standard deviation"},
		// serve: a negative ping interval names --ping-interval
		{"serve negative ping interval", []string{"serve", "--ping-interval", "-1s"}, "--ping-interval: -1s is negative"},
		// serve: a stats address without a port names --stats-addr
		{"serve bad stats addr", []string{"serve", "--stats-addr", "localhost"}, "--stats-addr:"},
		// serve: a negative connection cap names --max-conns
		{"serve negative max conns", []string{"serve", "--max-conns", "-1"}, "--max-conns: -1 is negative"},
		// serve: a negative idle timeout names --idle-timeout
		{"serve negative idle timeout", []string{"serve", "--idle-timeout", "-1s"}, "--idle-timeout: -1s is negative"},
		// serve: an empty origin names --allowed-origin
		{"serve bad allowed origin", []string{"serve", "--allowed-origin", "https://a.example,,x"}, "--allowed-origin:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %q", code, exitUsage, stderr)
			}
			first, _, _ := strings.Cut(stderr, "\n")
			if !strings.Contains(first, tc.want) {
				t.Errorf("first line %q does not contain %q", first, tc.want)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"run", "--help"}, {"serve", "-h"}, {"--help"}} {
		code, out, _ := runCLI(args...)
		if code != exitOK || strings.Count(out, "Usage:") != 1 {
			t.Errorf("%v: exit %d, want the usage once; output %q", args, code, out)
		}
	}
	if code, out, _ := runCLI("run", "--help"); code != 0 || !strings.Contains(out, "Examples") || !strings.Contains(out, "--max-inflight") {
		t.Errorf("run --help lacks examples or flags: %q", out)
	}
	if code, out, _ := runCLI("version"); code != 0 || out != "wsbench "+version+"\n" {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestRunBundled is the README's main command, shortened: a run against the
// in-process server prints a summary whose counts add up and writes a result
// file with the same numbers.
func TestRunBundled(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runCLI("run", "-c", "8", "-d", "400ms", "--warmup", "100ms", "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "✓ sent = received + lost + in flight") || !strings.Contains(stdout, "Errors: none") {
		t.Errorf("summary:\n%s", stdout)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Bundled || rep.Connections.Opened != 8 || rep.Messages.Sent == 0 || !rep.Messages.Balanced || rep.Messages.Lost != 0 {
		t.Errorf("result: bundled %v conns %+v messages %+v", rep.Bundled, rep.Connections, rep.Messages)
	}
	if rep.Latency["rtt"].Count != rep.Messages.Received {
		t.Errorf("rtt count %d != received %d", rep.Latency["rtt"].Count, rep.Messages.Received)
	}
}

func TestRunJSONToStdout(t *testing.T) {
	code, stdout, stderr := runCLI("run", "-c", "4", "-d", "300ms", "--warmup", "0s", "-r", "400", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Schema   int              `json:"schema"`
		Messages results.Messages `json:"messages"`
		Latency  map[string]any   `json:"latency"`
		Scenario map[string]any   `json:"scenario"`
		Errors   map[string]int64 `json:"errors"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if doc.Schema != 1 || doc.Messages.Sent < 100 || !doc.Messages.Balanced || doc.Scenario["rate"] != float64(400) || len(doc.Errors) != 0 {
		t.Errorf("document: %+v", doc)
	}
}

// TestRunNoServer: nothing listens; exit 1, and the result is still written.
func TestRunNoServer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := runCLI("run", "-c", "2", "-d", "200ms", "-o", out, "ws://127.0.0.1:1/")
	if code != exitFailed || !strings.Contains(stderr, "no connection") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Connections.Failed != 2 || rep.Errors["connect_refused"] != 2 || rep.StopReason != "no_connections" {
		t.Errorf("result %+v %v %q", rep.Connections, rep.Errors, rep.StopReason)
	}
}

// The tests below run the real binary: signals and a separate server process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsbench-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wsbench")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startServe runs `wsbench serve` on a free port, with any extra flags, and
// returns its URL and a scanner over the rest of its output.
func startServe(t *testing.T, flags ...string) (*exec.Cmd, string, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, flags...)...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	lines := make(chan string, 1)
	go func() {
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line := <-lines:
		_, url, ok := strings.Cut(line, "listening on ")
		if !ok {
			t.Fatalf("unexpected first line %q", line)
		}
		url, _, _ = strings.Cut(url, " ")
		return cmd, url, sc
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not print its address")
	}
	return nil, "", nil
}

// serveLines runs `wsbench serve` on a free port with the extra flags and
// returns its output line by line, from the first (its address) on.
func serveLines(t *testing.T, flags ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1000) // far more than a test's few seconds of lines
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return cmd, lines
}

// TestServeProcess: `wsbench serve` prints its address, is benchmarked from
// another process, and on SIGINT stops cleanly and prints counters that match.
func TestServeProcess(t *testing.T) {
	cmd, url, sc := startServe(t)
	out := filepath.Join(t.TempDir(), "r.json")
	if b, err := exec.Command(binary, "run", "-c", "10", "-d", "300ms", "--warmup", "100ms", "-o", out, url).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, b)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exit: %v", err)
	}
	_, js, ok := strings.Cut(last, "stats ")
	if !ok {
		t.Fatalf("no stats line: %q", last)
	}
	var stats struct {
		Accepted    int64 `json:"accepted"`
		MessagesIn  int64 `json:"messages_in"`
		MessagesOut int64 `json:"messages_out"`
	}
	if err := json.Unmarshal([]byte(js), &stats); err != nil {
		t.Fatal(err)
	}
	// The server saw every message of the run, warm-up included, and echoed each.
	if stats.Accepted != 10 || stats.MessagesIn != stats.MessagesOut || stats.MessagesIn < rep.Messages.Sent {
		t.Errorf("server stats %+v vs client sent %d", stats, rep.Messages.Sent)
	}
}

// TestRunInterrupted: SIGINT during a long run stops it gracefully; the result
// is written, marked interrupted, and its counts add up; the exit code is 130.
func TestRunInterrupted(t *testing.T) {
	_, url, _ := startServe(t)
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binary, "run", "-c", "10", "-d", "60s", "--warmup", "0s", "-o", out, url)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v, want %d (interrupted)", err, exitInterrupted)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v to stop", el)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.StopReason != "interrupted" || !rep.Messages.Balanced || rep.Messages.Sent == 0 {
		t.Errorf("result: interrupted %v reason %q messages %+v", rep.Interrupted, rep.StopReason, rep.Messages)
	}
	if !strings.Contains(stdout.String(), "stop: interrupted") {
		t.Errorf("summary does not say it was interrupted:\n%s", stdout.String())
	}
}

// TestServeStatsInterval: `wsbench serve --stats-interval 200ms` prints a stats
// line every 200 ms with the counters, the process's CPU and memory and the
// interval's own figures; a benchmark from another process shows up in them,
// and the final line on SIGINT carries the process figures too.
func TestServeStatsInterval(t *testing.T) {
	stopWatch := schedwatch.Watch()
	cmd, lines := serveLines(t, "--stats-interval", "200ms")
	// next returns the next line, failing the test if none comes by deadline.
	next := func(deadline time.Time, waitingFor string) (string, bool) {
		t.Helper()
		select {
		case line, ok := <-lines:
			return line, ok
		case <-time.After(time.Until(deadline)):
			t.Fatalf("serve printed no line in time; waiting for %s", waitingFor)
			return "", false
		}
	}

	first, _ := next(time.Now().Add(10*time.Second), "its address")
	_, url, ok := strings.Cut(first, "listening on ")
	if !ok {
		t.Fatalf("unexpected first line %q", first)
	}
	url, _, _ = strings.Cut(url, " ")

	// Load from another process, long enough to span a few intervals.
	run := exec.Command(binary, "run", "-c", "2", "-d", "600ms", "--warmup", "0s", url)
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- run.Wait() }()
	t.Cleanup(func() { run.Process.Kill(); <-runDone })

	type statsLine struct {
		MessagesIn             *float64 `json:"messages_in"`
		CPUUser                *float64 `json:"cpu_user_s"`
		CPUSys                 *float64 `json:"cpu_sys_s"`
		CPUCores               *float64 `json:"cpu_cores"`
		MaxRSSKiB              *float64 `json:"max_rss_kib"`
		RSSKiB                 *float64 `json:"rss_kib"`
		Uptime                 *float64 `json:"uptime_s"`
		Interval               *float64 `json:"interval_s"`
		IntervalCPUCores       *float64 `json:"interval_cpu_cores"`
		IntervalMessagesInPerS *float64 `json:"interval_messages_in_per_s"`
	}
	var got []statsLine
	sawLoad := false
	twoBy := time.Now().Add(5 * time.Second)
	loadBy := time.Now().Add(10 * time.Second)
	for len(got) < 2 || !sawLoad {
		deadline, waitingFor := loadBy, "a stats line showing the run's messages"
		if len(got) < 2 {
			deadline, waitingFor = twoBy, "two stats lines"
		}
		line, ok := next(deadline, waitingFor)
		if !ok {
			t.Fatalf("serve exited early after %d stats lines", len(got))
		}
		js, ok := strings.CutPrefix(line, "wsbench serve: stats ")
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		var st statsLine
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatalf("stats line is not JSON: %v\n%s", err, js)
		}
		if st.MessagesIn == nil || st.CPUUser == nil || st.CPUSys == nil || st.CPUCores == nil || st.MaxRSSKiB == nil ||
			st.RSSKiB == nil || st.Uptime == nil || st.Interval == nil || st.IntervalCPUCores == nil || st.IntervalMessagesInPerS == nil {
			t.Fatalf("stats line lacks a field: %s", js)
		}
		if *st.MaxRSSKiB <= 0 || *st.RSSKiB <= 0 || *st.Uptime <= 0 {
			t.Errorf("max_rss_kib, rss_kib and uptime_s must be positive: %s", js)
		}
		if c := *st.IntervalCPUCores; c < 0 || c > float64(runtime.NumCPU())+0.5 {
			t.Errorf("interval_cpu_cores %v outside [0, %d CPUs]: %s", c, runtime.NumCPU(), js)
		}
		if n := len(got); n > 0 {
			// Each interval runs from the previous line's uptime to this one's.
			if d := *st.Uptime - *got[n-1].Uptime; math.Abs(d-*st.Interval) > 1e-5 {
				t.Errorf("interval_s %v, but uptime_s went from %v to %v", *st.Interval, *got[n-1].Uptime, *st.Uptime)
			}
		}
		if *st.IntervalMessagesInPerS > 0 && *st.MessagesIn > 0 {
			sawLoad = true
		}
		got = append(got, st)
	}
	// A late tick makes one interval longer and the next shorter; how much
	// longer, the scheduling delay seen here says (the uptimes above hold
	// the intervals to the clock).
	most := 0.6 + 4*stopWatch().Max.Seconds()
	for i, st := range got {
		if *st.Interval <= 0 || *st.Interval > most {
			t.Errorf("stats line %d: interval_s %v, want about 0.2 (at most %.3f)", i+1, *st.Interval, most)
		}
	}

	select {
	case err := <-runDone:
		runDone <- err // for the cleanup
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not finish")
	}
	cmd.Process.Signal(syscall.SIGINT)
	var last string
	for stopBy := time.Now().Add(10 * time.Second); ; {
		line, ok := next(stopBy, "the end of output after SIGINT")
		if !ok {
			break
		}
		last = line
	}
	js, ok := strings.CutPrefix(last, "wsbench serve: stopped; stats ")
	if !ok {
		t.Fatalf("last line %q is not the final stats line", last)
	}
	var final map[string]any
	if err := json.Unmarshal([]byte(js), &final); err != nil {
		t.Fatalf("final stats are not JSON: %v\n%s", err, js)
	}
	for _, key := range []string{"cpu_user_s", "cpu_sys_s", "cpu_cores", "max_rss_kib", "rss_kib", "uptime_s"} {
		if _, ok := final[key]; !ok {
			t.Errorf("final stats lack %s: %s", key, js)
		}
	}
	if in, _ := final["messages_in"].(float64); in == 0 {
		t.Errorf("final stats show no messages: %s", js)
	}
	if _, ok := final["interval_s"]; ok {
		t.Errorf("final stats have interval fields: %s", js)
	}
}

// TestServeStatsAddr: `wsbench serve --stats-addr 127.0.0.1:0` prints where
// its stats are, and GET there returns them as JSON, with the broadcast and
// ping counters.
func TestServeStatsAddr(t *testing.T) {
	cmd, lines := serveLines(t, "--stats-addr", "127.0.0.1:0", "--mode", "broadcast", "--ping-interval", "1s", "--delay", "10ms")
	var head []string
	for len(head) < 2 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited after %q", head)
			}
			head = append(head, line)
		case <-time.After(10 * time.Second):
			t.Fatalf("serve printed only %q", head)
		}
	}
	if !strings.Contains(head[0], "listening on ws://") || !strings.Contains(head[0], "mode broadcast") {
		t.Errorf("first line %q", head[0])
	}
	url, ok := strings.CutPrefix(head[1], "wsbench serve: stats on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/stats") {
		t.Fatalf("second line %q, want the stats URL", head[1])
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	for _, key := range []string{"accepted", "messages_in", "rooms", "broadcast_deliveries", "pings_sent",
		"pongs_received", "pong_missing", "clients_not_answering", "delay_clamped"} {
		if _, ok := st[key]; !ok {
			t.Errorf("stats lack %q: %v", key, st)
		}
	}
	if st["delay"] != "10ms" {
		t.Errorf("stats say delay %v, want \"10ms\"", st["delay"])
	}
	if !strings.Contains(head[0], ", delay 10ms)") {
		t.Errorf("first line %q does not give the delay", head[0])
	}
	cmd.Process.Signal(syscall.SIGINT)
	for stopBy := time.After(10 * time.Second); lines != nil; {
		select {
		case _, ok := <-lines:
			if !ok {
				lines = nil
			}
		case <-stopBy:
			t.Fatal("serve did not stop after SIGINT")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exit: %v", err)
	}
	if _, err := client.Get(url); err == nil {
		t.Error("stats still served after serve stopped")
	}
}
