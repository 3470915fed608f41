package protocols

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// nodeDir holds the pinned third-party servers (package-lock.json) and their
// launchers.
const nodeDir = "testdata/node"

// Bounds of one peer's test: start-up on a busy 2-core CI machine, then the
// whole exchange.
const (
	startTimeout    = 20 * time.Second
	exchangeTimeout = 10 * time.Second
)

// findNode returns the node binary once it has checked that the peers' npm
// packages are installed, or skips the test (fails it under CI=true).
func findNode(t *testing.T) string {
	t.Helper()
	const hint = "this test needs node on PATH and `npm ci` run in protocols/testdata/node (.ci/run does it)"
	missing := func(format string, a ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, a...) + ": " + hint
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found on PATH (%v)", err)
	}
	for _, pkg := range []string{"ws", "rpc-websockets", "graphql-ws", "graphql", "socket.io", "aedes", "stomp-broker-js"} {
		if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", pkg, "package.json")); err != nil {
			missing("Node package %s is not installed (%v)", pkg, err)
		}
	}
	return node
}

// startPeer runs a launcher of testdata/node on a free loopback port and
// returns its address once it printed "listening on ADDR". The peer is
// stopped when the test ends (and exits by itself when its stdin closes).
func startPeer(t *testing.T, launcher string, flags ...string) string {
	t.Helper()
	node := findNode(t)
	cmd := exec.Command(node, append([]string{launcher, "--port", "0"}, flags...)...)
	cmd.Dir = nodeDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", launcher, stderr.String())
		}
	})
	lines := make(chan string, 1)
	go scanListening(stdout, lines)
	select {
	case addr := <-lines:
		t.Logf("%s %s: listening on %s after %v", launcher, strings.Join(flags, " "), addr, time.Since(start).Round(time.Millisecond))
		return addr
	case <-time.After(startTimeout):
		t.Fatalf("%s printed no \"listening on\" line in %v", launcher, startTimeout)
		return ""
	}
}

// scanListening sends the address of a peer's "listening on ADDR" line to
// lines (once; lines must have room for it) and reads the rest of its
// output to the end, so the peer never blocks on a full pipe.
func scanListening(r io.Reader, lines chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			lines <- addr
			break
		}
	}
	io.Copy(io.Discard, r)
}

// dial opens a WebSocket connection offering protocols and returns it with
// the subprotocol the server chose; every read and write has to be done by
// the end of exchangeTimeout.
func dial(t *testing.T, url string, protocols ...string) (net.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exchangeTimeout)
	defer cancel()
	conn, br, hs, err := ws.Dialer{Protocols: protocols}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(exchangeTimeout))
	if br != nil {
		// The server spoke first (socket.io's open packet) and its first
		// frames came with the handshake's reply: they are in br, not in
		// the socket, and must be read before it.
		conn = bufferedConn{conn, br}
	}
	return conn, hs.Protocol
}

// bufferedConn reads what the handshake left buffered before the socket.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func send(t *testing.T, conn net.Conn, op ws.OpCode, msg string) {
	t.Helper()
	if err := wsutil.WriteClientMessage(conn, op, []byte(msg)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
}

