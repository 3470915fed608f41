package flow

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// MatchKind is how a Matcher reads a message.
type MatchKind uint8

// Matcher kinds.
const (
	MatchAny    MatchKind = iota // every message; its value is the whole message
	MatchPath                    // a JSON path: $.id, $.payload.ref, $.params[0]
	MatchRegex                   // a regular expression: its first group (or the whole match)
	MatchBytes                   // a byte range at a fixed offset (binary protocols)
	MatchPrefix                  // the message starts with Equals; its value is the rest
	MatchWhole                   // the message is Equals
	MatchAll                     // every one of parts matches; the value is the last part's (A && B)
	MatchEither                  // one of parts matches; the value is the first such part's (A || B)
	MatchDigits                  // the decimal number at a fixed offset (digits:2 after "43")
)

// Matcher recognises a message and reads one value out of it. It is
// written as a string, the same on the command line and in files:
//
//	$.id                 JSON path; the value is the member (a string unquoted)
//	$.type==next         …and it matches only when the value is "next"
//	re:^43(\d+)          regular expression; the value is group 1 (or the match)
//	bytes:2:2            bytes 2 and 3 (binary: read as a big-endian number by Key)
//	bytes:0:1==0x40      …matching only when they are 0x40
//	prefix:42            the message starts with "42"; the value is the rest
//	is:2                 the message is exactly "2"
//	any                  every message
//	digits:2             the decimal digits from byte 2 on (Socket.IO's 43<id>[…])
//	bytes:0:1==0x40 && bytes:2:2    both match; the value is the last one's
//	$.type==error || $.payload.errors  either matches; the value is the first match's
//
// A path, regex or bytes matcher with ==VALUE matches only when its value
// is VALUE (hex after 0x for bytes). " || " binds looser than " && ";
// the parts of a || are all binary (bytes) or all text, so that Key reads
// their values the same way.
type Matcher struct {
	Kind   MatchKind
	Src    string // as written, for messages
	path   string // gjson syntax
	re     *regexp.Regexp
	off, n int
	Equals []byte // the value it must have (nil: any)

	parts []Matcher // of MatchAll and MatchEither
}

// ParseMatcher reads a matcher written as above; errors say what is wrong
// with s, for the caller to prefix with the flag or field.
func ParseMatcher(s string) (Matcher, error) {
	if m, ok, err := parseCombined(s); ok {
		return m, err
	}
	m := Matcher{Src: s}
	body, eq, hasEq := s, "", false
	switch {
	case s == "any" || s == "":
		return Matcher{Kind: MatchAny, Src: "any"}, nil
	case strings.HasPrefix(s, "is:"):
		m.Kind, m.Equals = MatchWhole, []byte(s[3:])
		return m, nil
	case strings.HasPrefix(s, "prefix:"):
		if len(s) == len("prefix:") {
			return m, fmt.Errorf("%q: prefix: needs the text the message starts with", s)
		}
		m.Kind, m.Equals = MatchPrefix, []byte(s[7:])
		return m, nil
	case strings.HasPrefix(s, "digits:"):
		return parseDigits(s)
	case strings.HasPrefix(s, "re:"):
		re, err := regexp.Compile(s[3:])
		if err != nil {
			return m, fmt.Errorf("%q: %v", s, err)
		}
		m.Kind, m.re = MatchRegex, re
		return m, nil
	}
	if i := strings.Index(s, "=="); i >= 0 {
		body, eq, hasEq = s[:i], s[i+2:], true
	}
	switch {
	case strings.HasPrefix(body, "$"):
		p, err := gjsonPath(body)
		if err != nil {
			return m, fmt.Errorf("%q: %v", s, err)
		}
		m.Kind, m.path = MatchPath, p
		if hasEq {
			m.Equals = []byte(eq)
		}
	case strings.HasPrefix(body, "bytes:"):
		parts := strings.Split(body[6:], ":")
		if len(parts) != 2 {
			return m, fmt.Errorf("%q: want bytes:OFFSET:LENGTH", s)
		}
		off, err1 := strconv.Atoi(parts[0])
		n, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || off < 0 || n < 1 || n > 8 {
			return m, fmt.Errorf("%q: want bytes:OFFSET:LENGTH, an offset ≥ 0 and a length of 1 to 8", s)
		}
		m.Kind, m.off, m.n = MatchBytes, off, n
		if hasEq {
			b, err := hex.DecodeString(strings.TrimPrefix(eq, "0x"))
			if err != nil || len(b) != n {
				return m, fmt.Errorf("%q: ==%s: want %d bytes in hex (0x…)", s, eq, n)
			}
			m.Equals = b
		}
	default:
		return m, fmt.Errorf("%q: want a JSON path ($.id), re:REGEX, bytes:OFFSET:LENGTH, prefix:TEXT, is:TEXT or any", s)
	}
	return m, nil
}

// MustMatcher is ParseMatcher for matchers written in code (the presets).
func MustMatcher(s string) Matcher {
	m, err := ParseMatcher(s)
	if err != nil {
		panic(err)
	}
	return m
}

