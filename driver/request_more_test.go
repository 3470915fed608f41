package driver

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// jsonServer upgrades each connection and answers every JSON message with
// what answer writes for its id (through write, safe from any goroutine);
// it returns the URL.
func jsonServer(t *testing.T, answer func(id int, write func(string))) string {
	t.Helper()
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		var mu sync.Mutex
		write := func(s string) {
			mu.Lock()
			defer mu.Unlock()
			wsutil.WriteServerText(c, []byte(s))
		}
		for {
			p, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			var r struct{ ID int }
			if json.Unmarshal(p, &r) == nil {
				answer(r.ID, write)
			}
		}
	})
	t.Cleanup(l.close)
	return l.url()
}

// runRequests runs spec against url (warm-up none, so every request is
// measured) and returns the result.
func runRequests(t *testing.T, spec scenario.Spec, url string) *Result {
	t.Helper()
	spec.Warmup = 0
	res, err := Run(context.Background(), Config{Spec: spec, Target: url})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Snapshot.Counts; !c.Balanced() {
		t.Errorf("counts do not balance: %+v", c)
	}
	return res
}

// TestRequestErrorReplies: the server fails odd ids with a JSON-RPC error
// (code -32001) and answers even ones: exactly the odd requests are failed,
// counted by the error's code, and only the even ones are answered and timed.
func TestRequestErrorReplies(t *testing.T) {
	url := jsonServer(t, func(id int, write func(string)) {
		if id%2 == 1 {
			write(`{"jsonrpc":"2.0","id":` + itoa(id) + `,"error":{"code":-32001,"message":"no"}}`)
			return
		}
		write(`{"jsonrpc":"2.0","id":` + itoa(id) + `,"result":1}`)
	})
	res := runRequests(t, requestSpec(2, 300*time.Millisecond), url)
	c := res.Snapshot.Counts
	done := c.Received + c.Failed
	if c.InFlight != 0 || c.TimedOut != 0 || c.Unsolicited != 0 || done != c.Sent || c.Sent < 10 {
		t.Fatalf("counts %+v", c)
	}
	// Closed model: each connection's ids run 1 … k; the odd ones failed.
	if c.Failed < done/2-1 || c.Failed > done/2+2 || c.Received < done/2-2 {
		t.Errorf("failed %d, answered %d of %d: want half each", c.Failed, c.Received, done)
	}
	if got := res.Snapshot.Errors["error_-32001"]; got != c.Failed || len(res.Snapshot.Errors) != 1 {
		t.Errorf("errors %v, failed %d", res.Snapshot.Errors, c.Failed)
	}
	if n := res.Snapshot.Hist[metrics.RTT].Count(); n != c.Received {
		t.Errorf("%d latencies for %d answered", n, c.Received)
	}
	if res.Mismatch != nil {
		t.Errorf("mismatch %+v", res.Mismatch)
	}
}

