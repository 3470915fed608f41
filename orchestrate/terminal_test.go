package orchestrate

import (
	"bytes"
	"io"
	"os"
	"testing"
)

func TestShowStatus(t *testing.T) {
	var b bytes.Buffer
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		w            io.Writer
		quiet, force bool
		want         bool
	}{
		{&b, false, false, false}, // not a terminal
		{f, false, false, false},  // a file, not a terminal
		{&b, false, true, true},   // --progress
		{f, true, true, false},    // --quiet wins
	} {
		if got := ShowStatus(tc.w, tc.quiet, tc.force); got != tc.want {
			t.Errorf("ShowStatus(%T, quiet %v, force %v) = %v", tc.w, tc.quiet, tc.force, got)
		}
	}
}
