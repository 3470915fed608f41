package scenario

import (
	"math"
	"strings"
	"testing"
	"time"
)

const stagedFile = `
connect_rate: 1000
stages:
  - {duration: 0s, conns: 10, rate: 100}
  - name: ramp
    duration: 10s
    conns: 110
    rate: 1100
  - {name: hold, duration: 5s, conns: 110, rate: 1100}
  - {name: down, duration: 2s, conns: 0, rate: 0}
`

func TestParseStagedFile(t *testing.T) {
	s, err := ParseFile("staged.yaml", []byte(stagedFile), Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Stages) != 4 || s.Stages[1].Name != "ramp" || s.Stages[1].Conns != 110 || s.Stages[1].Rate != 1100 {
		t.Fatalf("stages = %+v", s.Stages)
	}
	// The run-wide values follow from the stages.
	if s.Conns != 110 || s.Rate != 1100 || s.Duration != Duration(17*time.Second) || s.Warmup != 0 {
		t.Fatalf("conns %d rate %g duration %s warmup %s", s.Conns, s.Rate, s.Duration, s.Warmup)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.StageName(0) != "stage 1" || s.StageName(2) != "hold" {
		t.Fatalf("names %q %q", s.StageName(0), s.StageName(2))
	}
}

func TestStagedFileErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"stages:\n  - {duration: 1s, conns: 2, rat: 3}\n", `f.yaml:2: stages[0].unknown field "rat" (did you mean "rate"?)`},
		{"stages:\n  - {duration: soon, conns: 2}\n", `f.yaml:2: stages[0].duration: want a duration`},
		{"stages:\n  - {duration: 1s}\n  - 5\n", `f.yaml:3: stages[1]: want a mapping, got "5"`},
		{"stages: 5\n", `f.yaml:1: stages: want a list of mappings`},
		{"conns: 7\nstages:\n  - {duration: 1s, conns: 2}\n", `f.yaml:1: conns: a staged run takes it from its stages`},
		{"warmup: 2s\nstages:\n  - {duration: 1s, conns: 2}\n", `f.yaml:1: warmup: a staged run takes it from its stages`},
		{"stages:\n  - {duration: 1s, conns: -2}\n", `f.yaml:2: stages[0].conns: must not be negative`},
	} {
		_, err := ParseFile("f.yaml", []byte(tc.file), Default())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.file, err, tc.want)
		}
	}
	// A result's scenario block (run-wide values that agree) loads again.
	if _, err := ParseFile("f.yaml", []byte("conns: 2\nduration: 1s\nrate: 0\nwarmup: 0s\nstages:\n  - {duration: 1s, conns: 2}\n"), Default()); err != nil {
		t.Errorf("consistent run-wide values: %v", err)
	}
}

func TestStagedValidate(t *testing.T) {
	s := Default()
	s.Kind = KindBroadcast
	s.RoomSize, s.Rate = 10, 10
	s.Stages = []Stage{{Duration: Duration(time.Second), Conns: 10, Rate: 10}}
	s.ApplyStages()
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "cannot be staged") {
		t.Errorf("broadcast stages: %v", err)
	}
	s = Default()
	s.Stages = []Stage{{Duration: Duration(time.Second), Conns: 10}}
	s.ApplyStages()
	s.Conns = 50 // a flag set on top of the stages
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "stages: conns, duration, rate and warmup follow from the stages") {
		t.Errorf("conflicting conns: %v", err)
	}
	s = Default()
	s.Stages = []Stage{{Duration: 0, Conns: 10}}
	s.ApplyStages()
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "last 0s in all") {
		t.Errorf("no duration: %v", err)
	}
}

func TestPlanTargets(t *testing.T) {
	s := Default()
	s.Stages = []Stage{{Duration: 0, Conns: 10, Rate: 100}, {Duration: Duration(10 * time.Second), Conns: 110, Rate: 1100}, {Duration: Duration(5 * time.Second), Conns: 110, Rate: 1100}}
	p := s.Plan()
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	for _, tc := range []struct {
		at          time.Duration
		conns, rate float64
		msgs        float64
	}{
		{0, 10, 100, 0},
		{sec(5), 60, 600, 100*5 + 0.5*100*25}, // a + (b-a)τ²/2d: 500 + 1250
		{sec(10), 110, 1100, 6000},
		{sec(12), 110, 1100, 6000 + 2200},
		{sec(99), 110, 1100, 6000 + 5500}, // past the end: the plan stops
	} {
		if got := p.Conns(tc.at); math.Abs(got-tc.conns) > 1e-6 {
			t.Errorf("Conns(%s) = %g, want %g", tc.at, got, tc.conns)
		}
		if got := p.Rate(tc.at); math.Abs(got-tc.rate) > 1e-6 {
			t.Errorf("Rate(%s) = %g, want %g", tc.at, got, tc.rate)
		}
		if got := p.Messages(tc.at); math.Abs(got-tc.msgs) > 1e-6 {
			t.Errorf("Messages(%s) = %g, want %g", tc.at, got, tc.msgs)
		}
	}
	// MessageTime inverts Messages everywhere on the plan.
	for x := 0.0; x < 11500; x += 7.3 {
		at := p.MessageTime(x)
		if back := p.Messages(time.Duration(at)); math.Abs(back-x) > 1e-3 {
			t.Fatalf("Messages(MessageTime(%g) = %v) = %g", x, time.Duration(at), back)
		}
	}
	if !math.IsInf(p.MessageTime(11500), 1) {
		t.Errorf("MessageTime past the plan's last message = %g, want +Inf", p.MessageTime(11500))
	}
	if s, e := p.Bounds(1); s != 0 || e != sec(10) || p.End() != sec(15) {
		t.Errorf("bounds %s %s end %s", s, e, p.End())
	}
}

