package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/orchestrate"
)

// newFlagSet makes a subcommand's flag set that reports errors instead of exiting.
func newFlagSet(name, usage string, stdout io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(stdout, usage)
		fmt.Fprintf(stdout, "\nFlags:\n%s", fs.FlagUsages())
	}
	return fs
}

// parse parses args; errHelp means --help was asked for and printed (pflag
// calls fs.Usage itself before returning ErrHelp).
func parse(fs *pflag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		return errHelp
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

var errHelp = errors.New("help shown")

// addFlag is a list flag that adds to what it holds (from a scenario file)
// instead of replacing it: --secret-param and --secret-header widen the
// built-in rule and the file's names, never narrow them.
type addFlag struct{ list *[]string }

func (f addFlag) String() string { return strings.Join(*f.list, ",") }
func (f addFlag) Type() string   { return "names" }
func (f addFlag) Set(v string) error {
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(*f.list, n) {
			*f.list = append(*f.list, n)
		}
	}
	return nil
}

// withFlag rewrites the orchestrate.FieldError in err's text (if any) to
// name the flag that sets its field: --procs for procs. Only cmd knows
// flags; the rest of err's text stays as it was.
func withFlag(err error) error {
	var fe *orchestrate.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return errors.New(strings.Replace(err.Error(), fe.Error(), "--"+fe.Key+": "+fe.Err.Error(), 1))
}
