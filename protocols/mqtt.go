package protocols

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsbench/wsbench/internal/flow"
)

// mqtt: MQTT 3.1.1 over WebSocket (subprotocol mqtt, binary messages; a
// packet may span messages and a message hold several: Packets cuts
// them). A connection sends CONNECT (clean session, its own client id)
// and waits for CONNACK (accepted), then SUBSCRIBEs at QoS 0 to its own
// topic (TOPIC/NNNNNNNN, its index) and waits for SUBACK. Each request is
// a PUBLISH to that topic whose payload is its packet id; at QoS 1 it is
// answered by two replies, the PUBACK and the delivery of the message back
// through the broker (latency: publish to delivery), at QoS 0 by the
// delivery alone. Packet ids wrap 1..65535. PINGREQ goes out every half
// keep-alive; PINGRESP is ignored. With subscribe, each connection also
// subscribes to that topic filter: its messages are the stream.
var mqttPreset = &preset{
	name: "mqtt",
	doc:  "MQTT 3.1.1: PUBLISH at QoS 0 or 1 delivered back through the broker, PUBACK, PINGREQ",
	opts: []Option{
		{Key: "topic", Default: "wsbench", Doc: "each connection publishes to and subscribes to TOPIC/NNNNNNNN (NNNNNNNN: its index)"},
		{Key: "qos", Default: "1", Doc: "the PUBLISHes' QoS: 0 (one reply: the delivery) or 1 (two: PUBACK and the delivery)"},
		{Key: "client_id", Default: "wsbench-", Doc: "client ids are this prefix and the connection's index (8 digits)"},
		{Key: "keepalive", Default: "60s", Doc: "CONNECT's keep-alive (PINGREQ every half of it; 0: none)"},
		{Key: "username", Doc: "CONNECT's user name"},
		{Key: "password", Doc: "CONNECT's password (a secret)", Secret: true},
		{Key: "subscribe", Doc: "a topic filter each connection also subscribes to (QoS 0); its messages are the stream"},
	},
	build: buildMQTT,
}

// connDigits is how many digits of the connection's index go into client
// ids and topics: a fixed width keeps every packet's length fixed.
const connDigits = 8

const connField = "{{conn:dec8}}"

// MQTT packet types (the first byte's high nibble).
const (
	mqttConnect   = 0x10
	mqttPublish   = 0x30
	mqttSubscribe = 0x82 // with its required flags 0010
	mqttPingreq   = 0xc0
)

