//go:build linux

package server

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/internal/schedwatch"
)

// readText reads the next data message from the server, which must be text.
func readText(t testing.TB, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	p, op, err := wsutil.ReadServerData(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if op != ws.OpText {
		t.Fatalf("a %v message %q, want text", op, p)
	}
	return string(p)
}

func writeText(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	if err := wsutil.WriteClientText(c, []byte(msg)); err != nil {
		t.Fatalf("write %s: %v", msg, err)
	}
}

// TestRPCAnswersByID: without a delay, every request is answered with its
// id and params, in order; a notification gets no answer, a non-object a
// parse error; the counters count what went in and out.
func TestRPCAnswersByID(t *testing.T) {
	s, addr := startServer(t, Config{Mode: ModeRPC})
	c := dialWS(t, addr)
	writeText(t, c, `{"jsonrpc":"2.0","id":7,"method":"x","params":{"a":[1,2]}}`)
	writeText(t, c, `{"jsonrpc":"2.0","method":"note","params":[]}`) // no answer
	writeText(t, c, `not json`)
	if err := wsutil.WriteClientBinary(c, []byte(`{"id":"b","params":"bin"}`)); err != nil {
		t.Fatal(err)
	}
	writeText(t, c, `{"id":8}`)
	for i, want := range []string{
		`{"jsonrpc":"2.0","id":7,"result":{"a":[1,2]}}`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`,
		`{"jsonrpc":"2.0","id":"b","result":"bin"}`,
		`{"jsonrpc":"2.0","id":8,"result":null}`,
	} {
		if got := readText(t, c); got != want {
			t.Fatalf("answer %d: %s, want %s", i, got, want)
		}
	}
	if !waitFor(2*time.Second, func() bool { st := s.Stats(); return st.MessagesIn == 5 && st.MessagesOut == 4 }) {
		st := s.Stats()
		t.Errorf("MessagesIn %d, MessagesOut %d; want 5, 4", st.MessagesIn, st.MessagesOut)
	}
}

// TestRPCDelay: with a distribution, every answer comes back no earlier than
// the smallest delay after its request, each id exactly once, and not in the
// order sent (the draws are independent: 60 answers in the order sent would
// be a 1 in 60! chance); with a fixed delay, in the order sent. A close
// frame comes after every answer still held.
func TestRPCDelay(t *testing.T) {
	const n = 60
	for _, tc := range []struct {
		name    string
		delay   Delay
		min     time.Duration
		ordered bool
	}{
		{"uniform", Delay{Dist: DelayUniform, Min: 10 * ms, Max: 60 * ms}, 10 * ms, false},
		{"fixed", FixedDelay(15 * ms), 15 * ms, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, Config{Mode: ModeRPC, Delay: tc.delay})
			c := dialWS(t, addr)
			var buf []byte
			for i := range n {
				buf = append(buf, mf(ws.OpText, true, fmt.Appendf(nil, `{"id":%d,"params":[%d]}`, i, i))...)
			}
			// One write, timed before it starts: the server cannot have
			// read a request earlier, so no answer may arrive before
			// sent+min.
			sent := time.Now()
			if _, err := c.Write(buf); err != nil {
				t.Fatal(err)
			}
			seen := make(map[int]bool, n)
			inOrder := true
			for k := range n {
				msg := readText(t, c)
				if d := time.Since(sent); d < tc.min {
					t.Errorf("answer %s %v after its request, before the smallest delay %v", msg, d, tc.min)
				}
				var r struct {
					ID     int   `json:"id"`
					Result []int `json:"result"`
				}
				if err := json.Unmarshal([]byte(msg), &r); err != nil || len(r.Result) != 1 || r.Result[0] != r.ID || r.ID < 0 || r.ID >= n {
					t.Fatalf("answer %s: want id i and result [i] (%v)", msg, err)
				}
				if seen[r.ID] {
					t.Fatalf("id %d answered twice", r.ID)
				}
				seen[r.ID] = true
				inOrder = inOrder && r.ID == k
			}
			if inOrder != tc.ordered {
				t.Errorf("answers in the order sent: %v, want %v", inOrder, tc.ordered)
			}
			// Close behind held answers: the close frame comes last.
			for i := range 5 {
				writeText(t, c, fmt.Sprintf(`{"id":%d,"params":[%d]}`, i, i))
			}
			c.Write(mf(ws.OpClose, true, closeBody(ws.StatusNormalClosure, "")))
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			answers := 0
			for {
				p, op, err := wsutil.ReadServerData(c)
				if err != nil {
					if _, closed := err.(wsutil.ClosedError); !closed {
						t.Fatalf("after %d answers: %v, want the close frame", answers, err)
					}
					break
				}
				if op != ws.OpText {
					t.Fatalf("%v %q", op, p)
				}
				answers++
			}
			if answers != 5 {
				t.Errorf("%d answers before the close frame, want 5", answers)
			}
		})
	}
}

type pushMsg struct {
	Seq    uint64 `json:"seq"`
	SentNs int64  `json:"sent_ns"`
}

func readPush(t testing.TB, c net.Conn) pushMsg {
	t.Helper()
	msg := readText(t, c)
	var m pushMsg
	if err := json.Unmarshal([]byte(msg), &m); err != nil || m.Seq == 0 || m.SentNs == 0 {
		t.Fatalf("stream message %s: want {\"seq\":N,\"sent_ns\":NS} (%v)", msg, err)
	}
	return m
}

// TestPushCount: each subscriber gets exactly PushCount messages, seq 1 to
// PushCount, stamped between its subscribe and their arrival, and no more;
// a second subscribe message does not restart the stream; a connection that
// sends nothing gets nothing.
func TestPushCount(t *testing.T) {
	const count = 5
	s, addr := startServer(t, Config{Mode: ModePush, PushRate: 200, PushCount: count, Loops: 2})
	idle := dialWS(t, addr)
	subs := []*wsClient{dialWS(t, addr), dialWS(t, addr), dialWS(t, addr)}
	for _, c := range subs {
		before := time.Now().UnixNano()
		writeText(t, c, `{"subscribe":"ticks"}`)
		for seq := uint64(1); seq <= count; seq++ {
			m := readPush(t, c)
			if m.Seq != seq || m.SentNs < before || m.SentNs > time.Now().UnixNano() {
				t.Fatalf("message %+v, want seq %d sent between the subscribe (%d) and now", m, seq, before)
			}
		}
		writeText(t, c, `{"subscribe":"again"}`)
	}
	// Nothing more may come: wait a few periods for a stray message.
	for _, c := range append(subs, idle) {
		c.SetReadDeadline(time.Now().Add(50 * ms))
		if p, _, err := wsutil.ReadServerData(c); err == nil {
			t.Fatalf("got %s after the stream ended", p)
		} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("read: %v, want a timeout", err)
		}
	}
	if st := s.Stats(); st.MessagesOut != 3*count || st.MessagesIn != 6 {
		t.Errorf("MessagesOut %d, MessagesIn %d; want %d, 6", st.MessagesOut, st.MessagesIn, 3*count)
	}
}

// TestPushRate: over about a second, a subscriber's stream is gap-free (seq
// 1, 2, …), its send times increase, and its count is what the rate allows:
// never more than one per period (the schedule keeps no burst), and no fewer
// than one per period plus twice the scheduling delay the test saw.
func TestPushRate(t *testing.T) {
	const rate = 200.0
	const period = time.Duration(float64(time.Second) / rate)
	_, addr := startServer(t, Config{Mode: ModePush, PushRate: rate})
	c := dialWS(t, addr)
	stopWatch := schedwatch.Watch()
	writeText(t, c, `{}`)
	first := readPush(t, c)
	if first.Seq != 1 {
		t.Fatalf("first message seq %d, want 1", first.Seq)
	}
	last, n := first, 1
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		m := readPush(t, c)
		if m.Seq != last.Seq+1 || m.SentNs < last.SentNs {
			t.Fatalf("message %+v after %+v: want the next seq, sent no earlier", m, last)
		}
		last, n = m, n+1
	}
	sched := stopWatch()
	span := time.Duration(last.SentNs - first.SentNs)
	// n messages sent over span: at most span/period + 1 (+2 for sends
	// stamped late that the next ones catch up on).
	if most := int(span/period) + 3; n > most {
		t.Errorf("%d messages sent over %v at %v/s: more than %d", n, span, rate, most)
	}
	if least := int(span/(period+2*sched.Max)) - 1; n < least {
		t.Errorf("%d messages sent over %v at %v/s: fewer than %d (scheduling delay max %v)", n, span, rate, least, sched.Max)
	}
	t.Logf("%d messages over %v (%.0f/s), scheduling delay max %v mean %v", n, span, float64(n-1)/span.Seconds(), sched.Max, sched.Mean)
}
