package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Model names how sends are paced.
type Model string

const (
	// Closed: each connection sends its next message when the previous reply arrives.
	Closed Model = "closed"
	// Open: messages follow a fixed schedule at Spec.Rate, whether or not replies came back.
	Open Model = "open"
)

// Minimum payload sizes: every message carries a sequence number, its intended
// send time and its actual send time (3 × 8 bytes), base64-encoded in text messages.
const (
	MinSizeBinary = 24
	MinSizeText   = 32
)

// DefaultTick is the open model's default schedule granularity: about what
// the kernel's own timer wake-up costs in lateness (~70-90 µs at the median on
// the machines measured) times ten, and the granularity of wrk2's timers.
const DefaultTick = time.Millisecond

// MaxProcs bounds --procs.
const MaxProcs = 256

// Spec is the full effective setting of one run. JSON field names are part of
// the result file's contract.
type Spec struct {
	// Target is the ws:// URL under test; empty means the bundled server, started in-process.
	Target string `json:"target"`
	// Kind is the workload: "echo" (the default: data messages echoed back),
	// "ping" (ping control frames answered with pongs, the heartbeat path;
	// Size is then the ping payload, at most 125 bytes) or "broadcast" (chat
	// rooms: connections join rooms of RoomSize, Publishers of each room
	// publish at Rate in total, every member records each message's delivery).
	Kind Kind `json:"kind,omitempty"`
	// RoomSize, Publishers and RoomPath shape a broadcast run: connection i
	// joins room i / RoomSize at the target's path RoomPath (with %d the
	// room number), and the first Publishers members of each room publish.
	// ConnectRate paces opening the connections: this many start per second
	// (0: as fast as DialConcurrency allows).
	ConnectRate float64 `json:"connect_rate,omitempty"`
	// ConnectMessage makes each connection of a storm (kind "connect") send
	// one message and wait for its echo before closing.
	ConnectMessage bool   `json:"connect_message,omitempty"`
	RoomSize       int    `json:"room_size,omitempty"`
	Publishers     int    `json:"publishers,omitempty"`
	RoomPath       string `json:"room_path,omitempty"`
	// Conns is the number of connections.
	Conns int `json:"conns"`
	// Duration is the measured part of the run.
	Duration Duration `json:"duration"`
	// Warmup runs before Duration with the same load; nothing sent in it is counted.
	Warmup Duration `json:"warmup"`
	// Rate is the total message rate per second across all connections (open model); 0 selects the closed model.
	Rate float64 `json:"rate"`
	// Think is the closed model's pause between a reply and the next send of
	// its connection (0: none). The send is due when the pause ends, and
	// measured from there.
	Think Duration `json:"think,omitempty"`
	// Arrival is the open model's arrival process: "uniform" (the default:
	// each connection sends every Conns/Rate seconds) or "poisson"
	// (exponential gaps with that mean, from Seed).
	Arrival Arrival `json:"arrival,omitempty"`
	// Seed fixes a Poisson schedule; 0 lets the run pick one (the result
	// records it, so the run can be repeated).
	Seed uint64 `json:"seed,omitempty"`
	// Interval is the length of the measured window's slices in the result
	// (rates and latency over time); 0: none.
	Interval Duration `json:"interval,omitempty"`
	// Tick quantizes the open-model schedule: sends fall due on multiples of
	// Tick (see Schedule). 0 gives every send its own exact time.
	Tick Duration `json:"tick"`
	// MaxInflight caps the messages awaiting a reply on one connection in the open model (0: no cap).
	MaxInflight int `json:"max_inflight"`
	// Size is the payload size in bytes.
	Size int `json:"size"`
	// Binary sends binary messages instead of text.
	Binary bool `json:"binary"`
	// Grace is how long to wait for in-flight replies after sending stops.
	Grace Duration `json:"grace"`
	// ConnectTimeout bounds TCP connect plus opening handshake of one connection.
	ConnectTimeout Duration `json:"connect_timeout"`
	// DialConcurrency is how many connections may be opening at once.
	DialConcurrency int `json:"dial_concurrency"`
	// SourceIP lists the local addresses connections are spread over, as the
	// --source-ip flag takes them ("127.0.0.1-127.0.0.16,::1"); empty lets the
	// kernel choose. One address can open at most one ephemeral port range's
	// worth of connections to one server address.
	SourceIP string `json:"source_ip,omitempty"`
	// Procs is how many client processes share the connections and the rate;
	// their results are merged exactly into one.
	Procs int `json:"procs"`
	// Subprotocols are offered in Sec-WebSocket-Protocol, in order of
	// preference; with RequireSubprotocol a connection whose server picks
	// none fails (handshake_no_subprotocol).
	Subprotocols       []string `json:"subprotocols,omitempty"`
	RequireSubprotocol bool     `json:"require_subprotocol,omitempty"`
	// Headers are extra opening-handshake headers, each "Name: value".
	Headers []string `json:"headers,omitempty"`
	// SecretHeaders and SecretParams name headers and query parameters
	// whose values never go into a result, on top of those SecretHeader and
	// SecretParam find secret by their names.
	SecretHeaders []string `json:"secret_headers,omitempty"`
	SecretParams  []string `json:"secret_params,omitempty"`
	// Origin is sent as the Origin header when set.
	Origin string `json:"origin,omitempty"`
	// Thresholds are pass/fail checks on the finished run ("rtt.p99<20ms");
	// wsbench run exits with 3 when one fails. Checked by package results.
	Thresholds []string `json:"thresholds,omitempty"`
	// Fragment sends each message as this many frames (a first frame and
	// continuations), to exercise the server's reassembly; 0 or 1: one frame.
	Fragment int `json:"fragment,omitempty"`
	// Stages make the run a list of stages whose connection count and
	// message rate ramp linearly from one to the next (see Stage). Conns,
	// Duration and Rate then follow from them (ApplyStages) and Warmup is 0.
	Stages []Stage `json:"stages,omitempty"`
	// CA names a PEM file of certificates trusted for wss:// targets, on top
	// of the system's roots; Insecure turns certificate verification off
	// (the summary and the result say so).
	CA       string `json:"ca,omitempty"`
	Insecure bool   `json:"insecure,omitempty"`
	// SizeMax, when above Size, draws each message's payload size uniformly
	// from Size … SizeMax (a file's "size: {min: 16, max: 4096}").
	SizeMax int `json:"size_max,omitempty"`
	// Payload is the filler after each message's stamp: "pattern" (the
	// default: a repeating alphanumeric pattern) or "random" (random bytes;
	// random letters and digits in text messages), unless PayloadFile gives
	// the bytes (repeated to the size) or Template the whole message.
	Payload     string `json:"payload,omitempty"`
	PayloadFile string `json:"payload_file,omitempty"`
	// Template is each message's text with fields filled in per message:
	// {{conn}} the connection's index, {{seq}} the message's sequence number
	// on it, {{stamp}} (required once) its timing stamp. Size is then the
	// rendered length.
	Template string `json:"template,omitempty"`
	// Query is added to the target URL's query for each connection, with
	// {{conn}} the connection's index and {{token}} line conn mod N of
	// TokensFile ("user={{conn}}&token={{token}}"): per-connection
	// credentials. The tokens never go into a result.
	Query      string `json:"query,omitempty"`
	TokensFile string `json:"tokens_file,omitempty"`
	// Groups make the run a mix of workloads running at once (see Group);
	// Conns and Rate are then their sums (ApplyGroups).
	Groups []Group `json:"groups,omitempty"`
	// Reconnect, when positive, reopens a connection that dropped (or
	// failed to open) after this backoff, doubled per failed try up to
	// 10s, with jitter; reopened connections are counted.
	Reconnect Duration `json:"reconnect,omitempty"`
	// Deflate offers permessage-deflate (no context takeover either way);
	// a connection whose server declines it fails. Every message is sent
	// compressed, and the result gives the compression ratio.
	Deflate bool `json:"deflate,omitempty"`

	// Protocol workloads (kinds request, subscribe and flow; see
	// protocol.go): a preset by name and its options ("key=value"), and
	// the parts a preset fills in, each of which a scenario may set or
	// override.
	Protocol     string       `json:"protocol,omitempty"`
	ProtocolOpts []string     `json:"protocol_opts,omitempty"`
	Request      *RequestSpec `json:"request,omitempty"`
	Open         []StepSpec   `json:"open,omitempty"`
	Stream       *StreamSpec  `json:"stream,omitempty"`
	Rules        []RuleSpec   `json:"rules,omitempty"`
	Every        []EverySpec  `json:"every,omitempty"`
	// Steps is a flow's script (kind flow), run by every connection;
	// DataFile gives each connection a row of values ({{column}}): a CSV
	// file with a header line, or JSON lines (one object a line; a string
	// value is its text, any other its JSON); connection i takes row i mod
	// the rows. ${NAME} in a step's strings and in a header's value is the
	// environment variable NAME, filled in by Compile (the Spec keeps
	// ${NAME}, so no result holds the value; an unset NAME is an error;
	// $${ is a literal ${). Those values, and a data file's columns with
	// secret names (SecretParam: password, token, …), are secrets
	// (SecretValues).
	Steps    []StepSpec `json:"steps,omitempty"`
	DataFile string     `json:"data_file,omitempty"`

	// stream part: the bundled server's push stream for kind subscribe
	// (no target): messages per second to each subscriber (0: the
	// server's default, 10) and how many (0: no end).
	PushRate  float64 `json:"push_rate,omitempty"`
	PushCount int     `json:"push_count,omitempty"`

	// flowrun: SessionRate, for kind flow, starts this many sessions per
	// second (open model, as k6's arrival-rate executors): session i opens
	// its own connection at i/SessionRate from the start, runs the steps
	// once and closes it. Conns is then the number of sessions the warm-up
	// and the duration hold (ApplySessionRate). Without it, Conns
	// connections stay open and loop their steps for the whole run.
	SessionRate float64 `json:"session_rate,omitempty"`
}

