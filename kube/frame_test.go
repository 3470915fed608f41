package kube

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestFrameRoundTrip: a framed result read back from a log among other
// lines (a collector's timestamp before it) is the same result; the last
// frame in a log wins.
func TestFrameRoundTrip(t *testing.T) {
	first := shardReport(t, 0, 2, 10, time.Millisecond, false)
	rep := shardReport(t, 1, 2, 1234, 3*time.Millisecond, false)
	log := "Connected 10 of 10\n" + frameOf(t, first) + "2026-12-04T01:00:00.123Z stdout F " + frameOf(t, rep) + "bye\n"
	got, err := ReadFrame(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if got.Shard.Shard.Index != 1 || got.Messages.Sent != 1234 || got.Shard.Measurement.Snapshot.Hist[0].Count() != rep.Shard.Measurement.Snapshot.Hist[0].Count() {
		t.Errorf("read back shard %d sent %d", got.Shard.Shard.Index, got.Messages.Sent)
	}
	if !strings.HasPrefix(frameOf(t, rep), "wsbench-result v1 sha256=") || strings.Count(frameOf(t, rep), "\n") != 1 {
		t.Errorf("not one line: %.60q", frameOf(t, rep))
	}
}

// TestFrameRefused: a line cut short, a flipped character, a wrong sum,
// or none at all is an error, never a result.
func TestFrameRefused(t *testing.T) {
	line := strings.TrimSuffix(frameOf(t, shardReport(t, 0, 1, 50, time.Millisecond, false)), "\n")
	sumAt := len(framePrefix) + len("sha256=")
	dataAt := sumAt + 65
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for name, c := range map[string]struct{ line, want string }{
		"cut short":    {line[:len(line)*2/3], "cut short or damaged"},
		"data flipped": {flip(line, dataAt+len(line[dataAt:])/2), "damaged"},
		"sum flipped":  {line[:sumAt] + strings.Repeat("0", 64) + line[sumAt+64:], "damaged: sha256"},
		"no sum":       {framePrefix + "abc", "want sha256=HEX"},
	} {
		if _, err := ParseFrame(c.line); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
	if _, err := ReadFrame(strings.NewReader("no frame here\n")); !errors.Is(err, ErrNoFrame) {
		t.Errorf("a log without a frame: %v", err)
	}
}
