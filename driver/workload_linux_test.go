//go:build linux

package driver

import (
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/scenario"
)

// TestWorkloadAndPacerChoice: every kind the event loops run has a
// workload in the registry (an empty kind is echo's), and the pacer
// follows the run's model: closed, open, or the staged sequence.
func TestWorkloadAndPacerChoice(t *testing.T) {
	for _, tc := range []struct {
		kind string
		want string
	}{
		{"", "*driver.echo"},
		{string(scenario.KindEcho), "*driver.echo"},
		{string(scenario.KindPing), "driver.ping"},
		{string(scenario.KindBroadcast), "*driver.broadcast"},
		{string(scenario.KindHold), "driver.hold"},
	} {
		w := &worker{run: &run{kind: tc.kind}}
		if got := typeName(newWorkload(w)); got != tc.want {
			t.Errorf("kind %q: workload %s, want %s", tc.kind, got, tc.want)
		}
	}
	if _, ok := workloads[string(scenario.KindConnect)]; ok {
		t.Error("the connection storm runs outside the event loops: it has no workload")
	}
	for _, tc := range []struct {
		open, staged bool
		want         string
	}{
		{false, false, "*driver.closedPacer"},
		{true, false, "*driver.openPacer"},
		{true, true, "*driver.stagedPacer"},
		{false, true, "*driver.closedPacer"}, // a staged run's closed model sends on replies
	} {
		w := &worker{run: &run{open: tc.open}}
		if tc.staged {
			w.staged = &stagedState{}
		}
		if got := typeName(w.pacing()); got != tc.want {
			t.Errorf("open %v, staged %v: pacer %s, want %s", tc.open, tc.staged, got, tc.want)
		}
	}
}

// TestHoldSendsNothingWithoutRate: a held connection without a rate sends
// nothing as the loop begins; with one it is scheduled like an echo.
func TestHoldSendsNothingWithoutRate(t *testing.T) {
	for _, hold := range []bool{true, false} {
		w, c, _ := benchWorker(t, IOSyscalls, 64, false)
		w.run.kind, w.run.hold = string(scenario.KindHold), hold
		w.load = newWorkload(w)
		w.pacing().begin()
		if got, want := c.nextSeq, map[bool]uint64{true: 0, false: 1}[hold]; got != want {
			t.Errorf("hold %v: %d messages sent at the start, want %d", hold, got, want)
		}
	}
}

// TestBroadcastOtherPublisherIsADeliveryOnly: a member receiving another
// publisher's message records a delivery, and it is not a reply to the
// member's own message (the pacer is not told).
func TestBroadcastOtherPublisherIsADeliveryOnly(t *testing.T) {
	w, c, _ := benchWorker(t, IOSyscalls, 64, false)
	w.run.rooms = rooms{size: 2, publishers: 2}
	w.run.spread = newSpreadTable(2, 2)
	w.run.codec = newCodecFor(64, false, true)
	b := newBroadcast(w).(*broadcast)
	w.load = b
	c.sched = 0
	b.adopt(c) // slot 0: publisher 0 of room 0
	p := make([]byte, 64)
	w.run.codec.put(p, stamp{seq: 0, pub: 1, intended: 1, sent: 1})
	if b.message(c, ws.OpText, p, 70, int64(time.Millisecond), int64(time.Millisecond)) {
		t.Error("another publisher's message taken for a reply")
	}
	if got := w.shard.Counts.Deliveries; got != 1 {
		t.Errorf("%d deliveries, want 1", got)
	}
	if c.next[1] != 1 || c.next[0] != 0 {
		t.Errorf("next %v, want [0 1]", c.next)
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
