package scenario

import (
	"strings"
	"testing"
)

// TestPlanHash: shards of one run agree on the plan; another scenario or
// shard count is another plan; secret values do not feed it (two runs that
// differ only in a token hash alike, and the hash is no function of it);
// --procs is how a part runs, not what the run is.
func TestPlanHash(t *testing.T) {
	base := Default()
	base.Target = "ws://127.0.0.1:9/x?token=s3cret-one"
	base.Headers = []string{"Authorization: Bearer cred-one", "X-Plain: 1"}
	base.Conns, base.Rate = 100, 1000
	h := PlanHash(base, 4)
	if !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+64 {
		t.Fatalf("plan hash %q", h)
	}
	if again := PlanHash(base, 4); again != h {
		t.Errorf("same plan, %s then %s", h, again)
	}
	same := base
	same.Target = "ws://127.0.0.1:9/x?token=other-two"
	same.Headers = []string{"Authorization: Bearer cred-two", "X-Plain: 1"}
	same.Procs, same.SourceIP = 3, "10.0.0.1-10.0.0.9" // each machine its own addresses
	if got := PlanHash(same, 4); got != h {
		t.Errorf("secrets or procs changed the plan: %s, %s", h, got)
	}
	for name, mod := range map[string]func(*Spec){
		"rate":   func(s *Spec) { s.Rate = 1001 },
		"conns":  func(s *Spec) { s.Conns = 101 },
		"target": func(s *Spec) { s.Target = "ws://127.0.0.2:9/x?token=s3cret-one" },
		"header": func(s *Spec) { s.Headers = []string{"Authorization: Bearer cred-one", "X-Plain: 2"} },
		"seed":   func(s *Spec) { s.Seed = 7 },
		"kind":   func(s *Spec) { s.Kind = KindPing },
	} {
		s := base
		mod(&s)
		if PlanHash(s, 4) == h {
			t.Errorf("%s changed, the plan hash did not", name)
		}
	}
	if PlanHash(base, 3) == h {
		t.Error("3 shards and 4 shards share a plan hash")
	}
}

// TestPlanSeed: every shard derives the same nonzero seed from the plan;
// another plan draws another.
func TestPlanSeed(t *testing.T) {
	s := Default()
	s.Arrival, s.Rate, s.Conns = ArrivalPoisson, 100, 10
	a, b := PlanSeed(s, 3), PlanSeed(s, 3)
	if a == 0 || a != b {
		t.Errorf("seeds %d, %d", a, b)
	}
	if PlanSeed(s, 4) == a {
		t.Error("another shard count, the same seed")
	}
	s.Seed = 42 // a seed given is no part of the one derived
	if PlanSeed(s, 3) != a {
		t.Error("the derived seed depends on the seed it replaces")
	}
}
