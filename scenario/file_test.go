package scenario

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	good := `# a scenario
target: ws://127.0.0.1:8080/echo
conns: 1000
duration: 30s
warmup: 500ms
rate: 20000.5
tick: 250us
max_inflight: 4
size: 256
binary: true
subprotocols: [chat, superchat]
headers:
  - "Authorization: Bearer x"
origin: http://app.test
fragment: 2
`
	got, err := ParseFile("s.yaml", []byte(good), Default())
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Target, want.Conns = "ws://127.0.0.1:8080/echo", 1000
	want.Duration, want.Warmup, want.Tick = Duration(30*time.Second), Duration(500*time.Millisecond), Duration(250*time.Microsecond)
	want.Rate, want.MaxInflight, want.Size, want.Binary = 20000.5, 4, 256, true
	want.Subprotocols, want.Headers, want.Origin, want.Fragment = []string{"chat", "superchat"}, []string{"Authorization: Bearer x"}, "http://app.test", 2
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("a good file does not validate: %v", err)
	}
}

// TestResultScenarioIsAScenarioFile: a result document's scenario block
// (JSON, which is YAML) loads back as the same scenario.
func TestResultScenarioIsAScenarioFile(t *testing.T) {
	s := Default()
	s.Target, s.Rate, s.Headers, s.SourceIP = "ws://127.0.0.1:1/", 500, []string{"A: b"}, "127.0.0.1-127.0.0.2"
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseFile("result.json", b, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", got, s)
	}
}

// TestParseFileErrors: each bad file gets exactly this error, naming the
// file, the line and the field.
func TestParseFileErrors(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"unknown key with a near miss", "conns: 10\nconn: 5\n", `bad.yaml:2: unknown field "conn" (did you mean "conns"?)`},
		{"unknown key far from any", "conns: 10\nflavour: mint\n", `bad.yaml:2: unknown field "flavour" (known: ` + knownKeys() + `)`},
		{"integer wanted", "conns: many\n", `bad.yaml:1: conns: want an integer, got "many"`},
		{"negative integer", "\n\nconns: -3\n", `bad.yaml:3: conns: must not be negative, got -3`},
		{"malformed duration", "duration: 10 seconds\n", `bad.yaml:1: duration: want a duration such as "10s", got "10 seconds"`},
		{"duration as a list", "duration: [1s]\n", `bad.yaml:1: duration: want a duration such as "10s", got a list`},
		{"bool wanted", "binary: maybe\n", `bad.yaml:1: binary: want true or false, got "maybe"`},
		{"number wanted", "rate: fast\n", `bad.yaml:1: rate: want a number, got "fast"`},
		{"list wanted", "headers: \"A: b\"\n", `bad.yaml:1: headers: want a list of strings, got "A: b"`},
		{"string wanted", "origin: 12\n", `bad.yaml:1: origin: want a string, got "12" (quote it)`},
		{"set twice", "conns: 1\nrate: 2\nconns: 3\n", `bad.yaml:3: conns: set twice (first on line 1)`},
		{"not a mapping", "- conns: 1\n", `bad.yaml:1: want a mapping of settings (conns: 100, duration: 10s, …)`},
		{"empty", "", `bad.yaml: empty scenario file`},
		{"two documents", "conns: 1\n---\nconns: 2\n", `bad.yaml:2: a scenario file holds one YAML document`},
		{"broken YAML", "conns: [1\n", `bad.yaml: line 1: did not find expected ',' or ']'`},
		{"several errors at once", "conns: x\nrate: y\n", "bad.yaml:1: conns: want an integer, got \"x\"\nbad.yaml:2: rate: want a number, got \"y\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("bad.yaml", []byte(tc.file), Default())
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

// TestExamples: every example scenario in examples/ loads, validates and
// compiles (the protocol examples' presets, matchers, templates and steps
// included; cmd/wsbench's TestOfflineProtocolExamples runs the offline ones).
func TestExamples(t *testing.T) {
	paths, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, p := range paths {
		s, err := LoadFile(p, Default())
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if _, err := Compile(s); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// FuzzParseFile: no input panics the scenario-file parser, and whatever it
// accepts survives the trip through a result document (JSON) unchanged.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte("conns: 10\nduration: 5s\nrate: 100\n"))
	f.Add([]byte("headers:\n  - \"A: b\"\nsubprotocols: [x, y]\n"))
	f.Add([]byte("kind: broadcast\nroom_size: 10\npublishers: 2\n"))
	f.Add([]byte("conns: [1\n"))
	f.Add([]byte("kind: flow\nsteps:\n  - send: x\n  - steps:\n      - expect: $.id\n        capture: [a=$.a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseFile("f.yaml", b, Default())
		if err != nil {
			if s2, err2 := ParseFile("f.yaml", b, Default()); err2 == nil || err2.Error() != err.Error() || !reflect.DeepEqual(s, s2) {
				t.Fatalf("not deterministic: %v then %v", err, err2)
			}
			return
		}
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseFile("result.json", j, Spec{})
		if err != nil {
			t.Fatalf("%s: a parsed scenario's JSON does not parse back: %v", j, err)
		}
		if !reflect.DeepEqual(withoutLines(back), withoutLines(s)) { // (a step's line is not in the JSON)
			t.Fatalf("round trip changed it:\n%+v\n%+v", s, back)
		}
	})
}

// FuzzParseSourceIPs: no input panics, and an accepted list, written back
// address by address, parses to the same addresses.
func FuzzParseSourceIPs(f *testing.F) {
	f.Add("127.0.0.1-127.0.0.16,::1")
	f.Add("fd00::1-fd00::20")
	f.Add("10.0.0.1 - 10.0.0.2, 10.0.0.9")
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := ParseSourceIPs(s)
		if err != nil || len(addrs) == 0 {
			return
		}
		parts := make([]string, len(addrs))
		for i, a := range addrs {
			parts[i] = a.String()
		}
		back, err := ParseSourceIPs(strings.Join(parts, ","))
		if err != nil || !reflect.DeepEqual(back, addrs) {
			t.Fatalf("%q: %v, written back and parsed: %v %v", s, addrs, back, err)
		}
	})
}

// knownKeys lists every scenario key, sorted, as the unknown-key error does.
func knownKeys() string {
	var keys []string
	for k := range specFields() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) < 30 || !slices.Contains(keys, "conns") || !slices.Contains(keys, "stages") {
		panic("spec fields: " + strings.Join(keys, ", "))
	}
	return strings.Join(keys, ", ")
}
