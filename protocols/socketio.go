package protocols

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/wsbench/wsbench/internal/flow"
)

// socketio: Socket.IO v5 over Engine.IO v4's WebSocket transport (the
// target is ws://HOST/socket.io/?EIO=4&transport=websocket). A connection
// waits for the Engine.IO open packet (0{"sid":…,"pingInterval":…}),
// connects to its namespace (40, 40/ns,) and waits for the server's
// connect packet; the server's pings (2) are answered (3) for as long as
// the run lasts. Each request is an event with an ack id,
// 42<id>["event",args…], answered by its ack 43<id>[…]. With subscribe,
// each connection emits that event as it opens; the server's stream event
// (42["stream",…]) is the stream.
var socketioPreset = &preset{
	name: "socketio",
	doc:  "Socket.IO 4 (Engine.IO v4, WebSocket transport): events acked by id, server pings answered",
	opts: []Option{
		{Key: "namespace", Default: "/", Doc: "the namespace each connection joins"},
		{Key: "auth", Doc: "the namespace connect's payload: a JSON object (credentials: a secret)", Secret: true},
		{Key: "event", Default: "message", Doc: "the event each request emits, with an ack"},
		{Key: "args", Default: "[]", Doc: "its arguments: a JSON array, a template ({{seq}}, {{user}})"},
		{Key: "subscribe", Doc: "an event each connection emits as it opens (no ack)"},
		{Key: "subscribe_args", Default: "[]", Doc: "its arguments: a JSON array"},
		{Key: "stream", Doc: "the event the server pushes: the stream"},
	},
	build: buildSocketIO,
}

func buildSocketIO(o *options) *flow.Protocol {
	ns := o.str("namespace")
	nsPrefix := "" // the main namespace is not written
	switch {
	case ns == "" || ns[0] != '/' || strings.ContainsAny(ns, ",?#\x00"):
		o.bad("namespace", "want a namespace such as / or /chat, got %q", ns)
	case ns != "/":
		nsPrefix = ns + ","
	}
	var connect builder
	connect.lit("40" + nsPrefix)
	if auth := o.json("auth", "object"); auth != nil {
		connect.tmpl(auth)
	}
	shownConnect := "40" + nsPrefix
	if o.isSet("auth") {
		shownConnect += "{…}" // a secret
	}
	p := &flow.Protocol{
		Open: []flow.Step{
			expectStep(flow.MustMatcher("prefix:0{"), `the Engine.IO open packet 0{"sid":…,"pingInterval":…}`),
			sendStep(connect.done(shownConnect)),
			expectStep(flow.MustMatcher("prefix:40"+nsPrefix), "the namespace's connect packet 40"+nsPrefix+"{\"sid\":…}"),
		},
		Rules: []flow.Rule{{When: flow.MustMatcher("is:2"), Reply: flow.MustTemplate("3")}},
	}
	event := o.str("event")
	if event == "" {
		o.bad("event", "a request emits an event: give its name")
	}
	var req builder
	req.lit("42" + nsPrefix).field("{{id}}").lit("[").quoted(event)
	args(o, "args", &req)
	req.lit("]")
	p.Request = &flow.Request{
		Template: req.done(),
		// 43<id>: the digits after the packet type and namespace.
		Keys:    []flow.Matcher{flow.All("the id of an ack 43"+nsPrefix+"<id>[…]", prefix("43"+nsPrefix), flow.MustMatcher("digits:"+strconv.Itoa(2+len(nsPrefix))))},
		Replies: 1,
		Timeout: requestTimeout,
	}
	if sub := o.str("subscribe"); sub != "" {
		var s builder
		s.lit("42" + nsPrefix + "[").quoted(sub)
		args(o, "subscribe_args", &s)
		s.lit("]")
		p.Open = append(p.Open, sendStep(s.done()))
	} else if o.isSet("subscribe_args") {
		o.bad("subscribe_args", "applies with subscribe")
	}
	if stream := o.str("stream"); stream != "" {
		q, _ := json.Marshal(stream)
		p.Stream = &flow.Stream{Match: o.matcher("stream", "prefix:42"+nsPrefix+"["+string(q))}
	}
	return p
}

// args adds the elements of option key (a JSON array) to b, each after a
// comma.
func args(o *options, key string, b *builder) {
	t := o.json(key, "array")
	if t == nil {
		return
	}
	s := strings.TrimSpace(o.str(key))
	inner := strings.TrimSpace(s[1 : len(s)-1])
	if inner == "" {
		return
	}
	it, err := flow.ParseTemplate(inner, o.names)
	if err != nil {
		o.bad(key, "%v", err)
		return
	}
	b.lit(",").tmpl(it)
}
