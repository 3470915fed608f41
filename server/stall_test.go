package server

import (
	"strings"
	"testing"
	"time"
)

// TestParseStall (netns, issue 16): `--stall AFTER:FOR` with AFTER a
// duration from now or an RFC 3339 time (whose own colons do not confuse
// it), and its errors.
func TestParseStall(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in     string
		at     time.Time
		length time.Duration
		err    string
	}{
		{"2s:500ms", now.Add(2 * time.Second), 500 * time.Millisecond, ""},
		{"0s:1s", now, time.Second, ""},
		{"2026-01-02T15:04:07.25Z:1s", now.Add(2250 * time.Millisecond), time.Second, ""},
		{"2026-01-02T16:04:05+01:00:2s", now, 2 * time.Second, ""},
		{"2s", time.Time{}, 0, `--stall: "2s": want AFTER:FOR`},
		{"2s:", time.Time{}, 0, `--stall: length "" in "2s:" is not a duration`},
		{"-1s:1s", time.Time{}, 0, `--stall: start "-1s" in "-1s:1s" is negative`},
		{"2026-01-02:1s", time.Time{}, 0, "neither a duration nor an RFC 3339 time"},
		{"1s:0s", time.Time{}, 0, "--stall: a stall starting at 2026-01-02T15:04:06Z needs a length above 0"},
		{"1s:2h", time.Time{}, 0, "--stall: length 2h0m0s is above the longest accepted"},
	} {
		at, length, err := ParseStall(tc.in, now)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseStall(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !at.Equal(tc.at) || length != tc.length {
			t.Errorf("ParseStall(%q) = %v, %v, %v; want %v, %v", tc.in, at, length, err, tc.at, tc.length)
		}
	}
}
