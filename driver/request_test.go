package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/server"
)

// startBundledRPC starts the bundled server in rpc mode with delay (the
// --delay syntax) and returns its URL.
func startBundledRPC(t *testing.T, delay string) string {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Mode = server.ModeRPC
	if delay != "" {
		d, err := server.ParseDelay(delay)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Delay = d
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "ws://" + addr.String() + "/"
}

// requestSpec is a request run of conns connections for d, JSON-RPC
// requests correlated by $.id.
func requestSpec(conns int, d time.Duration) scenario.Spec {
	s := quickSpec(conns, d)
	s.Kind = scenario.KindRequest
	s.Request = &scenario.RequestSpec{Send: scenario.BundledRequest, Key: []string{"$.id"}, Error: "$.error.code"}
	return s
}

// checkRequests asserts what every clean request run shows: every request
// answered (none timed out, failed or unsolicited), counts that balance.
func checkRequests(t *testing.T, res *Result) metrics.Counts {
	t.Helper()
	c := res.Snapshot.Counts
	if res.StopReason != StopCompleted || res.Mismatch != nil {
		t.Errorf("stop reason %q, mismatch %+v", res.StopReason, res.Mismatch)
	}
	if !c.Balanced() {
		t.Errorf("counts do not balance: %+v", c)
	}
	if c.Sent == 0 || c.Received+c.InFlight != c.Sent || c.TimedOut != 0 || c.Failed != 0 || c.Unsolicited != 0 || c.Lost != 0 {
		t.Errorf("sent %d answered %d in flight %d timed out %d failed %d unsolicited %d lost %d",
			c.Sent, c.Received, c.InFlight, c.TimedOut, c.Failed, c.Unsolicited, c.Lost)
	}
	if len(res.Snapshot.Errors) != 0 {
		t.Errorf("errors %v", res.Snapshot.Errors)
	}
	if n := res.Snapshot.Hist[metrics.RTT].Count(); n != c.Received {
		t.Errorf("%d rtt samples for %d answered", n, c.Received)
	}
	return c
}

// TestRequestDelay: against a server that answers each request 20ms late,
// no request's latency, corrected or not, is below 20ms, and the open
// model's schedule is kept exactly: rate × window requests due.
func TestRequestDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	url := startBundledRPC(t, "20ms")
	spec := requestSpec(10, time.Second)
	spec.Rate = 500
	stop := schedwatch.Watch()
	res, err := Run(context.Background(), Config{Spec: spec, Target: url})
	sched := stop()
	if err != nil {
		t.Fatal(err)
	}
	c := checkRequests(t, res)
	for _, m := range []metrics.Metric{metrics.RTT, metrics.RTTUncorrected} {
		s := res.Snapshot.Hist[m].Summary()
		min, max := time.Duration(s.MinUs)*time.Microsecond, time.Duration(s.MaxUs)*time.Microsecond
		// (The histogram keeps 3 significant digits: its min may read up to 0.1% low.)
		if min < delay-delay/1000 {
			t.Errorf("%s min %v below the server's delay %v", m, min, delay)
		}
		// Generous: the delay, plus a second, plus what the machine held the test up.
		if max > delay+time.Second+sched.Max {
			t.Errorf("%s max %v, far above the delay %v (scheduling delay seen %v)", m, max, delay, sched.Max)
		}
	}
	want := spec.Rate * res.Measured().Seconds()
	if due := float64(c.Sent + c.Unsent); due < want-10 || due > want+10 {
		t.Errorf("sent %d and unsent %d in %v, want %v due (±1 a connection)", c.Sent, c.Unsent, res.Measured(), want)
	}
}

// TestRequestOutOfOrder: the server draws each reply's delay from 1–60ms,
// so one connection's replies come back in another order than its
// requests went out (checked first on a plain connection); every reply
// still finds its request: none unsolicited, none timed out, none late.
func TestRequestOutOfOrder(t *testing.T) {
	url := startBundledRPC(t, "1ms-60ms")
	if order := replyOrder(t, url, 20); isSorted(order) {
		t.Fatalf("replies came back in order %v: the test needs a server that reorders them", order)
	}
	spec := requestSpec(2, time.Second)
	spec.Rate = 400 // 200/s a connection: about 6 in flight on each
	res, err := Run(context.Background(), Config{Spec: spec, Target: url})
	if err != nil {
		t.Fatal(err)
	}
	c := checkRequests(t, res)
	if c.Received < 300 {
		t.Errorf("answered %d, want about 400", c.Received)
	}
	if min := time.Duration(res.Snapshot.Hist[metrics.RTTUncorrected].Summary().MinUs) * time.Microsecond; min < time.Millisecond-time.Millisecond/1000 {
		t.Errorf("rtt_uncorrected min %v below the server's least delay 1ms", min)
	}
}