func TestPlanFallingRate(t *testing.T) {
	s := Default()
	s.Stages = []Stage{{Duration: 0, Conns: 1, Rate: 1000}, {Duration: Duration(2 * time.Second), Conns: 1, Rate: 0}}
	p := s.Plan()
	if got := p.Messages(2 * time.Second); math.Abs(got-1000) > 1e-6 {
		t.Fatalf("messages = %g, want 1000", got)
	}
	prev := -1.0
	for x := 0.0; x < 1000; x += 0.5 {
		at := p.MessageTime(x)
		if at <= prev || math.IsInf(at, 0) {
			t.Fatalf("MessageTime(%g) = %g after %g", x, at, prev)
		}
		prev = at
	}
}

func TestConnEvents(t *testing.T) {
	s := Default()
	s.Stages = []Stage{{Duration: 0, Conns: 2}, {Duration: Duration(4 * time.Second), Conns: 6}, {Duration: Duration(2 * time.Second), Conns: 4}}
	evs := s.Plan().ConnEvents(0)
	want := []ConnEvent{
		{0, 0, true}, {0, 1, true},
		{time.Second, 2, true}, {2 * time.Second, 3, true}, {3 * time.Second, 4, true}, {4 * time.Second, 5, true},
		{4 * time.Second, 5, false}, {5 * time.Second, 4, false},
	}
	if len(evs) != len(want) {
		t.Fatalf("events %v", evs)
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, evs[i], want[i])
		}
	}
	// Paced at 1 per second: the opens queue up; slot 5 would open only at
	// 5s, after its close at 4s, so it never opens.
	evs = s.Plan().ConnEvents(1)
	var opens []time.Duration
	for _, ev := range evs {
		if ev.Open {
			opens = append(opens, ev.At)
			if ev.Slot == 5 {
				t.Errorf("slot 5 opens at %s, after its close", ev.At)
			}
		} else if ev.Slot == 5 {
			t.Errorf("slot 5 closes without opening")
		}
	}
	wantOpens := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}
	if len(opens) != len(wantOpens) {
		t.Fatalf("opens %v", opens)
	}
	for i := range wantOpens {
		if opens[i] != wantOpens[i] {
			t.Errorf("open %d at %s, want %s", i, opens[i], wantOpens[i])
		}
	}
}

func TestPayloadFields(t *testing.T) {
	s, err := ParseFile("p.yaml", []byte("size: {min: 40, max: 4096}\npayload: random\nquery: \"user={{conn}}&token={{token}}\"\ntokens_file: t.txt\n"), Default())
	if err != nil {
		t.Fatal(err)
	}
	if s.Size != 40 || s.SizeMax != 4096 || s.Payload != PayloadRandom || s.TokensFile != "t.txt" {
		t.Fatalf("%+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"size: {min: 40, most: 9}\n":                          `p.yaml:1: size.unknown field "most"`,
		"size: {min: 90, max: 40}\n":                          "p.yaml:1: size: want {min: N, max: M} with 0 < N <= M",
		"size: {min: 40, max: big}\n":                         "p.yaml:1: size.max: want an integer",
		"payload: loud\n":                                     `payload: want pattern or random, got "loud"`,
		"payload: random\ntemplate: \"{{stamp}}\"\n":          "payload: choose one of payload random, payload_file and template",
		"query: \"t={{token}}\"\n":                            "query: uses {{token}}: name the file of tokens with tokens_file",
		"template: \"{{stamp}}\"\nsize: {min: 40, max: 50}\n": "template: a templated message's size is its rendered length",
	} {
		s, err := ParseFile("p.yaml", []byte(file), Default())
		if err == nil {
			err = s.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", file, err, want)
		}
	}
}
