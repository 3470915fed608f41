package protocols

import (
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/flow"
)

// speaker says a preset to a real server over one connection, one step at
// a time, as the driver's session layer does (the opening's expects, the
// rules, the request keys), with blocking reads: a check of the preset's
// bytes against the server's, apart from the driver.
type speaker struct {
	t    *testing.T
	conn net.Conn
	p    *flow.Protocol
	vals flow.Values
	buf  []byte // bytes of messages not yet cut into packets (Packets)
}

func speak(t *testing.T, url string, p *flow.Protocol, slot uint64) *speaker {
	t.Helper()
	var offer []string
	if p.Subprotocol != "" {
		offer = append(offer, p.Subprotocol)
	}
	conn, proto := dial(t, url, offer...)
	if p.Subprotocol != "" && proto != p.Subprotocol {
		t.Fatalf("subprotocol %q, want %q", proto, p.Subprotocol)
	}
	s := &speaker{t: t, conn: conn, p: p, vals: flow.Values{Conn: slot}}
	for i, st := range p.Open {
		switch st.Kind {
		case flow.StepSend:
			s.send(st.Send)
		case flow.StepExpect:
			s.conn.SetReadDeadline(time.Now().Add(st.Timeout))
			for {
				msg := s.next()
				if st.Match.Matches(msg) {
					break
				}
				if !s.rule(msg) {
					t.Fatalf("open step %d expects %s, got %q", i, st.Match.Src, msg)
				}
			}
			s.conn.SetReadDeadline(time.Now().Add(exchangeTimeout))
		}
	}
	return s
}

func (s *speaker) send(tp *flow.Template) {
	s.t.Helper()
	s.vals.Now = time.Now().UnixNano()
	op := ws.OpText
	if s.p.Binary {
		op = ws.OpBinary
	}
	send(s.t, s.conn, op, string(tp.Append(nil, &s.vals)))
}

// next is the next message, or with Packets the next packet.
func (s *speaker) next() []byte {
	s.t.Helper()
	for {
		if s.p.Packets != nil && len(s.buf) > 0 {
			n, err := s.p.Packets.Next(s.buf)
			if err != nil {
				s.t.Fatal(err)
			}
			if n > 0 {
				pkt := s.buf[:n:n]
				s.buf = s.buf[n:]
				return pkt
			}
		}
		msg, op := read(s.t, s.conn)
		if (op == ws.OpBinary) != s.p.Binary {
			s.t.Fatalf("a %v message %q from a server of %s", op, msg, s.p.Name)
		}
		if s.p.Packets == nil {
			return msg
		}
		s.buf = append(s.buf, msg...)
	}
}

// rule applies the first rule msg matches (its reply sent), if one does.
func (s *speaker) rule(msg []byte) bool {
	for _, r := range s.p.Rules {
		if r.When.Matches(msg) {
			if r.Reply != nil {
				s.send(r.Reply)
			}
			return true
		}
	}
	return false
}

// reply is what msg is to the requests: the key a request key reads, and
// the value of the error matcher.
func (s *speaker) reply(msg []byte) (key uint64, isReply bool, errValue string) {
	for i := range s.p.Request.Keys {
		m := &s.p.Request.Keys[i]
		if v, ok := m.Value(msg); ok {
			key, isReply = m.Key(v)
			break
		}
	}
	if e := s.p.Request.Error; isReply && e != nil {
		if v, ok := e.Value(msg); ok {
			errValue = string(v)
		}
	}
	return key, isReply, errValue
}

// request sends a request with id and returns its replies (their error
// values: "" for a good one) once Replies came, or an error reply; what
// rules claim is answered, stream messages are counted in s.streamed, and
// any other message fails the test.
func (s *speaker) request(id uint64) []string {
	s.t.Helper()
	s.vals.ID = id
	s.send(s.p.Request.Template)
	s.vals.Seq++
	var got []string
	for len(got) < s.p.Request.Replies {
		msg := s.next()
		key, ok, e := s.reply(msg)
		switch {
		case ok && key == id:
			got = append(got, e)
			if e != "" {
				return got
			}
		case s.rule(msg):
		case s.p.Stream != nil && s.p.Stream.Match.Matches(msg):
		default:
			s.t.Fatalf("request %d: %q is no reply to it (key %d %v)", id, msg, key, ok)
		}
	}
	return got
}

// stream reads until n stream messages came, answering rules; any other
// message fails the test.
func (s *speaker) stream(n int) [][]byte {
	s.t.Helper()
	var got [][]byte
	for len(got) < n {
		msg := s.next()
		switch {
		case s.p.Stream.Match.Matches(msg):
			got = append(got, msg)
		case s.rule(msg):
		default:
			s.t.Fatalf("waiting for the stream: %q", msg)
		}
	}
	return got
}

