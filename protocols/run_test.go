package protocols_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/protocols"
	"github.com/wsbench/wsbench/scenario"
)

// The presets run by wsbench's driver (kind request) against their real
// servers: what the run reports is checked against what each server is
// known to do (a delay, an error, a withheld reply, a rate).

// presetRun is a request run of preset with opts against target: conns
// connections sending rate requests a second in all for d (no warm-up),
// with timeout the requests' timeout (0: the preset's).
type presetRun struct {
	preset  string
	opts    []string
	conns   int
	rate    float64
	d       time.Duration
	timeout time.Duration
	grace   time.Duration
}

func (r presetRun) run(t *testing.T, target string) *driver.Result {
	t.Helper()
	spec := scenario.Default()
	spec.Kind = scenario.KindRequest
	spec.Protocol, spec.ProtocolOpts = r.preset, r.opts
	spec.Conns, spec.Rate = r.conns, r.rate
	spec.Warmup, spec.Duration = 0, scenario.Duration(r.d)
	spec.Grace = scenario.Duration(max(r.grace, 5*time.Second)) // a busy machine may answer late
	if r.timeout > 0 {
		spec.Request = &scenario.RequestSpec{Timeout: scenario.Duration(r.timeout)}
	}
	c, err := scenario.Compile(spec)
	if err != nil {
		t.Fatalf("compile %s %q: %v", r.preset, r.opts, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.d+2*time.Minute)
	defer cancel()
	res, err := driver.Run(ctx, driver.Config{Scenario: c, Target: target, Workers: 1})
	if err != nil {
		t.Fatalf("run %s: %v", r.preset, err)
	}
	cs := res.Snapshot.Counts
	t.Logf("%s %q: stop %s; conns %d/%d; sent %d answered %d timed out %d failed %d lost %d in flight %d unsolicited %d; errors %v; rtt %v",
		r.preset, r.opts, res.StopReason, cs.ConnsOpened, r.conns, cs.Sent, cs.Received, cs.TimedOut, cs.Failed, cs.Lost, cs.InFlight,
		cs.Unsolicited, res.Snapshot.Errors, res.Snapshot.Hist[metrics.RTT].Summary())
	if !cs.Balanced() {
		t.Errorf("counts do not balance: imbalance %d", cs.Imbalance())
	}
	if cs.ConnsOpened != int64(r.conns) {
		t.Errorf("%d of %d connections opened (errors %v, %v)", cs.ConnsOpened, r.conns, res.Snapshot.Errors, res.Mismatch)
	}
	if cs.Sent == 0 {
		t.Fatal("nothing sent")
	}
	return res
}

// allAnswered checks that every request was answered (no timeout, error,
// loss or unsolicited message) and that none was answered sooner than
// floor, the server's delay.
func allAnswered(t *testing.T, res *driver.Result, floor time.Duration) {
	t.Helper()
	cs := res.Snapshot.Counts
	if cs.Received != cs.Sent || cs.TimedOut+cs.Failed+cs.Lost+cs.InFlight+cs.Unsolicited != 0 {
		t.Errorf("sent %d, answered %d (timed out %d, failed %d, lost %d, in flight %d, unsolicited %d): want every request answered, nothing else",
			cs.Sent, cs.Received, cs.TimedOut, cs.Failed, cs.Lost, cs.InFlight, cs.Unsolicited)
	}
	rtt := res.Snapshot.Hist[metrics.RTT]
	if rtt.Count() != cs.Received {
		t.Errorf("%d latencies for %d answers", rtt.Count(), cs.Received)
	}
	// Latency is from the intended send time: never below the server's
	// delay, and (generous bound for a busy machine) within a second of it
	// at the median. Node's timers count whole milliseconds from a clock
	// read as the event loop woke (up to 1 ms early), and the histogram's
	// buckets are 0.1% wide: the floor allows for both.
	lowest := time.Duration(rtt.Summary().MinUs * float64(time.Microsecond))
	if want := floor - time.Millisecond - floor/1000; floor > 0 && lowest < want || rtt.Percentile(50) > floor+time.Second {
		t.Errorf("latency min %v median %v, want at least the server's delay %v and the median within 1s of it", lowest, rtt.Percentile(50), floor)
	}
}

// TestPeerRunJSONRPC: echo with a 40 ms delay is answered, none sooner than
// 40 ms; sleep calls whose replies overtake each other (id mod 10 picks
// 110…190 ms or 100 ms) are each matched to their own request; fail() is
// counted as error -32001; withhold() times out.
func TestPeerRunJSONRPC(t *testing.T) {
	t.Parallel()
	addr := protocols.StartPeer(t, "jsonrpc.js", "--delay", "40")
	url := "ws://" + addr + "/"
	t.Run("echo", func(t *testing.T) {
		res := presetRun{preset: "jsonrpc", opts: []string{`params=["wsbench",{{seq}}]`}, conns: 4, rate: 100, d: time.Second}.run(t, url)
		allAnswered(t, res, 40*time.Millisecond)
	})
	t.Run("out of order", func(t *testing.T) {
		// 50 requests a second on one connection, 20 ms apart: request
		// 10k+9 sleeps 190 ms, 10k+10 sleeps 100 ms, so the reply to the
		// later one comes first, every ten requests.
		res := presetRun{preset: "jsonrpc", opts: []string{"method=sleep", "params=[1{{id:dec1}}0]"}, conns: 1, rate: 50, d: time.Second}.run(t, url)
		allAnswered(t, res, 100*time.Millisecond)
	})
	t.Run("fail", func(t *testing.T) {
		res := presetRun{preset: "jsonrpc", opts: []string{"method=fail"}, conns: 2, rate: 40, d: 500 * time.Millisecond}.run(t, url)
		cs := res.Snapshot.Counts
		if cs.Failed != cs.Sent || cs.Received != 0 || res.Snapshot.Errors["error_-32001"] != cs.Sent {
			t.Errorf("sent %d: failed %d, answered %d, errors %v: want every request failed as error_-32001", cs.Sent, cs.Failed, cs.Received, res.Snapshot.Errors)
		}
	})
	t.Run("withhold", func(t *testing.T) {
		res := presetRun{preset: "jsonrpc", opts: []string{"method=withhold"}, conns: 2, rate: 20, d: 500 * time.Millisecond, timeout: 300 * time.Millisecond}.run(t, url)
		cs := res.Snapshot.Counts
		if cs.TimedOut != cs.Sent || cs.Received+cs.Failed != 0 {
			t.Errorf("sent %d: timed out %d, answered %d, failed %d: want every request timed out", cs.Sent, cs.TimedOut, cs.Received, cs.Failed)
		}
	})
}

// TestPeerRunGraphQLWS: queries of a field that resolves after 30 ms are
// each answered (next, then complete) no sooner than 30 ms; a query the
// schema refuses fails every request.
func TestPeerRunGraphQLWS(t *testing.T) {
	t.Parallel()
	addr := protocols.StartPeer(t, "graphql.js", "--delay", "30")
	url := "ws://" + addr + "/"
	res := presetRun{preset: "graphql-ws", opts: []string{"query={ hello }"}, conns: 3, rate: 60, d: time.Second}.run(t, url)
	allAnswered(t, res, 30*time.Millisecond)
	res = presetRun{preset: "graphql-ws", opts: []string{"query=query($ms: Int!) { slow(ms: $ms) }", `variables={"ms":7{{id:dec1}}}`}, conns: 2, rate: 40, d: time.Second}.run(t, url)
	allAnswered(t, res, 70*time.Millisecond)
	res = presetRun{preset: "graphql-ws", opts: []string{"query={ nope }"}, conns: 1, rate: 20, d: 500 * time.Millisecond}.run(t, url)
	if cs := res.Snapshot.Counts; cs.Failed != cs.Sent || res.Snapshot.Errors["error_error"] != cs.Sent || cs.Unsolicited != 0 {
		t.Errorf("a refused query: sent %d failed %d unsolicited %d errors %v, want every request failed as error_error", cs.Sent, cs.Failed, cs.Unsolicited, res.Snapshot.Errors)
	}
}

// TestPeerRunSocketIO: events acked after 25 ms, each ack matched to its
// event no sooner than 25 ms, over a run of 8 of the server's 300 ms ping
// intervals: the pings are answered within the server's ping timeout (1 s:
// generous on a busy machine; an unanswered ping drops its connection at
// 1.3 s), so no connection is dropped.
func TestPeerRunSocketIO(t *testing.T) {
	t.Parallel()
	addr := protocols.StartPeer(t, "socketio.js", "--delay", "25", "--ping-interval", "300", "--ping-timeout", "1000")
	res := presetRun{preset: "socketio", opts: []string{"event=echo", `args=["hi",{{seq}}]`}, conns: 2, rate: 40, d: 2500 * time.Millisecond}.run(t,
		"ws://"+addr+"/socket.io/?EIO=4&transport=websocket")
	allAnswered(t, res, 25*time.Millisecond)
	for kind, n := range res.Snapshot.Errors {
		t.Errorf("error %s ×%d: a connection was dropped or failed", kind, n)
	}
}

// TestPeerRunMQTT: PUBLISHes through aedes at QoS 1 (PUBACK and the
// delivery back: two replies each) and QoS 0 (the delivery) are each
// answered exactly once, with aedes cutting packets across messages.
func TestPeerRunMQTT(t *testing.T) {
	t.Parallel()
	addr := protocols.StartPeer(t, "mqtt.js", "--rate", "1")
	for _, qos := range []string{"1", "0"} {
		res := presetRun{preset: "mqtt", opts: []string{"qos=" + qos}, conns: 3, rate: 90, d: time.Second}.run(t, "ws://"+addr+"/")
		allAnswered(t, res, 0)
	}
}

func init() { protocols.AfterRabbitMQ = append(protocols.AfterRabbitMQ, runSTOMPPreset) }

// runSTOMPPreset: SENDs through RabbitMQ with receipts, each answered by
// its RECEIPT and its MESSAGE delivered back.
func runSTOMPPreset(t *testing.T, addr string) {
	res := presetRun{preset: "stomp", opts: []string{"login=guest", "passcode=guest", "heart-beat=1000,1000"}, conns: 3, rate: 60, d: 1500 * time.Millisecond}.run(t, "ws://"+addr+"/ws")
	allAnswered(t, res, 0)
}

// subscribeRun is a subscribe run of preset with opts against target: conns
// connections, each subscribing as it opens, for d (no warm-up: every
// stream message from the subscription on counts), reading the stream
// with stream's fields (nil: the preset's).
func subscribeRun(t *testing.T, target, preset string, opts []string, stream *scenario.StreamSpec, conns int, d time.Duration) *driver.Result {
	t.Helper()
	spec := scenario.Default()
	spec.Kind = scenario.KindSubscribe
	spec.Protocol, spec.ProtocolOpts, spec.Stream = preset, opts, stream
	spec.Conns, spec.Warmup, spec.Duration = conns, 0, scenario.Duration(d)
	c, err := scenario.Compile(spec)
	if err != nil {
		t.Fatalf("compile %s %q: %v", preset, opts, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	res, err := driver.Run(ctx, driver.Config{Scenario: c, Target: target, Workers: 1})
	if err != nil {
		t.Fatalf("run %s: %v", preset, err)
	}
	cs := res.Snapshot.Counts
	t.Logf("%s %q: stop %s; conns %d/%d; stream %d gaps %d late %d dups %d other %d unsolicited %d; errors %v; delivery %v",
		preset, opts, res.StopReason, cs.ConnsOpened, conns, cs.Stream, cs.StreamGaps, cs.StreamLate, cs.StreamDups, cs.StreamOther, cs.Unsolicited,
		res.Snapshot.Errors, res.Snapshot.Hist[metrics.Delivery].Summary())
	if cs.ConnsOpened != int64(conns) || len(res.Snapshot.Errors) > 0 {
		t.Errorf("%d of %d connections opened, errors %v (%v)", cs.ConnsOpened, conns, res.Snapshot.Errors, res.Mismatch)
	}
	if cs.StreamGaps+cs.StreamLate+cs.StreamDups+cs.StreamOther+cs.Unsolicited != 0 {
		t.Errorf("gaps %d, late %d, duplicates %d, other %d, unsolicited %d: want a clean stream", cs.StreamGaps, cs.StreamLate, cs.StreamDups, cs.StreamOther, cs.Unsolicited)
	}
	return res
}

// TestPeerRunSubscribe: each preset's subscription, run as kind subscribe
// against its server: graphql-ws and socket.io send each subscriber
// exactly --count messages (counted exactly, in sequence, with one-way
// delivery latency from the server's send time for graphql-ws);
// rpc-websockets' rpc.on ticks and aedes' ticks come at the server's rate.
// The presets' rules work in a subscribe run: socket.io's pings answered,
// MQTT's PINGRESP and graphql-ws' complete silenced (no "other" message).
func TestPeerRunSubscribe(t *testing.T) {
	t.Parallel()
	t.Run("graphql-ws", func(t *testing.T) {
		addr := protocols.StartPeer(t, "graphql.js", "--rate", "50", "--count", "20")
		res := subscribeRun(t, "ws://"+addr+"/", "graphql-ws", []string{"subscription=subscription { ticks { seq sentNs } }"},
			&scenario.StreamSpec{Seq: "$.payload.data.ticks.seq", Sent: "$.payload.data.ticks.sentNs", Unit: "ns"}, 3, 2500*time.Millisecond)
		if cs := res.Snapshot.Counts; cs.Stream != 3*20 {
			t.Errorf("%d stream messages, want 3 subscriptions × 20", cs.Stream)
		}
		if n := res.Snapshot.Hist[metrics.Delivery].Count(); n != 3*20 {
			t.Errorf("%d delivery latencies, want 60 (one per message: the server's send time is in each)", n)
		}
	})
	t.Run("socketio", func(t *testing.T) {
		// The server pings every 300 ms: answered within 1 s (the rules
		// apply in a subscribe run too), or the connection is dropped by
		// 1.3 s, inside the run.
		addr := protocols.StartPeer(t, "socketio.js", "--rate", "50", "--count", "15", "--ping-interval", "300", "--ping-timeout", "1000")
		res := subscribeRun(t, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket", "socketio", []string{"subscribe=subscribe", "stream=tick"}, nil, 2, 2500*time.Millisecond)
		if cs := res.Snapshot.Counts; cs.Stream != 2*15 {
			t.Errorf("%d stream messages, want 2 subscribers × 15", cs.Stream)
		}
	})
	// The server's own tick streams (one for all subscribers, from its
	// start) at 40 a second: over 1.5 s each subscriber takes about 60;
	// bounds for a busy machine.
	rate := func(t *testing.T, res *driver.Result, conns int) {
		t.Helper()
		if n, want := res.Snapshot.Counts.Stream, int64(conns*60); n < want/3 || n > want*3/2 {
			t.Errorf("%d stream messages, want about %d (40/s to each of %d for 1.5 s)", n, want, conns)
		}
	}
	t.Run("jsonrpc", func(t *testing.T) {
		addr := protocols.StartPeer(t, "jsonrpc.js", "--rate", "40")
		res := subscribeRun(t, "ws://"+addr+"/", "jsonrpc", []string{"subscribe=rpc.on", `subscribe_params=["tick"]`},
			&scenario.StreamSpec{Seq: "$.params.seq", Sent: "$.params.sent_ns", Unit: "ns"}, 2, 1500*time.Millisecond)
		rate(t, res, 2)
	})
	t.Run("mqtt", func(t *testing.T) {
		addr := protocols.StartPeer(t, "mqtt.js", "--rate", "40")
		// PINGREQ every 500 ms; each PINGRESP silenced, not "other".
		res := subscribeRun(t, "ws://"+addr+"/", "mqtt", []string{"subscribe=ticks", "keepalive=1"}, nil, 2, 1500*time.Millisecond)
		rate(t, res, 2)
	})
}

// TestPeerRunSTOMP11: stomp-broker-js speaks STOMP 1.1 only: the stomp
// preset (1.2) refuses its CONNECTED, and the run says what it expected
// and what came instead; no connection is counted as open.
func TestPeerRunSTOMP11(t *testing.T) {
	t.Parallel()
	addr := protocols.StartPeer(t, "stomp.js")
	spec := scenario.Default()
	spec.Kind, spec.Protocol, spec.ProtocolOpts = scenario.KindRequest, "stomp", []string{"open_timeout=1s"}
	spec.Conns, spec.Warmup, spec.Duration = 2, 0, scenario.Duration(time.Second)
	c, err := scenario.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := driver.Run(context.Background(), driver.Config{Scenario: c, Target: "ws://" + addr + "/stomp", Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, cs := res.Mismatch, res.Snapshot.Counts
	if m == nil || m.Expect != "CONNECTED with version:1.2" || !bytes.HasPrefix(m.Got, []byte("CONNECTED\n")) || !bytes.Contains(m.Got, []byte("\nversion:1.1")) {
		t.Fatalf("mismatch %+v, want CONNECTED version 1.2 expected and stomp-broker-js' 1.1 CONNECTED got", m)
	}
	if cs.ConnsOpened != 0 || res.Snapshot.Errors["open_mismatch"] != 2 || cs.Sent != 0 {
		t.Errorf("opened %d, sent %d, errors %v: want none opened, open_mismatch ×2", cs.ConnsOpened, cs.Sent, res.Snapshot.Errors)
	}
}

// TestPeerRunFlow: a scripted flow over a preset's opening and rules
// (graphql-ws: connection_init and its ack, pings answered): each query's
// next comes no sooner than the server's 30 ms, none fails.
func TestPeerRunFlow(t *testing.T) {
	t.Parallel()
	addr := protocols.StartPeer(t, "graphql.js", "--delay", "30")
	spec := scenario.Default()
	spec.Kind, spec.Protocol = scenario.KindFlow, "graphql-ws"
	spec.Conns, spec.Warmup, spec.Duration = 2, 0, scenario.Duration(time.Second)
	spec.Steps = []scenario.StepSpec{
		{Name: "query", Send: `{"id":"q{{seq}}","type":"subscribe","payload":{"query":"{ hello }"}}`},
		{Name: "next", Expect: "$.type==next", Timeout: scenario.Duration(5 * time.Second)},
	}
	c, err := scenario.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := driver.Run(context.Background(), driver.Config{Scenario: c, Target: "ws://" + addr + "/", Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	next := res.Snapshot.Step("next")
	if next == nil {
		t.Fatalf("no step next in %+v", res.Snapshot.Steps)
	}
	lowest := time.Duration(next.Hist.Summary().MinUs * float64(time.Microsecond))
	t.Logf("next: %d done, errors %v, min %v; run errors %v", next.Hist.Count(), next.Errors, lowest, res.Snapshot.Errors)
	if next.Hist.Count() < 2 || len(next.Errors) > 0 || len(res.Snapshot.Errors) > 0 || res.Snapshot.Counts.ConnsOpened != 2 {
		t.Errorf("step next: %d done, errors %v; run errors %v, %d connections opened", next.Hist.Count(), next.Errors, res.Snapshot.Errors, res.Snapshot.Counts.ConnsOpened)
	}
	if lowest < 29*time.Millisecond { // node's timers: whole ms, up to 1 ms early
		t.Errorf("a next after %v, before the server's 30 ms", lowest)
	}
}
