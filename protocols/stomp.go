package protocols

import (
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/internal/flow"
)

// stomp: STOMP 1.2 over WebSocket (subprotocol v12.stomp), one frame per
// message. A connection sends CONNECT (with its heart-beats) and waits for
// CONNECTED version 1.2, then SUBSCRIBEs to its own destination (one per
// connection: {{conn}} in it) with a receipt and waits for it. Each request
// is a SEND to that destination with a receipt whose id is the request's,
// and a body that is the id: it is answered by two replies, the broker's
// RECEIPT and the MESSAGE it delivers back through the subscription, so the
// latency is publish-to-delivery through the broker. An ERROR frame with
// the receipt fails it. The connection sends an EOL heart-beat every
// heart-beat interval and ignores the server's. With subscribe, each
// connection also subscribes to that destination: its messages are the
// stream.
var stompPreset = &preset{
	name: "stomp",
	doc:  "STOMP 1.2: SEND with receipts, delivery back through the broker, heart-beats",
	opts: []Option{
		{Key: "destination", Default: "/topic/wsbench.{{conn}}", Doc: "where each connection sends and subscribes ({{conn}}: its own)"},
		{Key: "host", Default: "/", Doc: "CONNECT's host header (RabbitMQ: the virtual host)"},
		{Key: "login", Doc: "CONNECT's login"},
		{Key: "passcode", Doc: "CONNECT's passcode (a secret)", Secret: true},
		{Key: "heart-beat", Default: "10000,10000", Doc: "CONNECT's heart-beat: ms between the client's beats, ms between the server's wanted (0: none)"},
		{Key: "subscribe", Doc: "a destination each connection also subscribes to; its messages are the stream"},
	},
	build: buildSTOMP,
}

// Subscription ids and opening receipts of the stomp preset.
const (
	stompOwnSub    = "0" // the connection's own destination
	stompStreamSub = "1" // the subscribe option's
)

func buildSTOMP(o *options) *flow.Protocol {
	header := func(key string) string {
		v := o.str(key)
		if strings.ContainsAny(v, "\n\r\x00") {
			o.bad(key, "a STOMP header value cannot hold a line break or NUL")
		}
		return v
	}
	host, login, passcode := header("host"), header("login"), header("passcode")
	cx, cy := heartBeat(o)
	var connect strings.Builder
	connect.WriteString("CONNECT\naccept-version:1.2\nhost:" + host + "\n")
	shown := connect.String()
	if login != "" {
		connect.WriteString("login:" + login + "\n")
		shown += "login:" + login + "\n"
	}
	if o.isSet("passcode") {
		connect.WriteString("passcode:" + passcode + "\n")
		shown += "passcode:…\n" // a secret
	}
	beat := "heart-beat:" + strconv.Itoa(cx) + "," + strconv.Itoa(cy) + "\n\n\x00"
	connect.WriteString(beat)
	shown += beat
	var c builder
	c.lit(connect.String())

	dest := o.template("destination")
	switch d := o.str("destination"); {
	case d == "" || strings.ContainsAny(d, "\n\r\x00:"):
		o.bad("destination", "want a destination such as /topic/wsbench.{{conn}} (no line breaks, NUL or colons), got %q", d)
	case dest != nil && !dest.Has(flow.Conn):
		// Every connection's ids count from 1: on a shared destination
		// each would take the others' messages for its own replies.
		o.bad("destination", "%q: each connection needs its own, with {{conn}} in it (such as /topic/wsbench.{{conn}}): a connection's requests are answered by its own messages coming back", d)
	}
	p := &flow.Protocol{
		Subprotocol: "v12.stomp",
		Open: []flow.Step{
			sendStep(c.done(shown)),
			expectStep(flow.MustMatcher(`prefix:CONNECTED`+"\n"+` && re:\nversion:1\.2\n`), "CONNECTED with version:1.2"),
			sendStep(stompSubscribe(stompOwnSub, dest)),
			expectStep(stompReceipt("wsbench-sub-"+stompOwnSub), "RECEIPT receipt-id:wsbench-sub-"+stompOwnSub+" (the SUBSCRIBE's)"),
		},
		Rules: []flow.Rule{{When: matcher("is:\n", "a heart-beat (EOL)")}, {When: matcher("is:\r\n", "a heart-beat (CR LF)")}},
	}
	if cx > 0 {
		p.Every = []flow.Periodic{{Every: time.Duration(cx) * time.Millisecond, Send: flow.MustTemplate("\n")}}
	}
	var send builder
	send.lit("SEND\ndestination:").tmpl(dest).lit("\nreceipt:").field("{{id}}").lit("\ncontent-type:text/plain\n\n").field("{{id}}").lit("\x00")
	p.Request = &flow.Request{
		Template: send.done(),
		Keys: []flow.Matcher{
			matcher(`prefix:RECEIPT`+"\n"+` && re:\nreceipt-id:(\d+)\n`, "the receipt-id of a RECEIPT"),
			matcher(`prefix:MESSAGE`+"\n"+` && re:\nsubscription:`+stompOwnSub+`\n && re:\n\n(\d+)\x00`, "the body of a MESSAGE of subscription "+stompOwnSub),
			matcher(`prefix:ERROR`+"\n"+` && re:\nreceipt-id:(\d+)\n`, "the receipt-id of an ERROR"),
		},
		Replies: 2, // RECEIPT, MESSAGE
		Error:   ptr(matcher(`re:^(ERROR)\n`, "an ERROR frame")),
		Timeout: requestTimeout,
	}
	if sub := o.str("subscribe"); sub != "" {
		if strings.ContainsAny(sub, "\n\r\x00:") {
			o.bad("subscribe", "want a destination such as /topic/ticks (no line breaks, NUL or colons), got %q", sub)
		}
		var b builder
		b.lit(sub)
		p.Open = append(p.Open,
			sendStep(stompSubscribe(stompStreamSub, b.done())),
			expectStep(stompReceipt("wsbench-sub-"+stompStreamSub), "RECEIPT receipt-id:wsbench-sub-"+stompStreamSub+" (the SUBSCRIBE's to "+sub+")"))
		p.Stream = &flow.Stream{Match: matcher(`prefix:MESSAGE`+"\n"+` && re:\nsubscription:`+stompStreamSub+`\n`, "a MESSAGE of subscription "+stompStreamSub+" ("+sub+")")}
	}
	return p
}

// stompSubscribe is a SUBSCRIBE frame of subscription id to dest, asking
// for the receipt wsbench-sub-ID.
func stompSubscribe(id string, dest *flow.Template) *flow.Template {
	var b builder
	b.lit("SUBSCRIBE\nid:" + id + "\ndestination:").tmpl(dest).lit("\nack:auto\nreceipt:wsbench-sub-" + id + "\n\n\x00")
	return b.done()
}

// stompReceipt matches the RECEIPT frame for receipt id.
func stompReceipt(id string) flow.Matcher {
	return matcher(`prefix:RECEIPT`+"\n"+` && re:\nreceipt-id:`+id+`\n`, "RECEIPT receipt-id:"+id)
}

// heartBeat reads the heart-beat option: CX,CY in ms.
func heartBeat(o *options) (cx, cy int) {
	s := o.str("heart-beat")
	a, b, ok := strings.Cut(s, ",")
	x, err1 := strconv.Atoi(strings.TrimSpace(a))
	y, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || x < 0 || y < 0 || (x > 0 && x < 10) {
		o.bad("heart-beat", "want CX,CY: ms between the client's heart-beats (0 or at least 10) and ms between the server's, such as 10000,10000; got %q", s)
		return 0, 0
	}
	return x, y
}