// Default returns the settings of a plain `wsbench run`.
func Default() Spec {
	return Spec{
		Conns:           50,
		Duration:        Duration(10 * time.Second),
		Warmup:          Duration(time.Second),
		Size:            64,
		Grace:           Duration(2 * time.Second),
		ConnectTimeout:  Duration(10 * time.Second),
		DialConcurrency: 64,
		Procs:           1,
		Publishers:      1,
		ConnectMessage:  true,
		RoomPath:        "/room/%d",
		Tick:            Duration(DefaultTick),
		Interval:        Duration(time.Second),
	}
}

// Model reports the load model the Spec selects.
func (s Spec) Model() Model {
	if s.Rate > 0 {
		return Open
	}
	return Closed
}

// Kind names a workload: what each connection does with its messages. The
// empty Kind is KindEcho.
type Kind string

// Workloads.
const (
	KindEcho      Kind = "echo"
	KindPing      Kind = "ping"
	KindBroadcast Kind = "broadcast"
	KindConnect   Kind = "connect"
	KindHold      Kind = "hold"
	// Protocol workloads (protocol.go): requests correlated with their
	// replies, a server's pushed streams, scripted flows.
	KindRequest   Kind = "request"
	KindSubscribe Kind = "subscribe"
	KindFlow      Kind = "flow"
)

