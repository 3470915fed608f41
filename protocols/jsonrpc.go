package protocols

import (
	"strings"

	"github.com/wsbench/wsbench/internal/flow"
)

// jsonrpc: JSON-RPC 2.0. Each request is a call of method with params,
// correlated by its numeric id; an error reply's error.code names the
// error. With subscribe, each connection subscribes as it opens and the
// server's notifications are the stream: X_subscribe's X_subscription
// notifications (Ethereum-style), or, for rpc-websockets' rpc.on, the
// {"notification":EVENT} messages of the events in subscribe_params.
var jsonrpcPreset = &preset{
	name: "jsonrpc",
	doc:  "JSON-RPC 2.0: calls correlated by id, error.code, notification subscriptions",
	opts: []Option{
		{Key: "method", Default: "echo", Doc: "the method each request calls"},
		{Key: "params", Default: "[]", Doc: "its params: a JSON array or object, a template ({{seq}}, {{now_ms}}, {{user}})"},
		{Key: "subscribe", Doc: "a method called once as each connection opens (eth_subscribe, rpc.on); its notifications are the stream"},
		{Key: "subscribe_params", Default: "[]", Doc: "its params (rpc.on: the event names, [\"tick\"])"},
		{Key: "notification", Doc: "the method of the subscription's notifications (default: X_subscription for X_subscribe)"},
	},
	build: buildJSONRPC,
}

// jsonrpcSubscribeID is the id of the opening subscribe call: a string,
// never one of the requests' numeric ids.
const jsonrpcSubscribeID = "wsbench-subscribe"

func buildJSONRPC(o *options) *flow.Protocol {
	method := o.str("method")
	if method == "" {
		o.bad("method", "a request calls a method: give its name")
	}
	var b builder
	b.lit(`{"jsonrpc":"2.0","id":`).field("{{id}}").lit(`,"method":`).quoted(method)
	if params := o.json("params", ""); params != nil {
		b.lit(`,"params":`).tmpl(params)
	}
	b.lit("}")
	p := &flow.Protocol{
		Request: &flow.Request{
			Template: b.done(),
			// A reply has a result or an error beside its id: a message
			// with an id and neither (an echo of the request, a call from
			// the server) answers nothing.
			Keys: []flow.Matcher{flow.All("$.id (beside a result or an error)",
				flow.Either("$.result || $.error", flow.MustMatcher("$.result"), flow.MustMatcher("$.error")),
				flow.MustMatcher("$.id"))},
			Replies: 1,
			Error:   ptr(flow.MustMatcher("$.error.code")),
			Timeout: requestTimeout,
		},
	}
	sub := o.str("subscribe")
	if sub == "" {
		for _, k := range []string{"subscribe_params", "notification"} {
			if o.isSet(k) {
				o.bad(k, "applies with subscribe (the method that subscribes)")
			}
		}
		return p
	}
	params := o.json("subscribe_params", "")
	var call builder
	call.lit(`{"jsonrpc":"2.0","id":"` + jsonrpcSubscribeID + `","method":`).quoted(sub)
	if params != nil {
		call.lit(`,"params":`).tmpl(params)
	}
	call.lit("}")
	p.Open = []flow.Step{
		sendStep(call.done()),
		// The call's result, not its error, opens the stream.
		expectStep(flow.MustMatcher("$.id=="+jsonrpcSubscribeID+" && $.result"), "a result for the "+sub+" call (id "+jsonrpcSubscribeID+")"),
	}
	notification := o.str("notification")
	switch {
	case notification != "":
		p.Stream = &flow.Stream{Match: o.matcher("notification", "$.method=="+notification)}
	case sub == "rpc.on":
		// rpc-websockets: {"notification":"tick","params":{…}} for each
		// event named in the call's params.
		events := rpcOnEvents(o.str("subscribe_params"))
		if len(events) == 0 {
			o.bad("subscribe_params", "rpc.on subscribes to events by name: give them, [\"tick\"]")
			return p
		}
		var alts []string
		for _, e := range events {
			alts = append(alts, "$.notification=="+e)
		}
		p.Stream = &flow.Stream{Match: o.matcher("subscribe_params", strings.Join(alts, " || "))}
	case strings.HasSuffix(sub, "_subscribe"):
		p.Stream = &flow.Stream{Match: o.matcher("subscribe", "$.method=="+strings.TrimSuffix(sub, "_subscribe")+"_subscription")}
	default:
		o.bad("notification", "the method of %s's notifications is needed to tell them apart (only X_subscribe implies X_subscription)", sub)
	}
	return p
}

// rpcOnEvents are the event names of rpc.on's params (a JSON array of
// strings; nil when it is not one).
func rpcOnEvents(params string) []string {
	var events []string
	if err := jsonUnmarshal(params, &events); err != nil {
		return nil
	}
	return events
}

func ptr[T any](v T) *T { return &v }
