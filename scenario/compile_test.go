package scenario

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testCA is a self-signed certificate, PEM-encoded.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// files is a ReadFunc over a map that counts the reads of each name.
type files struct {
	data  map[string][]byte
	reads map[string]int
}

func (f *files) read(name string) ([]byte, error) {
	f.reads[name]++
	b, ok := f.data[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return b, nil
}

func newFiles(t *testing.T) *files {
	return &files{reads: map[string]int{}, data: map[string][]byte{
		"p.txt": []byte("héllo "), "p.bin": {0xff, 0xfe, 0}, "empty": {}, "t.txt": []byte("a\n\n b \n"),
		"blank.txt": []byte(" \n\n"), "ca.pem": testCA(t), "junk.pem": []byte("not a certificate"),
	}}
}

// keysOf lists the keys of the FieldErrors in err, and fails on any other
// error or on a line that names a flag.
func keysOf(t *testing.T, err error) []string {
	t.Helper()
	var keys []string
	for _, e := range flatten(err) {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Errorf("%q is not a FieldError", e)
			continue
		}
		keys = append(keys, fe.Key)
		if strings.Contains(e.Error(), "--") || strings.ContainsRune(e.Error(), refMark) {
			t.Errorf("%q names a flag, or shows a reference's marks", e)
		}
	}
	return keys
}

// TestCompileErrorKeys: each problem, wherever it is found (the Spec's own
// values, a list it parses, a file it reads, a group, a stage), is a
// FieldError naming its JSON key, never a flag.
func TestCompileErrorKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Spec)
		key  string
	}{
		{"connections", func(s *Spec) { s.Conns = 0 }, "conns"},
		{"a key with an underscore", func(s *Spec) { s.ConnectRate = -1 }, "connect_rate"},
		{"open model only", func(s *Spec) { s.MaxInflight = 2 }, "max_inflight"},
		{"source addresses", func(s *Spec) { s.SourceIP = "127.0.0.1,127.0.0.1" }, "source_ip"},
		{"a header", func(s *Spec) { s.Headers = []string{"no colon"} }, "headers"},
		{"a subprotocol", func(s *Spec) { s.Subprotocols = []string{"a b"} }, "subprotocols"},
		{"the template's fields", func(s *Spec) { s.Template = "{{seq}}" }, "template"},
		{"a template in text messages", func(s *Spec) { s.Template = "\xff{{stamp}}" }, "template"},
		{"a missing payload file", func(s *Spec) { s.PayloadFile = "none" }, "payload_file"},
		{"an empty payload file", func(s *Spec) { s.PayloadFile = "empty" }, "payload_file"},
		{"a payload file that is not UTF-8 text", func(s *Spec) { s.PayloadFile = "p.bin" }, "payload_file"},
		{"a missing tokens file", func(s *Spec) { s.Query, s.TokensFile = "t={{token}}", "none" }, "tokens_file"},
		{"a tokens file of blank lines", func(s *Spec) { s.Query, s.TokensFile = "t={{token}}", "blank.txt" }, "tokens_file"},
		{"a missing CA", func(s *Spec) { s.Target, s.CA = "wss://h/", "none" }, "ca"},
		{"a CA with no certificate", func(s *Spec) { s.Target, s.CA = "wss://h/", "junk.pem" }, "ca"},
		{"a stage", func(s *Spec) {
			s.Stages = []Stage{{Duration: -1, Conns: 1}, {Duration: Duration(time.Second)}}
			s.ApplyStages()
		}, "stages[0].duration"},
		{"a group's name", func(s *Spec) { s.Groups = []Group{{Conns: 1}} }, "groups[0].name"},
		{"a group's own setting", func(s *Spec) { s.Groups = []Group{{Name: "a", Conns: 1}, {Name: "b", Conns: 0}} }, "groups[1].conns"},
		{"a mix in several processes", func(s *Spec) { s.Groups, s.Procs = []Group{{Name: "a", Conns: 2}}, 2 }, "procs"},
		{"a mix's shared setting, once", func(s *Spec) { s.Groups, s.Grace = []Group{{Name: "a", Conns: 1}, {Name: "b", Conns: 1}}, -1 }, "grace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Default()
			tc.set(&s)
			_, err := CompileWith(s, newFiles(t).read)
			if keys := keysOf(t, err); len(keys) != 1 || keys[0] != tc.key {
				t.Errorf("%v: keys %q, want [%s]", err, keys, tc.key)
			}
		})
	}
}

