package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/scenario"
)

// TestRedactErrorKeepsKind: an error line loses the secrets, keeps the kind
// that picks the exit code.
func TestRedactErrorKeepsKind(t *testing.T) {
	spec := scenario.Default()
	spec.Target = "ws://127.0.0.1:9/?access_token=abcd-secret"
	line := fmt.Errorf("dial %s: refused", spec.Target)
	for _, tc := range []struct {
		err  error
		kind func(error) bool
	}{
		{usageError{line}, func(e error) bool { var u usageError; return errors.As(e, &u) }},
		{failedError{line}, func(e error) bool { var f failedError; return errors.As(e, &f) }},
		{line, func(e error) bool { return e != nil }},
	} {
		got := redactError(tc.err, spec)
		if strings.Contains(got.Error(), "abcd-secret") || !strings.Contains(got.Error(), "access_token=REDACTED") || !tc.kind(got) {
			t.Errorf("redactError(%#v) = %#v", tc.err, got)
		}
	}
	if redactError(errHelp, spec) != errHelp || redactError(nil, spec) != nil {
		t.Error("help or success changed")
	}
}
