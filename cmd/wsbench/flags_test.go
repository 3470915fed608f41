package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wsbench/wsbench/orchestrate"
)

// TestWithFlag: an orchestrate.FieldError is named by its flag wherever it
// sits in the message; other errors pass unchanged.
func TestWithFlag(t *testing.T) {
	field := &orchestrate.FieldError{Key: "procs", Err: errors.New("no client process reported a result: x")}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"the field error itself", field, "--procs: no client process reported a result: x"},
		{"wrapped: the text around it stays", fmt.Errorf("h_1, round 2: %w", field), "h_1, round 2: --procs: no client process reported a result: x"},
		{"no field error: unchanged", errors.New("procs: a plain message"), "procs: a plain message"},
	} {
		if got := withFlag(tc.err).Error(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if withFlag(nil) != nil {
		t.Error("withFlag(nil) is not nil")
	}
}
