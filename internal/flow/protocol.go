package flow

import "time"

// Protocol is how the connections of a run speak to the server: what they
// say as they open (Open), the requests they send and how replies find them
// (Request), the server's streams they measure (Stream), and what they
// answer or ignore on their own (Rules, Every: heartbeats). A preset
// (package protocols) is a Protocol filled in; a scenario file or the
// flags can write one from scratch, or change a preset's parts.
type Protocol struct {
	Name        string // the preset's name, or "custom"
	Subprotocol string // asked for in the handshake (and required) when set
	Binary      bool   // messages go out as binary frames

	// Packets, when set, cuts what arrives into the protocol's own packets
	// (MQTT: a packet may span WebSocket messages, and one message may hold
	// several), and frames what is sent; nil: a packet is a message.
	Packets Packets

	// Open is said once per connection right after the handshake, before
	// the run's clock starts: send/expect steps (connection_init and its
	// ack, CONNECT and CONNACK, subscribe and its ack). A connection whose
	// expected reply does not come within its step's timeout failed to open.
	Open []Step

	Request *Request
	Stream  *Stream

	// Rules answer (or silence) what the server says on its own: a
	// heartbeat ping, a keep-alive. They are tried, in order, on every
	// message no request claimed, before the stream.
	Rules []Rule
	// Every is said periodically on every connection (MQTT PINGREQ, STOMP
	// heart-beats), from the connection's open.
	Every []Periodic
}

// Request is a request/response exchange: each message the pacer sends is
// Template rendered with the next id; a reply is any message one of Keys
// reads a key from that names an id in flight. A request is answered after
// Replies replies (an ack, then a result), failed when a reply matches
// Error (its value is the error's code), timed out after Timeout.
type Request struct {
	Template *Template
	Keys     []Matcher // the first that reads a key from a message wins
	Replies  int       // replies that complete a request (≥ 1)
	Error    *Matcher  // a reply it matches is an error reply; its value names the error
	Timeout  time.Duration
	// IDBase is added to the per-connection id ({{id}} starts at IDBase+1);
	// MQTT packet ids must fit 16 bits and skip 0, so it wraps them.
	IDBase uint64
	// IDMod, when set, wraps ids: id = IDBase + 1 + n mod IDMod.
	IDMod uint64
}

// Stream is a server-pushed stream: every message Match matches (and no
// request claimed) counts, with its gap since the last one; Seq reads a
// sequence number (gaps and duplicates), Sent the server's send time in
// Unit since the Unix epoch (one-way delivery latency), Stall is the gap
// counted as a stall.
type Stream struct {
	Match Matcher
	Seq   *Matcher
	Sent  *Matcher
	Unit  time.Duration // of Sent: time.Nanosecond, time.Millisecond, …
	Stall time.Duration
	// SeqStart, when HasSeqStart, is the sequence number a connection's
	// stream starts at: those before its first arrival count as skipped
	// (a stream per subscription). Without it, the first arrival starts
	// the sequence (a stream a subscriber joins midway).
	SeqStart    uint64
	HasSeqStart bool
}

// Rule answers a message it matches with Reply (nil: the message is only
// silenced, e.g. a pong or a heart-beat).
type Rule struct {
	When  Matcher
	Reply *Template
}

// Periodic sends Send every Every.
type Periodic struct {
	Every time.Duration
	Send  *Template
}

// Packets cuts a byte stream into a protocol's packets and frames what is
// sent (for protocols that do not map one packet to one message).
type Packets interface {
	// Next returns the length of the first whole packet at the start of b,
	// 0 when b holds only part of one, or an error when b cannot start a
	// packet.
	Next(b []byte) (int, error)
}

// StepKind is what a Step does.
type StepKind uint8

// Step kinds.
const (
	StepSend    StepKind = iota + 1 // send Send
	StepExpect                      // wait for Count messages matching Match (within Timeout), capturing values
	StepThink                       // wait For
	StepRepeat                      // run Steps Count times (0: until the run ends)
	StepReceive                     // take messages matching Match for For, or until Count
	StepPing                        // send a ping and wait for its pong (within Timeout)
	StepClose                       // close the connection (1000)
)

// Step is one step of a scripted flow (or of a Protocol's Open).
type Step struct {
	Name     string // for the per-step histogram and thresholds (step.NAME.p99); "" in Open
	Kind     StepKind
	Send     *Template
	Match    Matcher
	Captures []Capture
	Timeout  time.Duration
	Count    int
	For      time.Duration
	Steps    []Step
	// Line is the scenario file's line of the step (0: not from a file),
	// for errors.
	Line int
}

// Capture keeps a value read from the message an expect step matched in
// a variable, for the templates of later steps.
type Capture struct {
	Var  int // the variable's slot (Names)
	From Matcher
}
