package metrics

import (
	"encoding/json"
	"maps"
	"testing"
	"time"
)

// recordSteps records into each of shards n completions of step "login"
// (base+i µs), n/2 of "request" and, for every tenth, a timeout of
// "request"; names says in which order the shard names its steps.
func recordSteps(n int, base int64, names []string, shards ...*Shard) {
	for _, s := range shards {
		idx := map[string]int{}
		for _, name := range names {
			idx[name] = s.Step(name)
		}
		for i := range n {
			s.RecordStep(idx["login"], time.Duration(base+int64(i))*time.Microsecond)
			if i%2 == 0 {
				s.RecordStep(idx["request"], time.Duration(base*3+int64(i))*time.Microsecond)
			}
			if i%10 == 0 {
				s.StepError(idx["request"], "timeout")
			}
		}
	}
}

// sameSteps fails unless got's steps equal want's: same names in the same
// order, the same buckets (encoded alike), counts, clamped counts and errors.
func sameSteps(t *testing.T, what string, got, want *Snapshot) {
	t.Helper()
	if len(got.Steps) != len(want.Steps) {
		t.Fatalf("%s: %d steps, want %d", what, len(got.Steps), len(want.Steps))
	}
	for i, w := range want.Steps {
		g := got.Steps[i]
		if g.Name != w.Name {
			t.Fatalf("%s: step %d is %q, want %q", what, i, g.Name, w.Name)
		}
		if g.Count() != w.Count() || g.Hist.Clamped() != w.Hist.Clamped() {
			t.Errorf("%s: step %q count %d (clamped %d), want %d (%d)", what, w.Name, g.Count(), g.Hist.Clamped(), w.Count(), w.Hist.Clamped())
		}
		ge, _ := g.Hist.Encode()
		we, _ := w.Hist.Encode()
		if ge != we {
			t.Errorf("%s: step %q histogram differs: %+v, want %+v", what, w.Name, g.Hist.Summary(), w.Hist.Summary())
		}
		if !maps.Equal(g.Errors, w.Errors) {
			t.Errorf("%s: step %q errors %v, want %v", what, w.Name, g.Errors, w.Errors)
		}
	}
}

// TestStepsMerge: the steps of several shards (event loops), merged as
// snapshots, as compact snapshots, through JSON (a split run's processes)
// and in either grouping, are what one shard recording everything holds:
// counts are the sums and every bucket is exact.
func TestStepsMerge(t *testing.T) {
	all := NewRecorder().NewShard()
	parts := []*Shard{NewRecorder().NewShard(), NewRecorder().NewShard(), NewRecorder().NewShard()}
	order := []string{"login", "request"}
	recordSteps(400, 100, order, parts[0], all)
	// A loop that names its steps the other way round still merges by name.
	recordSteps(300, 7000, []string{"request", "login"}, parts[1], all)
	recordSteps(50, 90_000_000, order, parts[2], all) // past the range: clamped and counted
	want := NewSnapshot()
	if err := want.AddShard(all); err != nil {
		t.Fatal(err)
	}
	if s := want.Step("login"); s.Count() != 750 || s.Hist.Clamped() != 50 {
		t.Fatalf("login: %d completions, %d clamped; want 750, 50", s.Count(), s.Hist.Clamped())
	}
	if s := want.Step("request"); s.Count() != 375 || s.Errors["timeout"] != 40+30+5 {
		t.Fatalf("request: %d completions, %v; want 375 and 75 timeouts", s.Count(), s.Errors)
	}
	snaps := make([]*Snapshot, len(parts))
	comps := make([]*Compact, len(parts))
	for i, sh := range parts {
		snaps[i] = NewSnapshot()
		if err := snaps[i].AddShard(sh); err != nil {
			t.Fatal(err)
		}
		c, err := snaps[i].Compact()
		if err != nil {
			t.Fatal(err)
		}
		comps[i] = c
	}

	// Snapshots, (a+b)+c and a+(b+c).
	left := NewSnapshot()
	for _, s := range snaps {
		if err := left.Merge(s); err != nil {
			t.Fatal(err)
		}
	}
	sameSteps(t, "(a+b)+c", left, want)
	bc := NewSnapshot()
	for _, s := range snaps[1:] {
		if err := bc.Merge(s); err != nil {
			t.Fatal(err)
		}
	}
	right := NewSnapshot()
	if err := right.Merge(snaps[0]); err != nil {
		t.Fatal(err)
	}
	if err := right.Merge(bc); err != nil {
		t.Fatal(err)
	}
	sameSteps(t, "a+(b+c)", right, want)

	// Compact, merged without expanding, then expanded.
	cm, err := comps[0].Merge(comps[1])
	if err != nil {
		t.Fatal(err)
	}
	if cm, err = cm.Merge(comps[2]); err != nil {
		t.Fatal(err)
	}
	ex, err := cm.Expand()
	if err != nil {
		t.Fatal(err)
	}
	sameSteps(t, "compact merge", ex, want)

	// Through JSON, as a split run's child processes send their measurements.
	var ms []*Measurement
	for _, s := range snaps {
		b, err := json.Marshal(&Measurement{Snapshot: s, StopReason: StopCompleted})
		if err != nil {
			t.Fatal(err)
		}
		var m Measurement
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, &m)
	}
	whole, err := Merge(false, ms...)
	if err != nil {
		t.Fatal(err)
	}
	sameSteps(t, "JSON and Merge", whole.Snapshot, want)
}

// TestStepsWindows: the cuts of a windowed shard (intervals) add up to its
// totals, step by step, and each cut holds only what was recorded since the
// last; checkpoints subtract the same way (a staged run's stages).
func TestStepsWindows(t *testing.T) {
	sh := NewRecorder().NewShard()
	sh.Windowed()
	cp0 := sh.Checkpoint(nil)
	recordSteps(100, 200, []string{"login", "request"}, sh)
	first := sh.Cut()
	cp1 := sh.Checkpoint(&cp0)
	// Another step appears after the first cut; login records nothing more.
	ping := sh.Step("ping")
	sh.RecordStep(ping, time.Millisecond)
	sh.StepError(ping, "closed")
	second := sh.Cut()
	cp2 := sh.Checkpoint(&cp1)

	if got := first.Steps[0]; got.Name != "login" || got.Hist.Buckets == 0 {
		t.Fatalf("first cut: %+v, want login's buckets", got)
	}
	if second.Steps[0].Hist != nil || second.Steps[1].Hist != nil || len(second.Steps[1].Errors) != 0 {
		t.Errorf("second cut: login and request recorded nothing after the first, got %+v %+v", second.Steps[0], second.Steps[1])
	}
	sum, err := first.Merge(second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sum.Expand()
	if err != nil {
		t.Fatal(err)
	}
	want := NewSnapshot()
	if err := want.AddShard(sh); err != nil {
		t.Fatal(err)
	}
	sameSteps(t, "cuts", got, want)
	if s := got.Step("ping"); s.Count() != 1 || s.Errors["closed"] != 1 {
		t.Errorf("ping: %d, %v; want 1 and one closed", s.Count(), s.Errors)
	}

	stages := NewSnapshot()
	for _, pair := range [][2]Checkpoint{{cp0, cp1}, {cp1, cp2}} {
		d, err := Between(pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := stages.Merge(d); err != nil {
			t.Fatal(err)
		}
	}
	sameSteps(t, "checkpoints", stages, want)
}