// replyOrder sends n requests on one plain connection at once and returns
// the ids of the replies in the order they came.
func replyOrder(t *testing.T, url string, n int) []int {
	t.Helper()
	nc, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for i := 1; i <= n; i++ {
		msg := strings.ReplaceAll(scenario.BundledRequest, "{{id}}", itoa(i))
		msg = strings.ReplaceAll(msg, "{{conn}}", "0")
		if err := wsutil.WriteClientText(nc, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	var rd = bufio.NewReader(nc)
	if br != nil {
		rd = br
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var order []int
	for range n {
		p, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{rd, nc})
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ ID int }
		if err := json.Unmarshal(p, &r); err != nil {
			t.Fatal(err)
		}
		order = append(order, r.ID)
	}
	return order
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func isSorted(s []int) bool {
	for i := 1; i < len(s); i++ {
		if s[i] < s[i-1] {
			return false
		}
	}
	return true
}

// silentServer upgrades every connection, writes hello (if any) and then
// reads and never answers.
func silentServer(t *testing.T, hello string) string {
	t.Helper()
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		if hello != "" {
			wsutil.WriteServerText(c, []byte(hello))
		}
		for {
			if _, _, err := wsutil.ReadClientData(c); err != nil {
				return
			}
		}
	})
	t.Cleanup(l.close)
	return l.url()
}

// TestRequestWithheld: a server that never answers gets every request
// timed out (closed model: the next is sent when the last times out), the
// counts still balance, and the verdict says what was expected and that
// nothing came back.
func TestRequestWithheld(t *testing.T) {
	url := silentServer(t, "")
	spec := requestSpec(3, 700*time.Millisecond)
	spec.Warmup = 0
	spec.Request.Timeout = scenario.Duration(100 * time.Millisecond)
	res, err := Run(context.Background(), Config{Spec: spec, Target: url})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Snapshot.Counts
	if !c.Balanced() {
		t.Errorf("counts do not balance: %+v", c)
	}
	// Each connection: a request every 100ms for 700ms, the last in flight or timed out.
	if c.Received != 0 || c.TimedOut < 3*4 || c.TimedOut > 3*8 || c.Sent != c.TimedOut+c.InFlight {
		t.Errorf("sent %d answered %d timed out %d in flight %d", c.Sent, c.Received, c.TimedOut, c.InFlight)
	}
	if got := res.Snapshot.Errors["request_timeout"]; got != c.TimedOut {
		t.Errorf("request_timeout errors %d, timed out %d", got, c.TimedOut)
	}
	m := res.Mismatch
	if m == nil || m.Reason != metrics.StopNoReply || m.Kind != "request_timeout" || m.Expect != "$.id" || m.GotLen != 0 ||
		!strings.Contains(string(m.Sent), `"method":"echo"`) || m.Timeout != 100*time.Millisecond {
		t.Errorf("mismatch %+v", m)
	}
}

// TestRequestNotProtocol: a server that answers with something no key
// matcher reads (here: the same greeting to every message) stops the run
// within about a second as no_reply, the reply counted unsolicited and kept
// for the verdict.
func TestRequestNotProtocol(t *testing.T) {
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		for {
			if _, _, err := wsutil.ReadClientData(c); err != nil {
				return
			}
			wsutil.WriteServerText(c, []byte(`{"greeting":"hello"}`))
		}
	})
	t.Cleanup(l.close)
	spec := requestSpec(2, 20*time.Second)
	spec.Rate = 100
	spec.Request.Timeout = scenario.Duration(time.Second) // the verdict waits a request's timeout
	start := time.Now()
	res, err := Run(context.Background(), Config{Spec: spec, Target: l.url()})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v of its 20s", took)
	}
	m := res.Mismatch
	if res.StopReason != metrics.StopNoReply || m == nil || m.Kind != "unsolicited" || string(m.Got) != `{"greeting":"hello"}` || m.Expect != "$.id" {
		t.Errorf("stop %q, mismatch %+v", res.StopReason, m)
	}
	if c := res.Snapshot.Counts; c.Unsolicited == 0 || c.Received != 0 || !c.Balanced() {
		t.Errorf("counts %+v", c)
	}
}

