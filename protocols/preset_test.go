package protocols

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/flow"
)

// render is t filled in for connection conn and request id.
func render(t *flow.Template, conn, id uint64) string {
	return string(t.Append(nil, &flow.Values{Conn: conn, ID: id, Seq: id - 1, Now: 1_700_000_000_000_000_000}))
}

// replyKey is the key the first of p's request keys that reads one reads
// from msg (ok false: none does), as the request workload correlates.
func replyKey(p *flow.Protocol, msg string) (uint64, bool) {
	for i := range p.Request.Keys {
		m := &p.Request.Keys[i]
		if v, ok := m.Value([]byte(msg)); ok {
			return m.Key(v)
		}
	}
	return 0, false
}

// opening checks p's Open against a server's side of it: each send step
// renders the next of sends (for connection conn), each expect step
// accepts the next of replies.
func opening(t *testing.T, p *flow.Protocol, conn uint64, sends, replies []string) {
	t.Helper()
	for i, st := range p.Open {
		switch st.Kind {
		case flow.StepSend:
			if len(sends) == 0 {
				t.Fatalf("open step %d sends %q, more than the exchange has", i, render(st.Send, conn, 0))
			}
			if got := render(st.Send, conn, 0); got != sends[0] {
				t.Errorf("open step %d sends %q, want %q", i, got, sends[0])
			}
			sends = sends[1:]
		case flow.StepExpect:
			if len(replies) == 0 {
				t.Fatalf("open step %d expects %s, more than the exchange has", i, st.Match.Src)
			}
			if !st.Match.Matches([]byte(replies[0])) {
				t.Errorf("open step %d (%s) refuses the server's %q", i, st.Match.Src, replies[0])
			}
			if st.Timeout <= 0 || st.Count != 1 {
				t.Errorf("open step %d: timeout %v count %d", i, st.Timeout, st.Count)
			}
			replies = replies[1:]
		default:
			t.Errorf("open step %d: kind %d in an opening", i, st.Kind)
		}
	}
	if len(sends)+len(replies) > 0 {
		t.Errorf("the opening ended with %q sent and %q answered left over", sends, replies)
	}
}

// ruleReply is what p's rules answer msg with ("" : silenced; ok false: no
// rule claims it).
func ruleReply(p *flow.Protocol, msg string) (string, bool) {
	for _, r := range p.Rules {
		if r.When.Matches([]byte(msg)) {
			if r.Reply == nil {
				return "", true
			}
			return render(r.Reply, 0, 0), true
		}
	}
	return "", false
}

func mustPreset(t *testing.T, name string, opts map[string]string) *flow.Protocol {
	t.Helper()
	p, err := Preset(name, opts)
	if err != nil {
		t.Fatalf("%s %v: %v", name, opts, err)
	}
	if p.Name != name {
		t.Errorf("Name %q, want %q", p.Name, name)
	}
	return p
}

func TestNames(t *testing.T) {
	if got, want := Names(), []string{"jsonrpc", "graphql-ws", "socketio", "stomp", "mqtt"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	for _, n := range Names() {
		if Doc(n) == "" || len(Options(n)) == 0 {
			t.Errorf("%s: no doc or no options", n)
		}
		// Every preset builds with its defaults and has a request.
		if p := mustPreset(t, n, nil); p.Request == nil || p.Request.Template == nil || len(p.Request.Keys) == 0 || p.Request.Timeout <= 0 {
			t.Errorf("%s: incomplete request %+v", n, p.Request)
		}
	}
	_, err := Preset("amqp", nil)
	var ue *UnknownError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "jsonrpc, graphql-ws, socketio, stomp, mqtt") {
		t.Errorf("unknown preset: %v, want an UnknownError listing the presets", err)
	}
}