// TestCompileValues: every value a run uses comes out parsed, with the
// defaults filled in, each file read once however many groups use it.
func TestCompileValues(t *testing.T) {
	f := newFiles(t)
	s := Default()
	s.Target, s.CA = "wss://h/", "ca.pem"
	s.SourceIP = "127.0.0.1-127.0.0.3, ::1"
	s.Headers = []string{"Authorization: Bearer x", " X-A :  b "}
	s.Query, s.TokensFile = "t={{token}}", "t.txt"
	s.PayloadFile = "p.txt"
	s.Rate, s.Arrival, s.Seed = 100, ArrivalPoisson, 7
	c, err := CompileWith(s, f.read)
	if err != nil {
		t.Fatal(err)
	}
	wantSources := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("::1")}
	switch {
	case c.Kind != KindEcho || c.Model != Open || c.Arrival != ArrivalPoisson:
		t.Errorf("kind %q, model %q, arrival %q", c.Kind, c.Model, c.Arrival)
	case !reflect.DeepEqual(c.Sources, wantSources):
		t.Errorf("sources %v", c.Sources)
	case !reflect.DeepEqual(c.Headers, []Header{{"Authorization", "Bearer x"}, {"X-A", "b"}}):
		t.Errorf("headers %q", c.Headers)
	case !reflect.DeepEqual(c.Tokens, []string{"a", "b"}):
		t.Errorf("tokens %q", c.Tokens)
	case string(c.Payload) != "héllo ":
		t.Errorf("payload %q", c.Payload)
	case !bytes.Equal(c.CA, f.data["ca.pem"]):
		t.Error("no CA")
	case c.Schedule != (Schedule{Rate: 100, Conns: s.Conns, Tick: DefaultTick, Poisson: true, Seed: 7}):
		t.Errorf("schedule %+v", c.Schedule)
	case c.Plan.Stages() != 1 || c.Plan.End() != time.Duration(s.Warmup+s.Duration):
		t.Errorf("plan of %d stages to %s", c.Plan.Stages(), c.Plan.End())
	}
	if c.Template != nil || c.Groups != nil {
		t.Errorf("template %v, groups %v", c.Template, c.Groups)
	}

	tm := Default()
	tm.Template, tm.Kind = `{"u":{{conn}},"s":{{seq}},"id":"{{stamp}}"}`, KindHold
	if c, err := CompileWith(tm, f.read); err != nil || c.Kind != KindHold || !reflect.DeepEqual(c.Template, []TemplatePart{
		{Lit: `{"u":`}, {Field: FieldConn}, {Lit: `,"s":`}, {Field: FieldSeq}, {Lit: `,"id":"`}, {Field: FieldStamp}, {Lit: `"}`},
	}) {
		t.Errorf("template: %v, %+v", err, c)
	}

	// A mix: each group compiled as the scenario it runs, the files they
	// share read once, and once more not at all for a variant.
	f = newFiles(t)
	mix := Default()
	mix.PayloadFile = "p.txt"
	mix.Groups = []Group{{Name: "a", Conns: 2}, {Name: "b", Kind: KindHold, Conns: 3, Rate: 10}}
	mix.ApplyGroups()
	c, err = CompileWith(mix, f.read)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Groups) != 2 || c.Groups[0].Spec.Conns != 2 || c.Groups[1].Kind != KindHold || c.Groups[1].Model != Open ||
		string(c.Groups[0].Payload) != "héllo " || string(c.Groups[1].Payload) != "héllo " {
		t.Fatalf("groups %+v", c.Groups)
	}
	v := mix
	v.Groups = []Group{{Name: "a", Conns: 4}}
	if _, err := c.Recompile(v); err != nil {
		t.Fatal(err)
	}
	if f.reads["p.txt"] != 1 {
		t.Errorf("the payload file was read %d times, want once", f.reads["p.txt"])
	}

	// Validate reads nothing.
	if err := s.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestFieldErrorText: a FieldError names its own setting and those its
// message mentions by key, or however the caller names them.
func TestFieldErrorText(t *testing.T) {
	s := Default()
	s.Think, s.Rate = Duration(time.Millisecond), 10
	err := s.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "think" {
		t.Fatalf("%v", err)
	}
	if got, want := fe.Error(), "think: applies to the closed model only; the open model's pace is rate"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	flag := func(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") }
	if got, want := fe.Text(flag), "--think: applies to the closed model only; the open model's pace is --rate"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("context: %w", fe)
	if !strings.Contains(wrapped.Error(), fe.Error()) {
		t.Errorf("wrapped: %q", wrapped)
	}
}

// TestEnumsJSON: the typed enums read and write the same JSON as the
// strings they replaced, byte for byte.
func TestEnumsJSON(t *testing.T) {
	s := Spec{Kind: KindBroadcast, Arrival: ArrivalPoisson, Groups: []Group{{Name: "g", Kind: KindHold}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"broadcast"`, `"arrival":"poisson"`, `"groups":[{"name":"g","kind":"hold","conns":0}]`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	// The same JSON as a Spec whose enums were plain strings.
	type plain struct {
		Kind    string `json:"kind,omitempty"`
		Arrival string `json:"arrival,omitempty"`
	}
	for _, k := range []Kind{"", KindEcho, KindPing, KindBroadcast, KindConnect, KindHold} {
		for _, a := range []Arrival{"", ArrivalUniform, ArrivalPoisson} {
			typed, _ := json.Marshal(struct {
				Kind    Kind    `json:"kind,omitempty"`
				Arrival Arrival `json:"arrival,omitempty"`
			}{k, a})
			old, _ := json.Marshal(plain{string(k), string(a)})
			if !bytes.Equal(typed, old) {
				t.Errorf("%q %q: %s, as strings %s", k, a, typed, old)
			}
		}
	}
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil || back.Kind != KindBroadcast || back.Arrival != ArrivalPoisson || back.Groups[0].Kind != KindHold {
		t.Errorf("read back %+v, %v", back, err)
	}
	if again, _ := json.Marshal(back); !bytes.Equal(again, b) {
		t.Errorf("round trip: %s, then %s", b, again)
	}
}
