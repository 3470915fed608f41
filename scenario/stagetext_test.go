package scenario

import (
	"strings"
	"testing"
	"time"
)

// TestParseStage: each part of DURATION:CONNS[:RATE[:NAME]] is read or
// named in the error.
func TestParseStage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Stage
		err  string // "" for none
	}{
		{"30s:1000:20000:ramp", Stage{Name: "ramp", Duration: Duration(30 * time.Second), Conns: 1000, Rate: 20000}, ""},
		{"0s:5", Stage{Conns: 5}, ""}, // a jump, closed model
		{"1m:10::hold", Stage{Name: "hold", Duration: Duration(time.Minute), Conns: 10}, ""},       // empty rate
		{"1s:2:3:a:b", Stage{Name: "a:b", Duration: Duration(time.Second), Conns: 2, Rate: 3}, ""}, // the name keeps its colons
		{"10s", Stage{}, "want DURATION:CONNS[:RATE[:NAME]]"},
		{"soon:5", Stage{}, `want a duration such as 30s first, got "soon"`},
		{"-1s:5", Stage{}, "want a duration"},
		{"1s:-5", Stage{}, `want a connection count (0 or more) second, got "-5"`},
		{"1s:5:fast", Stage{}, `want a message rate (0 or more) third, got "fast"`},
		{"1s:5:NaN", Stage{}, "want a message rate"},
		{"1s:5:-1", Stage{}, "want a message rate"},
	} {
		got, err := ParseStage(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseStage(%q) = %+v, %v; want %+v, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}