// TestOptionErrors: every bad option is an OptionError naming it, all of
// them at once.
func TestOptionErrors(t *testing.T) {
	for _, c := range []struct {
		preset string
		opts   map[string]string
		keys   []string // the options named, in order
		says   string   // part of the message
	}{
		{"jsonrpc", map[string]string{"methd": "x"}, []string{"methd"}, "no such option (jsonrpc has method, params"},
		{"jsonrpc", map[string]string{"params": "[1,"}, []string{"params"}, "not JSON"},
		{"jsonrpc", map[string]string{"params": "[{{nope}}]"}, []string{"params"}, "unknown field"},
		{"jsonrpc", map[string]string{"method": ""}, []string{"method"}, "give its name"},
		{"jsonrpc", map[string]string{"subscribe": "watch"}, []string{"notification"}, "X_subscribe"},
		{"jsonrpc", map[string]string{"subscribe": "rpc.on", "subscribe_params": "[]"}, []string{"subscribe_params"}, "events by name"},
		{"jsonrpc", map[string]string{"notification": "x"}, []string{"notification"}, "applies with subscribe"},
		{"graphql-ws", map[string]string{"variables": "[1]"}, []string{"variables"}, "JSON object"},
		{"graphql-ws", map[string]string{"query": "", "init": "x"}, []string{"init", "query"}, ""},
		{"socketio", map[string]string{"namespace": "chat"}, []string{"namespace"}, "/chat"},
		{"socketio", map[string]string{"args": `{"a":1}`}, []string{"args"}, "JSON array"},
		{"stomp", map[string]string{"heart-beat": "5"}, []string{"heart-beat"}, "CX,CY"},
		{"stomp", map[string]string{"destination": "/topic/a\nb"}, []string{"destination"}, "line breaks"},
		{"stomp", map[string]string{"destination": "/topic/shared"}, []string{"destination"}, "with {{conn}} in it"},
		{"stomp", map[string]string{"passcode": "x\ny"}, []string{"passcode"}, "line break"},
		{"mqtt", map[string]string{"qos": "2"}, []string{"qos"}, "want 0 or 1"},
		{"mqtt", map[string]string{"topic": "a/#"}, []string{"topic"}, "wildcards"},
		{"mqtt", map[string]string{"keepalive": "1.5s"}, []string{"keepalive"}, "whole seconds"},
		{"mqtt", map[string]string{"password": "pw"}, []string{"password"}, "username"},
		{"mqtt", map[string]string{"qos": "x", "open_timeout": "soon"}, []string{"open_timeout", "qos"}, ""},
		{"mqtt", map[string]string{"open_timeout": "0s"}, []string{"open_timeout"}, "positive"},
	} {
		_, err := Preset(c.preset, c.opts)
		var keys []string
		for _, e := range flatten(err) {
			var oe *OptionError
			if !errors.As(e, &oe) || oe.Preset != c.preset {
				t.Errorf("%s %v: %v is not an OptionError of %s", c.preset, c.opts, e, c.preset)
				continue
			}
			keys = append(keys, oe.Key)
			if !strings.HasPrefix(e.Error(), oe.Key+": ") {
				t.Errorf("%s %v: %q does not start with its option", c.preset, c.opts, e)
			}
		}
		if !slices.Equal(keys, c.keys) || err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s %v: %v (options %q), want options %q and %q said", c.preset, c.opts, err, keys, c.keys, c.says)
		}
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestSecret(t *testing.T) {
	for _, c := range []struct {
		preset, key string
		secret      bool
	}{
		{"stomp", "passcode", true}, {"stomp", "login", false}, {"mqtt", "password", true},
		{"graphql-ws", "init", true}, {"socketio", "auth", true}, {"jsonrpc", "params", false}, {"nope", "passcode", false},
	} {
		if got := Secret(c.preset, c.key); got != c.secret {
			t.Errorf("Secret(%s, %s) = %v", c.preset, c.key, got)
		}
	}
	// Where a template is shown (a verdict naming what was sent), a secret
	// is not.
	for _, c := range []struct {
		preset string
		opts   map[string]string
	}{
		{"stomp", map[string]string{"login": "guest", "passcode": "hunter22"}},
		{"mqtt", map[string]string{"username": "u", "password": "hunter22"}},
		{"graphql-ws", map[string]string{"init": `{"token":"hunter22"}`}},
		{"socketio", map[string]string{"auth": `{"token":"hunter22"}`}},
	} {
		p := mustPreset(t, c.preset, c.opts)
		sent := false
		for _, st := range p.Open {
			if st.Kind != flow.StepSend {
				continue
			}
			if strings.Contains(st.Send.Src, "hunter22") {
				t.Errorf("%s: the opening shows its secret: %q", c.preset, st.Send.Src)
			}
			sent = sent || strings.Contains(render(st.Send, 0, 0), "hunter22")
		}
		if !sent {
			t.Errorf("%s: the secret is never sent", c.preset)
		}
	}
}

// TestJSONRPC: the call and its replies as rpc-websockets writes them
// (peers_test.go), errors by code, the rpc.on and X_subscribe streams.
func TestJSONRPC(t *testing.T) {
	p := mustPreset(t, "jsonrpc", map[string]string{"method": "sleep", "params": `[{{seq}},"a"]`})
	if got, want := render(p.Request.Template, 3, 7), `{"jsonrpc":"2.0","id":7,"method":"sleep","params":[6,"a"]}`; got != want {
		t.Errorf("request %s, want %s", got, want)
	}
	if p.Subprotocol != "" || p.Binary || len(p.Open) != 0 || p.Stream != nil || p.Request.Replies != 1 {
		t.Errorf("plain jsonrpc: %+v", p)
	}
	for _, c := range []struct {
		msg  string
		key  uint64
		ok   bool
		fail string // the error's value
	}{
		{`{"jsonrpc":"2.0","result":"slept","id":7}`, 7, true, ""},
		{`{"jsonrpc":"2.0","error":{"code":-32001,"message":"fail"},"id":9}`, 9, true, "-32001"},
		{`{"notification":"tick","params":{"seq":1}}`, 0, false, ""},
	} {
		k, ok := replyKey(p, c.msg)
		if k != c.key || ok != c.ok {
			t.Errorf("%s: key %d %v, want %d %v", c.msg, k, ok, c.key, c.ok)
		}
		v, failed := p.Request.Error.Value([]byte(c.msg))
		if failed != (c.fail != "") || string(v) != c.fail {
			t.Errorf("%s: error %q %v, want %q", c.msg, v, failed, c.fail)
		}
	}
	// A method name is JSON-quoted, never a template.
	p = mustPreset(t, "jsonrpc", map[string]string{"method": `a"{{id}}`, "params": ""})
	if got, want := render(p.Request.Template, 0, 2), `{"jsonrpc":"2.0","id":2,"method":"a\"{{id}}"}`; got != want {
		t.Errorf("request %s, want %s", got, want)
	}

	// rpc-websockets' rpc.on: the subscribe call's result opens the
	// stream of its events' notifications; an error reply does not.
	p = mustPreset(t, "jsonrpc", map[string]string{"subscribe": "rpc.on", "subscribe_params": `["tick","tock"]`})
	opening(t, p, 0, []string{`{"jsonrpc":"2.0","id":"wsbench-subscribe","method":"rpc.on","params":["tick","tock"]}`},
		[]string{`{"jsonrpc":"2.0","result":{"tick":"ok","tock":"ok"},"id":"wsbench-subscribe"}`})
	if p.Open[1].Match.Matches([]byte(`{"jsonrpc":"2.0","error":{"code":-32000},"id":"wsbench-subscribe"}`)) {
		t.Error("an error reply to the subscribe call opened the stream")
	}
	for msg, want := range map[string]bool{
		`{"notification":"tick","params":{"seq":1,"sent_ns":5}}`: true,
		`{"notification":"tock","params":{}}`:                    true,
		`{"notification":"other","params":{}}`:                   false,
		`{"jsonrpc":"2.0","result":1,"id":3}`:                    false,
	} {
		if p.Stream.Match.Matches([]byte(msg)) != want {
			t.Errorf("stream match of %s: want %v", msg, want)
		}
	}
	// Ethereum-style: eth_subscribe's notifications are eth_subscription.
	p = mustPreset(t, "jsonrpc", map[string]string{"subscribe": "eth_subscribe", "subscribe_params": `["newHeads"]`})
	if !p.Stream.Match.Matches([]byte(`{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x9","result":{}}}`)) {
		t.Error("eth_subscription notification not in the stream")
	}
	if _, ok := replyKey(p, `{"jsonrpc":"2.0","method":"eth_subscription","params":{}}`); ok {
		t.Error("a notification read as a reply")
	}
}

// TestGraphQLWS: connection_init/ack, ping/pong, a query's next and
// complete correlated by id, errors in both forms, the subscription
// stream.
func TestGraphQLWS(t *testing.T) {
	p := mustPreset(t, "graphql-ws", map[string]string{"query": "query($n: Int!) { slow(ms: $n) }", "variables": `{"n":{{seq}}}`,
		"subscription": "subscription { ticks { seq sentNs } }"})
	if p.Subprotocol != "graphql-transport-ws" {
		t.Errorf("subprotocol %q", p.Subprotocol)
	}
	opening(t, p, 0, []string{`{"type":"connection_init"}`,
		`{"id":"wsbench-subscription","type":"subscribe","payload":{"query":"subscription { ticks { seq sentNs } }"}}`},
		[]string{`{"type":"connection_ack"}`})
	if got, want := render(p.Request.Template, 0, 12), `{"id":"12","type":"subscribe","payload":{"query":"query($n: Int!) { slow(ms: $n) }","variables":{"n":11}}}`; got != want {
		t.Errorf("request %s, want %s", got, want)
	}
	if p.Request.Replies != 2 {
		t.Errorf("replies %d, want 2 (next, complete)", p.Request.Replies)
	}
	for _, c := range []struct {
		msg, fail string
		key       uint64
	}{
		{`{"id":"12","type":"next","payload":{"data":{"slow":11}}}`, "", 12},
		{`{"id":"12","type":"complete"}`, "", 12},
		{`{"id":"13","type":"error","payload":[{"message":"Cannot query field"}]}`, "error", 13},
		{`{"id":"14","type":"next","payload":{"errors":[{"message":"boom"}],"data":null}}`, "next", 14},
	} {
		if k, ok := replyKey(p, c.msg); !ok || k != c.key {
			t.Errorf("%s: key %d %v, want %d", c.msg, k, ok, c.key)
		}
		v, failed := p.Request.Error.Value([]byte(c.msg))
		if failed != (c.fail != "") || string(v) != c.fail {
			t.Errorf("%s: error %q %v, want %q", c.msg, v, failed, c.fail)
		}
	}
	if r, ok := ruleReply(p, `{"type":"ping"}`); !ok || r != `{"type":"pong"}` {
		t.Errorf("ping answered %q %v", r, ok)
	}
	// The complete that follows a failed operation's next is no one's reply.
	if r, ok := ruleReply(p, `{"id":"14","type":"complete"}`); !ok || r != "" {
		t.Errorf("a stray complete: %q %v, want silenced", r, ok)
	}
	tick := `{"id":"wsbench-subscription","type":"next","payload":{"data":{"ticks":{"seq":1,"sentNs":1.7e18}}}}`
	if !p.Stream.Match.Matches([]byte(tick)) || p.Stream.Match.Matches([]byte(`{"id":"12","type":"next","payload":{}}`)) {
		t.Error("the stream is not the subscription's next messages")
	}
	if _, ok := ruleReply(p, tick); ok {
		t.Error("a rule claims the stream's messages")
	}
	// The run's variables ({{token}}) are numbered by the run's Names.
	var names flow.Names
	names.Index("user")
	p, err := PresetWith("graphql-ws", map[string]string{"init": `{"token":"{{token}}"}`}, &names)
	if err != nil {
		t.Fatal(err)
	}
	got := string(p.Open[0].Send.Append(nil, &flow.Values{Vars: [][]byte{[]byte("ann"), []byte("s3cr3t")}}))
	if want := `{"type":"connection_init","payload":{"token":"s3cr3t"}}`; got != want || names.Lookup("token") != 1 {
		t.Errorf("connection_init %s, want %s (token in slot %d)", got, want, names.Lookup("token"))
	}
}

// TestSocketIO: the open packet, the namespace connect, acks by id, pings.
func TestSocketIO(t *testing.T) {
	p := mustPreset(t, "socketio", map[string]string{"event": "echo", "args": `["hi",{"n":{{seq}}}]`, "subscribe": "subscribe", "stream": "tick"})
	opening(t, p, 0, []string{"40", `42["subscribe"]`},
		[]string{`0{"sid":"x","upgrades":[],"pingInterval":300,"pingTimeout":20000,"maxPayload":1000000}`, `40{"sid":"y"}`})
	if got, want := render(p.Request.Template, 0, 5), `425["echo","hi",{"n":4}]`; got != want {
		t.Errorf("request %s, want %s", got, want)
	}
	for msg, key := range map[string]uint64{`435["hi",{"n":4}]`: 5, `4312[]`: 12} {
		if k, ok := replyKey(p, msg); !ok || k != key {
			t.Errorf("%s: key %d %v, want %d", msg, k, ok, key)
		}
	}
	if _, ok := replyKey(p, `42["tick",{"seq":1}]`); ok {
		t.Error("an event read as an ack")
	}
	if !p.Stream.Match.Matches([]byte(`42["tick",{"seq":1}]`)) || p.Stream.Match.Matches([]byte(`42["tock"]`)) {
		t.Error("stream match")
	}
	if r, ok := ruleReply(p, "2"); !ok || r != "3" {
		t.Errorf("ping answered %q %v, want 3", r, ok)
	}
	if p.Open[0].Match.Matches([]byte(`{"type":"connection_init"}`)) {
		t.Error("an echo taken for the open packet")
	}
	// A namespace is written before the ack id; its connect refused (44)
	// is not accepted.
	p = mustPreset(t, "socketio", map[string]string{"namespace": "/chat", "auth": `{"token":"t"}`})
	opening(t, p, 0, []string{`40/chat,{"token":"t"}`}, []string{`0{"sid":"x","pingInterval":25000}`, `40/chat,{"sid":"y"}`})
	if p.Open[2].Match.Matches([]byte(`44/chat,{"message":"Invalid namespace"}`)) {
		t.Error("a refused namespace connect accepted")
	}
	if got, want := render(p.Request.Template, 0, 5), `42/chat,5["message"]`; got != want {
		t.Errorf("request %s, want %s", got, want)
	}
	if k, ok := replyKey(p, `43/chat,5[]`); !ok || k != 5 {
		t.Errorf("namespaced ack: key %d %v", k, ok)
	}
	if _, ok := replyKey(p, `435[]`); ok {
		t.Error("an ack of the main namespace read as one of /chat")
	}
}

// TestSTOMP: CONNECT with heart-beats, SUBSCRIBE with a receipt, SEND
// with the request's receipt and body, its RECEIPT and MESSAGE (as
// RabbitMQ writes them), ERROR, heart-beats.
func TestSTOMP(t *testing.T) {
	p := mustPreset(t, "stomp", map[string]string{"login": "guest", "passcode": "guest", "heart-beat": "4000,0", "subscribe": "/topic/ticks"})
	if p.Subprotocol != "v12.stomp" {
		t.Errorf("subprotocol %q", p.Subprotocol)
	}
	opening(t, p, 3, []string{
		"CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:4000,0\n\n\x00",
		"SUBSCRIBE\nid:0\ndestination:/topic/wsbench.3\nack:auto\nreceipt:wsbench-sub-0\n\n\x00",
		"SUBSCRIBE\nid:1\ndestination:/topic/ticks\nack:auto\nreceipt:wsbench-sub-1\n\n\x00",
	}, []string{
		"CONNECTED\nserver:RabbitMQ/3.12.1\nsession:session-x\nheart-beat:0,4000\nversion:1.2\n\n\x00",
		"RECEIPT\nreceipt-id:wsbench-sub-0\n\n\x00",
		"RECEIPT\nreceipt-id:wsbench-sub-1\n\n\x00",
	})
	if p.Open[1].Match.Matches([]byte("CONNECTED\nversion:1.1\n\n\x00")) {
		t.Error("a STOMP 1.1 CONNECTED accepted")
	}
	if got, want := render(p.Request.Template, 3, 42), "SEND\ndestination:/topic/wsbench.3\nreceipt:42\ncontent-type:text/plain\n\n42\x00"; got != want {
		t.Errorf("request %q, want %q", got, want)
	}
	for _, c := range []struct {
		msg, fail string
		key       uint64
		ok        bool
	}{
		{"RECEIPT\nreceipt-id:42\n\n\x00", "", 42, true},
		{"MESSAGE\nsubscription:0\ndestination:/topic/wsbench.3\nmessage-id:T_0@@session-x@@1\nredelivered:false\ncontent-type:text/plain\ncontent-length:2\n\n42\x00", "", 42, true},
		{"ERROR\nreceipt-id:43\nmessage:not_found\n\n\x00", "ERROR", 43, true},
		// The stream's messages are no request's replies.
		{"MESSAGE\nsubscription:1\ndestination:/topic/ticks\nmessage-id:1\n\n42\x00", "", 0, false},
	} {
		if k, ok := replyKey(p, c.msg); ok != c.ok || k != c.key {
			t.Errorf("%q: key %d %v, want %d %v", c.msg, k, ok, c.key, c.ok)
		}
		v, failed := p.Request.Error.Value([]byte(c.msg))
		if failed != (c.fail != "") || string(v) != c.fail {
			t.Errorf("%q: error %q %v, want %q", c.msg, v, failed, c.fail)
		}
	}
	if !p.Stream.Match.Matches([]byte("MESSAGE\nsubscription:1\ndestination:/topic/ticks\n\n{}\x00")) {
		t.Error("stream match")
	}
	for _, beat := range []string{"\n", "\r\n"} {
		if r, ok := ruleReply(p, beat); !ok || r != "" {
			t.Errorf("heart-beat %q: %q %v, want silenced", beat, r, ok)
		}
	}
	if len(p.Every) != 1 || p.Every[0].Every != 4*time.Second || render(p.Every[0].Send, 0, 0) != "\n" {
		t.Errorf("every %+v, want an EOL every 4s", p.Every)
	}
	if p = mustPreset(t, "stomp", map[string]string{"heart-beat": "0,0"}); len(p.Every) != 0 {
		t.Error("heart-beats sent with heart-beat 0,0")
	}
}

// TestMQTT: the packets as aedes reads them (peers_test.go), every one of
// fixed length and whole by its own remaining length; PUBACK and the
// delivery both name the request; ids wrap in 16 bits.
func TestMQTT(t *testing.T) {
	p := mustPreset(t, "mqtt", map[string]string{"subscribe": "ticks"})
	if p.Subprotocol != "mqtt" || !p.Binary || p.Packets == nil {
		t.Errorf("subprotocol %q binary %v packets %v", p.Subprotocol, p.Binary, p.Packets)
	}
	opening(t, p, 3, []string{
		"\x10\x1c\x00\x04MQTT\x04\x02\x00\x3c\x00\x10wsbench-00000003",
		"\x82\x15\x00\x01\x00\x10wsbench/00000003\x00",
		"\x82\x0a\x00\x02\x00\x05ticks\x00",
	}, []string{"\x20\x02\x00\x00", "\x90\x03\x00\x01\x00", "\x90\x03\x00\x02\x00"})
	if p.Open[1].Match.Matches([]byte("\x20\x02\x00\x05")) {
		t.Error("a refused CONNACK (not authorized) accepted")
	}
	if p.Open[3].Match.Matches([]byte("\x90\x03\x00\x01\x80")) {
		t.Error("a failed SUBACK accepted")
	}
	if got, want := render(p.Request.Template, 3, 0x0102), "\x32\x16\x00\x10wsbench/00000003\x01\x02\x01\x02"; got != want {
		t.Errorf("PUBLISH % x, want % x", got, want)
	}
	if p.Request.Replies != 2 || p.Request.IDMod != 65535 || p.Request.IDBase != 0 {
		t.Errorf("request replies %d, ids mod %d from %d", p.Request.Replies, p.Request.IDMod, p.Request.IDBase)
	}
	for _, c := range []struct {
		name, msg string
		key       uint64
		ok        bool
	}{
		{"PUBACK", "\x40\x02\x01\x02", 0x0102, true},
		{"delivery", "\x30\x14\x00\x10wsbench/00000003\x01\x02", 0x0102, true},
		{"SUBACK", "\x90\x03\x01\x02\x00", 0, false},
		{"a tick", "\x30\x1b\x00\x05ticks{\"seq\":1,\"sent_ns\":5}", 0, false},
		{"PINGRESP", "\xd0\x00", 0, false},
	} {
		if k, ok := replyKey(p, c.msg); ok != c.ok || k != c.key {
			t.Errorf("%s: key %d %v, want %d %v", c.name, k, ok, c.key, c.ok)
		}
	}
	if !p.Stream.Match.Matches([]byte("\x30\x1b\x00\x05ticks{}")) {
		t.Error("a tick is not in the stream")
	}
	if r, ok := ruleReply(p, "\xd0\x00"); !ok || r != "" {
		t.Errorf("PINGRESP: %q %v, want silenced", r, ok)
	}
	if len(p.Every) != 1 || p.Every[0].Every != 30*time.Second || render(p.Every[0].Send, 0, 0) != "\xc0\x00" {
		t.Errorf("every %+v, want PINGREQ every 30s", p.Every)
	}

	// QoS 0: no packet id in the PUBLISH, one reply (the delivery); a
	// topic long enough for a two-byte remaining length; credentials.
	long := strings.Repeat("t", 200)
	p = mustPreset(t, "mqtt", map[string]string{"qos": "0", "topic": long, "username": "u", "password": "pw", "keepalive": "0", "client_id": "c"})
	if got, want := render(p.Request.Template, 7, 9), "\x30\xd5\x01\x00\xd1"+long+"/00000007\x00\x09"; got != want {
		t.Errorf("QoS 0 PUBLISH % x, want % x", got, want)
	}
	if k, ok := replyKey(p, "\x30\xd5\x01\x00\xd1"+long+"/00000007\x00\x09"); p.Request.Replies != 1 || !ok || k != 9 {
		t.Errorf("QoS 0: replies %d, delivery key %d %v", p.Request.Replies, k, ok)
	}
	if _, ok := replyKey(p, "\x40\x02\x00\x09"); ok {
		t.Error("QoS 0 takes a PUBACK for a reply")
	}
	if got, want := render(p.Open[0].Send, 7, 0), "\x10\x1c\x00\x04MQTT\x04\xc2\x00\x00\x00\x09c00000007\x00\x01u\x00\x02pw"; got != want {
		t.Errorf("CONNECT % x, want % x", got, want)
	}
	if len(p.Every) != 0 {
		t.Error("PINGREQ with keep-alive 0")
	}

	// Every packet the preset sends has a fixed length (the id fields
	// have fixed widths) and is whole by its own remaining length.
	for _, opts := range []map[string]string{nil, {"qos": "0", "topic": long, "subscribe": long + "/#"}} {
		p := mustPreset(t, "mqtt", opts)
		tmpls := []*flow.Template{p.Request.Template}
		for _, st := range p.Open {
			if st.Send != nil {
				tmpls = append(tmpls, st.Send)
			}
		}
		for _, e := range p.Every {
			tmpls = append(tmpls, e.Send)
		}
		for _, tp := range tmpls {
			if !tp.Fixed() {
				t.Errorf("%s: not of fixed length", tp.Src)
			}
			for _, conn := range []uint64{0, 12345678} {
				b := []byte(render(tp, conn, 65535))
				if n, err := (Packets{}).Next(b); n != len(b) || err != nil {
					t.Errorf("%s: a packet of %d bytes says it is %d (%v)", tp.Src, len(b), n, err)
				}
			}
		}
	}
}

// TestPackets: MQTT packets cut from messages however they were split.
func TestPackets(t *testing.T) {
	long := append([]byte{0x30, 0xc8, 0x01}, bytes.Repeat([]byte{'x'}, 200)...)
	for _, c := range []struct {
		name string
		in   []byte
		n    int
		err  bool
	}{
		{"empty", nil, 0, false},
		{"a type byte alone (aedes sends the fixed header apart)", []byte{0x20}, 0, false},
		{"a fixed header alone", []byte{0x20, 0x02}, 0, false},
		{"CONNACK", []byte{0x20, 0x02, 0, 0}, 4, false},
		{"CONNACK less its last byte", []byte{0x20, 0x02, 0}, 0, false},
		{"PINGRESP, zero length", []byte{0xd0, 0x00}, 2, false},
		{"two packets in one message: the first", []byte{0x40, 0x02, 0, 1, 0xd0, 0x00}, 4, false},
		{"a two-byte remaining length", long, 203, false},
		{"…cut short", long[:100], 0, false},
		{"…its length cut in half", long[:2], 0, false},
		{"a five-byte remaining length", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, true},
	} {
		n, err := (Packets{}).Next(c.in)
		if n != c.n || (err != nil) != c.err {
			t.Errorf("%s: %d %v, want %d (error %v)", c.name, n, err, c.n, c.err)
		}
	}
}

// FuzzPackets: a packet encoded with its remaining length is cut whole
// from any stream it starts, and no prefix of it is taken for a packet.
func FuzzPackets(f *testing.F) {
	f.Add(byte(0x30), []byte("hello"), []byte{0xd0, 0})
	f.Add(byte(0x40), []byte{0, 1}, []byte{})
	f.Add(byte(0x30), bytes.Repeat([]byte{1}, 300), []byte{0x20})
	f.Fuzz(func(t *testing.T, typ byte, body, rest []byte) {
		pkt := append([]byte(header(typ, len(body))), body...)
		stream := append(slices.Clone(pkt), rest...)
		if n, err := (Packets{}).Next(stream); n != len(pkt) || err != nil {
			t.Fatalf("% x: %d %v, want %d", stream, n, err, len(pkt))
		}
		for i := range len(pkt) {
			if n, err := (Packets{}).Next(pkt[:i]); n != 0 || err != nil {
				t.Fatalf("prefix % x of % x: %d %v, want 0 (more to come)", pkt[:i], pkt, n, err)
			}
		}
	})
}

// TestSecretNotQuoted: an error about a secret option does not repeat it.
func TestSecretNotQuoted(t *testing.T) {
	for _, c := range []struct{ preset, key string }{{"graphql-ws", "init"}, {"socketio", "auth"}} {
		_, err := Preset(c.preset, map[string]string{c.key: "hunter22"})
		if err == nil || strings.Contains(err.Error(), "hunter22") || !strings.HasPrefix(err.Error(), c.key+": ") {
			t.Errorf("%s %s: %v, want an error naming the option, not its value", c.preset, c.key, err)
		}
	}
}

// TestEchoIsNoReply: a server that echoes requests back does not answer
// them (a green run over nothing): the echo of a request is no reply.
func TestEchoIsNoReply(t *testing.T) {
	for _, name := range Names() {
		p := mustPreset(t, name, nil)
		req := render(p.Request.Template, 3, 7)
		if k, ok := replyKey(p, req); ok {
			t.Errorf("%s: the echo of %q read as the reply to %d", name, req, k)
		}
	}
	p := mustPreset(t, "jsonrpc", nil)
	for msg, want := range map[string]bool{
		`{"jsonrpc":"2.0","id":7,"result":null}`:               true,
		`{"jsonrpc":"2.0","id":7,"error":{"code":-32601}}`:     true,
		`{"jsonrpc":"2.0","id":7,"method":"ping","params":[]}`: false, // a call from the server
	} {
		if _, ok := replyKey(p, msg); ok != want {
			t.Errorf("jsonrpc %s: a reply %v, want %v", msg, ok, want)
		}
	}
}
