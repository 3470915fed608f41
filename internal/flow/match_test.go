package flow

import (
	"strings"
	"testing"
)

func TestMatcherValue(t *testing.T) {
	for _, c := range []struct {
		m, msg, want string
		ok           bool
	}{
		{"$.id", `{"jsonrpc":"2.0","id":7,"result":1}`, "7", true},
		{"$.id", `{"id":"q7","type":"next"}`, "q7", true},
		{"$.id", `{"id":"q\"7"}`, `"q\"7"`, true},
		{"$.payload.ref", `{"payload":{"ref":12}}`, "12", true},
		{"$.params[1]", `{"params":[1,"x"]}`, "x", true},
		{"$.id", `{"result":1}`, "", false},
		{"$.id", `2probe`, "", false},
		{"$.type==next", `{"type":"next","id":"1"}`, "next", true},
		{"$.type==next", `{"type":"complete","id":"1"}`, "", false},
		{`re:^43(\d+)`, `4312["ok"]`, "12", true},
		{`re:receipt-id:\d+`, "RECEIPT\nreceipt-id:5\n\n\x00", "receipt-id:5", true},
		{"bytes:2:2", "\x40\x02\x01\x02", "\x01\x02", true},
		{"bytes:0:1==0x40", "\x40\x02\x01\x02", "\x40", true},
		{"bytes:0:1==0x40", "\x30\x02\x01\x02", "", false},
		{"bytes:2:2", "\x40\x02\x01", "", false},
		{"prefix:42", `42["hi"]`, `["hi"]`, true},
		{"is:2", "2", "2", true},
		{"is:2", "2probe", "", false},
		{"any", "x", "x", true},
	} {
		m, err := ParseMatcher(c.m)
		if err != nil {
			t.Fatalf("%s: %v", c.m, err)
		}
		v, ok := m.Value([]byte(c.msg))
		if ok != c.ok || string(v) != c.want {
			t.Errorf("%s on %q: got %q %v, want %q %v", c.m, c.msg, v, ok, c.want, c.ok)
		}
	}
}

func TestParseMatcherErrors(t *testing.T) {
	for _, s := range []string{"$", "$..a", "$.a[x]", "re:(", "bytes:1", "bytes:0:9", "bytes:0:1==0xzz", "id", "prefix:", "$.a*"} {
		if _, err := ParseMatcher(s); err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("%q: got %v, want an error quoting it", s, err)
		}
	}
}

func TestKey(t *testing.T) {
	m := MustMatcher("$.id")
	for _, c := range []struct {
		v    string
		want uint64
	}{{"7", 7}, {`"7"`, 7}, {"18446744073709551", 18446744073709551}} {
		if k, ok := m.Key([]byte(c.v)); !ok || k != c.want {
			t.Errorf("Key(%s) = %d %v, want %d", c.v, k, ok, c.want)
		}
	}
	a, _ := m.Key([]byte("q7"))
	b, _ := m.Key([]byte(`"q7"`))
	c, _ := m.Key([]byte("q8"))
	if a != b || a == c || a>>63 != 1 {
		t.Errorf("string keys: q7 %x, \"q7\" %x, q8 %x: want equal, different, top bit set", a, b, c)
	}
	bm := MustMatcher("bytes:2:2")
	if k, _ := bm.Key([]byte{1, 2}); k != 258 {
		t.Errorf("bytes key = %d, want 258", k)
	}
}

func TestTemplateAppend(t *testing.T) {
	var names Names
	tp, err := ParseTemplate(`{"id":{{id}},"c":{{conn}},"s":{{seq}},"u":"{{user}}","ms":{{now_ms}}}`, &names)
	if err != nil {
		t.Fatal(err)
	}
	v := Values{Conn: 3, Seq: 4, ID: 5, Now: 1_700_000_000_123_456_789, Vars: [][]byte{[]byte("ann")}}
	got := string(tp.Append(nil, &v))
	want := `{"id":5,"c":3,"s":4,"u":"ann","ms":1700000000123}`
	if got != want || names.Lookup("user") != 0 || tp.Fixed() {
		t.Errorf("got %s (user slot %d, fixed %v), want %s", got, names.Lookup("user"), tp.Fixed(), want)
	}
	bt := MustTemplate("\x32{{id:be16}}{{now_ns:be64}}")
	b := bt.Append(nil, &Values{ID: 258, Now: 1})
	if string(b) != "\x32\x01\x02\x00\x00\x00\x00\x00\x00\x00\x01" || !bt.Fixed() {
		t.Errorf("binary: %q fixed %v", b, bt.Fixed())
	}
	for _, s := range []string{"{{id", "{{id:le16}}", "{{9x}}", "{{user}}"} {
		if _, err := ParseTemplate(s, nil); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

func BenchmarkMatcherKey(b *testing.B) {
	msg := []byte(`{"jsonrpc":"2.0","id":123456,"result":{"price":101.25,"qty":3,"sym":"ABCD","note":"a reply of ordinary size"}}`)
	m := MustMatcher("$.id")
	b.ReportAllocs()
	for b.Loop() {
		v, ok := m.Value(msg)
		if k, kok := m.Key(v); !ok || !kok || k != 123456 {
			b.Fatal(k)
		}
	}
}

func BenchmarkTemplateAppend(b *testing.B) {
	tp := MustTemplate(`{"jsonrpc":"2.0","id":{{id}},"method":"echo","params":[{{conn}},{{now_ms}}]}`)
	buf := make([]byte, 0, 256)
	v := Values{Conn: 12, ID: 1}
	b.ReportAllocs()
	for b.Loop() {
		v.ID++
		buf = tp.Append(buf[:0], &v)
	}
}
