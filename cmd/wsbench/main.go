// Command wsbench benchmarks WebSocket servers: `wsbench run` drives load and
// reports latency and throughput, `wsbench serve` runs the bundled reference
// server. main only parses flags, wires packages together and picks the exit
// code.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/wsbench/wsbench/results"
)

// version is the tool version written into every result; release builds set it
// with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the run failed (no connection opened, result not written)
	exitUsage  = 2 // bad usage or bad input
	exitThresh = 3 // the run completed but a --threshold failed
	// exitThreshAbort: a --threshold marked :abort failed during the run and
	// stopped it early; the result is written (stop reason threshold_abort).
	exitThreshAbort = 4
	// exitInterrupted: SIGINT or SIGTERM stopped the run (as shells report
	// 128+SIGINT); the result and the summary are still written.
	exitInterrupted = 130
)

// exitCoder is an error that picks the exit code: each kind below.
type exitCoder interface {
	error
	exitCode() int
}

func (usageError) exitCode() int          { return exitUsage }
func (failedError) exitCode() int         { return exitFailed }
func (thresholdError) exitCode() int      { return exitThresh }
func (thresholdAbortError) exitCode() int { return exitThreshAbort }
func (interruptedError) exitCode() int    { return exitInterrupted }

// usageError marks an error caused by the command line or input files.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// failedError marks a run that went ahead but failed; the message has been reported.
type failedError struct{ err error }

func (e failedError) Error() string { return e.err.Error() }

// thresholdError marks a run whose thresholds did not all pass; the summary
// and the result say which.
type thresholdError struct{ failed int }

func (e thresholdError) Error() string { return fmt.Sprintf("%d threshold(s) failed", e.failed) }

// interruptedError marks a run stopped by SIGINT or SIGTERM; what it
// measured has been reported.
type interruptedError struct {
	cause           error // why no result could be made, if none was
	nothingMeasured bool
}

func (e interruptedError) Error() string {
	if e.cause != nil {
		return "interrupted: " + e.cause.Error()
	}
	if e.nothingMeasured {
		return "interrupted before the measured window began: nothing was measured"
	}
	return "interrupted: the result covers what was measured before the signal"
}

// thresholdAbortError marks a run that an :abort threshold stopped early;
// the result has been reported.
type thresholdAbortError struct{ threshold string }

func (e thresholdAbortError) Error() string {
	return fmt.Sprintf("threshold %q failed for good: the run was stopped early (stop reason %s)", e.threshold, results.StopThresholdAbort)
}

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"run":      {"benchmark a WebSocket server (the bundled one when no URL is given)", runCmd},
	"report":   {"print a saved result again: text, json, csv, hgrm or html", reportCmd},
	"capacity": {"find the highest message rate (or connection count) at which the server meets its latency SLO", capacityCmd},
	"compare":  {"compare saved results side by side, with a significance test for repeated runs", compareCmd},
	"serve":    {"run the bundled reference server", serveCmd},
	"version":  {"print the version", versionCmd},
	"merge":    {"merge the results of a sharded run's shards (files or a folder) exactly", mergeCmd}, // merge part
	// kube part
	"kube": {"run shards of one run as a Kubernetes Indexed Job: render its manifests, or run it and merge the results", kubeCmd},
}

func main() {
	os.Exit(wsbench(os.Args[1:], os.Stdout, os.Stderr))
}

// wsbench runs one command line and returns its exit code.
func wsbench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		mainUsage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "wsbench: unknown command %q; commands: %s\n", args[0], strings.Join(commandNames(), ", "))
		return exitUsage
	}
	err := cmd.run(args[1:], stdout, stderr)
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	var c exitCoder = failedError{err} // an error of no kind: the run failed
	errors.As(err, &c)
	if c.exitCode() == exitUsage {
		fmt.Fprintf(stderr, "wsbench %s: %v\nRun 'wsbench %s --help' for usage.\n", args[0], oneLine(c), args[0])
	} else {
		fmt.Fprintf(stderr, "wsbench %s: %v\n", args[0], c)
	}
	return c.exitCode()
}

// oneLine joins the lines of a multi-problem error with "; " so each bad
// input still gets one line of its own on the terminal's scrollback.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "\n  ")
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func mainUsage(w io.Writer) {
	fmt.Fprintf(w, "wsbench %s — WebSocket load testing and benchmarking\n\nUsage:\n  wsbench <command> [flags] [args]\n\nCommands:\n", version)
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'wsbench <command> --help' for a command's flags and examples.\n")
}

func versionCmd(args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return usagef("takes no arguments, got %q", args)
	}
	fmt.Fprintf(stdout, "wsbench %s\n", version)
	return nil
}
