package cliflag

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestValuesNameTheirFlag(t *testing.T) {
	var mode string
	var n, lo, hi int
	var same string
	tests := []struct {
		name  string
		set   func() error
		want  string // "" for no error
		named bool   // the error is an Error
	}{
		{"choice ok", func() error { return Choice[string]{&mode, "io", []string{"a", "b", "c"}}.Set("b") }, "", false},
		{"choice bad", func() error { return Choice[string]{&mode, "io", []string{"a", "b", "c"}}.Set("d") }, `--io: want a, b or c, got "d"`, true},
		{"min ok", func() error { return Min{&n, "repeat", 1}.Set("3") }, "", false},
		{"min below", func() error { return Min{&n, "repeat", 1}.Set("0") }, "--repeat: must be at least 1, got 0", true},
		{"min negative", func() error { return Min{&n, "workers", 0}.Set("-2") }, "--workers: must not be negative, got -2", true},
		{"min not a number", func() error { return Min{&n, "workers", 0}.Set("x") }, `strconv.ParseInt: parsing "x": invalid syntax`, false},
		{"size one", func() error { return Size{&lo, &hi}.Set("64") }, "", false},
		{"size range", func() error { return Size{&lo, &hi}.Set("10-20") }, "", false},
		{"size reversed", func() error { return Size{&lo, &hi}.Set("20-10") }, `want a range MIN-MAX with MIN <= MAX, got "20-10"`, false},
		{"size bad", func() error { return Size{&lo, &hi}.Set("big") }, `want a size in bytes or a range MIN-MAX, got "big"`, false},
		{"same twice", func() error { s := Same{&same, "format"}; s.Set("json"); return s.Set("html") }, "--format: given as both json and html", true},
	}
	for _, tt := range tests {
		err := tt.set()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.want)
		}
		if named := errors.As(err, new(Error)); named != tt.named {
			t.Errorf("%s: names its flag %v, want %v", tt.name, named, tt.named)
		}
	}
	if mode != "b" || n != 3 || lo != 10 || hi != 20 {
		t.Errorf("values set: mode %q n %d size %d-%d", mode, n, lo, hi)
	}
	if got := (Size{&lo, &hi}).String(); got != "10-20" {
		t.Errorf("size shows %q", got)
	}
}

func TestListReplacesThenAdds(t *testing.T) {
	held := []int{7, 8} // from a file
	l := &List[int]{P: &held, Name: "stage", Parse: strconv.Atoi}
	for _, v := range []string{"1", "2"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(held, []int{1, 2}) {
		t.Errorf("got %v, want [1 2]", held)
	}
	err := l.Set("x")
	if !errors.As(err, new(Error)) || !strings.HasPrefix(err.Error(), `--stage "x": `) {
		t.Errorf("bad item: %v", err)
	}
}

func TestAddWidens(t *testing.T) {
	names := []string{"token"}
	a := Add{&names}
	a.Set("key, token,")
	a.Set("sig")
	if got := a.String(); got != "token,key,sig" {
		t.Errorf("got %q", got)
	}
}

func TestSetParsesAndPeeks(t *testing.T) {
	args := []string{"--label", "A", "a.json", "b.json", "--label", "B", "c.json", "--other", "x"}
	if got := Peek([]string{"--other", "-f", "s.yaml", "u"}, "file", "f"); got != "s.yaml" {
		t.Errorf("peek: %q", got)
	}
	fs := NewSet("t", "usage\n", io.Discard)
	m := &Marks{Args: fs.NArg}
	fs.Var(m, "label", "")
	other := fs.String("other", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Values, []string{"A", "B"}) || !slices.Equal(m.First, []int{0, 2}) || *other != "x" {
		t.Errorf("marks %v at %v, other %q", m.Values, m.First, *other)
	}
	if got := OrList([]string{"one"}); got != "one" {
		t.Errorf("OrList of one: %q", got)
	}
	var b strings.Builder
	fs = NewSet("t", "Usage: t\n", &b)
	fs.Int("n", 1, "a number")
	fs.Parse([]string{"--help"})
	if !strings.HasPrefix(b.String(), "Usage: t\n\nFlags:\n      --n int") {
		t.Errorf("help: %q", b.String())
	}
}
