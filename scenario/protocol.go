package scenario

// The scenario-file form of the protocol workloads (kinds request,
// subscribe and flow). Matchers and templates are strings, the same as on
// the command line (internal/flow: ParseMatcher, ParseTemplate); Compile
// turns them into a flow.Protocol and flow.Steps.
//
//	kind: request
//	protocol: jsonrpc            # a preset (package protocols), or none
//	protocol_opts: [method=echo]
//	request:
//	  send: '{"jsonrpc":"2.0","id":{{id}},"method":"echo","params":[1]}'
//	  key: [$.id]
//	  error: $.error.code
//	  replies: 1
//	  timeout: 5s
//	open:
//	  - send: '{"type":"connection_init"}'
//	  - expect: $.type==connection_ack
//	    timeout: 5s
//	stream:
//	  match: $.method==tick
//	  seq: $.params.seq
//	  sent: $.params.sent_ns
//	  unit: ns
//	rules:
//	  - when: is:2
//	    reply: "3"
//	every:
//	  - interval: 25s
//	    send: "\n"

// RequestSpec is a request/response exchange (flow.Request).
type RequestSpec struct {
	// Send is the request's template ({{id}} is its correlation id).
	Send string `json:"send,omitempty"`
	// Key lists the matchers that read a reply's correlation key; the
	// first that reads one wins.
	Key []string `json:"key,omitempty"`
	// Replies is how many replies complete a request (default 1).
	Replies int `json:"replies,omitempty"`
	// Error matches an error reply; its value names the error.
	Error string `json:"error,omitempty"`
	// Timeout gives a request up as timed out (default 10s).
	Timeout Duration `json:"timeout,omitempty"`
}

// StreamSpec is a server-pushed stream (flow.Stream).
type StreamSpec struct {
	Match string   `json:"match,omitempty"`
	Seq   string   `json:"seq,omitempty"`
	Sent  string   `json:"sent,omitempty"`
	Unit  string   `json:"unit,omitempty"` // of Sent: ns, us, ms or s
	Stall Duration `json:"stall,omitempty"`
	// SeqStart is the sequence number each connection's stream starts at
	// (a stream per subscription): those before its first arrival count
	// as gaps. Unset: the first arrival starts the sequence.
	SeqStart *uint64 `json:"seq_start,omitempty"`
}

// RuleSpec answers (or, without Reply, silences) what the server says on
// its own (flow.Rule).
type RuleSpec struct {
	When  string `json:"when"`
	Reply string `json:"reply,omitempty"`
}

// EverySpec sends Send every Interval on every connection (flow.Periodic).
type EverySpec struct {
	Interval Duration `json:"interval"`
	Send     string   `json:"send"`
}

// StepSpec is one step of a flow (or of open): exactly one of send,
// expect, think/sleep, steps (a repeat), receive, ping or close.
//
//   - name: login
//     send: '{"op":"login","user":"{{user}}","id":{{id}}}'
//   - expect: $.op==login_ok
//     capture: [session=$.session]
//     timeout: 2s
//   - repeat: 100             # absent: until the run ends
//     steps:
//   - send: '{"op":"get","session":"{{session}}","id":{{id}}}'
//   - expect: $.id
//   - think: 100ms
//   - receive: $.type==tick
//     for: 5s
//   - ping: true
//   - close: true
type StepSpec struct {
	Name    string     `json:"name,omitempty"`
	Send    string     `json:"send,omitempty"`
	Expect  string     `json:"expect,omitempty"`
	Capture []string   `json:"capture,omitempty"` // NAME=MATCHER
	Timeout Duration   `json:"timeout,omitempty"`
	Count   int        `json:"count,omitempty"`
	Think   Duration   `json:"think,omitempty"`
	Sleep   Duration   `json:"sleep,omitempty"`
	Repeat  int        `json:"repeat,omitempty"`
	Steps   []StepSpec `json:"steps,omitempty"`
	Receive string     `json:"receive,omitempty"`
	For     Duration   `json:"for,omitempty"`
	Ping    bool       `json:"ping,omitempty"`
	Close   bool       `json:"close,omitempty"`
	// Line is the step's line in its scenario file (0: not from a file).
	Line int `json:"-"`
}
