package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/scenario"
)

// TestChildStderrScrubbed: what client processes print reaches the parent's
// stderr without the run's secrets, even split over writes, and each line
// whole.
func TestChildStderrScrubbed(t *testing.T) {
	spec := scenario.Default()
	spec.Target = "ws://u:hunter22@127.0.0.1:9/?token=tok-1234"
	spec.Headers = []string{"Authorization: Bearer cred-5678"}
	var out bytes.Buffer
	w := &scrubWriter{w: &out, scrub: spec.Scrubber()}
	a, b := w.child(), w.child()
	a.Write([]byte("child 0: hunt"))
	b.Write([]byte("child 1: Bearer cred-5678\n"))
	a.Write([]byte("er22 and tok-12"))
	a.Write([]byte("34\nlast line, no newline: hunter22"))
	a.Flush()
	got := out.String()
	for _, s := range []string{"hunter22", "tok-1234", "cred-5678"} {
		if strings.Contains(got, s) {
			t.Errorf("%s printed:\n%s", s, got)
		}
	}
	want := "child 1: REDACTED\nchild 0: REDACTED and REDACTED\nlast line, no newline: REDACTED"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

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
