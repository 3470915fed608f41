package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"

	"github.com/wsbench/wsbench/internal/cliflag"
	"github.com/wsbench/wsbench/results"
)

// exitMergeRefused: wsbench merge (or report/compare of a folder) refused
// its shard results: shards missing, duplicated, or of another plan, or a
// result that is no shard's (see README: "Merging shard results exactly").
const exitMergeRefused = 6

// mergeRefusedError is a refused merge; its message names the file and why.
type mergeRefusedError struct{ err *results.MergeError }

func (e mergeRefusedError) Error() string { return e.err.Error() }
func (e mergeRefusedError) Unwrap() error { return e.err }
func (mergeRefusedError) exitCode() int   { return exitMergeRefused }

//go:embed help/merge.txt
var mergeUsage string

func mergeCmd(args []string, stdout, stderr io.Writer) error {
	fs := cliflag.NewSet("merge", mergeUsage, stdout)
	fs.Usage = func() { fmt.Fprint(stdout, mergeUsage) } // it lists its flags itself
	out := fs.StringP("out", "o", "", "")
	format := "text"
	fs.Var(cliflag.Choice[string]{P: &format, Name: "format", Choices: []string{"text", "json", "html"}}, "format", "")
	allowPartial := fs.Bool("allow-partial", false, "")
	var exprs []string
	fs.StringArrayVar(&exprs, "threshold", nil, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want the shards' result files or a folder of them, got none")
	}
	var checks []results.Threshold
	for _, e := range exprs {
		th, err := results.ParseThreshold(e)
		if err != nil {
			return usagef("--threshold %q: %v", e, err)
		}
		checks = append(checks, th)
	}
	if err := checkOut(*out, false); err != nil {
		return err
	}
	rep, err := mergeShardArgs(fs.Args(), *allowPartial)
	if err != nil {
		return err
	}
	passed, err := finishMerged(rep, checks, *out, format, stdout)
	if err != nil {
		return err
	}
	if !passed {
		return thresholdError{rep.FailedThresholds()}
	}
	return nil
}

// finishMerged checks a merged result's thresholds (the run's own, which
// the shards carry, then extra, each once), writes it to out (if set) and
// prints it in format on stdout: what `merge` and `kube run` do with the
// whole run once the shards are merged.
func finishMerged(rep *results.Report, extra []results.Threshold, out, format string, stdout io.Writer) (passed bool, err error) {
	seen := map[string]bool{}
	var ths []results.Threshold
	for _, e := range rep.Scenario.Thresholds {
		th, err := results.ParseThreshold(e)
		if err != nil {
			return false, usagef("the shards' threshold %q: %v", e, err)
		}
		ths, seen[th.Expr] = append(ths, th), true
	}
	for _, th := range extra {
		if !seen[th.Expr] {
			ths, seen[th.Expr] = append(ths, th), true
		}
	}
	passed = results.ApplyThresholds(rep, ths)
	// The result file first, so that nothing merged is lost if stdout fails.
	if out != "" {
		if err := rep.WriteFile(out); err != nil {
			return passed, failedError{fmt.Errorf("--out: %w", err)}
		}
	}
	var b bytes.Buffer
	if err := results.Encoders[format](&b, rep, results.Options{}); err != nil {
		return passed, failedError{err}
	}
	if _, err := stdout.Write(b.Bytes()); err != nil {
		return passed, failedError{err}
	}
	return passed, nil
}

// mergeShardArgs reads the shard results that args name (files, folders)
// and merges them; a refusal is a mergeRefusedError (exit 6), a file that
// cannot be read or is no result a usage error (exit 2).
func mergeShardArgs(args []string, allowPartial bool) (*results.Report, error) {
	files, err := results.ReadShardFiles(args)
	if err != nil {
		return nil, usageError{err}
	}
	rep, err := files.Merge(allowPartial)
	if err != nil {
		return nil, asMergeRefused(err)
	}
	return rep, nil
}

// asMergeRefused gives a refused merge its exit code (6); other errors pass.
func asMergeRefused(err error) error {
	if me := (*results.MergeError)(nil); errors.As(err, &me) {
		return mergeRefusedError{me}
	}
	return err
}
