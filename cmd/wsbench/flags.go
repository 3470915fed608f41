package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/scenario"
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
	var named flagError
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return errHelp
	case errors.As(err, &named):
		return usageError{named}
	case err != nil:
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

// withFlag rewrites each FieldError in err's text (scenario's, and
// orchestrate's, which is the same type) to name the flags that set the
// settings it names: --procs for procs, --max-inflight for max_inflight.
// Only cmd knows flags; the rest of err's text stays as it was.
func withFlag(err error) error {
	var fields []*orchestrate.FieldError
	fieldErrors(err, &fields)
	if len(fields) == 0 {
		return err
	}
	text := err.Error()
	for _, fe := range fields {
		text = strings.Replace(text, fe.Error(), fe.Text(flagName), 1)
	}
	return errors.New(text)
}

// fieldErrors collects the FieldErrors in err's tree, outermost first.
func fieldErrors(err error, into *[]*orchestrate.FieldError) {
	switch e := err.(type) {
	case nil:
	case *orchestrate.FieldError:
		*into = append(*into, e)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			fieldErrors(inner, into)
		}
	case interface{ Unwrap() error }:
		fieldErrors(e.Unwrap(), into)
	}
}

// flagOfKey names the flags whose names are not their scenario keys with
// dashes for underscores.
var flagOfKey = map[string]string{
	"headers": "header", "subprotocols": "subprotocol", "thresholds": "threshold", "stages": "stage",
	"secret_headers": "secret-header", "secret_params": "secret-param", "size_max": "size",
}

// fileOnlyKeys are the scenario keys no flag sets (the target is the
// argument; groups come from a file).
var fileOnlyKeys = map[string]bool{"target": true, "groups": true}

// flagName is how the command line names the setting of a scenario key:
// its flag, or the key itself for one that only a scenario file sets
// (groups, groups[1].name, stages[0].duration).
func flagName(key string) string {
	if fileOnlyKeys[key] || strings.ContainsAny(key, "[.") {
		return key
	}
	if f, ok := flagOfKey[key]; ok {
		return "--" + f
	}
	return "--" + strings.ReplaceAll(key, "_", "-")
}

// flagError is an error that names its flag (--io: want …): the value types
// below return it, and parse shows it as it is, not wrapped in pflag's
// "invalid argument … for … flag".
type flagError struct{ error }

func flagErrorf(name, format string, a ...any) error {
	return flagError{fmt.Errorf("--"+name+": "+format, a...)}
}

// choiceFlag is a string flag that takes one of a few values.
type choiceFlag[T ~string] struct {
	p       *T
	name    string
	choices []T
}

func (f choiceFlag[T]) String() string { return string(*f.p) }
func (f choiceFlag[T]) Type() string   { return "string" }
func (f choiceFlag[T]) Set(v string) error {
	if !slices.Contains(f.choices, T(v)) {
		names := make([]string, len(f.choices))
		for i, c := range f.choices {
			names[i] = string(c)
		}
		return flagErrorf(f.name, "want %s, got %q", orList(names), v)
	}
	*f.p = T(v)
	return nil
}

// minFlag is an int flag with a lower bound.
type minFlag struct {
	p    *int
	name string
	min  int
}

func (f minFlag) String() string { return strconv.Itoa(*f.p) }
func (f minFlag) Type() string   { return "int" }
func (f minFlag) Set(v string) error {
	n, err := strconv.ParseInt(v, 0, 64)
	switch {
	case err != nil:
		return err
	case n < int64(f.min) && f.min == 0:
		return flagErrorf(f.name, "must not be negative, got %d", n)
	case n < int64(f.min):
		return flagErrorf(f.name, "must be at least %d, got %d", f.min, n)
	}
	*f.p = int(n)
	return nil
}

// sizeFlag is --size: one size, or a range "MIN-MAX".
type sizeFlag struct{ spec *scenario.Spec }

func (f sizeFlag) String() string {
	if f.spec.SizeMax > 0 {
		return fmt.Sprintf("%d-%d", f.spec.Size, f.spec.SizeMax)
	}
	return strconv.Itoa(f.spec.Size)
}
func (f sizeFlag) Type() string { return "bytes" }
func (f sizeFlag) Set(v string) error {
	lo, hi, isRange := strings.Cut(v, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return fmt.Errorf("want a size in bytes or a range MIN-MAX, got %q", v)
	}
	b := 0
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil || b < a {
			return fmt.Errorf("want a range MIN-MAX with MIN <= MAX, got %q", v)
		}
	}
	f.spec.Size, f.spec.SizeMax = a, b
	return nil
}

// stagesFlag is --stage DURATION:CONNS[:RATE[:NAME]], repeatable: each adds
// a stage; the first replaces the scenario file's stages.
type stagesFlag struct {
	spec *scenario.Spec
	set  bool
}

func (f *stagesFlag) String() string { return "" }
func (f *stagesFlag) Type() string   { return "stringArray" }
func (f *stagesFlag) Set(v string) error {
	st, err := scenario.ParseStage(v)
	if err != nil {
		return flagError{fmt.Errorf("--stage %q: %w", v, err)}
	}
	if !f.set {
		f.spec.Stages, f.set = nil, true
	}
	f.spec.Stages = append(f.spec.Stages, st)
	return nil
}
