//go:build linux

package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/iomode"
	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// rpcServer is a JSON-RPC-shaped test peer, written apart from the bundled
// server: it answers every message with an "id" with
// {"jsonrpc":"2.0","id":ID,"result":PARAMS} after delay (in order, one
// connection at a time), never answers a message without one (the
// withheld reply), and answers pings with pongs.
type rpcServer struct {
	l        *loopback
	delay    time.Duration
	accept   time.Duration // how long the server waits before it upgrades a connection
	received atomic.Int64
	mu       sync.Mutex
	seen     []string // every message, as received
}

func startRPCServer(t *testing.T, delay time.Duration) *rpcServer {
	t.Helper()
	return startRPCServerAccepting(t, delay, 0)
}

// startRPCServerAccepting starts an rpcServer that waits accept before it
// upgrades each connection.
func startRPCServerAccepting(t *testing.T, delay, accept time.Duration) *rpcServer {
	t.Helper()
	s := &rpcServer{delay: delay, accept: accept}
	s.l = listenLoopback(t, func(c net.Conn, _ int64) { s.serve(c) })
	return s
}

func (s *rpcServer) serve(c net.Conn) {
	time.Sleep(s.accept)
	if _, err := ws.Upgrade(c); err != nil {
		return
	}
	for {
		msg, op, err := wsutil.ReadClientData(c) // answers pings
		if err != nil {
			return
		}
		s.received.Add(1)
		s.mu.Lock()
		s.seen = append(s.seen, string(msg))
		s.mu.Unlock()
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(msg, &req) != nil || req.ID == nil {
			continue // withheld
		}
		if req.Params == nil {
			req.Params = json.RawMessage("null")
		}
		if req.Method == "noisy" { // a heartbeat of the server's own before the reply
			if wsutil.WriteServerMessage(c, op, []byte(`{"type":"ping"}`)) != nil {
				return
			}
		}
		time.Sleep(s.delay)
		reply := `{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":` + string(req.Params) + `}`
		if wsutil.WriteServerMessage(c, op, []byte(reply)) != nil {
			return
		}
		if req.Method == "subscribe" { // then pushSeqs numbered messages, 2 ms apart
			for i := range pushSeqs {
				time.Sleep(2 * time.Millisecond)
				m := fmt.Sprintf(`{"seq":%d,"sent_ns":%d}`, i+1, time.Now().UnixNano())
				if wsutil.WriteServerMessage(c, op, []byte(m)) != nil {
					return
				}
			}
		}
	}
}

// pushSeqs is how many messages rpcServer pushes after a subscribe.
const pushSeqs = 30