// TestPresetJSONRPCSpeaks: the jsonrpc preset's calls are answered by
// rpc-websockets under their ids, fail() as error -32001, and rpc.on opens
// the tick stream.
func TestPresetJSONRPCSpeaks(t *testing.T) {
	t.Parallel()
	addr := startPeer(t, "jsonrpc.js", "--delay", "5", "--rate", "50")
	s := speak(t, "ws://"+addr+"/", mustPreset(t, "jsonrpc", map[string]string{"params": `["a",{{seq}}]`}), 0)
	for id := uint64(1); id <= 3; id++ {
		if got := s.request(id); len(got) != 1 || got[0] != "" {
			t.Errorf("echo %d: replies %q", id, got)
		}
	}
	s = speak(t, "ws://"+addr+"/", mustPreset(t, "jsonrpc", map[string]string{"method": "fail"}), 0)
	if got := s.request(7); len(got) != 1 || got[0] != "-32001" {
		t.Errorf("fail: replies %q, want error -32001", got)
	}
	s = speak(t, "ws://"+addr+"/", mustPreset(t, "jsonrpc", map[string]string{"subscribe": "rpc.on", "subscribe_params": `["tick"]`}), 0)
	s.stream(3)
}

// TestPresetGraphQLWSSpeaks: graphql-ws acks the preset's
// connection_init, answers its query with next and complete under the
// request's id, refuses a bad query with an error, and streams the
// subscription.
func TestPresetGraphQLWSSpeaks(t *testing.T) {
	t.Parallel()
	addr := startPeer(t, "graphql.js", "--delay", "5", "--rate", "50")
	url := "ws://" + addr + "/"
	s := speak(t, url, mustPreset(t, "graphql-ws", map[string]string{"query": "{ hello }", "subscription": "subscription { ticks { seq sentNs } }"}), 0)
	for id := uint64(1); id <= 2; id++ {
		if got := s.request(id); len(got) != 2 || got[0] != "" || got[1] != "" {
			t.Errorf("query %d: replies %q, want next and complete", id, got)
		}
	}
	s.stream(3)
	s = speak(t, url, mustPreset(t, "graphql-ws", map[string]string{"query": "{ nope }"}), 0)
	if got := s.request(1); len(got) != 1 || got[0] != "error" {
		t.Errorf("a bad query: replies %q, want an error", got)
	}
}

// TestPresetSocketIOSpeaks: socket.io opens the preset's connection,
// acks its events by id, pings it (answered: the connection lives past
// several ping intervals), and streams the subscribed event.
func TestPresetSocketIOSpeaks(t *testing.T) {
	t.Parallel()
	addr := startPeer(t, "socketio.js", "--delay", "5", "--rate", "50", "--ping-interval", "200")
	p := mustPreset(t, "socketio", map[string]string{"event": "echo", "args": `["hi",{{seq}}]`, "subscribe": "subscribe", "stream": "tick"})
	s := speak(t, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket", p, 0)
	for id := uint64(1); id <= 3; id++ {
		if got := s.request(id); len(got) != 1 {
			t.Errorf("echo %d: replies %q", id, got)
		}
	}
	// The server pings every 200 ms between its ticks: each ping is
	// answered by the preset's rule (until 3 came, within the exchange's
	// deadline).
	for pings := 0; pings < 3; {
		msg := s.next()
		switch {
		case string(msg) == "2":
			pings++
			if !s.rule(msg) {
				t.Fatal("no rule answers a ping")
			}
		case p.Stream.Match.Matches(msg):
		default:
			t.Fatalf("unexpected %q", msg)
		}
	}
}

// TestPresetMQTTSpeaks: aedes takes the preset's CONNECT and SUBSCRIBE,
// answers a QoS 1 PUBLISH with its PUBACK and delivers it back (both keyed
// by the packet id, split across messages or not), delivers a QoS 0 one,
// and streams the subscribed ticks; PINGRESP is silenced.
func TestPresetMQTTSpeaks(t *testing.T) {
	t.Parallel()
	addr := startPeer(t, "mqtt.js", "--rate", "50")
	for _, qos := range []string{"1", "0"} {
		p := mustPreset(t, "mqtt", map[string]string{"qos": qos, "subscribe": "ticks"})
		s := speak(t, "ws://"+addr+"/", p, 5)
		for _, id := range []uint64{1, 2, 65535} {
			if got := s.request(id); len(got) != p.Request.Replies {
				t.Errorf("QoS %s publish %d: replies %q", qos, id, got)
			}
		}
		s.stream(3)
		s.send(p.Every[0].Send) // PINGREQ
		for {
			msg := s.next()
			if r, ok := ruleReply(p, string(msg)); ok && r == "" && string(msg) == "\xd0\x00" {
				break
			}
			if !p.Stream.Match.Matches(msg) {
				t.Fatalf("after PINGREQ: % x", msg)
			}
		}
	}
}