// TestRequestOpen: each connection says {"type":"init"} and waits for the
// ack, capturing its session id; the server sends the ack and, in the same
// write, a notification, which the event loop must still get (the opening
// leaves it as the connection's carry) and count as unsolicited. Requests
// then carry the captured id ({{sid}}), which the server checks: it answers
// only those.
func TestRequestOpen(t *testing.T) {
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		p, _, err := wsutil.ReadClientData(c)
		if err != nil || !strings.HasPrefix(string(p), `{"type":"init","conn":`) {
			return
		}
		var both []byte
		for _, m := range []string{`{"type":"ack","sid":"s-7"}`, `{"type":"note"}`} {
			var b strings.Builder
			wsutil.WriteServerText(&writer{&b}, []byte(m))
			both = append(both, b.String()...)
		}
		c.Write(both)
		for {
			p, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			var r struct {
				ID  json.RawMessage
				SID string
			}
			if json.Unmarshal(p, &r) == nil && r.SID == "s-7" {
				wsutil.WriteServerText(c, []byte(`{"id":`+string(r.ID)+`,"result":1}`))
			}
		}
	})
	t.Cleanup(l.close)
	spec := requestSpec(3, 300*time.Millisecond)
	spec.Warmup = 0
	spec.Open = []scenario.StepSpec{{Send: `{"type":"init","conn":{{conn}}}`}, {Expect: "$.type==ack", Timeout: scenario.Duration(2 * time.Second), Capture: []string{"sid=$.sid"}}}
	spec.Request.Send = `{"id":{{id}},"sid":"{{sid}}"}`
	spec.Request.Timeout = scenario.Duration(time.Second)
	res, err := Run(context.Background(), Config{Spec: spec, Target: l.url()})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Snapshot.Counts
	if c.ConnsOpened != 3 || c.ConnsFailed != 0 || c.Unsolicited != 3 || c.Received == 0 || c.TimedOut != 0 || !c.Balanced() {
		t.Errorf("counts %+v, errors %v", c, res.Snapshot.Errors)
	}
}

type writer struct{ b *strings.Builder }

func (w *writer) Write(p []byte) (int, error) { return w.b.Write(p) }

// TestRequestOpenFails: a server that greets with the wrong message fails
// every connection's opening as open_mismatch, one that says nothing as
// open_timeout; the run keeps what was expected and what came for its line.
func TestRequestOpenFails(t *testing.T) {
	for _, tc := range []struct {
		name, hello, kind string
	}{
		{"mismatch", `{"type":"error","reason":"who are you"}`, "open_mismatch"}, // another message came
		{"timeout", "", "open_timeout"},                                          // nothing came
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := silentServer(t, tc.hello)
			spec := requestSpec(2, 300*time.Millisecond)
			spec.Open = []scenario.StepSpec{{Send: `{"type":"connection_init"}`}, {Expect: "$.type==connection_ack", Timeout: scenario.Duration(200 * time.Millisecond)}}
			res, err := Run(context.Background(), Config{Spec: spec, Target: url})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Snapshot.Counts
			if res.StopReason != StopNoConnections || c.ConnsFailed != 2 || res.Snapshot.Errors[tc.kind] != 2 {
				t.Errorf("stop %q, counts %+v, errors %v", res.StopReason, c, res.Snapshot.Errors)
			}
			m := res.Mismatch
			if m == nil || m.Reason != metrics.StopOpenFailed || m.Kind != tc.kind || m.Expect != "$.type==connection_ack" ||
				string(m.Got) != tc.hello || string(m.Sent) != `{"type":"connection_init"}` || m.Timeout != 200*time.Millisecond {
				t.Errorf("mismatch %+v", m)
			}
		})
	}
}

