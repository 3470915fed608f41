package orchestrate

import (
	"errors"
	"fmt"
	"testing"
)

func TestNameFields(t *testing.T) {
	flag := func(k string) string { return "--" + k }
	plain := errors.New("plain")
	if got := NameFields(plain, flag); got != plain {
		t.Errorf("an error without fields changed: %v", got)
	}
	if NameFields(nil, flag) != nil {
		t.Error("nil is not nil")
	}
	err := fmt.Errorf("check: %w", errors.Join(
		&FieldError{Key: "conns", Err: errors.New("must be positive")},
		errors.New("other"),
		&FieldError{Key: "rate", Err: errors.New("too high")}))
	want := "check: --conns: must be positive\nother\n--rate: too high"
	if got := NameFields(err, flag).Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