// MaxPingSize is the largest control-frame payload.
const MaxPingSize = 125

// MinSize is the smallest payload the Spec's message type can carry.
func (s Spec) MinSize() int {
	pub := 0
	if s.Kind == KindBroadcast {
		pub = 4 // the publisher's index: 4 bytes, 6 in base64 text
	}
	if s.Binary || s.Kind == KindPing {
		return MinSizeBinary + pub
	}
	return MinSizeText + pub*3/2
}

// check returns every problem with the values of s that is not a mix, each
// a FieldError naming its key (Compile parses the lists and reads the files).
func (s Spec) check() []error {
	var errs []error
	bad := func(key, format string, a ...any) { errs = append(errs, fieldErr(key, format, a...)) }
	s.validateStages(bad)
	if s.Staged() {
		d := s
		d.ApplyStages()
		// (A process of a split run holds a share of the connections.)
		if s.Conns > d.Conns || d.Duration != s.Duration || d.Rate != s.Rate || d.Warmup != s.Warmup {
			bad("stages", "%s, %s, %s and %s follow from the stages (%d connections, %s, %g msg/s, no warm-up); do not set them too",
				Ref("conns"), Ref("duration"), Ref("rate"), Ref("warmup"), d.Conns, d.Duration, d.Rate)
		}
	}
	if s.Conns < 1 {
		bad("conns", "must be at least 1, got %d", s.Conns)
	}
	if s.Duration <= 0 {
		bad("duration", "must be positive, got %s", s.Duration)
	}
	if s.Warmup < 0 {
		bad("warmup", "must not be negative, got %s", s.Warmup)
	}
	if s.Rate < 0 {
		bad("rate", "must not be negative, got %g", s.Rate)
	}
	if s.Interval < 0 {
		bad("interval", "must not be negative, got %s", s.Interval)
	} else if s.Interval > 0 && s.Interval < Duration(10*time.Millisecond) {
		bad("interval", "must be at least 10ms (or 0 for none), got %s", s.Interval)
	}
	if s.ConnectRate < 0 {
		bad("connect_rate", "must not be negative, got %g", s.ConnectRate)
	}
	if s.Think < 0 {
		bad("think", "must not be negative, got %s", s.Think)
	} else if s.Think > 0 && s.Rate > 0 {
		bad("think", "applies to the closed model only; the open model's pace is %s", Ref("rate"))
	}
	switch s.Arrival {
	case "", ArrivalUniform:
	case ArrivalPoisson:
		if s.Rate == 0 {
			bad("arrival", "poisson applies to the open model only: set %s too", Ref("rate"))
		}
	default:
		bad("arrival", "want %s or %s, got %q", ArrivalUniform, ArrivalPoisson, s.Arrival)
	}
	if s.Tick < 0 {
		bad("tick", "must not be negative, got %s", s.Tick)
	} else if s.Tick > Duration(time.Second) {
		bad("tick", "must be at most 1s, got %s", s.Tick)
	}
	if s.MaxInflight < 0 {
		bad("max_inflight", "must not be negative, got %d", s.MaxInflight)
	}
	if s.MaxInflight > 0 && s.Rate == 0 {
		bad("max_inflight", "applies to the open model only: set %s too", Ref("rate"))
	}
	switch s.Kind {
	case "", KindEcho:
	case KindPing:
		if s.Deflate {
			bad("deflate", "pings are control frames, which are never compressed (%s ping)", Ref("kind"))
		}
		if s.Size > MaxPingSize {
			bad("size", "a ping carries at most %d bytes (RFC 6455 control frame), got %d", MaxPingSize, s.Size)
		}
		if s.Fragment > 1 {
			bad("fragment", "control frames cannot be fragmented (%s ping)", Ref("kind"))
		}
	case KindHold:
		if s.Think > 0 {
			bad("think", "held connections have no closed loop: use %s for light traffic", Ref("rate"))
		}
	case KindConnect:
		if s.Rate > 0 {
			bad("rate", "a connection storm (%s connect) opens connections as fast as %s loops can; it has no message rate", Ref("kind"), Ref("conns"))
		}
	case KindBroadcast:
		switch {
		case s.RoomSize < 1:
			bad("room_size", "a broadcast run needs rooms: %s of at least 1, got %d", Ref("room_size"), s.RoomSize)
		case s.Conns%s.RoomSize != 0:
			bad("room_size", "%s %d is not a whole number of rooms of %d", Ref("conns"), s.Conns, s.RoomSize)
		case s.Publishers < 1 || s.Publishers > s.RoomSize:
			bad("publishers", "want 1 to %d publishers per room, got %d", s.RoomSize, s.Publishers)
		}
		if s.Rate <= 0 {
			bad("rate", "a broadcast run publishes at %s messages per second in total: set it", Ref("rate"))
		}
		if strings.Count(s.RoomPath, "%d") != 1 || strings.Count(s.RoomPath, "%") != 1 || !strings.HasPrefix(s.RoomPath, "/") {
			bad("room_path", "want a path with one %%d for the room number, such as /room/%%d, got %q", s.RoomPath)
		}
	// script: a flow runs its steps.
	case KindFlow:
		if len(s.Steps) == 0 {
			bad("steps", "a flow (%s flow) needs its steps: send, expect, think, receive, ping, close, steps (a repeat)", Ref("kind"))
		}
		s.checkFlowShape(bad) // flowrun: the run's shape (session_rate or long-lived conns)
	// stream part
	case KindSubscribe:
		if s.Rate > 0 || s.Think > 0 {
			bad("rate", "subscribers only receive (their subscribe messages go out as they open): no %s or %s; to send requests while subscribed, use %s request with a %s", Ref("rate"), Ref("think"), Ref("kind"), Ref("stream"))
		}
	case KindRequest: // rpc: requests correlated with their replies
		if s.Template != "" || s.PayloadFile != "" || s.Payload != "" && s.Payload != PayloadPattern {
			bad("template", "a request's message is %s (with {{id}}), not a stamped payload", Ref("request.send"))
		}
		if s.Fragment > 1 {
			bad("fragment", "applies to the stamp workloads (echo, ping, hold), not %s request", Ref("kind"))
		}
	default:
		bad("kind", "want %s, %s, %s, %s or %s, got %q", KindEcho, KindPing, KindBroadcast, KindConnect, KindHold, s.Kind)
	}
	errs = append(errs, s.checkPush()...)         // stream part
	if s.Kind != KindFlow && s.SessionRate != 0 { // flowrun
		bad("session_rate", "applies to %s flow only (sessions that run a flow's steps)", Ref("kind"))
	}
	if s.Size < s.MinSize() {
		kind := "text"
		if s.Binary {
			kind = "binary"
		}
		bad("size", "must be at least %d bytes for %s messages (each carries a sequence number and two timestamps), got %d", s.MinSize(), kind, s.Size)
	}
	if s.Size > 64<<20 {
		bad("size", "must be at most 64 MiB, got %d", s.Size)
	}
	if s.SizeMax != 0 && (s.SizeMax < s.Size || s.SizeMax > 64<<20) {
		bad("size", "the range's maximum %d must be at least its minimum %d and at most 64 MiB", s.SizeMax, s.Size)
	}
	if s.Kind == KindPing && s.SizeMax > MaxPingSize {
		bad("size", "a ping carries at most %d bytes (RFC 6455 control frame), got up to %d", MaxPingSize, s.SizeMax)
	}
	switch s.Payload {
	case "", PayloadPattern, PayloadRandom:
	default:
		bad("payload", "want %s or %s, got %q", PayloadPattern, PayloadRandom, s.Payload)
	}
	sources := 0
	for _, set := range []bool{s.Payload != "" && s.Payload != PayloadPattern, s.PayloadFile != "", s.Template != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		bad("payload", "choose one of %s random, %s and %s", Ref("payload"), Ref("payload_file"), Ref("template"))
	}
	if s.Template != "" {
		if s.SizeMax != 0 {
			bad("template", "a templated message's size is its rendered length: drop the size range")
		}
		if s.Kind == KindPing || s.Kind == KindBroadcast {
			bad("template", "applies to the echo, hold and connect kinds")
		}
	}
	if strings.Contains(s.Query, "{{token}}") && s.TokensFile == "" {
		bad("query", "uses {{token}}: name the file of tokens with %s", Ref("tokens_file"))
	}
	if s.TokensFile != "" && !strings.Contains(s.Query, "{{token}}") {
		bad("tokens_file", "is used by {{token}} in %s, which has none", Ref("query"))
	}
	if len(s.Steps) > 0 && s.Kind != KindFlow { // script
		bad("steps", "are a flow's: set %s flow", Ref("kind"))
	}
	if s.Grace < 0 {
		bad("grace", "must not be negative, got %s", s.Grace)
	}
	if s.ConnectTimeout <= 0 {
		bad("connect_timeout", "must be positive, got %s", s.ConnectTimeout)
	}
	if s.DialConcurrency < 1 {
		bad("dial_concurrency", "must be at least 1, got %d", s.DialConcurrency)
	}
	for _, p := range s.Subprotocols {
		if !isToken(p) {
			bad("subprotocols", "%q is not a valid subprotocol name (an HTTP token: letters, digits and !#$%%&'*+-.^_`|~)", p)
		}
	}
	if s.RequireSubprotocol && len(s.Subprotocols) == 0 {
		bad("require_subprotocol", "needs %s: offer at least one", Ref("subprotocols"))
	}
	if strings.ContainsAny(s.Origin, "\r\n") {
		bad("origin", "must be one line")
	}
	if s.Fragment < 0 {
		bad("fragment", "must not be negative, got %d", s.Fragment)
	} else if s.Fragment > s.Size && s.Size > 0 {
		bad("fragment", "%d frames for %d-byte messages: each frame needs at least one byte", s.Fragment, s.Size)
	}
	if s.Reconnect < 0 {
		bad("reconnect", "must not be negative, got %s", s.Reconnect)
	} else if s.Reconnect > 0 && (s.Kind == KindBroadcast || s.Kind == KindConnect) {
		bad("reconnect", "applies to the echo, ping and hold kinds (a storm reconnects by design; broadcast rooms are fixed)")
	}
	if s.CA != "" || s.Insecure {
		if p, err := url.Parse(s.Target); err != nil || !strings.EqualFold(p.Scheme, "wss") {
			flag := "ca"
			if s.Insecure {
				flag = "insecure"
			}
			bad(flag, "applies to wss:// targets only (the target is %s)", orBundled(RedactURL(s.Target, s.SecretParams)))
		}
	}
	if s.CA != "" && s.Insecure {
		bad("insecure", "turns verification off, so %s would be ignored: choose one", Ref("ca"))
	}
	switch {
	case s.Procs < 1:
		bad("procs", "must be at least 1, got %d", s.Procs)
	case s.Procs > MaxProcs:
		bad("procs", "must be at most %d, got %d", MaxProcs, s.Procs)
	case s.Conns >= 1 && s.Procs > s.Conns:
		bad("procs", "%d processes for %d connections: each process needs at least one", s.Procs, s.Conns)
	}
	return errs
}