func buildMQTT(o *options) *flow.Protocol {
	topic := o.str("topic")
	if topic == "" || strings.ContainsAny(topic, "+#\x00") || !utf8.ValidString(topic) || len(topic) > 1000 {
		o.bad("topic", "want a topic name of at most 1000 bytes of UTF-8 without wildcards (+ #), such as wsbench; got %q", topic)
	}
	topic += "/"
	qos := o.str("qos")
	if qos != "0" && qos != "1" {
		o.bad("qos", "want 0 or 1, got %q", qos)
	}
	cid := o.str("client_id")
	if !utf8.ValidString(cid) || strings.ContainsRune(cid, 0) || len(cid) > 1000 {
		o.bad("client_id", "want a prefix of at most 1000 bytes of UTF-8, got %q", cid)
	}
	keepalive := o.duration("keepalive", time.Second)
	if keepalive > 65535*time.Second || keepalive%time.Second != 0 {
		o.bad("keepalive", "want whole seconds up to 65535s, got %s", keepalive)
	}
	user, pass := o.str("username"), o.str("password")
	if o.isSet("password") && !o.isSet("username") {
		o.bad("password", "MQTT 3.1.1 sends a password only with a username")
	}
	if len(o.errs) > 0 {
		return nil
	}

	// CONNECT: protocol MQTT level 4, clean session, keep-alive, client id
	// (, user name, password).
	flags := byte(0x02)
	variable := "\x00\x04MQTT\x04"
	payloadLen := 2 + len(cid) + connDigits
	if o.isSet("username") {
		flags |= 0x80
		payloadLen += 2 + len(user)
	}
	if o.isSet("password") {
		flags |= 0x40
		payloadLen += 2 + len(pass)
	}
	var connect builder
	connect.lit(header(mqttConnect, len(variable)+1+2+payloadLen)).lit(variable).lit(string([]byte{flags})).lit(be16(int(keepalive / time.Second)))
	connect.lit(be16(len(cid) + connDigits)).lit(cid).field(connField)
	shown := fmt.Sprintf("CONNECT client id %s%s keep-alive %s", cid, connField, keepalive)
	if o.isSet("username") {
		connect.lit(be16(len(user)) + user)
		shown += " username " + user
	}
	if o.isSet("password") {
		connect.lit(be16(len(pass)) + pass)
		shown += " password …" // a secret
	}

	own := topic + connField
	ownLen := len(topic) + connDigits
	p := &flow.Protocol{
		Subprotocol: "mqtt",
		Binary:      true,
		Packets:     Packets{},
		Open: []flow.Step{
			sendStep(connect.done(shown)),
			expectStep(whole("\x20\x02\x00\x00"), "CONNACK accepted (20 02 00 00)"),
			sendStep(subscribe(1, topic, connField, ownLen)),
			expectStep(whole("\x90\x03\x00\x01\x00"), "SUBACK for packet id 1, QoS 0 granted (90 03 00 01 00)"),
		},
		Rules: []flow.Rule{{When: whole("\xd0\x00")}}, // PINGRESP
	}
	if keepalive > 0 {
		p.Every = []flow.Periodic{{Every: keepalive / 2, Send: &flow.Template{Src: "PINGREQ", Parts: []flow.Part{{Lit: []byte{mqttPingreq, 0}}}}}}
	}

	// PUBLISH to the connection's own topic; the payload is the packet id
	// (at QoS 0 there is none in the header, but the payload still names
	// the request).
	var pub builder
	var keys []flow.Matcher
	if qos == "1" {
		pub.lit(header(mqttPublish|0x02, 2+ownLen+2+2)).lit(be16(ownLen)).lit(topic).field(connField).field("{{id:be16}}").field("{{id:be16}}")
		keys = append(keys, flow.All("the packet id of a PUBACK (40 02 …)", prefix("\x40\x02"), flow.MustMatcher("bytes:2:2")))
	} else {
		pub.lit(header(mqttPublish, 2+ownLen+2)).lit(be16(ownLen)).lit(topic).field(connField).field("{{id:be16}}")
	}
	// The delivery comes at QoS 0 (the subscription's): fixed header,
	// topic, payload; every byte before the topic's digits is the same on
	// every connection.
	deliveryHead := header(mqttPublish, 2+ownLen+2) + be16(ownLen) + topic
	payloadAt := len(deliveryHead) + connDigits
	keys = append(keys, flow.All("the payload of a PUBLISH delivered on "+own,
		prefix(deliveryHead), flow.MustMatcher("bytes:"+strconv.Itoa(payloadAt)+":2")))
	replies := 1
	if qos == "1" {
		replies = 2
	}
	p.Request = &flow.Request{
		Template: pub.done("PUBLISH QoS " + qos + " to " + own + ", packet id and payload {{id:be16}}"),
		Keys:     keys,
		Replies:  replies,
		Timeout:  requestTimeout,
		IDMod:    65535,
	}

	if filter := o.str("subscribe"); filter != "" {
		if !utf8.ValidString(filter) || strings.ContainsRune(filter, 0) || len(filter) > 1000 {
			o.bad("subscribe", "want a topic filter of at most 1000 bytes of UTF-8, got %q", filter)
			return p
		}
		p.Open = append(p.Open,
			sendStep(subscribe(2, filter, "", len(filter))),
			expectStep(whole("\x90\x03\x00\x02\x00"), "SUBACK for packet id 2, QoS 0 granted (90 03 00 02 00)"))
		p.Stream = &flow.Stream{Match: flow.Either("PUBLISH (QoS 0)", prefix("\x30"), prefix("\x31"))}
	}
	return p
}

// subscribe is a SUBSCRIBE packet of id to one topic filter at QoS 0:
// filter, then field (a template field, or ""), n bytes in all.
func subscribe(id int, filter, field string, n int) *flow.Template {
	var b builder
	b.lit(header(mqttSubscribe, 2+2+n+1)).lit(be16(id)).lit(be16(n)).lit(filter)
	if field != "" {
		b.field(field)
	}
	b.lit("\x00")
	return b.done(fmt.Sprintf("SUBSCRIBE packet id %d to %s%s at QoS 0", id, filter, field))
}

// header is an MQTT fixed header: the type byte and the remaining length.
func header(typ byte, remaining int) string {
	b := []byte{typ}
	for {
		d := byte(remaining % 128)
		remaining /= 128
		if remaining > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if remaining == 0 {
			return string(b)
		}
	}
}

func be16(n int) string { return string(binary.BigEndian.AppendUint16(nil, uint16(n))) }

// whole and prefix are matchers of exact bytes.
func whole(b string) flow.Matcher {
	return flow.Matcher{Kind: flow.MatchWhole, Src: fmt.Sprintf("% x", b), Equals: []byte(b)}
}

func prefix(b string) flow.Matcher {
	return flow.Matcher{Kind: flow.MatchPrefix, Src: fmt.Sprintf("% x…", b), Equals: []byte(b)}
}

// Packets cuts MQTT packets out of the bytes of WebSocket messages (MQTT
// over WebSocket lets a message carry part of a packet or several: aedes
// writes a packet's fixed header and the rest as two messages).
type Packets struct{}

// Next returns the length of the packet at the start of b: its fixed
// header (a type byte and a remaining length of 1 to 4 bytes, 7 bits each)
// and what the length says follows; 0 while b holds only part of it.
func (Packets) Next(b []byte) (int, error) {
	n, shift := 0, 0
	for i := 1; i < len(b); i++ {
		if i > 4 {
			return 0, fmt.Errorf("MQTT: a remaining length longer than 4 bytes (% x)", b[:5])
		}
		n |= int(b[i]&0x7f) << shift
		shift += 7
		if b[i]&0x80 == 0 {
			if len(b) < i+1+n {
				return 0, nil
			}
			return i + 1 + n, nil
		}
	}
	return 0, nil
}
