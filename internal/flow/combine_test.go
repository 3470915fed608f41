package flow

import (
	"strings"
	"testing"
)

func TestCombinedMatcher(t *testing.T) {
	for _, c := range []struct {
		m, msg, want string
		ok           bool
	}{
		// MQTT PUBACK: the type byte checked, the packet id read.
		{"bytes:0:1==0x40 && bytes:2:2", "\x40\x02\x01\x02", "\x01\x02", true},
		// A SUBACK has its id at the same offset but is not a PUBACK.
		{"bytes:0:1==0x40 && bytes:2:2", "\x90\x03\x01\x02\x00", "", false},
		// Three parts: all must match, the last gives the value.
		{"prefix:M && re:\n\n(\\d+) && re:x(\\d)", "M\n\n12 x5", "5", true},
		{"prefix:M && re:\n\n(\\d+) && re:x(\\d)", "M\n\n12 y5", "", false},
		// graphql-ws: either form of an error.
		{"$.type==error || $.payload.errors[0].message", `{"id":"1","type":"error","payload":[{"message":"bad"}]}`, "error", true},
		{"$.type==error || $.payload.errors[0].message", `{"id":"1","type":"next","payload":{"errors":[{"message":"boom"}]}}`, "boom", true},
		{"$.type==error || $.payload.errors[0].message", `{"id":"1","type":"next","payload":{"data":{}}}`, "", false},
		// || binds looser than &&.
		{"is:x || prefix:a && prefix:ab", "abc", "c", true},
		{"is:x || prefix:a && prefix:ab", "x", "x", true},
		{"is:x || prefix:a && prefix:ab", "ac", "", false},
	} {
		m, err := ParseMatcher(c.m)
		if err != nil {
			t.Fatalf("%q: %v", c.m, err)
		}
		v, ok := m.Value([]byte(c.msg))
		if ok != c.ok || string(v) != c.want {
			t.Errorf("%q on %q: got %q %v, want %q %v", c.m, c.msg, v, ok, c.want, c.ok)
		}
	}
}

func TestCombinedMatcherKey(t *testing.T) {
	m := MustMatcher("bytes:0:1==0x40 && bytes:2:2")
	v, _ := m.Value([]byte("\x40\x02\x01\x02"))
	if k, ok := m.Key(v); !ok || k != 258 {
		t.Errorf("binary && key = %d %v, want 258 (big-endian)", k, ok)
	}
	m = MustMatcher("prefix:4 && re:^43(\\d+)")
	v, _ = m.Value([]byte(`4312["x"]`))
	if k, ok := m.Key(v); !ok || k != 12 {
		t.Errorf("text && key = %d %v, want 12", k, ok)
	}
}

func TestCombinedMatcherErrors(t *testing.T) {
	for _, c := range []struct{ s, want string }{
		{"bytes:0:1 || $.id", "bytes or text"},
		{"$.id && re:(", "re:("},
		{"$.id && ", "empty"},
	} {
		if _, err := ParseMatcher(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error saying %q", c.s, err, c.want)
		}
	}
}

func TestCombinedMatcherAllocs(t *testing.T) {
	m := MustMatcher("bytes:0:1==0x40 && bytes:2:2 || bytes:0:1==0x30 && bytes:16:2")
	puback := []byte("\x40\x02\x01\x02")
	if n := testing.AllocsPerRun(100, func() {
		v, _ := m.Value(puback)
		m.Key(v)
	}); n != 0 {
		t.Errorf("%v allocs per key, want 0", n)
	}
}

func TestTemplateDigits(t *testing.T) {
	tp, err := ParseTemplate("c{{conn:dec4}}/{{id:dec2}}", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tp.Fixed() {
		t.Error("a template of :decN fields is not Fixed")
	}
	for _, c := range []struct {
		conn, id uint64
		want     string
	}{
		{7, 3, "c0007/03"},
		{12345, 123, "c2345/23"}, // modulo 10^N: the length never changes
	} {
		if got := string(tp.Append(nil, &Values{Conn: c.conn, ID: c.id})); got != c.want {
			t.Errorf("conn %d id %d: %q, want %q", c.conn, c.id, got, c.want)
		}
	}
	for _, s := range []string{"{{id:dec0}}", "{{id:dec21}}", "{{id:decx}}"} {
		if _, err := ParseTemplate(s, nil); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
	var names Names
	if _, err := ParseTemplate("{{user:dec3}}", &names); err == nil {
		t.Error("{{user:dec3}}: a variable took a number format")
	}
}

func TestCombinedMatcherKeepsWhitespace(t *testing.T) {
	m := MustMatcher("prefix:CONNECTED\n && re:\\nversion:(1\\.2)\\n")
	if v, ok := m.Value([]byte("CONNECTED\nversion:1.2\n\n\x00")); !ok || string(v) != "1.2" {
		t.Errorf("got %q %v, want 1.2", v, ok)
	}
	if m.Matches([]byte("CONNECTEDX\nversion:1.2\n")) {
		t.Error("the prefix's line break was trimmed away")
	}
}

func TestDigitsMatcher(t *testing.T) {
	for _, c := range []struct {
		m, msg, want string
		ok           bool
	}{
		{"digits:2", `434711["ok"]`, "4711", true},
		{"digits:2", `43["no id"]`, "", false},
		{"digits:2", `43`, "", false},
		{"digits:0", `12345678901234567890123`, "1234567890123456789", true}, // a key fits 64 bits
		{"prefix:43/chat, && digits:8", `43/chat,7[]`, "7", true},
	} {
		m, err := ParseMatcher(c.m)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := m.Value([]byte(c.msg))
		if ok != c.ok || string(v) != c.want {
			t.Errorf("%s on %q: %q %v, want %q %v", c.m, c.msg, v, ok, c.want, c.ok)
		}
	}
	m := MustMatcher("prefix:43 && digits:2")
	msg := []byte(`434711["hi",17]`)
	if n := testing.AllocsPerRun(100, func() {
		v, _ := m.Value(msg)
		if k, _ := m.Key(v); k != 4711 {
			t.Fatal(k)
		}
	}); n != 0 {
		t.Errorf("%v allocs per key, want 0", n)
	}
	for _, s := range []string{"digits:", "digits:-1", "digits:x"} {
		if _, err := ParseMatcher(s); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}