func orBundled(target string) string {
	if target == "" {
		return "the bundled server, ws://"
	}
	return strconv.Quote(target)
}

// CheckURL reports whether u is a target wsbench can benchmark: an absolute
// ws:// URL with a host.
func CheckURL(u string) error {
	if !strings.Contains(u, "://") && u != "" {
		// host:port or host/path: Go's URL parser would take the host for a
		// scheme or a path; say what was probably meant instead.
		// Shown redacted (a password or token in it is still a secret) and
		// quoted, so that the error stays one line whatever u holds.
		shown := strings.TrimPrefix(RedactURL("ws://"+u, nil), "ws://")
		if strings.ContainsFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return fmt.Errorf("target URL %q: no scheme (want ws://host:port/path, or wss:// for TLS)", shown)
		}
		want := "ws://" + shown
		if !strings.Contains(u, "/") {
			want += "/"
		}
		return fmt.Errorf("target URL %q: no scheme: did you mean %s ? (wss:// for TLS)", shown, want)
	}
	p, err := url.Parse(u)
	shown := RedactURL(u, nil) // the rule's defaults: flags are not read yet
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the whole URL
		}
		return fmt.Errorf("target URL %q: %w", shown, err)
	}
	u = shown
	switch strings.ToLower(p.Scheme) {
	case "ws", "wss":
	case "":
		return fmt.Errorf("target URL %q: missing scheme, want ws://host:port/path (or wss://)", u)
	default:
		return fmt.Errorf("target URL %q: scheme %q is not a WebSocket scheme, want ws:// or wss://", u, p.Scheme)
	}
	if p.Host == "" || p.Hostname() == "" {
		return fmt.Errorf("target URL %q: missing host", u)
	}
	return nil
}

