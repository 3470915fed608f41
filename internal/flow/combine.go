package flow

import (
	"fmt"
	"strings"
)

// A combined matcher is matchers joined by " && " (all must match: a
// packet type checked at one offset, its key read at another) or " || "
// (either: GraphQL's two forms of an error reply). The presets of binary
// protocols need it: MQTT's PUBACK and its delivered PUBLISH carry the
// request's id at different offsets, told apart by their first byte.

// parseCombined parses s when it joins matchers with " || " or " && "
// (ok false when it does not).
func parseCombined(s string) (m Matcher, ok bool, err error) {
	for _, op := range []struct {
		sep  string
		kind MatchKind
	}{{" || ", MatchEither}, {" && ", MatchAll}} {
		if !strings.Contains(s, op.sep) {
			continue
		}
		m = Matcher{Kind: op.kind, Src: s}
		// The parts are not trimmed: a prefix: or is: part may end in
		// whitespace that matters ("prefix:CONNECTED\n && …").
		for _, part := range strings.Split(s, op.sep) {
			pm, err := ParseMatcher(part)
			if err != nil {
				return m, true, err
			}
			if part == "" {
				return m, true, fmt.Errorf("%q: an empty matcher beside %q", s, strings.TrimSpace(op.sep))
			}
			m.parts = append(m.parts, pm)
		}
		if op.kind == MatchEither {
			for _, pm := range m.parts[1:] {
				if pm.Binary() != m.parts[0].Binary() {
					return m, true, fmt.Errorf("%q: the alternatives of || read bytes or text, not both", s)
				}
			}
		}
		return m, true, nil
	}
	return Matcher{}, false, nil
}

// combinedValue is Value for MatchAll and MatchEither.
func (m *Matcher) combinedValue(p []byte) ([]byte, bool) {
	if m.Kind == MatchEither {
		for i := range m.parts {
			if v, ok := m.parts[i].Value(p); ok {
				return v, true
			}
		}
		return nil, false
	}
	var v []byte
	for i := range m.parts {
		var ok bool
		if v, ok = m.parts[i].Value(p); !ok {
			return nil, false
		}
	}
	return v, true
}

// All is a matcher that matches when every one of parts does; its value is
// the last part's (for matchers built in code: the presets).
func All(src string, parts ...Matcher) Matcher {
	return Matcher{Kind: MatchAll, Src: src, parts: parts}
}

// Either is a matcher that matches when one of parts does; its value is the
// first such part's. The parts all read bytes, or all text.
func Either(src string, parts ...Matcher) Matcher {
	for _, p := range parts[1:] {
		if p.Binary() != parts[0].Binary() {
			panic("flow.Either: the parts read bytes and text")
		}
	}
	return Matcher{Kind: MatchEither, Src: src, parts: parts}
}