// gjsonPath turns $.a.b[0].c into gjson's a.b.0.c.
func gjsonPath(s string) (string, error) {
	s = strings.TrimPrefix(s, "$")
	if s == "" {
		return "", fmt.Errorf("a JSON path names a member: $.id")
	}
	var b strings.Builder
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			i := strings.IndexAny(s, ".[")
			if i < 0 {
				i = len(s)
			}
			name := s[:i]
			if name == "" {
				return "", fmt.Errorf("an empty member name")
			}
			if strings.ContainsAny(name, "*?#@|\\!=<>%") {
				return "", fmt.Errorf("member %q: only plain names and [N] indexes are supported", name)
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(name)
			s = s[i:]
		case '[':
			j := strings.IndexByte(s, ']')
			if j < 0 {
				return "", fmt.Errorf("[ without ]")
			}
			idx := s[1:j]
			if _, err := strconv.Atoi(idx); err != nil {
				return "", fmt.Errorf("[%s]: want an array index", idx)
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(idx)
			s = s[j+1:]
		default:
			return "", fmt.Errorf("want .name or [N] after $, got %q", s)
		}
	}
	return b.String(), nil
}

// view is p as a string without copying: gjson only reads it, and no
// result outlives p (Value returns slices of p).
func view(p []byte) string { return unsafe.String(unsafe.SliceData(p), len(p)) }

// Value reads m's value from p and reports whether p matches: for a JSON
// path the member (a string without its quotes and unescaped only when it
// has no escapes; otherwise as raw JSON), for a regex its first group, for
// bytes the range. The value is a slice of p (or of m) and allocates
// nothing, except for a regex.
func (m *Matcher) Value(p []byte) ([]byte, bool) {
	var v []byte
	switch m.Kind {
	case MatchAny:
		return p, true
	case MatchAll, MatchEither:
		return m.combinedValue(p)
	case MatchDigits:
		return m.digitsValue(p)
	case MatchWhole:
		if !bytes.Equal(p, m.Equals) {
			return nil, false
		}
		return p, true
	case MatchPrefix:
		if !bytes.HasPrefix(p, m.Equals) {
			return nil, false
		}
		return p[len(m.Equals):], true
	case MatchPath:
		if len(p) == 0 || (p[0] != '{' && p[0] != '[' && p[0] != ' ' && p[0] != '\t' && p[0] != '\n' && p[0] != '\r') {
			return nil, false
		}
		r := gjson.Get(view(p), m.path)
		if !r.Exists() {
			return nil, false
		}
		// r.Index is the offset of r.Raw in p when gjson could give it.
		if r.Index <= 0 || r.Index+len(r.Raw) > len(p) {
			return nil, false
		}
		v = p[r.Index : r.Index+len(r.Raw)]
		if r.Type == gjson.String && len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
			v = v[1 : len(v)-1]
		}
	case MatchRegex:
		loc := m.re.FindSubmatchIndex(p)
		if loc == nil {
			return nil, false
		}
		if len(loc) >= 4 && loc[2] >= 0 {
			v = p[loc[2]:loc[3]]
		} else {
			v = p[loc[0]:loc[1]]
		}
	case MatchBytes:
		if len(p) < m.off+m.n {
			return nil, false
		}
		v = p[m.off : m.off+m.n]
	}
	if m.Equals != nil && !bytes.Equal(v, m.Equals) {
		return nil, false
	}
	return v, true
}

// Matches reports whether p matches m.
func (m *Matcher) Matches(p []byte) bool {
	_, ok := m.Value(p)
	return ok
}

// Binary reports whether m reads raw bytes, whose Key is big-endian.
func (m *Matcher) Binary() bool {
	switch m.Kind {
	case MatchAll:
		return m.parts[len(m.parts)-1].Binary()
	case MatchEither:
		return m.parts[0].Binary()
	}
	return m.Kind == MatchBytes
}

// Key reads a correlation key out of a value Matcher.Value returned: a
// big-endian number for a bytes matcher; otherwise a decimal number, bare or
// quoted ("7", 7), or, for any other text, its FNV-1a hash (so string ids
// such as "q7" still correlate: the sender hashes what it renders the same
// way, see Template.Key).
func (m *Matcher) Key(v []byte) (uint64, bool) {
	if m.Binary() {
		var k uint64
		for _, b := range v {
			k = k<<8 | uint64(b)
		}
		return k, true
	}
	return TextKey(v)
}

// TextKey is the key of a textual value (see Matcher.Key).
func TextKey(v []byte) (uint64, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if len(v) == 0 {
		return 0, false
	}
	if len(v) <= 19 {
		var k uint64
		digits := true
		for _, b := range v {
			if b < '0' || b > '9' {
				digits = false
				break
			}
			k = k*10 + uint64(b-'0')
		}
		if digits {
			return k, true
		}
	}
	h := uint64(14695981039346656037)
	for _, b := range v {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h | 1<<63, true
}