// TestRequestErrorKind: an error reply is counted by its matcher's value,
// kept to letters, digits, '-', '_' and '.', at most 32 of them.
func TestRequestErrorKind(t *testing.T) {
	for _, c := range []struct{ v, want string }{
		{`-32001`, "error_-32001"},                                     // JSON-RPC's error.code
		{`"E_LIMIT"`, "error_E_LIMIT"},                                 // a quoted code: unquoted
		{`{"a":1}`, "error___a__1_"},                                   // raw JSON: kept to safe characters
		{"rate limit exceeded", "error_rate_limit_exceeded"},           // spaces
		{string(make([]byte, 40)), "error_" + string(repeat('_', 32))}, // at most 32
	} {
		if got := errorKind([]byte(c.v)); got != c.want {
			t.Errorf("%q: %q, want %q", c.v, got, c.want)
		}
	}
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestRequestUnsolicited: before each reply the server sends a
// notification no request asked for: each is counted unsolicited, exactly
// one per reply, and does not disturb the matching. With a rule that
// silences them, none is.
func TestRequestUnsolicited(t *testing.T) {
	var notes atomic.Int64
	url := jsonServer(t, func(id int, write func(string)) {
		notes.Add(1)
		write(`{"jsonrpc":"2.0","method":"tick","params":{"n":` + itoa(id) + `}}`)
		write(`{"jsonrpc":"2.0","id":` + itoa(id) + `,"result":1}`)
	})
	spec := requestSpec(2, 300*time.Millisecond)
	spec.Grace = scenario.Duration(2 * time.Second)
	res := runRequests(t, spec, url)
	c := res.Snapshot.Counts
	if c.Unsolicited != notes.Load() || c.Received != c.Sent || c.InFlight != 0 || res.Mismatch != nil || res.StopReason != StopCompleted {
		t.Errorf("unsolicited %d of %d notifications sent; counts %+v; mismatch %+v", c.Unsolicited, notes.Load(), c, res.Mismatch)
	}
	spec.Rules = []scenario.RuleSpec{{When: "$.method==tick"}}
	res = runRequests(t, spec, url)
	if c := res.Snapshot.Counts; c.Unsolicited != 0 || c.Received == 0 {
		t.Errorf("with a rule: counts %+v", c)
	}
}

// TestRequestRule: a rule answers the server's own pings; the server
// counts the pongs it got.
func TestRequestRule(t *testing.T) {
	var pings, pongs atomic.Int64
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		var mu sync.Mutex
		for {
			p, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			if string(p) == `{"type":"pong"}` {
				pongs.Add(1)
				continue
			}
			var r struct{ ID int }
			json.Unmarshal(p, &r)
			mu.Lock()
			if r.ID%5 == 0 {
				pings.Add(1)
				wsutil.WriteServerText(c, []byte(`{"type":"ping"}`))
			}
			wsutil.WriteServerText(c, []byte(`{"id":`+itoa(r.ID)+`}`))
			mu.Unlock()
		}
	})
	t.Cleanup(l.close)
	spec := requestSpec(2, 300*time.Millisecond)
	spec.Rules = []scenario.RuleSpec{{When: "$.type==ping", Reply: `{"type":"pong"}`}}
	res := runRequests(t, spec, l.url())
	// The last pongs may still be on their way when the run's close goes out.
	time.Sleep(100 * time.Millisecond)
	if c := res.Snapshot.Counts; c.Unsolicited != 0 || pings.Load() == 0 || pongs.Load() != pings.Load() {
		t.Errorf("pings %d, pongs %d, counts %+v", pings.Load(), pongs.Load(), c)
	}
}

// TestRequestTwoReplies: with replies: 2 the server acks each request at
// once and gives its result 30ms later: a request is answered by its
// second reply, so no latency is below 30ms, and every request is answered
// once. A server that only acks leaves every request to time out.
func TestRequestTwoReplies(t *testing.T) {
	const later = 30 * time.Millisecond
	url := jsonServer(t, func(id int, write func(string)) {
		write(`{"id":` + itoa(id) + `,"ack":true}`)
		time.AfterFunc(later, func() { write(`{"id":` + itoa(id) + `,"result":1}`) })
	})
	spec := requestSpec(2, 500*time.Millisecond)
	spec.Request.Replies = 2
	res := runRequests(t, spec, url)
	c := checkRequests(t, res)
	if min := time.Duration(res.Snapshot.Hist[metrics.RTTUncorrected].Summary().MinUs) * time.Microsecond; min < later-later/1000 {
		t.Errorf("rtt_uncorrected min %v: a request answered by its ack", min)
	}
	if c.Received < 10 {
		t.Errorf("answered %d", c.Received)
	}

	ackOnly := jsonServer(t, func(id int, write func(string)) { write(`{"id":` + itoa(id) + `,"ack":true}`) })
	spec.Request.Timeout = scenario.Duration(100 * time.Millisecond)
	res = runRequests(t, spec, ackOnly)
	if c := res.Snapshot.Counts; c.Received != 0 || c.TimedOut == 0 || c.TimedOut+c.InFlight != c.Sent {
		t.Errorf("acks only: counts %+v", c)
	}
}

// TestRequestEvery: every connection sends its periodic message (a
// heartbeat) every 50ms besides its requests; the server counts them.
func TestRequestEvery(t *testing.T) {
	var beats atomic.Int64
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		for {
			p, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			if string(p) == "beat" {
				beats.Add(1)
				continue
			}
			var r struct{ ID int }
			json.Unmarshal(p, &r)
			wsutil.WriteServerText(c, []byte(`{"id":`+itoa(r.ID)+`}`))
		}
	})
	t.Cleanup(l.close)
	spec := requestSpec(2, 500*time.Millisecond)
	spec.Rate = 40
	spec.Every = []scenario.EverySpec{{Interval: scenario.Duration(50 * time.Millisecond), Send: "beat"}}
	res := runRequests(t, spec, l.url())
	checkRequests(t, res)
	// About 10 a connection in the 500ms window (fewer if the machine
	// stalled the loop; never more than the time allows).
	if got := beats.Load(); got < 2*4 || got > 2*(10+2+40) {
		t.Errorf("%d heartbeats from 2 connections in %v", got, res.Measured())
	}
}

