package driver

import (
	"context"
	"errors"
	"github.com/wsbench/wsbench/internal/iomode"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/scenario"
)

// replyServer answers every message a client sends with the same text frame,
// whatever the message: a server that does not echo. It records the close
// codes its clients send, and counts the connections it has let go.
type replyServer struct {
	l      *loopback
	reply  []byte
	mu     sync.Mutex
	closes []ws.StatusCode
	ended  atomic.Int64
}

func startReplyServer(t *testing.T, reply []byte) *replyServer {
	t.Helper()
	s := &replyServer{reply: reply}
	s.l = listenLoopback(t, func(c net.Conn, _ int64) { s.serve(c) })
	return s
}

func (s *replyServer) serve(c net.Conn) {
	defer s.ended.Add(1)
	if _, err := ws.Upgrade(c); err != nil {
		return
	}
	for {
		_, _, err := wsutil.ReadClientData(c)
		var closed wsutil.ClosedError
		if errors.As(err, &closed) {
			s.mu.Lock()
			s.closes = append(s.closes, closed.Code)
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
		if err := wsutil.WriteServerMessage(c, ws.OpText, s.reply); err != nil {
			return
		}
	}
}

// waitEnded waits (up to 10 s) until n connections have ended at the
// server, so that their close codes are recorded.
func (s *replyServer) waitEnded(n int64) {
	deadline := time.Now().Add(10 * time.Second)
	for s.ended.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *replyServer) closeCodes() map[ws.StatusCode]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[ws.StatusCode]int{}
	for _, c := range s.closes {
		out[c]++
	}
	return out
}

// TestNotEcho: against a server that answers every message with
// {"ok":true}, in the closed and the open model, the run stops long before
// its 20 s with StopNotEcho, keeps what was expected and what arrived, counts
// the replies as echo_mismatch, and still closes every connection with 1000.
func TestNotEcho(t *testing.T) {
	cases := []struct {
		name string
		rate float64 // 0: closed model
	}{
		// closed: each connection sends once and gets {"ok":true}; before
		// the fix it stalled there and the run measured nothing for 20 s
		{"closed", 0},
		// open: sends go on on schedule, each answered by {"ok":true}
		{"open", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startReplyServer(t, []byte(`{"ok":true}`))
			spec := quickSpec(4, 20*time.Second)
			spec.Rate = tc.rate
			start := time.Now()
			res, err := Run(context.Background(), Config{Spec: spec, Target: srv.l.url()})
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if res.StopReason != StopNotEcho {
				t.Errorf("stop reason %q, want %q", res.StopReason, StopNotEcho)
			}
			if took > 10*time.Second {
				t.Errorf("the run took %v of its 20s: it did not stop early", took)
			}
			m := res.Mismatch
			if m == nil {
				t.Fatal("no mismatch reported")
			}
			if m.Reason != StopNotEcho || m.Kind != "echo_mismatch" || string(m.Got) != `{"ok":true}` || m.GotLen != 11 || m.GotOp != "text" || m.SentOp != "text" {
				t.Errorf("mismatch %+v (got %q)", m, m.Got)
			}
			if m.SentLen != spec.Size || len(m.Sent) != min(spec.Size, excerptLen) {
				t.Errorf("sent excerpt %q of %d bytes, want the start of a %d-byte message", m.Sent, m.SentLen, spec.Size)
			}
			if n := res.Snapshot.Errors["echo_mismatch"]; n < 4 {
				t.Errorf("echo_mismatch %d, want at least one per connection", n)
			}
			if c := res.Snapshot.Counts; !c.Balanced() || c.Received != 0 {
				t.Errorf("counts %+v", c)
			}
			srv.waitEnded(4)
			if got := srv.closeCodes(); got[ws.StatusNormalClosure] != 4 {
				t.Errorf("server saw close codes %v, want 1000 from each of 4 connections", got)
			}
		})
	}
}

