package protocols

import "github.com/wsbench/wsbench/internal/flow"

// graphql-ws: the graphql-transport-ws protocol. A connection opens with
// connection_init and waits for connection_ack; the server's pings are
// answered with pongs. Each request is a subscribe message running query
// under the request's id, answered by its next and then its complete; an
// error message, or a next whose payload carries errors, fails it. With
// subscription, each connection subscribes as it opens and the
// subscription's next messages are the stream.
var graphqlWSPreset = &preset{
	name: "graphql-ws",
	doc:  "GraphQL over WebSocket (graphql-transport-ws): queries as requests, a subscription as the stream",
	opts: []Option{
		{Key: "query", Default: "{ __typename }", Doc: "the query (or mutation) each request runs"},
		{Key: "variables", Doc: "its variables: a JSON object, a template ({{seq}}, {{user}})"},
		{Key: "subscription", Doc: "a subscription each connection starts as it opens; its next messages are the stream"},
		{Key: "subscription_variables", Doc: "its variables: a JSON object"},
		{Key: "init", Doc: "connection_init's payload: a JSON object (credentials: a secret)", Secret: true},
	},
	build: buildGraphQLWS,
}

// graphqlSubscriptionID is the opening subscription's id: never one of the
// requests' numeric ids.
const graphqlSubscriptionID = "wsbench-subscription"

func buildGraphQLWS(o *options) *flow.Protocol {
	var init builder
	init.lit(`{"type":"connection_init"`)
	if payload := o.json("init", "object"); payload != nil {
		init.lit(`,"payload":`).tmpl(payload)
	}
	init.lit("}")
	shownInit := `{"type":"connection_init"}`
	if o.isSet("init") {
		shownInit = `{"type":"connection_init","payload":…}` // a secret
	}
	p := &flow.Protocol{
		Subprotocol: "graphql-transport-ws",
		Open: []flow.Step{
			sendStep(init.done(shownInit)),
			expectStep(flow.MustMatcher("$.type==connection_ack"), ""),
		},
		Rules: []flow.Rule{
			{When: flow.MustMatcher("$.type==ping"), Reply: flow.MustTemplate(`{"type":"pong"}`)},
			{When: flow.MustMatcher("$.type==pong")},
			// A complete after an error reply (a next carrying errors)
			// ends an operation already counted as failed.
			{When: flow.MustMatcher("$.type==complete")},
		},
	}
	query := o.str("query")
	if query == "" {
		o.bad("query", "a request runs a query: give it, such as { __typename }")
	}
	var req builder
	req.lit(`{"id":"`).field("{{id}}").lit(`","type":"subscribe","payload":{"query":`).quoted(query)
	if vars := o.json("variables", "object"); vars != nil {
		req.lit(`,"variables":`).tmpl(vars)
	}
	req.lit("}}")
	p.Request = &flow.Request{
		Template: req.done(),
		// Only the server's messages about an operation are replies (an
		// echo of the subscribe is not).
		Keys: []flow.Matcher{flow.All("$.id (of a next, error or complete)",
			flow.Either("$.type==next || $.type==error || $.type==complete",
				flow.MustMatcher("$.type==next"), flow.MustMatcher("$.type==error"), flow.MustMatcher("$.type==complete")),
			flow.MustMatcher("$.id"))},
		Replies: 2, // next, complete
		// error_error: the server refused the operation (an error
		// message); error_next: it ran and its result carries errors.
		Error:   ptr(flow.MustMatcher("$.type==error || $.payload.errors[0] && $.type")),
		Timeout: requestTimeout,
	}
	sub := o.str("subscription")
	if sub == "" {
		if o.isSet("subscription_variables") {
			o.bad("subscription_variables", "applies with subscription")
		}
		return p
	}
	var s builder
	s.lit(`{"id":"` + graphqlSubscriptionID + `","type":"subscribe","payload":{"query":`).quoted(sub)
	if vars := o.json("subscription_variables", "object"); vars != nil {
		s.lit(`,"variables":`).tmpl(vars)
	}
	s.lit("}}")
	// The stream starts with the subscribe: graphql-transport-ws has no
	// acknowledgement of it (its first next is the first stream message).
	p.Open = append(p.Open, sendStep(s.done()))
	p.Stream = &flow.Stream{Match: flow.MustMatcher("$.id==" + graphqlSubscriptionID + " && $.type==next")}
	return p
}