// TestRequestSlowAfterNotice: a server that greets each connection with a
// notification and answers 1.5s later is slow, not one that does not
// answer: the verdict waits the request timeout (not just a second) after
// the unsolicited greeting, and the run completes with its replies.
func TestRequestSlowAfterNotice(t *testing.T) {
	const slow = 1500 * time.Millisecond
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		var mu sync.Mutex
		wsutil.WriteServerText(c, []byte(`{"method":"welcome"}`))
		for {
			p, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			var r struct{ ID int }
			json.Unmarshal(p, &r)
			time.AfterFunc(slow, func() {
				mu.Lock()
				defer mu.Unlock()
				wsutil.WriteServerText(c, []byte(`{"id":`+itoa(r.ID)+`}`))
			})
		}
	})
	t.Cleanup(l.close)
	spec := requestSpec(1, 2*time.Second)
	spec.Request.Timeout = scenario.Duration(5 * time.Second)
	spec.Grace = scenario.Duration(3 * time.Second)
	res := runRequests(t, spec, l.url())
	if c := res.Snapshot.Counts; res.StopReason != StopCompleted || res.Mismatch != nil || c.Received == 0 || c.Unsolicited != 1 {
		t.Errorf("stop %q, mismatch %+v, counts %+v", res.StopReason, res.Mismatch, c)
	}
}

// TestRequestWrappedIDs: with ids wrapped to 1 … 4 (IDMod, as MQTT wraps
// its 16-bit packet ids) and a server that never answers odd ids, a
// request still in flight when its id comes round again is given up as
// timed out (long before its 10s timeout), so every reply names one
// request: half are answered, the rest timed out, the counts balance.
// (The 10s timeout never comes in the run: only the wrap times out.)
func TestRequestWrappedIDs(t *testing.T) {
	url := jsonServer(t, func(id int, write func(string)) {
		if id%2 == 0 {
			write(`{"id":` + itoa(id) + `}`)
		}
	})
	spec := requestSpec(1, 500*time.Millisecond)
	spec.Warmup = 0
	spec.Rate = 100
	spec.Target = url
	c, err := scenario.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	c.Protocol.Request.IDMod = 4
	res, err := Run(context.Background(), Config{Scenario: c, Target: url})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Snapshot.Counts
	// (A reply slower than two sends finds its request given up already:
	// reply_late, its request timed out. None can be matched to another.)
	late := res.Snapshot.Errors["reply_late"]
	if !n.Balanced() || n.TimedOut < n.Sent/2-3 || n.Received+late < n.Sent/2-3 || n.Received+n.TimedOut+n.InFlight != n.Sent || n.InFlight > 3 || n.Unsolicited != 0 {
		t.Errorf("counts %+v, errors %v", n, res.Snapshot.Errors)
	}
}

// TestRequestMaxInflight: --max-inflight holds a connection's requests to
// the cap, whatever the rate asks: with 2 in flight and every reply 20ms
// late, one connection can complete at most 2 requests per 20ms; the rest
// of the schedule is unsent, none lost.
func TestRequestMaxInflight(t *testing.T) {
	const delay = 20 * time.Millisecond
	url := startBundledRPC(t, "20ms")
	spec := requestSpec(1, time.Second)
	spec.Warmup = 0
	spec.Rate = 500
	spec.MaxInflight = 2
	res := runRequests(t, spec, url)
	c := checkRequests(t, res)
	window := res.Measured()
	if most := int64(2*(window+delay)/delay) + 2; c.Sent > most || c.Sent < 10 {
		// (At least 10: a connection whose answered requests still counted
		// against the cap would stop at 2.)
		t.Errorf("sent %d in %v with 2 in flight and %v replies: at most %d", c.Sent, window, delay, most)
	}
	if due := c.Sent + c.Unsent; c.Unsent == 0 || due < 490 || due > 510 {
		t.Errorf("sent %d, unsent %d: want 500 due, most unsent", c.Sent, c.Unsent)
	}
}