// flowRun runs a flow of steps, as a scenario file writes them, against
// url; files are the files the scenario names, by name.
func flowRun(t *testing.T, spec scenario.Spec, url string, steps []scenario.StepSpec, workers int, files ...string) *Result {
	t.Helper()
	spec.Kind, spec.Steps = scenario.KindFlow, steps
	c, err := scenario.CompileWith(spec, func(name string) ([]byte, error) {
		for i := 0; i+1 < len(files); i += 2 {
			if files[i] == name {
				return []byte(files[i+1]), nil
			}
		}
		return nil, os.ErrNotExist
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{Scenario: c, Target: url, Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func flowSpec(conns int, d time.Duration) scenario.Spec {
	spec := scenario.Default()
	spec.Conns, spec.Duration, spec.Warmup, spec.Interval = conns, scenario.Duration(d), 0, scenario.Duration(100*time.Millisecond)
	return spec
}

func send(name, tmpl string) scenario.StepSpec { return scenario.StepSpec{Name: name, Send: tmpl} }

func expect(match string, timeout time.Duration) scenario.StepSpec {
	return scenario.StepSpec{Expect: match, Timeout: scenario.Duration(timeout)}
}

func stepOf(t *testing.T, s *metrics.Snapshot, name string) *metrics.StepStats {
	t.Helper()
	st := s.Step(name)
	if st == nil {
		t.Fatalf("no step %q in %v", name, s.Steps)
	}
	return st
}

// TestFlowStepsAgainstDelayedServer: a login, then a request repeated N
// times, a ping and a close, on every connection, against a server that
// answers each request after a delay D: every step is counted exactly
// (login once per connection, the request N times), every request's
// latency is at least D (and below D plus a generous second), the ping is
// timed by its pong, and every message sent is answered: the counts
// balance with nothing lost.
func TestFlowStepsAgainstDelayedServer(t *testing.T) {
	const conns, repeat, delay = 4, 5, 20 * time.Millisecond
	srv := startRPCServer(t, delay)
	steps := []scenario.StepSpec{
		send("login", `{"jsonrpc":"2.0","id":{{id}},"method":"login","params":{"user":"u{{conn}}"}}`),
		expect("$.result.user", time.Second),
		{Repeat: repeat, Steps: []scenario.StepSpec{
			send("request", `{"jsonrpc":"2.0","id":{{id}},"method":"echo","params":[{{seq}}]}`),
			expect("$.id", time.Second),
		}},
		{Name: "heartbeat", Ping: true, Timeout: scenario.Duration(time.Second)},
		{Close: true},
	}
	res := flowRun(t, flowSpec(conns, 3*time.Second), srv.l.url(), steps, 2)
	s := res.Snapshot
	login, req, hb := stepOf(t, s, "login"), stepOf(t, s, "request"), stepOf(t, s, "heartbeat")
	if login.Count() != conns || req.Count() != conns*repeat || hb.Count() != conns {
		t.Errorf("steps done: login %d, request %d, heartbeat %d; want %d, %d, %d", login.Count(), req.Count(), hb.Count(), conns, conns*repeat, conns)
	}
	for _, st := range []*metrics.StepStats{login, req} {
		if min := st.Hist.Percentile(0); min < delay-time.Millisecond {
			t.Errorf("step %s: fastest %v, below the server's delay %v", st.Name, min, delay)
		}
		if max := st.Hist.Percentile(100); max > delay+time.Second {
			t.Errorf("step %s: slowest %v, over the delay %v by more than a second", st.Name, max, delay)
		}
		if st.ErrorCount() != 0 {
			t.Errorf("step %s failed: %v", st.Name, st.Errors)
		}
	}
	c := s.Counts
	if c.Sent != conns*(1+repeat) || c.Received != c.Sent || c.Lost != 0 || c.InFlight != 0 || c.NoReply != 0 || !c.Balanced() {
		t.Errorf("counts %+v: want %d sent, every one received", c, conns*(1+repeat))
	}
	if c.Sessions != conns || c.SessionsFailed != 0 || len(s.Errors) != 0 {
		t.Errorf("sessions %d (failed %d), errors %v; want %d, none failed", c.Sessions, c.SessionsFailed, s.Errors, conns)
	}
}

// TestFlowWithheldReplyTimesOut: a request the server never answers is a
// timeout of its step (counted by kind, and as an error of the run), its
// message timed out, not answered; the script goes on to its next step.
func TestFlowWithheldReplyTimesOut(t *testing.T) {
	const conns = 3
	srv := startRPCServer(t, 0)
	steps := []scenario.StepSpec{
		send("withheld", `{"jsonrpc":"2.0","method":"withhold"}`), // no id: no reply
		expect("$.id", 150*time.Millisecond),
	}
	steps = []scenario.StepSpec{
		{Repeat: 1, Steps: steps},
		send("after", `{"jsonrpc":"2.0","id":{{id}},"method":"echo"}`),
		expect("$.id", time.Second),
		{Close: true},
	}
	res := flowRun(t, flowSpec(conns, time.Second), srv.l.url(), steps, 1)
	s := res.Snapshot
	w, after := stepOf(t, s, "withheld"), stepOf(t, s, "after")
	if w.Count() != 0 || w.Errors["timeout"] != conns || after.Count() != conns {
		t.Errorf("withheld: done %d, errors %v; after: done %d; want 0, %d timeouts, %d", w.Count(), w.Errors, after.Count(), conns, conns)
	}
	c := s.Counts
	if c.Sent != 2*conns || c.TimedOut != conns || c.Lost != 0 || c.Received != conns || !c.Balanced() || s.Errors["step_timeout"] != conns {
		t.Errorf("counts %+v errors %v: want %d sent, %d timed out, %d received", c, s.Errors, 2*conns, conns, conns)
	}
}

// TestFlowLoopsMergeExactly: long-lived connections loop their steps for
// the whole run over two event loops; the merged step histogram holds
// every completion (one per answered request, so exactly Received), the
// intervals add up to the totals, and every message is accounted for.
func TestFlowLoopsMergeExactly(t *testing.T) {
	srv := startRPCServer(t, 2*time.Millisecond)
	steps := []scenario.StepSpec{
		send("request", `{"jsonrpc":"2.0","id":{{id}},"method":"echo","params":{"n":{{seq}}}}`),
		expect("$.result.n", time.Second),
		{Think: scenario.Duration(time.Millisecond)},
	}
	res := flowRun(t, flowSpec(6, 700*time.Millisecond), srv.l.url(), steps, 2)
	s := res.Snapshot
	req := stepOf(t, s, "request")
	c := s.Counts
	if req.Count() == 0 || req.Count() != c.Received || !c.Balanced() || c.Lost != 0 {
		t.Errorf("request done %d, counts %+v: want every answered request once in the step's histogram, balanced", req.Count(), c)
	}
	if c.Sessions < req.Count() {
		t.Errorf("%d sessions for %d requests: each round of the steps is a session", c.Sessions, req.Count())
	}
	var sum int64
	for _, iv := range res.Intervals {
		snap, err := iv.Expanded()
		if err != nil {
			t.Fatal(err)
		}
		if st := snap.Step("request"); st != nil {
			sum += st.Count()
		}
	}
	if sum != req.Count() {
		t.Errorf("intervals hold %d requests, the run %d", sum, req.Count())
	}
}

// TestFlowSessionRate: at a session rate R for T, the schedule holds R·T
// sessions (each a connection the planner dials at its arrival time), each
// runs its steps once and closes its connection with 1000. No more start
// than the schedule holds; those due a plan's lag before the end (scaled
// to the scheduling delay the machine showed) all do. A session's steps
// are timed from its arrival: the server takes 30 ms to accept each
// connection, and the first step's latency of every session dialled on the
// schedule holds them.
func TestFlowSessionRate(t *testing.T) {
	srv := startRPCServerAccepting(t, 0, 30*time.Millisecond)
	steps := []scenario.StepSpec{
		send("hello", `{"jsonrpc":"2.0","id":{{id}},"method":"hello"}`),
		expect("$.id", time.Second),
	}
	spec := flowSpec(1, time.Second)
	spec.SessionRate = 25
	spec.ApplySessionRate()
	if spec.Conns != 25 {
		t.Fatalf("25 sessions/s for 1s: %d slots", spec.Conns)
	}
	stop := schedwatch.Watch()
	res := flowRun(t, spec, srv.l.url(), steps, 2)
	lag := planLag(stop())
	least := int64(math.Ceil(25 * max(time.Second-lag, 0).Seconds()))
	c := res.Snapshot.Counts
	hello := stepOf(t, res.Snapshot, "hello")
	if c.ConnsAttempted > 25 || c.ConnsAttempted < least {
		t.Errorf("%d sessions dialled, want the schedule's 25 (at least %d: lag %v)", c.ConnsAttempted, least, lag)
	}
	// A session whose connection opened after the end never started.
	if c.Sessions > c.ConnsOpened || c.Sessions < least || hello.Count()+hello.ErrorCount() > c.Sessions || hello.Count() == 0 || c.Sent != c.Sessions || !c.Balanced() {
		t.Errorf("sessions %d, hello done %d failed %d, counts %+v: want %d to 25, each one hello", c.Sessions, hello.Count(), hello.ErrorCount(), c, least)
	}
	// (Session 0's connection opened before the clock started, at its
	// arrival: the rest were dialled on the schedule.)
	if second := hello.Hist.Percentile(100 * 1.5 / float64(hello.Count())); hello.Count() > 1 && second < 29*time.Millisecond {
		t.Errorf("hello's second fastest %v: a session's first step is timed from its arrival, before the server's 30ms accept", second)
	}
	if c.ConnsDropped != 0 || res.Snapshot.Errors["close_timeout"] != 0 {
		t.Errorf("sessions' connections: %d dropped, errors %v; want each closed with 1000", c.ConnsDropped, res.Snapshot.Errors)
	}
}

// TestFlowDataRowsAndCaptures: each connection takes its row of the data
// file (connection i row i mod the rows), and a value an expect captured
// goes into the next send: the server sees each user's own login and the
// session its reply gave back; {{now_ns}} is the Unix time of the send.
func TestFlowDataRowsAndCaptures(t *testing.T) {
	srv := startRPCServer(t, 0)
	steps := []scenario.StepSpec{
		send("login", `{"jsonrpc":"2.0","id":{{id}},"method":"login","params":{"user":"{{user}}","session":"s-{{user}}","t":{{now_ns}}}}`),
		{Expect: `$.result.user=={{user}}`, Capture: []string{"session=$.result.session"}, Timeout: scenario.Duration(time.Second)},
		send("use", `{"jsonrpc":"2.0","id":{{id}},"method":"use","params":{"session":"{{session}}"}}`),
		expect("$.result.session", time.Second),
		{Close: true},
	}
	spec := flowSpec(4, 500*time.Millisecond)
	spec.DataFile = "users.csv"
	res := flowRun(t, spec, srv.l.url(), steps, 2, "users.csv", "user\nalice\nbob\n")
	if st := stepOf(t, res.Snapshot, "use"); st.Count() != 4 || st.ErrorCount() != 0 {
		t.Fatalf("use: done %d, errors %v; want 4", st.Count(), st.Errors)
	}
	srv.mu.Lock()
	seen := slices.Clone(srv.seen)
	srv.mu.Unlock()
	count := func(sub string) int {
		n := 0
		for _, m := range seen {
			if strings.Contains(m, sub) {
				n++
			}
		}
		return n
	}
	// Rows alternate over the connections: two logins each; each session
	// used is the one its own login's reply carried.
	for _, m := range seen {
		var req struct {
			Params struct{ T int64 } `json:"params"`
		}
		if json.Unmarshal([]byte(m), &req) == nil && req.Params.T != 0 {
			if d := time.Since(time.Unix(0, req.Params.T)); d < 0 || d > time.Minute {
				t.Errorf("{{now_ns}} sent as %d, %v from now: want the Unix time of the send", req.Params.T, d)
			}
		}
	}
	if count(`"user":"alice"`) != 2 || count(`"user":"bob"`) != 2 || count(`"method":"use","params":{"session":"s-alice"}`) != 2 || count(`"method":"use","params":{"session":"s-bob"}`) != 2 {
		t.Errorf("the server saw %q", seen)
	}
}

// flowWorker is benchWorker for a flow: one connection over a socket
// pair, running steps (compiled as a file's) from the start.
func flowWorker(tb testing.TB, io iomode.Mode, steps []scenario.StepSpec) (*worker, *conn, int) {
	tb.Helper()
	if io == IOUring && uring.Probe() != nil {
		tb.Skip("io_uring unavailable")
	}
	spec := flowSpec(1, time.Second)
	spec.Kind, spec.Steps = scenario.KindFlow, steps
	c, err := scenario.CompileWith(spec, func(string) ([]byte, error) { return nil, os.ErrNotExist })
	if err != nil {
		tb.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	r := &run{codec: newCodec(64, false), op: ws.OpText, maxMessage: 1 << 20, closeTimeout: int64(closeTimeout),
		kind: string(scenario.KindFlow), script: c.Script}
	r.origin = time.Now()
	r.stopAt.Store(1 << 62)
	w, err := newWorker(r, metrics.NewRecorder().NewShard(), io == IOUring)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.adopt(fds[0], 0, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		w.abort()
		w.release()
		unix.Close(fds[1])
	})
	w.pacing().begin()
	return w, w.conns[0], fds[1]
}

// loopSteps is a request loop: send a request, expect its reply by id.
var loopSteps = []scenario.StepSpec{{Steps: []scenario.StepSpec{
	{Name: "request", Send: `{"jsonrpc":"2.0","id":{{id}},"method":"echo"}`},
	{Expect: "$.id", Timeout: scenario.Duration(time.Second)},
}}}

// TestFlowRoundTripDoesNotAllocate: a flow's steady state (a reply read,
// matched by its expect, the step recorded, the next request rendered,
// framed and flushed) allocates nothing, and the timer heap does not grow.
// The peer echoes the request, which has the id the expect looks for.
func TestFlowRoundTripDoesNotAllocate(t *testing.T) {
	for _, io := range []iomode.Mode{IOUring, IOSyscalls} {
		t.Run(string(io), func(t *testing.T) {
			w, c, peer := flowWorker(t, io, loopSteps)
			in, out := make([]byte, 256), make([]byte, 256)
			step := func() {
				playServer(t, w, c, peer, in, out)
				if err := w.exchange(); err != nil {
					t.Fatal(err)
				}
			}
			step()
			if n := testing.AllocsPerRun(1000, step); n != 0 {
				t.Errorf("%v allocations per round trip, want 0", n)
			}
			if got := w.shard.StepCount(0); got < 1000 || w.shard.Counts.Received != got {
				t.Errorf("request done %d times, received %d", got, w.shard.Counts.Received)
			}
			// Each expect has a later deadline than the last: the connection
			// keeps one entry on the timer heap, not one per request.
			if n := w.load.(*flowLoad).timers.Len(); n != 1 {
				t.Errorf("%d entries on the timer heap for one waiting session", n)
			}
		})
	}
}

// BenchmarkFlowRoundTrip is one step of a request loop: the reply read and
// matched, the step timed, the next request rendered and sent.
func BenchmarkFlowRoundTrip(b *testing.B) {
	for _, io := range []iomode.Mode{IOUring, IOSyscalls} {
		b.Run(string(io), func(b *testing.B) {
			w, c, peer := flowWorker(b, io, loopSteps)
			in, out := make([]byte, 256), make([]byte, 256)
			b.ReportAllocs()
			for b.Loop() {
				playServer(b, w, c, peer, in, out)
				if err := w.exchange(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFlowReceiveFeedsTheStream: a receive step takes the messages it
// matches (the step done with its count) and, with a stream in the
// protocol, each is accounted as the stream's: every pushed message
// counted once, none missing, delivery latency recorded.
func TestFlowReceiveFeedsTheStream(t *testing.T) {
	const conns = 3
	srv := startRPCServer(t, 0)
	steps := []scenario.StepSpec{
		send("subscribe", `{"jsonrpc":"2.0","id":{{id}},"method":"subscribe"}`),
		expect("$.id", time.Second),
		{Name: "feed", Receive: "$.seq", Count: pushSeqs, Timeout: scenario.Duration(5 * time.Second)},
		{Close: true},
	}
	spec := flowSpec(conns, time.Second)
	spec.Stream = &scenario.StreamSpec{Match: "$.seq", Seq: "$.seq", Sent: "$.sent_ns", Unit: "ns"}
	res := flowRun(t, spec, srv.l.url(), steps, 1)
	s := res.Snapshot
	feed := stepOf(t, s, "feed")
	if feed.Count() != conns || feed.ErrorCount() != 0 {
		t.Errorf("feed: done %d, errors %v; want %d", feed.Count(), feed.Errors, conns)
	}
	if c := s.Counts; c.Stream != conns*pushSeqs || c.StreamGaps != 0 || c.StreamDups != 0 || s.Hist[metrics.Delivery].Count() != conns*pushSeqs {
		t.Errorf("stream %d (gaps %d, dups %d), %d deliveries timed; want %d each", c.Stream, c.StreamGaps, c.StreamDups, s.Hist[metrics.Delivery].Count(), conns*pushSeqs)
	}
}

// TestFlowOnTheSessionLayer: a flow's connection opens with the protocol's
// open steps (a hello whose reply's token is captured at dial), its steps
// use the captured value, and the server's own heartbeats are answered by
// the protocol's rule: no step sees them, none is unsolicited.
func TestFlowOnTheSessionLayer(t *testing.T) {
	const conns = 2
	srv := startRPCServer(t, 0)
	steps := []scenario.StepSpec{
		send("call", `{"jsonrpc":"2.0","id":{{id}},"method":"noisy","params":{"tok":"{{tok}}"}}`),
		expect("$.result.tok", time.Second),
		{Close: true},
	}
	spec := flowSpec(conns, 500*time.Millisecond)
	spec.Open = []scenario.StepSpec{
		{Send: `{"jsonrpc":"2.0","id":0,"method":"hello","params":{"tok":"t{{conn}}"}}`},
		{Expect: "$.result.tok", Capture: []string{"tok=$.result.tok"}, Timeout: scenario.Duration(time.Second)},
	}
	spec.Rules = []scenario.RuleSpec{{When: "$.type==ping", Reply: `{"type":"pong"}`}}
	res := flowRun(t, spec, srv.l.url(), steps, 1)
	s := res.Snapshot
	if st := stepOf(t, s, "call"); st.Count() != conns || st.ErrorCount() != 0 {
		t.Fatalf("call: done %d, errors %v", st.Count(), st.Errors)
	}
	if c := s.Counts; c.Unsolicited != 0 || c.Sent != conns || c.Received != conns || !c.Balanced() {
		t.Errorf("counts %+v: want the heartbeats answered by the rule, none unsolicited", c)
	}
	srv.mu.Lock()
	seen := strings.Join(srv.seen, "\n")
	srv.mu.Unlock()
	for _, want := range []string{`"method":"noisy","params":{"tok":"t0"}`, `"method":"noisy","params":{"tok":"t1"}`, `{"type":"pong"}`} {
		if !strings.Contains(seen, want) {
			t.Errorf("the server never saw %s:\n%s", want, seen)
		}
	}
}
