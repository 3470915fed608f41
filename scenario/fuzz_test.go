package scenario

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the flag and field parsers that FuzzParseFile and
// FuzzParseSourceIPs (file_test.go) do not reach directly. Each checks
// invariants, not only that nothing panics. The seeds are the f.Add calls
// (edge cases of each parser); an input the fuzzer finds failing is saved
// under testdata/fuzz/<target>/ and from then on runs in every go test.

// errText is err's message, or "" for nil: for comparing two results.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzDurationJSON: Duration.UnmarshalJSON accepts exactly a JSON string that
// time.ParseDuration accepts, or a JSON integer of nanoseconds; a parsed value
// writes back (MarshalJSON, String) as a string that parses to the same value.
func FuzzDurationJSON(f *testing.F) {
	for _, s := range []string{
		`"10s"`, `"1.5s"`, `"250ms"`, `"1h2m3.000000004s"`, `"-3us"`, `"0"`, `"1µs"`,
		`1500000000`, `-1`, `0`, `9223372036854775807`, `-9223372036854775808`,
		`"-2562047h47m16.854775808s"`, `"2562047h47m16.854775808s"`,
		`null`, `""`, `"10 seconds"`, `1.5`, `1e9`, `true`, `[1]`, ` "1s" `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Duration
		err := d.UnmarshalJSON(b)
		var again Duration
		if err2 := again.UnmarshalJSON(b); errText(err2) != errText(err) || again != d {
			t.Fatalf("%q: not deterministic: %v (%d) then %v (%d)", b, err, d, err2, again)
		}

		// What it should have accepted, found independently.
		var s string
		var n int64
		var want time.Duration
		ok := false
		if strings.TrimSpace(string(b)) == "null" {
			ok = true // JSON null leaves the duration as it was, as encoding/json does
		} else if json.Unmarshal(b, &s) == nil {
			v, perr := time.ParseDuration(s)
			want, ok = v, perr == nil
		} else if json.Unmarshal(b, &n) == nil {
			want, ok = time.Duration(n), true
		}
		if ok != (err == nil) || (ok && Duration(want) != d) {
			t.Fatalf("%q: got %d (err %v), want %d (accepted %v)", b, d, err, want, ok)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "duration: ") {
				t.Fatalf("%q: error %q does not say it is about a duration", b, err)
			}
			return
		}

		if got, want := d.String(), time.Duration(d).String(); got != want {
			t.Fatalf("%d: String %q, want %q", d, got, want)
		}
		enc, err := d.MarshalJSON()
		if err != nil {
			t.Fatalf("%d: MarshalJSON: %v", d, err)
		}
		if want, _ := json.Marshal(d.String()); string(enc) != string(want) {
			t.Fatalf("%d: MarshalJSON %s, want the String as a JSON string %s", d, enc, want)
		}
		var back Duration
		if err := back.UnmarshalJSON(enc); err != nil || back != d {
			t.Fatalf("%q parsed to %d, written as %s, parsed back to %d (%v)", b, d, enc, back, err)
		}
		// The nanosecond form reads back too (old result files may hold it).
		if err := back.UnmarshalJSON([]byte(strconv.FormatInt(int64(d), 10))); err != nil || back != d {
			t.Fatalf("%d as nanoseconds parsed back to %d (%v)", d, back, err)
		}
	})
}

// isHTTPToken is RFC 9110's token, written out separately from isToken.
func isHTTPToken(s string) bool {
	const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(tchar, s[i]) < 0 {
			return false
		}
	}
	return true
}

// FuzzParseHeader: an -H value ParseHeader accepts has an HTTP token for a
// name (not one the handshake sets), a one-line trimmed value, and written
// back as "Name: value" parses to the same name and value; a refused one gets
// an error naming its key, headers.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"Authorization: Bearer x", "X-Trace:1", "  X-A  :  b c  ", "X-Empty:", "X-Colon: a:b:c",
		"Authorization", "X Y: 1", ": v", "Sec-WebSocket-Key: x", "host: h", "X-A: a\r\nX-B: b",
		"X-Tab:\tv\t", "X-Nbsp: \u00a0v\u00a0", "X-Ctl: a\x00b", "Ünï: v", "X-Bad: \xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		name, value, err := ParseHeader(h)
		if n2, v2, err2 := ParseHeader(h); n2 != name || v2 != value || errText(err2) != errText(err) {
			t.Fatalf("%q: not deterministic: (%q, %q, %v) then (%q, %q, %v)", h, name, value, err, n2, v2, err2)
		}
		if err != nil {
			if name != "" || value != "" || !strings.HasPrefix(err.Error(), "headers: ") {
				t.Fatalf("%q: refused with (%q, %q, %q): want empty results and an error naming headers", h, name, value, err)
			}
			return
		}
		if !isHTTPToken(name) {
			t.Fatalf("%q: name %q is not an HTTP token", h, name)
		}
		if reservedHeaders[strings.ToLower(name)] {
			t.Fatalf("%q: accepted %q, which the handshake sets", h, name)
		}
		if strings.ContainsAny(value, "\r\n") || value != strings.TrimSpace(value) {
			t.Fatalf("%q: value %q is not one trimmed line", h, value)
		}
		line := name + ": " + value
		n2, v2, err := ParseHeader(line)
		if err != nil || n2 != name || v2 != value {
			t.Fatalf("%q parsed to (%q, %q); written back as %q it parses to (%q, %q, %v)", h, name, value, line, n2, v2, err)
		}
	})
}

