//go:build linux

package driver

import "github.com/gobwas/ws"

// subscribe is --kind subscribe: each connection subscribes as it opens
// (the protocol's Open steps: --subscribe messages, a preset's
// subscription) and from then on sends nothing; every message that
// arrives goes through the stream accounting (stream.go). A message that
// is not the stream's is counted (StreamOther) and, if no stream message
// ever arrives, shown in the run's verdict.
type subscribe struct{ w *worker }

func newSubscribe(w *worker) workload { return &subscribe{w: w} }

// adopt has nothing to do: the connection's subscribe messages (the
// protocol's Open steps) were said as it opened, in the dialling goroutine
// (the session layer, rpc part: opening.go), and what the server pushed
// since is in the connection's carry or its socket.
func (s *subscribe) adopt(*conn) {}

func (s *subscribe) sends(*conn) bool { return false } // the pacer sends nothing

func (s *subscribe) message(c *conn, op ws.OpCode, p []byte, wireLen int, rx, now int64) bool {
	// presets: the protocol's rules first (a server's ping answered, a
	// heartbeat or a subscription's complete silenced), as in a request run.
	if s.w.proto != nil && s.w.proto.rule(c, p) {
		return false
	}
	if !s.w.streamMessage(c, p, wireLen, rx) {
		s.w.streamOther(c, op, p, rx)
	}
	return false // a push, not a reply
}

// stopped counts the connections whose stream had fallen silent for
// longer than the stall when sending stopped: a stream that stopped, which
// no gap between two messages shows.
func (s *subscribe) stopped() {
	w := s.w
	st, end := w.run.stream, w.run.stopAt.Load()
	if st == nil {
		return
	}
	for _, c := range w.conns {
		if c.stream != nil && c.state == stateOpen && st.Silent(c.stream, end) {
			w.shard.Counts.StreamSilent++
		}
	}
}

func (s *subscribe) arrived() bool { return true }
func (s *subscribe) missed() int64 { return 0 }
