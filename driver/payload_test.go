package driver

import (
	"context"
	"errors"
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
			res, err := Run(context.Background(), Config{Scenario: mustCompile(t, spec), Target: srv.url() + "?a=1"})
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
		if _, err := scenario.ParseTemplate(tmpl); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", tmpl, err, want)
		}
	}
	c := newCodec(64, false)
	parts, err := scenario.ParseTemplate(`<{{conn}}|{{seq}}|{{stamp}}>`)
	if err != nil {
		t.Fatal(err)
	}
	c.tmpl = tmplOf(parts)
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

// mustCompile is spec compiled, its files read (scenario.Compile).
func mustCompile(t testing.TB, spec scenario.Spec) *scenario.Compiled {
	t.Helper()
	c, err := scenario.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFilesReadOnce: the driver reads no file. A scenario's payload and
// tokens files are read when it is compiled: a run with them deleted
// afterwards sends their contents all the same; a Spec that names a file
// and is not compiled is refused, naming its key.
func TestFilesReadOnce(t *testing.T) {
	dir := t.TempDir()
	file, tokens := filepath.Join(dir, "payload.txt"), filepath.Join(dir, "tokens.txt")
	os.WriteFile(file, []byte("0123456789"), 0o644)
	os.WriteFile(tokens, []byte("tok-z\n"), 0o644)
	srv := startTestServer(t, 0, 0)
	spec := quickSpec(2, 200*time.Millisecond)
	spec.PayloadFile, spec.Query, spec.TokensFile = file, "t={{token}}", tokens
	c := mustCompile(t, spec)
	os.Remove(file)
	os.Remove(tokens)
	res, err := Run(context.Background(), Config{Scenario: c, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 2, metrics.RTT)
	srv.mu.Lock()
	for _, m := range srv.samples {
		if !strings.HasSuffix(m, "0123456789012345678901") {
			t.Errorf("message %q: not the payload file's bytes", m)
		}
	}
	for _, h := range srv.handshakes {
		if h.uri != "/?t=tok-z" {
			t.Errorf("handshake for %s, want the token read at compile time", h.uri)
		}
	}
	srv.mu.Unlock()

	for _, key := range []string{"payload_file", "tokens_file"} {
		s := quickSpec(2, 200*time.Millisecond)
		if key == "payload_file" {
			s.PayloadFile = file
		} else {
			s.Query, s.TokensFile = "t={{token}}", tokens
		}
		_, err := Run(context.Background(), Config{Spec: s, Target: srv.url()})
		var fe *scenario.FieldError
		if !errors.As(err, &fe) || fe.Key != key || !strings.Contains(err.Error(), "reads no files") {
			t.Errorf("%s named in an uncompiled Spec: %v, want a FieldError on %s", key, err, key)
		}
	}
}