// Duration is a time.Duration that reads and writes JSON as a Go duration string ("1.5s").
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string, or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if strings.TrimSpace(string(b)) == "null" {
		return nil // as encoding/json does for other types: leave it be
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: want a string like \"10s\": %w", err)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// reservedHeaders are set by the opening handshake itself; -H may not override them.
var reservedHeaders = map[string]bool{
	"host": true, "upgrade": true, "connection": true, "sec-websocket-key": true,
	"sec-websocket-version": true, "sec-websocket-protocol": true, "sec-websocket-extensions": true,
}

// ParseHeader splits an -H value "Name: value" into its name and value.
func ParseHeader(h string) (name, value string, err error) {
	name, value, ok := strings.Cut(h, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	switch {
	case !ok:
		return "", "", fieldErr("headers", "%q: want \"Name: value\"", h)
	case !isToken(name):
		return "", "", fieldErr("headers", "%q: %q is not a valid header name", h, name)
	case strings.ContainsAny(value, "\r\n"):
		return "", "", fieldErr("headers", "%q: the value must be one line", h)
	case strings.IndexFunc(value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) >= 0:
		return "", "", fieldErr("headers", "%q: the value holds a control character (RFC 9110 field values may not)", h)
	case reservedHeaders[strings.ToLower(name)]:
		return "", "", fieldErr("headers", "%q: %s is set by the handshake itself (use %s for Sec-WebSocket-Protocol)", h, name, Ref("subprotocols"))
	}
	return name, value, nil
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