// TestNotBroadcast: a broadcast run against a server that only echoes (each
// publisher gets its own messages back, no other member anything) stops
// long before its 20 s with StopNotBroadcast.
func TestNotBroadcast(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	spec := broadcastSpec(1, 100)
	spec.Duration = scenario.Duration(20 * time.Second)
	start := time.Now()
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v of its 20s: it did not stop early", took)
	}
	if res.StopReason != StopNotBroadcast || res.Mismatch == nil || res.Mismatch.Reason != StopNotBroadcast {
		t.Errorf("stop reason %q, mismatch %+v", res.StopReason, res.Mismatch)
	}
	if c := res.Snapshot.Counts; c.Deliveries > c.Sent || !c.Balanced() {
		t.Errorf("counts %+v: only the publishers' own echoes can have arrived", c)
	}
}

// TestFaithfulServersNoMismatch: an echo server and a broadcast server are
// never reported as mismatched, though the runs last past verdictAfter.
func TestFaithfulServersNoMismatch(t *testing.T) {
	echo := startTestServer(t, 0, 0)
	spec := quickSpec(4, 1500*time.Millisecond)
	spec.Rate = 200
	res, err := Run(context.Background(), Config{Spec: spec, Target: echo.url()})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != StopCompleted || res.Mismatch != nil {
		t.Errorf("echo server: stop %q, mismatch %+v", res.StopReason, res.Mismatch)
	}
	bc := startBroadcastServer(t, 0)
	spec = broadcastSpec(1, 100)
	spec.Duration = scenario.Duration(1500 * time.Millisecond)
	if res, err = Run(context.Background(), Config{Spec: spec, Target: bc.url()}); err != nil {
		t.Fatal(err)
	}
	if res.StopReason != StopCompleted || res.Mismatch != nil {
		t.Errorf("broadcast server: stop %q, mismatch %+v", res.StopReason, res.Mismatch)
	}
}

// TestInvalidUTF8 (RFC 6455 §8.1): a text message from the server that is
// not valid UTF-8 fails its connection: the client closes it with 1007,
// counts invalid_utf8 (not echo_mismatch) and does not keep it.
func TestInvalidUTF8(t *testing.T) { eachIO(t, testInvalidUTF8) }

func testInvalidUTF8(t *testing.T, io iomode.Mode) {
	srv := startReplyServer(t, []byte("ok \xff\xfe not UTF-8"))
	spec := quickSpec(3, 300*time.Millisecond)
	spec.Grace = scenario.Duration(10 * time.Second) // the reply arrives in it, however slow the machine
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.l.url(), IO: io})
	if err != nil {
		t.Fatal(err)
	}
	snap := res.Snapshot
	if snap.Errors["invalid_utf8"] != 3 || snap.Errors["echo_mismatch"] != 0 {
		t.Errorf("errors %v, want invalid_utf8 3 and no echo_mismatch", snap.Errors)
	}
	if c := snap.Counts; c.ConnsDropped != 3 || !c.Balanced() {
		t.Errorf("counts %+v, want 3 connections dropped", c)
	}
	srv.waitEnded(3)
	if got := srv.closeCodes(); got[ws.StatusInvalidFramePayloadData] != 3 || len(got) != 1 {
		t.Errorf("server saw close codes %v, want 1007 from each of 3 connections", got)
	}
	if n := srv.ended.Load(); n != 3 {
		t.Errorf("%d of 3 connections ended at the server", n)
	}
}

// TestConnectInvalidUTF8: the connection storm fails a connection whose
// echo is not valid UTF-8 the same way: close 1007, invalid_utf8.
func TestConnectInvalidUTF8(t *testing.T) {
	srv := startReplyServer(t, []byte("ok \xff\xfe not UTF-8"))
	spec := quickSpec(2, 300*time.Millisecond)
	spec.Kind = scenario.KindConnect
	res, err := Run(context.Background(), Config{Spec: spec, Target: srv.l.url()})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Snapshot.Errors["invalid_utf8"]
	if n == 0 || res.Snapshot.Errors["echo_mismatch"] != 0 {
		t.Errorf("errors %v, want invalid_utf8 and no echo_mismatch", res.Snapshot.Errors)
	}
	srv.waitEnded(n)
	// (Connections of the warm-up are closed alike but not counted.)
	if got := srv.closeCodes(); int64(got[ws.StatusInvalidFramePayloadData]) < n || len(got) != 1 {
		t.Errorf("server saw close codes %v, want 1007 only, from each of the %d connections counted", got, n)
	}
}