// FuzzCheckURL: CheckURL accepts only URLs that parse with a ws or wss
// scheme (any case) and a non-empty host name; its errors name the target URL; and
// Spec.Validate refuses a target exactly when CheckURL does, with its error.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"ws://127.0.0.1:8080/echo", "WS://h/", "ws://[::1]:9/x?token=a#f", "ws://user:pw@h:1/",
		"wss://h/", "WsS://h:443/", "http://h/", "127.0.0.1:8080", "ws:///path", "ws://:80/", "ws://[::1", "ws://h:port/",
		"ws://[fe80::1%25eth0]:1/", "ws:h", "ws://h/%zz", " ws://h/", "ws://\x00/", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		err := CheckURL(u)
		if errText(CheckURL(u)) != errText(err) {
			t.Fatalf("%q: not deterministic", u)
		}
		if u != "" {
			s := Default()
			s.Target = u
			verr := s.Validate()
			if (err == nil) != !strings.Contains(errText(verr), "target URL") ||
				(err != nil && !strings.Contains(verr.Error(), err.Error())) {
				t.Fatalf("%q: CheckURL says %v, Validate says %v", u, err, verr)
			}
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "target URL ") {
				t.Fatalf("%q: error %q does not name the target URL", u, err)
			}
			return
		}
		p, perr := url.Parse(u)
		if perr != nil {
			t.Fatalf("%q accepted, but url.Parse fails: %v", u, perr)
		}
		if scheme := strings.ToLower(p.Scheme); scheme != "ws" && scheme != "wss" || p.Hostname() == "" {
			t.Fatalf("%q accepted with scheme %q and host name %q", u, p.Scheme, p.Hostname())
		}
	})
}

// FuzzValidate: for any scenario decoded from JSON (a result's scenario block,
// over the defaults, as -f and report read it) Validate does not panic, gives
// the same answer twice, names a flag (or the target URL) on every line of its
// error, and gives the same answer again after the spec's trip through JSON
// (what a result file records is what was checked).
func FuzzValidate(f *testing.F) {
	def, err := json.Marshal(Default())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(def),
		`{}`,
		`{"conns": 1000, "rate": 20000, "max_inflight": 4, "binary": true, "duration": "30s"}`,
		`{"kind": "broadcast", "conns": 100, "room_size": 10, "publishers": 2, "rate": 100}`,
		`{"kind": "broadcast", "conns": 7, "room_size": 0, "rate": 0, "room_path": "/%d/%d"}`,
		`{"kind": "ping", "size": 200, "fragment": 2}`,
		`{"kind": "connect", "rate": 5, "think": "1ms"}`,
		`{"kind": "hold", "think": "-1s", "tick": "2s", "interval": "1ms"}`,
		`{"target": "http://h/", "headers": ["Host: x", "A"], "subprotocols": ["a b"], "require_subprotocol": true}`,
		`{"source_ip": "127.0.0.1-127.0.0.16,::1", "procs": 300, "conns": 2}`,
		`{"source_ip": "::1-::ffff:ffff:ffff:ffff"}`,
		`{"duration": -5, "warmup": "-1s", "grace": null, "arrival": "poisson", "seed": 7}`,
		`{"size": 67108865, "fragment": -1, "origin": "a\nb", "dial_concurrency": 0}`,
		`{"conns": 10, "procs": 0, "connect_timeout": "0s", "connect_rate": -1}`,
		`{"target": "wss://h/", "ca": "ca.pem"}`,
		`{"target": "ws://h/", "ca": "ca.pem", "insecure": true}`,
		`{"stages": [{"duration": "5s", "conns": 10, "rate": 100}, {"duration": "5s", "conns": 0, "rate": 0}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Default()
		if json.Unmarshal(b, &s) != nil {
			return
		}
		err := s.Validate()
		if errText(s.Validate()) != errText(err) {
			t.Fatalf("%s: Validate is not deterministic", b)
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				key, _, _ := strings.Cut(line, ": ")
				if i := strings.IndexAny(key, "[."); i >= 0 {
					key = key[:i] // stages[0].duration: a key of stages
				}
				if _, ok := specFields()[key]; !ok && !strings.HasPrefix(line, "target URL ") {
					t.Fatalf("%s: error line %q names no key", b, line)
				}
			}
		}
		j, merr := json.Marshal(s)
		if merr != nil {
			t.Fatalf("%+v: %v", s, merr)
		}
		var back Spec
		if uerr := json.Unmarshal(j, &back); uerr != nil {
			t.Fatalf("%s: the spec's own JSON does not decode: %v", j, uerr)
		}
		if errText(back.Validate()) != errText(err) {
			t.Fatalf("%s: Validate says %v; after the trip through JSON (%s): %v", b, err, j, back.Validate())
		}
		if err == nil && (s.Conns < 1 || s.Duration <= 0 || s.Size < s.MinSize() || s.Procs < 1 || s.Procs > s.Conns) {
			t.Fatalf("%s: valid, yet %+v", b, s)
		}
		var joined interface{ Unwrap() []error }
		if err != nil && !errors.As(err, &joined) {
			t.Fatalf("%s: Validate's error %T is not a joined list", b, err)
		}
	})
}
