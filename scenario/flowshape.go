package scenario

import (
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v3"
)

// The shape of a flow run (kind flow; the flowrun part): long-lived
// connections looping their steps, or sessions arriving at a rate.

// MaxSessions bounds the sessions a session_rate run starts (each is a
// connection of its own).
const MaxSessions = 1_000_000

// Sessions is how many sessions a session_rate run starts: session i
// opens at i/SessionRate, and those due before the end of the warm-up and
// the duration run; 0 without a session rate.
func (s Spec) Sessions() int {
	if s.SessionRate <= 0 || math.IsInf(s.SessionRate, 0) || math.IsNaN(s.SessionRate) {
		return 0
	}
	n := math.Ceil(s.SessionRate*time.Duration(s.Warmup+s.Duration).Seconds() - 1e-9)
	return int(min(max(n, 1), MaxSessions+1))
}

// SessionAt is when session i opens, from the start of the run.
func (s Spec) SessionAt(i int) time.Duration {
	return time.Duration(float64(i) / s.SessionRate * float64(time.Second))
}

// ApplySessionRate sets what a session_rate run implies: a connection
// (slot) per session, Conns of them.
func (s *Spec) ApplySessionRate() {
	if n := s.Sessions(); n > 0 {
		s.Conns = n
	}
}

// checkFlowShape checks a flow run's shape: its pace is its steps' (no
// rate or think), and a session rate is a positive number of sessions
// per second, not staged and not reconnected (each session is a
// connection of its own).
func (s Spec) checkFlowShape(bad func(key, format string, a ...any)) {
	if s.Rate > 0 {
		bad("rate", "a flow is paced by its steps (think, expect); for new sessions per second set %s", Ref("session_rate"))
	}
	if s.Think > 0 {
		bad("think", "a flow thinks in its steps: add a think step")
	}
	switch r := s.SessionRate; {
	case r == 0:
	case r < 0 || math.IsNaN(r) || math.IsInf(r, 0):
		bad("session_rate", "must be a positive number of sessions per second, got %g", r)
	case s.Staged():
		bad("session_rate", "a staged flow is not supported: drop %s or the stages", Ref("session_rate"))
	case s.Reconnect > 0:
		bad("reconnect", "sessions arriving at %s each open a connection of their own: nothing to reconnect", Ref("session_rate"))
	case s.SessionRate*time.Duration(s.Warmup+s.Duration).Seconds() > MaxSessions:
		bad("session_rate", "%g sessions per second for %s start more than %d sessions", r, s.Warmup+s.Duration, MaxSessions)
	case s.Conns != s.Sessions():
		bad("conns", "a run at %s opens a connection per session: %d of them, not %d", Ref("session_rate"), s.Sessions(), s.Conns)
	}
}

// checkSessionRate rejects a file that sets conns beside session_rate,
// unless it agrees (as in a result's scenario block).
func checkSessionRate(name string, root *yaml.Node, spec Spec) []error {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Value == "conns" && spec.Conns != spec.Sessions() {
			return []error{fmt.Errorf("%s:%d: conns: a flow at session_rate opens a connection per session (%d of them); remove it", name, k.Line, spec.Sessions())}
		}
	}
	return nil
}