// read returns the next data message (the control frames are answered).
func read(t *testing.T, conn net.Conn) ([]byte, ws.OpCode) {
	t.Helper()
	msg, op, err := wsutil.ReadServerData(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return msg, op
}

func readText(t *testing.T, conn net.Conn) string {
	t.Helper()
	msg, op := read(t, conn)
	if op != ws.OpText {
		t.Fatalf("got a %v message % x, want text", op, msg)
	}
	return string(msg)
}

// TestPeerJSONRPC: rpc-websockets answers each request by its id, a
// method's reply never comes before its delay, and the replies to
// concurrent calls come back in the order their delays end, not the order
// sent; an error is a JSON-RPC error object; rpc.on subscribes to a
// sequenced stream.
func TestPeerJSONRPC(t *testing.T) {
	t.Parallel()
	const delay = 30 * time.Millisecond
	addr := startPeer(t, "jsonrpc.js", "--delay", "30", "--rate", "50")
	conn, _ := dial(t, "ws://"+addr+"/")

	sent := time.Now()
	send(t, conn, ws.OpText, `{"jsonrpc":"2.0","id":7,"method":"sleep","params":[400]}`)
	send(t, conn, ws.OpText, `{"jsonrpc":"2.0","id":8,"method":"echo","params":["a",1]}`)
	send(t, conn, ws.OpText, `{"jsonrpc":"2.0","id":9,"method":"fail"}`)
	want := map[int]struct {
		min  time.Duration
		body string
	}{
		7: {400 * time.Millisecond, `"result":"slept"`},
		8: {delay, `"result":["a",1]`},
		9: {delay, `"error":{"code":-32001,"message":"fail"}`},
	}
	var order []int
	for len(order) < 3 {
		msg := readText(t, conn)
		elapsed := time.Since(sent)
		var r struct {
			JSONRPC string `json:"jsonrpc"`
			ID      int    `json:"id"`
		}
		if err := json.Unmarshal([]byte(msg), &r); err != nil || r.JSONRPC != "2.0" {
			t.Fatalf("reply %s: not JSON-RPC 2.0 (%v)", msg, err)
		}
		w, ok := want[r.ID]
		if !ok {
			t.Fatalf("reply %s: id %d answers no request (or answers one twice)", msg, r.ID)
		}
		delete(want, r.ID)
		if !strings.Contains(msg, w.body) {
			t.Errorf("reply to id %d: %s, want it to contain %s", r.ID, msg, w.body)
		}
		if elapsed < w.min {
			t.Errorf("reply to id %d after %v, before the server's delay %v", r.ID, elapsed, w.min)
		}
		order = append(order, r.ID)
	}
	// id 7 sleeps 400ms, the others 30ms: unless the peer stalled for
	// 370ms, 7 comes last. Logged, not asserted: the match by id above is
	// the truth that must hold whatever the order.
	t.Logf("reply order %v", order)

	send(t, conn, ws.OpText, `{"jsonrpc":"2.0","id":10,"method":"rpc.on","params":["tick"]}`)
	var seqs []int
	for len(seqs) < 3 {
		msg := readText(t, conn)
		if strings.Contains(msg, `"id":10`) {
			if !strings.Contains(msg, `"result":{"tick":"ok"}`) {
				t.Fatalf("rpc.on reply %s", msg)
			}
			continue
		}
		var n struct {
			Notification string `json:"notification"`
			Params       struct {
				Seq    int   `json:"seq"`
				SentNs int64 `json:"sent_ns"`
			} `json:"params"`
		}
		if err := json.Unmarshal([]byte(msg), &n); err != nil || n.Notification != "tick" || n.Params.Seq < 1 || n.Params.SentNs <= 0 {
			t.Fatalf("notification %s: want tick with seq and sent_ns (%v)", msg, err)
		}
		if len(seqs) > 0 && n.Params.Seq != seqs[len(seqs)-1]+1 {
			t.Errorf("tick seq %d after %d", n.Params.Seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, n.Params.Seq)
	}
}

// TestPeerGraphQLWS: graphql-ws acknowledges connection_init, answers a
// query with one next and a complete for its id, and streams a
// subscription's --count ticks in sequence, then completes it.
func TestPeerGraphQLWS(t *testing.T) {
	t.Parallel()
	addr := startPeer(t, "graphql.js", "--delay", "20", "--rate", "50", "--count", "3")
	conn, proto := dial(t, "ws://"+addr+"/", "graphql-transport-ws")
	if proto != "graphql-transport-ws" {
		t.Fatalf("subprotocol %q, want graphql-transport-ws", proto)
	}
	send(t, conn, ws.OpText, `{"type":"connection_init"}`)
	if msg := readText(t, conn); msg != `{"type":"connection_ack"}` {
		t.Fatalf("after connection_init: %s, want connection_ack", msg)
	}
	sent := time.Now()
	send(t, conn, ws.OpText, `{"id":"q1","type":"subscribe","payload":{"query":"{ hello }"}}`)
	if msg := readText(t, conn); msg != `{"id":"q1","type":"next","payload":{"data":{"hello":"world"}}}` {
		t.Fatalf("query reply %s", msg)
	}
	if elapsed := time.Since(sent); elapsed < 20*time.Millisecond {
		t.Errorf("query answered after %v, before the server's delay 20ms", elapsed)
	}
	if msg := readText(t, conn); msg != `{"id":"q1","type":"complete"}` {
		t.Fatalf("after the query's next: %s, want complete", msg)
	}
	send(t, conn, ws.OpText, `{"id":"s1","type":"subscribe","payload":{"query":"subscription { ticks { seq sentNs } }"}}`)
	for seq := 1; seq <= 3; seq++ {
		msg := readText(t, conn)
		var m struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Payload struct {
				Data struct {
					Ticks struct {
						Seq    int     `json:"seq"`
						SentNs float64 `json:"sentNs"`
					} `json:"ticks"`
				} `json:"data"`
			} `json:"payload"`
		}
		if err := json.Unmarshal([]byte(msg), &m); err != nil || m.ID != "s1" || m.Type != "next" ||
			m.Payload.Data.Ticks.Seq != seq || m.Payload.Data.Ticks.SentNs <= 0 {
			t.Fatalf("subscription message %d: %s (%v)", seq, msg, err)
		}
	}
	if msg := readText(t, conn); msg != `{"id":"s1","type":"complete"}` {
		t.Fatalf("after 3 ticks: %s, want complete", msg)
	}
}

// TestPeerSocketIO: socket.io sends the Engine.IO open packet with its ping
// interval, accepts the namespace connect, acks an event (43<id>) no
// earlier than its delay, and pings the client.
func TestPeerSocketIO(t *testing.T) {
	t.Parallel()
	addr := startPeer(t, "socketio.js", "--delay", "20", "--ping-interval", "300")
	conn, _ := dial(t, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket")
	open := readText(t, conn)
	var o struct {
		SID          string `json:"sid"`
		PingInterval int    `json:"pingInterval"`
	}
	if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &o) != nil || o.SID == "" || o.PingInterval != 300 {
		t.Fatalf("open packet %s, want 0{\"sid\":…,\"pingInterval\":300,…}", open)
	}
	send(t, conn, ws.OpText, "40")
	if msg := readText(t, conn); !strings.HasPrefix(msg, `40{"sid":`) {
		t.Fatalf("namespace connect answered %s, want 40{\"sid\":…}", msg)
	}
	sent := time.Now()
	send(t, conn, ws.OpText, `421["echo","hi",{"n":1}]`)
	acked, pinged := false, 0
	for !acked || pinged < 2 {
		switch msg := readText(t, conn); {
		case msg == "2":
			pinged++
			send(t, conn, ws.OpText, "3")
		case msg == `431["hi",{"n":1}]`:
			if acked {
				t.Fatal("ack 1 came twice")
			}
			acked = true
			if elapsed := time.Since(sent); elapsed < 20*time.Millisecond {
				t.Errorf("ack after %v, before the server's delay 20ms", elapsed)
			}
		default:
			t.Fatalf("unexpected packet %s", msg)
		}
	}
}

// TestPeerMQTT: aedes over WebSocket picks subprotocol mqtt, answers CONNECT
// with CONNACK (accepted), SUBSCRIBE with SUBACK, and delivers the broker's
// ticks on the subscribed topic as binary PUBLISH packets.
func TestPeerMQTT(t *testing.T) {
	t.Parallel()
	addr := startPeer(t, "mqtt.js", "--rate", "50")
	conn, proto := dial(t, "ws://"+addr+"/", "mqtt")
	if proto != "mqtt" {
		t.Fatalf("subprotocol %q, want mqtt", proto)
	}
	// MQTT over WebSocket lets a frame carry part of a packet or several
	// (aedes writes a packet's fixed header and its rest as two messages):
	// packets are cut from the stream of binary messages.
	var stream []byte
	packet := func() []byte {
		t.Helper()
		for {
			// Fixed header: type byte, remaining length (varint, ≤ 4 bytes).
			if len(stream) >= 2 {
				n, shift, i := 0, 0, 1
				for ; i < len(stream) && i <= 4; i++ {
					n |= int(stream[i]&0x7f) << shift
					shift += 7
					if stream[i]&0x80 == 0 {
						break
					}
				}
				if i < len(stream) && len(stream) >= i+1+n {
					p := stream[:i+1+n]
					stream = stream[i+1+n:]
					return p
				}
			}
			msg, op := read(t, conn)
			if op != ws.OpBinary {
				t.Fatalf("a %v message % x, want binary", op, msg)
			}
			stream = append(stream, msg...)
		}
	}
	// CONNECT, MQTT 3.1.1, clean session, keep-alive 60s, client id "wsb".
	send(t, conn, ws.OpBinary, "\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03wsb")
	if p := packet(); string(p) != "\x20\x02\x00\x00" {
		t.Fatalf("after CONNECT: % x, want CONNACK 20 02 00 00", p)
	}
	// SUBSCRIBE packet id 1, topic "ticks", QoS 0.
	send(t, conn, ws.OpBinary, "\x82\x0a\x00\x01\x00\x05ticks\x00")
	if p := packet(); string(p) != "\x90\x03\x00\x01\x00" {
		t.Fatalf("after SUBSCRIBE: % x, want SUBACK 90 03 00 01 00", p)
	}
	last := 0
	for n := 0; n < 3; n++ {
		msg := packet()
		// PUBLISH QoS 0: 0x30, remaining length (1 byte here), topic, payload.
		if len(msg) < 9 || msg[0] != 0x30 || string(msg[4:9]) != "ticks" {
			t.Fatalf("delivery %d: % x, want PUBLISH on ticks", n, msg)
		}
		var tick struct {
			Seq    int   `json:"seq"`
			SentNs int64 `json:"sent_ns"`
		}
		if err := json.Unmarshal(msg[9:], &tick); err != nil || tick.Seq <= last || tick.SentNs <= 0 {
			t.Fatalf("delivery %d payload %q after seq %d (%v)", n, msg[9:], last, err)
		}
		if last > 0 && tick.Seq != last+1 {
			t.Errorf("seq %d after %d", tick.Seq, last)
		}
		last = tick.Seq
	}
	// Publish through the broker at QoS 1: SUBSCRIBE "echo" (QoS 1, id 3),
	// PUBLISH "hi" (QoS 1, id 2) → PUBACK for 2 and the delivery to
	// ourselves; then PINGREQ → PINGRESP. The ticks keep coming meanwhile.
	send(t, conn, ws.OpBinary, "\x82\x09\x00\x03\x00\x04echo\x01")
	send(t, conn, ws.OpBinary, "\x32\x0a\x00\x04echo\x00\x02hi")
	send(t, conn, ws.OpBinary, "\xc0\x00")
	var suback, puback, delivered, pingresp bool
	for !suback || !puback || !delivered || !pingresp {
		p := packet()
		switch {
		case p[0] == 0x30 && string(p[4:9]) == "ticks":
		case string(p) == "\x90\x03\x00\x03\x01":
			suback = true
		case string(p) == "\x40\x02\x00\x02":
			puback = true
		case p[0]&0xf6 == 0x32 && len(p) >= 10 && string(p[2:8]) == "\x00\x04echo" && string(p[10:]) == "hi":
			if delivered {
				t.Fatal("delivered twice")
			}
			delivered = true
			send(t, conn, ws.OpBinary, "\x40\x02"+string(p[8:10])) // PUBACK it
		case string(p) == "\xd0\x00":
			pingresp = true
		default:
			t.Fatalf("unexpected packet % x (suback %v puback %v delivered %v pingresp %v)", p, suback, puback, delivered, pingresp)
		}
	}
}

// TestPeerSTOMP: stomp-broker-js answers CONNECT with CONNECTED and
// delivers the broker's ticks to a subscription as MESSAGE frames.
func TestPeerSTOMP(t *testing.T) {
	t.Parallel()
	addr := startPeer(t, "stomp.js", "--rate", "50")
	conn, _ := dial(t, "ws://"+addr+"/stomp", "v12.stomp", "v11.stomp")
	send(t, conn, ws.OpText, "CONNECT\naccept-version:1.1,1.2\nhost:localhost\nheart-beat:0,0\n\n\x00")
	if msg := readText(t, conn); !strings.HasPrefix(msg, "CONNECTED\n") || !strings.Contains(msg, "\nversion:1.") {
		t.Fatalf("after CONNECT: %q, want CONNECTED with a version", msg)
	}
	send(t, conn, ws.OpText, "SUBSCRIBE\nid:0\ndestination:/topic/ticks\nack:auto\n\n\x00")
	last := 0
	for n := 0; n < 3; n++ {
		msg := readText(t, conn)
		head, body, ok := strings.Cut(msg, "\n\n")
		if !strings.HasPrefix(head, "MESSAGE\n") || !ok || !strings.Contains(head, "\nsubscription:0") {
			t.Fatalf("frame %d: %q, want MESSAGE for subscription 0", n, msg)
		}
		var tick struct {
			Seq int `json:"seq"`
		}
		if err := json.Unmarshal([]byte(strings.TrimRight(body, "\x00\n")), &tick); err != nil || tick.Seq <= last {
			t.Fatalf("frame %d body %q after seq %d (%v)", n, body, last, err)
		}
		if last > 0 && tick.Seq != last+1 {
			t.Errorf("seq %d after %d", tick.Seq, last)
		}
		last = tick.Seq
	}
	// Publish through the broker from a second connection (this broker
	// does not deliver a client's messages to its own subscriptions), with
	// a receipt; then DISCONNECT it with a receipt.
	send(t, conn, ws.OpText, "SUBSCRIBE\nid:1\ndestination:/topic/echo\nack:auto\n\n\x00")
	pub, _ := dial(t, "ws://"+addr+"/stomp", "v12.stomp", "v11.stomp")
	send(t, pub, ws.OpText, "CONNECT\naccept-version:1.1,1.2\nhost:localhost\nheart-beat:0,0\n\n\x00")
	if msg := readText(t, pub); !strings.HasPrefix(msg, "CONNECTED\n") {
		t.Fatalf("publisher after CONNECT: %q", msg)
	}
	send(t, pub, ws.OpText, "SEND\ndestination:/topic/echo\ncontent-type:text/plain\nreceipt:5\n\nhi\x00")
	if msg := readText(t, pub); !strings.HasPrefix(msg, "RECEIPT\n") || !strings.Contains(msg, "\nreceipt-id:5") {
		t.Fatalf("after SEND with receipt 5: %q, want RECEIPT 5", msg)
	}
	for {
		msg := readText(t, conn)
		if strings.Contains(msg, "\nsubscription:0") {
			continue // a tick
		}
		head, body, _ := strings.Cut(msg, "\n\n")
		if !strings.HasPrefix(head, "MESSAGE\n") || !strings.Contains(head, "\nsubscription:1") || strings.TrimRight(body, "\x00\n") != "hi" {
			t.Fatalf("subscriber after SEND: %q, want MESSAGE hi for subscription 1", msg)
		}
		break
	}
	send(t, pub, ws.OpText, "DISCONNECT\nreceipt:77\n\n\x00")
	if msg := readText(t, pub); !strings.HasPrefix(msg, "RECEIPT\n") || !strings.Contains(msg, "\nreceipt-id:77") {
		t.Fatalf("after DISCONNECT: %q, want RECEIPT 77", msg)
	}
}