// TestRequestCorrelates: a server that answers odd ids 80ms late and even
// ids at once makes each even request overtake the odd one before it. Only
// a reply matched to its own request by id gives exactly the odd requests
// a latency of 80ms or more (matching replies to the oldest request in
// flight would give the 80ms to even ones and fewer of them).
func TestRequestCorrelates(t *testing.T) {
	const slow = 80 * time.Millisecond
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
			var r struct{ ID int }
			json.Unmarshal(p, &r)
			reply := []byte(`{"id":` + itoa(r.ID) + `,"result":0}`)
			d := time.Duration(0)
			if r.ID%2 == 1 {
				d = slow
			}
			time.AfterFunc(d, func() {
				mu.Lock()
				defer mu.Unlock()
				wsutil.WriteServerText(c, reply)
			})
		}
	})
	t.Cleanup(l.close)
	spec := requestSpec(1, time.Second)
	spec.Warmup = 0
	spec.Rate = 50 // a request every 20ms: each even one overtakes the odd one before it
	res, err := Run(context.Background(), Config{Spec: spec, Target: l.url()})
	if err != nil {
		t.Fatal(err)
	}
	c := checkRequests(t, res)
	if c.InFlight != 0 {
		t.Fatalf("%d still in flight: the test needs every request answered", c.InFlight)
	}
	odd := (c.Received + 1) / 2 // ids 1 … Received, all measured
	h := res.Snapshot.Hist[metrics.RTTUncorrected]
	if got := countAbove(h, slow-slow/1000); got != odd {
		t.Errorf("%d of %d requests took %v or more, want the %d odd ones", got, c.Received, slow, odd)
	}
}

// lenPackets is a protocol whose packets are a length byte and that many
// bytes, cut out of the messages as MQTT's are (flow.Packets).
type lenPackets struct{}

func (lenPackets) Next(b []byte) (int, error) {
	if len(b) == 0 || len(b) < 1+int(b[0]) {
		return 0, nil
	}
	return 1 + int(b[0]), nil
}

// TestRequestPackets: with Protocol.Packets a packet may span messages and
// a message hold several. The server splits its opening's ack over two
// messages, the second also holding a notice packet (which the loop must
// get and count unsolicited), and answers requests by writing the reply
// packets of the requests it got in messages cut at other places than the
// packets. Every request is still answered, none unsolicited but the
// notices, no packet error.
func TestRequestPackets(t *testing.T) {
	const conns = 2
	l := listenLoopback(t, func(c net.Conn, _ int64) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		if p, _, err := wsutil.ReadClientData(c); err != nil || string(p) != "\x01C" {
			return
		}
		wsutil.WriteServerBinary(c, []byte{0x02, 'K'})
		wsutil.WriteServerBinary(c, []byte{0x00, 0x01, 'N'}) // the ack's end, then a notice
		var pend []byte
		for {
			p, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			// Requests \x03 R id(2) become replies \x03 A id(2); write what
			// is there so far in two messages cut inside a packet.
			if len(p) != 4 || p[0] != 3 || p[1] != 'R' {
				return
			}
			pend = append(pend, 3, 'A', p[2], p[3])
			if len(pend) >= 8 {
				wsutil.WriteServerBinary(c, pend[:3])
				wsutil.WriteServerBinary(c, pend[3:])
				pend = pend[:0]
			}
		}
	})
	t.Cleanup(l.close)
	spec := requestSpec(conns, 500*time.Millisecond)
	spec.Warmup = 0
	spec.Binary = true
	spec.Rate = 200 // replies come two by two: an odd last one stays in flight
	spec.Target = l.url()
	spec.Request = &scenario.RequestSpec{Send: "\x03R{{id:be16}}", Key: []string{"bytes:2:2"}}
	spec.Open = []scenario.StepSpec{{Send: "\x01C"}, {Expect: "bytes:0:2==0x024b"}}
	c, err := scenario.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	c.Protocol.Packets = lenPackets{}
	res, err := Run(context.Background(), Config{Scenario: c, Target: l.url()})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Snapshot.Counts
	if n.ConnsOpened != conns || n.Unsolicited != conns || n.TimedOut != 0 || n.Received < 50 || n.InFlight > conns || !n.Balanced() || len(res.Snapshot.Errors) != 0 {
		t.Errorf("counts %+v, errors %v", n, res.Snapshot.Errors)
	}
}
