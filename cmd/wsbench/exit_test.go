package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/results"
)

// TestInterruptedDuringWarmup: SIGINT or SIGTERM while the run is still
// warming up stops it with exit 130, writes the result (nothing measured,
// stop reason interrupted) and says on stderr that nothing was measured.
func TestInterruptedDuringWarmup(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			_, url, sc := startServe(t, "--stats-interval", "50ms")
			out := filepath.Join(t.TempDir(), "r.json")
			cmd := exec.Command(binary, "run", "-c", "2", "-d", "60s", "--warmup", "60s", "-o", out, url)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			// Signal once the server has accepted both connections: the run
			// is then warming up (for a minute).
			accepted := make(chan bool, 1)
			go func() {
				for sc.Scan() {
					_, js, _ := strings.Cut(sc.Text(), "stats ")
					var st struct {
						Accepted int64 `json:"accepted"`
					}
					if json.Unmarshal([]byte(js), &st) == nil && st.Accepted >= 2 {
						accepted <- true
						break
					}
				}
				for sc.Scan() {
				}
			}()
			select {
			case <-accepted:
			case <-time.After(30 * time.Second):
				t.Fatal("the server never accepted the run's 2 connections")
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the run did not stop on the signal")
			}
			if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
				t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, stderr.String())
			}
			if !strings.Contains(stderr.String(), "wsbench run: interrupted before the measured window began: nothing was measured") {
				t.Errorf("stderr does not say nothing was measured:\n%s", stderr.String())
			}
			rep, err := results.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Interrupted || rep.StopReason != "interrupted" || rep.DurationS != 0 || rep.Messages.Received != 0 || rep.Connections.Opened != 2 {
				t.Errorf("result: interrupted %v, reason %q, %.3fs measured, messages %+v, connections %+v",
					rep.Interrupted, rep.StopReason, rep.DurationS, rep.Messages, rep.Connections)
			}
			if !strings.Contains(stdout.String(), "stop: interrupted") {
				t.Errorf("no summary on stdout:\n%s", stdout.String())
			}
		})
	}
}

// TestThresholdAbort: a run whose server closes every connection that sends
// more than 100 bytes, with --threshold 'errors.count<3:abort', stops long
// before its 60 s: exit 4, stderr names the threshold, the result is written
// with stop reason threshold_abort and the threshold failed.
func TestThresholdAbort(t *testing.T) {
	_, url, _ := startServe(t, "--max-message", "100")
	out := filepath.Join(t.TempDir(), "r.json")
	start := time.Now()
	code, stdout, stderr := runCLI("run", "-c", "2", "-d", "60s", "--warmup", "0s", "-s", "64-400", "--reconnect", "50ms",
		"--interval", "100ms", "--threshold", "errors.count<3:abort", "--threshold", "rtt.p(99.9)<10s", "-o", out, url)
	elapsed := time.Since(start)
	if code != exitThreshAbort {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitThreshAbort, stdout, stderr)
	}
	if elapsed > 40*time.Second {
		t.Errorf("the run took %v: the threshold did not stop it early", elapsed)
	}
	if !strings.Contains(stderr, `threshold "errors.count<3:abort" failed for good: the run was stopped early (stop reason threshold_abort)`) {
		t.Errorf("stderr: %q", stderr)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopReason != results.StopThresholdAbort || rep.Interrupted || rep.DurationS >= 40 || rep.ErrorCount() < 3 {
		t.Errorf("result: reason %q, interrupted %v, %.2fs measured, errors %v", rep.StopReason, rep.Interrupted, rep.DurationS, rep.Errors)
	}
	if len(rep.Thresholds) != 2 || rep.Thresholds[0].Pass || !rep.Thresholds[1].Pass {
		t.Errorf("thresholds %+v", rep.Thresholds)
	}
	if !strings.Contains(stdout, "stop: threshold_abort") {
		t.Errorf("the summary does not give the stop reason:\n%s", stdout)
	}
}

