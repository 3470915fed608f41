//go:build linux

package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// TestSubscribeScripted: a push server written for the test sends, after
// each connection's subscribe message, a scripted stream: 1, 2, 4, 3 (late,
// filling the gap 4 left), 3 again (a duplicate), a message that is not the
// stream's, a heartbeat the protocol's rule answers (neither the stream's
// nor other), a pause longer than the stall, 5, then 7 (6 never comes), and
// silence to the end of the window, longer than the stall too. The
// driver's accounting over the wire must say exactly that.
func TestSubscribeScripted(t *testing.T) {
	const conns = 2
	const pause = 300 * time.Millisecond
	subscribed, pongs := make(chan string, conns), make(chan string, conns)
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		msg, _, err := wsutil.ReadClientData(c)
		if err != nil {
			return
		}
		subscribed <- string(msg)
		send := func(s string) bool { return wsutil.WriteServerMessage(c, ws.OpText, []byte(s)) == nil }
		for _, seq := range []int{1, 2, 4, 3, 3} {
			if !send(fmt.Sprintf(`{"seq":%d}`, seq)) {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		send(`{"ack":true}`)
		send(`{"type":"ping"}`) // a heartbeat the protocol's rule answers
		if msg, _, err := wsutil.ReadClientData(c); err == nil {
			pongs <- string(msg)
		}
		time.Sleep(pause)
		send(`{"seq":5}`)
		send(`{"seq":7}`)
		wsutil.ReadClientData(c) // until the client closes
	})
	spec := scenario.Default()
	spec.Kind, spec.Conns, spec.Warmup, spec.Duration = scenario.KindSubscribe, conns, 0, scenario.Duration(pause+time.Second)
	spec.Open = []scenario.StepSpec{{Send: `{"subscribe":{{conn}}}`}}
	spec.Stream = &scenario.StreamSpec{Match: "$.seq", Seq: "$.seq", Stall: scenario.Duration(pause / 2)}
	spec.Rules = []scenario.RuleSpec{{When: "$.type==ping", Reply: `{"type":"pong"}`}}
	res, err := Run(context.Background(), Config{Spec: spec, Target: l.url()})
	if err != nil {
		t.Fatal(err)
	}
	close(subscribed)
	close(pongs)
	if n := len(pongs); n != conns || <-pongs != `{"type":"pong"}` {
		t.Errorf("%d heartbeats answered, want %d with the rule's reply", n, conns)
	}
	var subs []string
	for s := range subscribed {
		subs = append(subs, s)
	}
	if len(subs) != conns || (subs[0] != `{"subscribe":0}` && subs[0] != `{"subscribe":1}`) {
		t.Errorf("subscribe messages %q, want one per connection with its index", subs)
	}
	c := res.Snapshot.Counts
	// Per connection: 1 2 4 3 5 7 counted; 6 missing; 3 late; 3 twice; the
	// ack other; one stall between messages, and silent at the end.
	want := metrics.Counts{Stream: 6 * conns, StreamGaps: 1 * conns, StreamLate: 1 * conns, StreamDups: 1 * conns, StreamOther: 1 * conns, StreamStalls: 1 * conns, StreamSilent: 1 * conns}
	got := metrics.Counts{Stream: c.Stream, StreamGaps: c.StreamGaps, StreamLate: c.StreamLate, StreamDups: c.StreamDups, StreamOther: c.StreamOther, StreamStalls: c.StreamStalls, StreamSilent: c.StreamSilent}
	if got != want {
		t.Errorf("stream counts %+v, want %+v", got, want)
	}
	g := res.Snapshot.Hist[metrics.Gap]
	if g.Count() != 6*conns || g.Percentile(100) < pause {
		t.Errorf("gap: %d values, max %v; want %d, the longest at least the %v pause", g.Count(), g.Percentile(100), 6*conns, pause)
	}
	if res.Snapshot.Hist[metrics.Delivery].Count() != 0 {
		t.Errorf("delivery recorded without a sent field")
	}
	if res.Mismatch != nil && res.Mismatch.Reason != StopNoStream {
		t.Errorf("mismatch %+v", res.Mismatch)
	}
}

// BenchmarkStreamMessage is one stream message accounted for on an event
// loop: matched, its place in the sequence, its gap and one-way latency
// recorded in the loop's shard (0 allocs).
func BenchmarkStreamMessage(b *testing.B) {
	w, c, _ := benchWorker(b, IOSyscalls, 64, false)
	seq, sent := flow.MustMatcher("$.seq"), flow.MustMatcher("$.sent_ns")
	w.run.stream = &flow.Stream{Match: flow.MustMatcher("$.seq"), Seq: &seq, Sent: &sent, Unit: time.Nanosecond, Stall: time.Second}
	w.startStream(c)
	msgs := make([][]byte, 1024)
	now := time.Now().UnixNano()
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, `{"seq":%d,"sent_ns":%d}`, i+1, now)
	}
	w.streamMessage(c, msgs[0], len(msgs[0]), 1) // the shard's histograms
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := (i + 1) % len(msgs)
		if k == 0 {
			w.startStream(c)
		}
		if !w.streamMessage(c, msgs[k], len(msgs[k]), int64(i)*1000) {
			b.Fatal("not a stream message")
		}
	}
	b.StopTimer()
	if cn := w.shard.Counts; cn.StreamGaps != 0 || cn.StreamDups != 0 {
		b.Fatalf("counts %+v", cn)
	}
}

// TestRequestStream: a request run against a server that answers each
// JSON-RPC call by id and also pushes a numbered stream on the same
// connection: every reply finds its request, and every pushed message,
// which no request claims, is the stream's (none unsolicited), in order.
func TestRequestStream(t *testing.T) {
	const conns, pushes = 2, 40
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		var mu sync.Mutex
		write := func(p []byte) error {
			mu.Lock()
			defer mu.Unlock()
			return wsutil.WriteServerMessage(c, ws.OpText, p)
		}
		go func() {
			for seq := 1; seq <= pushes; seq++ {
				if write(fmt.Appendf(nil, `{"seq":%d}`, seq)) != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		for {
			msg, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			var req struct{ ID json.RawMessage }
			if json.Unmarshal(msg, &req) != nil || write(fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%s,"result":true}`, req.ID)) != nil {
				return
			}
		}
	})
	spec := requestSpec(conns, 2*time.Second) // the stream takes 0.4 s: room for a busy machine
	spec.Warmup, spec.Rate = 0, 50
	spec.Stream = &scenario.StreamSpec{Match: "$.seq", Seq: "$.seq"}
	res, err := Run(context.Background(), Config{Spec: spec, Target: l.url()})
	if err != nil {
		t.Fatal(err)
	}
	c := checkRequests(t, res)
	if c.Stream != conns*pushes || c.StreamGaps != 0 || c.StreamDups != 0 || c.StreamLate != 0 {
		t.Errorf("stream %d (gaps %d, duplicates %d, late %d), want %d in order", c.Stream, c.StreamGaps, c.StreamDups, c.StreamLate, conns*pushes)
	}
}
