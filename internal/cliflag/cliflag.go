// Package cliflag holds pflag values that check what they are given and
// name their flag in the error (--io: want …), so that a command can show
// the error as it is, not wrapped in pflag's "invalid argument … for …
// flag". It knows no wsbench package: what a value needs to parse comes
// as a func.
package cliflag

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Error is an error that names its flag: the values below return it.
type Error struct{ error }

// Errorf is an Error "--name: " + format.
func Errorf(name, format string, a ...any) error {
	return Error{fmt.Errorf("--"+name+": "+format, a...)}
}

// OrList is "a, b or c".
func OrList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Choice is a string flag that takes one of a few values.
type Choice[T ~string] struct {
	P       *T
	Name    string
	Choices []T
}

func (f Choice[T]) String() string { return string(*f.P) }
func (f Choice[T]) Type() string   { return "string" }
func (f Choice[T]) Set(v string) error {
	if !slices.Contains(f.Choices, T(v)) {
		names := make([]string, len(f.Choices))
		for i, c := range f.Choices {
			names[i] = string(c)
		}
		return Errorf(f.Name, "want %s, got %q", OrList(names), v)
	}
	*f.P = T(v)
	return nil
}

// Min is an int flag with a lower bound.
type Min struct {
	P    *int
	Name string
	Min  int
}

func (f Min) String() string { return strconv.Itoa(*f.P) }
func (f Min) Type() string   { return "int" }
func (f Min) Set(v string) error {
	n, err := strconv.ParseInt(v, 0, 64)
	switch {
	case err != nil:
		return err
	case n < int64(f.Min) && f.Min == 0:
		return Errorf(f.Name, "must not be negative, got %d", n)
	case n < int64(f.Min):
		return Errorf(f.Name, "must be at least %d, got %d", f.Min, n)
	}
	*f.P = int(n)
	return nil
}

// Add is a list flag that adds to what it holds (from a file, say) instead
// of replacing it, skipping names it has: a comma-separated list, repeatable.
type Add struct{ List *[]string }

func (f Add) String() string { return strings.Join(*f.List, ",") }
func (f Add) Type() string   { return "names" }
func (f Add) Set(v string) error {
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(*f.List, n) {
			*f.List = append(*f.List, n)
		}
	}
	return nil
}

// Size is one size in bytes, or a range "MIN-MAX" (Max 0 for one size).
type Size struct{ Min, Max *int }

func (f Size) String() string {
	if *f.Max > 0 {
		return fmt.Sprintf("%d-%d", *f.Min, *f.Max)
	}
	return strconv.Itoa(*f.Min)
}
func (f Size) Type() string { return "bytes" }
func (f Size) Set(v string) error {
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
	*f.Min, *f.Max = a, b
	return nil
}

// List is a repeatable flag whose values Parse turns into items: the first
// one given replaces what the list held (a file's), the others add to it.
type List[T any] struct {
	P     *[]T
	Name  string
	Parse func(string) (T, error)
	set   bool
}

func (f *List[T]) String() string { return "" }
func (f *List[T]) Type() string   { return "stringArray" }
func (f *List[T]) Set(v string) error {
	item, err := f.Parse(v)
	if err != nil {
		return Error{fmt.Errorf("--%s %q: %w", f.Name, v, err)}
	}
	if !f.set {
		*f.P, f.set = nil, true
	}
	*f.P = append(*f.P, item)
	return nil
}

// Same is a string flag that several flags may set (--format and --json
// for --format json): given more than once, they must agree. Name is the
// flag named in that error.
type Same struct {
	P    *string
	Name string
}

func (f Same) String() string { return *f.P }
func (f Same) Type() string   { return "string" }
func (f Same) Set(v string) error {
	if *f.P != "" && *f.P != v {
		return Errorf(f.Name, "given as both %s and %s", *f.P, v)
	}
	*f.P = v
	return nil
}

// Marks is a flag whose every value marks where it came among the
// arguments: Values[i] was given before the argument First[i] (pflag
// appends each argument to Args as it reads it). Args gives the count of
// arguments read so far (pflag's FlagSet.NArg).
type Marks struct {
	Args   func() int
	Values []string
	First  []int
}

func (f *Marks) String() string { return "" }
func (f *Marks) Type() string   { return "string" }
func (f *Marks) Set(v string) error {
	f.Values, f.First = append(f.Values, v), append(f.First, f.Args())
	return nil
}

// NewSet makes a command's flag set that returns errors instead of exiting
// and whose --help prints usage and then the flags, in the order defined.
func NewSet(name, usage string, stdout io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(stdout, usage)
		fmt.Fprintf(stdout, "\nFlags:\n%s", fs.FlagUsages())
	}
	return fs
}

// Peek finds the value of the flag --name (-short) in args before the other
// flags are defined (when its value gives the others' defaults, as a
// scenario file does): "" when it is not there or args do not parse.
func Peek(args []string, name, short string) string {
	fs := pflag.NewFlagSet("peek", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.ParseErrorsAllowlist.UnknownFlags = true
	p := fs.StringP(name, short, "", "")
	fs.BoolP("help", "h", false, "")
	fs.Parse(args)
	return *p
}
