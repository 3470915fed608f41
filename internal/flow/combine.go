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
		for _, part := range strings.Split(s, op.sep) {
			pm, err := ParseMatcher(strings.TrimSpace(part))
			if err != nil {
				return m, true, err
			}
			if strings.TrimSpace(part) == "" {
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