// TestThresholdFlagErrors: thresholds that cannot be used exit 2 with one
// line naming --threshold.
func TestThresholdFlagErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		// a percentile above 100
		{"p101", []string{"run", "--threshold", "rtt.p101<1ms"}, `--threshold "rtt.p101<1ms": "p101" is no percentile`},
		// a percentile can fall, so it cannot abort
		{"abort on a percentile", []string{"run", "--threshold", "rtt.p99<1ms:abort"}, ":abort applies to errors.count with < or <="},
		// :abort is checked per interval: none, nothing to check
		{"abort without intervals", []string{"run", "--interval", "0", "--threshold", "errors.count<1:abort"}, "--threshold: :abort is checked at the end of each --interval"},
		// a split run reports only at the end
		{"abort with procs", []string{"run", "--procs", "2", "--threshold", "errors.count<1:abort"}, "--threshold: :abort applies to one run in one process"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(c.args...)
		if first, _, _ := strings.Cut(stderr, "\n"); code != exitUsage || !strings.Contains(first, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want exit 2 and %q", c.name, code, stderr, c.want)
		}
	}
	// Percentiles as k6 users write them pass against the bundled server.
	code, stdout, stderr := runCLI("run", "-c", "2", "-d", "200ms", "--warmup", "0s",
		"--threshold", "rtt.p95<10s", "--threshold", "rtt.p99.9<10s", "--threshold", "rtt.p(95)<10s", "--threshold", "rtt.p(99.9)<10s")
	if code != exitOK || strings.Count(stdout, "✓ pass") != 4 {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestHelpText: no flag's value name is a phrase pflag took from back
// quotes, no default is printed in Go's float syntax or twice, the --kind
// list reads as a list, and the exit codes are all documented.
func TestHelpText(t *testing.T) {
	flagLine := regexp.MustCompile(`^\s+(-\w, )?--[\w-]+( \w+)?(\s{2,}|$)`)
	for _, c := range []string{"run", "capacity", "serve", "report", "compare"} {
		code, out, _ := runCLI(c, "--help")
		if code != exitOK {
			t.Fatalf("%s --help: exit %d", c, code)
		}
		_, flags, _ := strings.Cut(out, "\nFlags:\n")
		for _, line := range strings.Split(strings.TrimRight(flags, "\n"), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "-") && !flagLine.MatchString(line) {
				t.Errorf("%s: a value name of more than one word: %q", c, line)
			}
			if strings.Contains(line, "e+0") || strings.Count(line, "(default") > 1 || strings.Contains(line, "GOMAXPROCS) (default") {
				t.Errorf("%s: a default badly printed: %q", c, line)
			}
		}
	}
	_, run, _ := runCLI("run", "--help")
	for _, want := range []string{"broadcast (chat rooms), connect", "(read it with go tool pprof)", "130 interrupted", "4 a --threshold", "p(99.99)"} {
		if !strings.Contains(run, want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
	_, capacity, _ := runCLI("capacity", "--help")
	if !strings.Contains(capacity, "(default 1000000)") {
		t.Errorf("capacity --help does not give --max's default as 1000000")
	}
}

// TestTargetWithoutScheme: host:port or host/path gets a suggestion of the
// ws:// URL meant, not Go's URL-parser message.
func TestTargetWithoutScheme(t *testing.T) {
	for arg, want := range map[string]string{
		"127.0.0.1:8080":      "did you mean ws://127.0.0.1:8080/ ?",
		"localhost:9000/echo": "did you mean ws://localhost:9000/echo ?",
		"example.com":         "did you mean ws://example.com/ ?",
		// a secret in it is redacted in the suggestion and the echo of the input
		"u:hunter22@127.0.0.1:8080/?token=s3cr3tvalue": "did you mean ws://u:REDACTED@127.0.0.1:8080/?token=REDACTED ?",
		// a line break in it stays quoted: the error is one line, with no suggestion
		"127.0.0.1:80\n80": `target URL "127.0.0.1:80\n80": no scheme (want ws://host:port/path`,
	} {
		code, _, stderr := runCLI("run", arg)
		if code != exitUsage || !strings.Contains(stderr, want) || strings.Contains(stderr, "first path segment") {
			t.Errorf("%s: exit %d, stderr %q, want %q", arg, code, stderr, want)
		}
		if strings.Contains(stderr, "hunter22") || strings.Contains(stderr, "s3cr3tvalue") {
			t.Errorf("%s: stderr shows a secret: %q", arg, stderr)
		}
		if lines := strings.Count(stderr, "\n"); lines != 2 { // the error, then "Run 'wsbench run --help'"
			t.Errorf("%s: %d lines on stderr, want the error on one line: %q", arg, lines, stderr)
		}
	}
}

// TestFailureLine: a run that opened no connection ends with one line that
// counts the errors by kind as words, not in Go's map syntax.
func TestFailureLine(t *testing.T) {
	code, _, stderr := runCLI("run", "-c", "3", "-d", "200ms", "-q", "ws://127.0.0.1:1/")
	want := "wsbench run: no connection to ws://127.0.0.1:1/ could be opened in 3 attempts (errors: connect_refused 3)\n"
	if code != exitFailed || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
}

// TestDNSFailure: a host name that does not resolve (.invalid never does,
// RFC 6761) is counted as connect_dns, and the failure line gives the
// resolver's reason without the URL's password or query.
func TestDNSFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := runCLI("run", "-c", "2", "-d", "200ms", "-q", "--connect-timeout", "3s", "-o", out,
		"ws://user:s3cretpw@nosuchhost.invalid:9/?token=t0kenval")
	if code != exitFailed || !strings.Contains(stderr, "(errors: connect_dns 2); lookup nosuchhost.invalid") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr, "s3cretpw") || strings.Contains(stderr, "t0kenval") {
		t.Errorf("stderr leaks the URL's secrets: %q", stderr)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors["connect_dns"] != 2 || rep.Errors["connect_error"] != 0 {
		t.Errorf("errors %v, want connect_dns 2", rep.Errors)
	}
}
