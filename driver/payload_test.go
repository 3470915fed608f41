package driver

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

func TestCodecRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		binary bool
		pub    bool
	}{
		// broadcast stamps carry a publisher too, text and binary
		{"broadcast-text", 64, false, true},
		{"broadcast-binary-min", 28, true, true},
		// smallest text payload: the stamp alone
		{"text-min", 32, false, false},
		// default size
		{"text-64", 64, false, false},
		// smallest binary payload
		{"binary-min", 24, true, false},
		// a large binary payload
		{"binary-64k", 65536, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCodecFor(tc.size, tc.binary, tc.pub)
			p := make([]byte, tc.size)
			want := stamp{seq: 1<<40 + 7, intended: 123456789, sent: 123456999}
			if tc.pub {
				want.pub = 1<<31 + 5
			}
			c.put(p, want)
			if !tc.binary && !utf8.Valid(p) {
				t.Fatal("text payload is not valid UTF-8")
			}
			got, stampOK, ok := c.get(p, -1)
			if !stampOK || !ok || got != want {
				t.Fatalf("get = %+v %v %v, want %+v", got, stampOK, ok, want)
			}
			// An altered filler byte is caught, but the stamp is still read.
			if tc.size > c.stampSize() {
				p[len(p)-1] ^= 1
				if got, stampOK, ok := c.get(p, -1); ok || !stampOK || got != want {
					t.Fatalf("altered payload: %+v %v %v", got, stampOK, ok)
				}
				p[len(p)-1] ^= 1
			}
			// A truncated echo is not accepted.
			if _, _, ok := c.get(p[:len(p)-1], -1); ok {
				t.Fatal("truncated payload accepted")
			}
		})
	}
}

func BenchmarkCodecPutGet(b *testing.B) {
	c := newCodec(64, false)
	p := make([]byte, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.put(p, stamp{seq: uint64(i), intended: int64(i), sent: int64(i)})
		if _, _, ok := c.get(p, -1); !ok {
			b.Fatal("bad")
		}
	}
}

// TestPayloadOptions: size ranges, random and file fillers and templates
// each run clean against the echo test server (every echo checked against
// what was sent), and the server sees what they promise.
func TestPayloadOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "payload.txt")
	if err := os.WriteFile(file, []byte("héllo wörld ✓ "), 0o644); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(tokens, []byte("tok-a\ntok b\n\ntok/c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		set   func(*scenario.Spec)
		check func(t *testing.T, srv *testServer)
	}{
		{"size range", func(s *scenario.Spec) { s.Size, s.SizeMax = 40, 3000 }, func(t *testing.T, srv *testServer) {
			lens := map[int]bool{}
			for _, m := range srv.samples {
				if len(m) < 40 || len(m) > 3000 {
					t.Errorf("a %d-byte message", len(m))
				}
				lens[len(m)] = true
			}
			if len(lens) < len(srv.samples)/2 {
				t.Errorf("%d sizes in %d messages", len(lens), len(srv.samples))
			}
		}},
		{"random binary", func(s *scenario.Spec) { s.Payload, s.Binary, s.Size = scenario.PayloadRandom, true, 500 }, nil},
		{"utf-8 file, sizes cut inside characters", func(s *scenario.Spec) { s.PayloadFile, s.Size, s.SizeMax = file, 33, 400 }, func(t *testing.T, srv *testServer) {
			for _, m := range srv.samples {
				if !utf8.ValidString(m) || !strings.Contains(m, "wörld") && len(m) > 80 {
					t.Errorf("message %q", m)
				}
			}
		}},
		{"template and query", func(s *scenario.Spec) {
			s.Template = `{"user":"u{{conn}}","seq":{{seq}},"id":"{{stamp}}"}`
			s.Query, s.TokensFile = "user={{conn}}&token={{token}}", tokens
		}, func(t *testing.T, srv *testServer) {
			re := regexp.MustCompile(`^\{"user":"u([0-3])","seq":[0-9]+,"id":"[A-Za-z0-9_-]{32}"\}$`)
			users := map[string]bool{}
			for _, m := range srv.samples {
				if sm := re.FindStringSubmatch(m); sm == nil {
					t.Errorf("message %q", m)
				} else {
					users[sm[1]] = true
				}
			}
			if len(users) != 4 {
				t.Errorf("messages from users %v, want 4", users)
			}
			uris := map[string]bool{}
			for _, h := range srv.handshakes {
				uris[h.uri] = true
			}
			for _, want := range []string{"/?a=1&user=0&token=tok-a", "/?a=1&user=1&token=tok+b", "/?a=1&user=2&token=tok%2Fc", "/?a=1&user=3&token=tok-a"} {
				if !uris[want] {
					t.Errorf("no handshake for %s: %v", want, uris)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTestServer(t, 0, 0)
			spec := quickSpec(4, 300*time.Millisecond)
			tc.set(&spec)
			res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url() + "?a=1"})
			if err != nil {
				t.Fatal(err)
			}
			checkHealthy(t, res, 4, metrics.RTT)
			if tc.check != nil {
				srv.mu.Lock()
				defer srv.mu.Unlock()
				tc.check(t, srv)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	for tmpl, want := range map[string]string{
		`{"a":1}`:                   "needs {{stamp}} exactly once",
		`{{stamp}}{{stamp}}`:        "found 2",
		`{{stamp}} {{user}}`:        "unknown field {{user}}",
		`{{stamp}} {{conn`:          "never closes it",
		`{{stamp}} {{conn}}{{seq}}`: "must not be followed by digits",
		`{{stamp}} {{seq}}7`:        "must not be followed by digits",
	} {
		if _, err := parseTemplate(tmpl); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", tmpl, err, want)
		}
	}
	c := newCodec(64, false)
	var err error
	if c.tmpl, err = parseTemplate(`<{{conn}}|{{seq}}|{{stamp}}>`); err != nil {
		t.Fatal(err)
	}
	st := stamp{seq: 12345, intended: 7, sent: 9, conn: 42}
	p := make([]byte, c.renderLen(st))
	c.render(p, st)
	if !strings.HasPrefix(string(p), "<42|12345|") || len(p) != len("<42|12345|>")+32 {
		t.Fatalf("rendered %q", p)
	}
	if got, stampOK, ok := c.get(p, 42); !ok || !stampOK || got.seq != 12345 || got.intended != 7 {
		t.Errorf("read back %+v %v %v", got, stampOK, ok)
	}
	if _, stampOK, ok := c.get(p, 41); ok || !stampOK {
		t.Errorf("another connection's message: ok %v stampOK %v", ok, stampOK)
	}
	bad := append([]byte(nil), p...)
	bad[4] = '9' // the sequence number no longer matches the stamp's
	if _, _, ok := c.get(bad, 42); ok {
		t.Error("altered sequence number accepted")
	}
}
