package orchestrate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/scenario"
)

// TestTarget: a target of the user's is used as it is and nothing starts;
// with none, the bundled server starts, answers, and stops; a mix of
// broadcast and echo groups is a FieldError on groups.
func TestTarget(t *testing.T) {
	spec := scenario.Default()
	spec.Target = "ws://127.0.0.1:1/x"
	if target, bundled, stop, err := Target(spec); err != nil || target != spec.Target || bundled || stop == nil {
		t.Errorf("user's target: %q %v %v", target, bundled, err)
	}

	target, bundled, stop, err := Target(scenario.Default())
	if err != nil || !bundled || !strings.HasPrefix(target, "ws://127.0.0.1:") {
		t.Fatalf("bundled: %q %v %v", target, bundled, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, target)
	if err != nil {
		t.Fatalf("the bundled server does not answer: %v", err)
	}
	conn.Close()
	stop()
	if conn, _, _, err := ws.Dial(ctx, target); err == nil {
		conn.Close()
		t.Error("the bundled server still answers after stop")
	}

	mix := scenario.Default()
	mix.Groups = []scenario.Group{{Name: "a", Kind: scenario.KindBroadcast, Conns: 2}, {Name: "b", Kind: scenario.KindEcho, Conns: 2}}
	var fe *FieldError
	if _, _, _, err := Target(mix); !errors.As(err, &fe) || fe.Key != "groups" {
		t.Errorf("a mix of broadcast and echo: %v, want a FieldError on groups", err)
	}
}

// TestDNSReason: nothing to say without DNS failures; with them, what the
// resolver answers now, naming the host and nothing else of the URL.
func TestDNSReason(t *testing.T) {
	dns := map[string]int64{"connect_dns": 2}
	if got := DNSReason("ws://nosuchhost.invalid/", map[string]int64{"connect_refused": 1}); got != "" {
		t.Errorf("no DNS failure: %q", got)
	}
	if got := DNSReason("ws://user:pw@nosuchhost.invalid/?token=s3cret", dns); !strings.HasPrefix(got, "; lookup nosuchhost.invalid") ||
		strings.Contains(got, "s3cret") || strings.Contains(got, "pw") {
		t.Errorf("unresolvable host: %q", got)
	}
	if got := DNSReason("ws://localhost:1/", dns); got != "; the host localhost resolves now, but did not during the run" {
		t.Errorf("a host that resolves now: %q", got)
	}
}
