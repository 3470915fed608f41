package flow

import (
	"fmt"
	"strconv"
)

// A digits matcher reads the decimal number that starts at a fixed offset
// of a text message (digits:2 reads 4711 from Socket.IO's ack
// 434711["ok"]): what a regular expression would, without its
// allocations on every message.

// parseDigits parses digits:OFFSET.
func parseDigits(s string) (Matcher, error) {
	off, err := strconv.Atoi(s[len("digits:"):])
	if err != nil || off < 0 {
		return Matcher{Src: s}, fmt.Errorf("%q: want digits:OFFSET, an offset ≥ 0", s)
	}
	return Matcher{Kind: MatchDigits, Src: s, off: off}, nil
}

// digitsValue is Value for MatchDigits: the run of ASCII digits at m.off
// (at most 19: a key fits 64 bits), no match when there is none.
func (m *Matcher) digitsValue(p []byte) ([]byte, bool) {
	i := m.off
	for i < len(p) && i-m.off < 19 && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	if i == m.off {
		return nil, false
	}
	return p[m.off:i], true
}
