package driver

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/wsbench/wsbench/scenario"
)

// deadTarget is a loopback URL where nothing listens: a port bound and
// closed again.
func deadTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "ws://" + addr + "/"
}

// maxTries is the most tries to open one slot that --reconnect's backoff
// allows within elapsed: the first, then one per backoff, each at least 75%
// (the jitter's floor) of the delay doubled per failed try up to maxBackoff.
func maxTries(reconnect, elapsed time.Duration) int64 {
	tries, at, d := int64(1), time.Duration(0), reconnect
	for {
		at += d * 3 / 4
		if at > elapsed {
			return tries
		}
		tries++
		d = min(2*d, max(maxBackoff, reconnect))
	}
}

// TestReconnectNoConnection: with --reconnect, a run in which no connection
// ever opened fails (no_connections) as one without the flag does, with
// every try counted, and the tries keep to the backoff.
func TestReconnectNoConnection(t *testing.T) {
	const conns, reconnect = 3, 50 * time.Millisecond
	spec := quickSpec(conns, 1500*time.Millisecond)
	spec.Kind = scenario.KindHold
	spec.Reconnect = scenario.Duration(reconnect)
	spec.ConnectTimeout = scenario.Duration(time.Second)
	start := time.Now()
	res, err := Run(context.Background(), Config{Spec: spec, Target: deadTarget(t), IO: IOSyscalls})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	c := res.Snapshot.Counts
	t.Logf("%v: attempted %d opened %d failed %d; errors %v", el.Round(time.Millisecond), c.ConnsAttempted, c.ConnsOpened, c.ConnsFailed, res.Snapshot.Errors)
	if res.StopReason != StopNoConnections {
		t.Errorf("stop reason %q, want %q: no connection ever opened", res.StopReason, StopNoConnections)
	}
	if c.ConnsOpened != 0 || c.Reconnects != 0 || c.ConnsFailed != c.ConnsAttempted {
		t.Errorf("opened %d reconnects %d failed %d of %d attempted: want every try failed", c.ConnsOpened, c.Reconnects, c.ConnsFailed, c.ConnsAttempted)
	}
	if c.ConnsAttempted <= conns {
		t.Errorf("attempted %d: want the %d slots tried again", c.ConnsAttempted, conns)
	}
	if bound := conns * maxTries(reconnect, el); c.ConnsAttempted > bound {
		t.Errorf("attempted %d in %v: the %v backoff allows at most %d", c.ConnsAttempted, el, reconnect, bound)
	}
}

// TestReconnectIdleLoopSleeps: with --reconnect, an event loop with nothing
// to send sleeps until the stop, whether its connections are open, some
// slots are waiting to be reopened, or none ever opened: it passes through
// its loop a few times, not once per microsecond.
func TestReconnectIdleLoopSleeps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func(t *testing.T) string
	}{
		// every connection opens and stays open, sending nothing
		{"idle", func(t *testing.T) string { return startTestServer(t, 0, 0).url() }},
		// every other handshake is refused: those slots wait to be reopened
		{"pending", func(t *testing.T) string { return startChaos(t, "status_403", 2).url() }},
		// nothing listens: every slot waits for its next try
		{"dead", deadTarget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := quickSpec(4, 1500*time.Millisecond)
			spec.Kind = scenario.KindHold
			spec.Reconnect = scenario.Duration(200 * time.Millisecond)
			spec.ConnectTimeout = scenario.Duration(time.Second)
			start := time.Now()
			res, err := Run(context.Background(), Config{Spec: spec, Target: tc.target(t), IO: IOSyscalls, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			el := time.Since(start)
			c := res.Snapshot.Counts
			t.Logf("%v: %d wakeups while sending; attempted %d opened %d reconnects %d", el.Round(time.Millisecond),
				res.Loops.Wakeups, c.ConnsAttempted, c.ConnsOpened, c.Reconnects)
			// Idle, a loop wakes at the start, at the stop and for each
			// connection reopened; a loop that polls instead of sleeping
			// wakes thousands of times a second even on a crowded machine.
			if bound := 2 * (10 + 2*c.Reconnects + int64(10*el.Seconds())); res.Loops.Wakeups > bound {
				t.Errorf("%d wakeups while sending in %v: want at most %d for 2 idle loops", res.Loops.Wakeups, el, bound)
			}
		})
	}
}
