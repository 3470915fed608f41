//go:build linux

package driver

import (
	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/scenario"
)

// workload is what the connections of one event loop do with their
// messages: which of them send, and what a data message (or a pong) that
// arrives means. The loop moves the bytes and the pacer (see pacer) says
// when a connection sends; the workload accounts for what comes back. Each
// kind is one file, workload_<kind>.go, and one line in workloads.
type workload interface {
	// adopt prepares c's state for the workload as the loop takes it.
	adopt(c *conn)
	// sends reports whether c sends messages of its own (hold without a
	// rate: none; broadcast: the publishers only).
	sends(c *conn) bool
	// message handles a whole data message, or a pong, that arrived on c
	// at rx (now: when the loop handles it). It reports whether it was the
	// reply to one of c's own messages, after which the pacer may send c's
	// next.
	message(c *conn, op ws.OpCode, p []byte, wireLen int, rx, now int64) bool
	// stopped is called once, as the loop stops sending.
	stopped()
	// arrived reports, once sending has stopped, whether everything the
	// loop awaits besides replies to its own messages is in (broadcast:
	// every member's deliveries), so it may close before the grace is over.
	arrived() bool
	// missed counts, after the loop ended, measured messages that never
	// arrived besides those replies (broadcast: deliveries never made).
	missed() int64
}

// workloads is the registry: a scenario kind, and the workload it gives
// each event loop. (scenario.KindConnect is the connection storm, which
// runs outside the event loops: see runConnect.) Keys are the kinds'
// names, whether scenario's constants are strings or a string type.
var workloads = map[string]func(w *worker) workload{
	string(scenario.KindEcho):      newEcho,
	string(scenario.KindPing):      newPing,
	string(scenario.KindBroadcast): newBroadcast,
	string(scenario.KindHold):      newHold,
	// stream part
	string(scenario.KindSubscribe): newSubscribe,
	string(scenario.KindFlow):      newFlow, // flowrun
	// rpc
	string(scenario.KindRequest): newRequest,
}

// newWorkload is the workload of run's kind for loop w; an empty kind is
// the Spec's default, echo.
func newWorkload(w *worker) workload {
	kind := w.run.kind
	if kind == "" {
		kind = string(scenario.KindEcho)
	}
	return workloads[kind](w) // scenario.Spec.Validate admits no other kind
}
