package iomode

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode // "": an error
	}{
		{"", Auto}, // the default
		{"auto", Auto},
		{"io_uring", Uring},
		{"syscalls", Syscalls},
		{"uring", ""},    // not a mode's name
		{"Syscalls", ""}, // names are lower case
	} {
		got, err := Parse(tc.in)
		switch {
		case tc.want == "" && (err == nil || !strings.Contains(err.Error(), `"`+tc.in+`"`)):
			t.Errorf("Parse(%q) = %q, %v; want an error naming it", tc.in, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
