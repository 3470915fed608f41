package server

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/internal/iomode"
)

// Modes a Server can run in.
const (
	// ModeEcho sends every text or binary message back to its sender,
	// unchanged and in order.
	ModeEcho = "echo"
	// ModeBroadcast makes every connection a member of a chat room chosen
	// by its URL path and delivers every text or binary message a member
	// sends to every member of the room, the sender included, unchanged and
	// in the order the server received them from that sender. A client
	// that upgrades at /room/<name> joins the room <name>; at any other path
	// it joins the room named by the whole path ("/" for "/"). The query
	// string is not part of the name.
	ModeBroadcast = "broadcast"
	// ModeRPC answers every message that is a JSON object with an "id"
	// member by {"jsonrpc":"2.0","id":ID,"result":PARAMS}: the request's id
	// and "params" copied byte for byte (null without params), in a text
	// message. An object without "id" is a notification and gets no
	// answer; a message that is not a JSON object gets a JSON-RPC parse
	// error (code -32700, id null). With a Delay distribution each answer
	// draws its own delay and goes out when it ends, so answers come back
	// out of order, as from a backend serving requests concurrently; a
	// fixed Delay keeps the order.
	ModeRPC = "rpc"
	// ModePush streams to subscribers: the first data message a
	// connection sends (any message: its subscribe request) makes it a
	// subscriber, and from then on the server sends it Config.PushRate
	// text messages a second (the first at once), {"seq":SEQ,"sent_ns":NS}, SEQ counting from
	// 1 per connection and NS the server's wall clock (Unix ns) when it
	// built the message; after Config.PushCount of them (0: no end) the
	// stream ends. Messages after the first are counted and ignored. A
	// stream that falls behind its schedule skips ahead rather than send
	// a burst: the rate is never above PushRate.
	ModePush = "push"
)

// I/O modes: how the event loops use the kernel (Config.IO; internal/iomode,
// shared with the driver).
const (
	// IOAuto uses io_uring when the kernel allows it, else system calls.
	IOAuto = string(iomode.Auto)
	// IOUring batches each pass of an event loop, the replies it sends and
	// the reads of every ready connection, into one io_uring_enter system
	// call. New fails if io_uring is not available (an old kernel, the
	// kernel.io_uring_disabled sysctl, a seccomp filter such as Docker's).
	IOUring = string(iomode.Uring)
	// IOSyscalls makes one read(2) or write(2) per socket operation.
	IOSyscalls = string(iomode.Syscalls)
)

// Config configures a Server. A zero field means "use the default", so
// Config{Addr: "127.0.0.1:0"} is a complete configuration; DefaultConfig
// spells the defaults out.
type Config struct {
	// Addr is the TCP address to listen on, host:port. Port 0 picks a free
	// port; Server.Addr reports the one bound. Default "127.0.0.1:8080".
	Addr string
	// Mode is what the server does with messages: ModeEcho ("echo", the
	// default), ModeBroadcast ("broadcast"), ModeRPC ("rpc") or ModePush
	// ("push").
	Mode string
	// PushRate is the number of messages a second ModePush sends each
	// subscriber. Default 10 (DefaultPushRate); at most MaxPushRate.
	PushRate float64
	// PushCount ends each subscriber's stream after that many messages
	// (ModePush); 0 (the default) streams until the connection closes.
	PushCount int
	// MaxMessage is the largest message accepted, in bytes: one frame's
	// payload, or the total of a fragmented message. Larger messages close
	// the connection with 1009 before their payload is buffered.
	// Default 1 MiB.
	MaxMessage int64
	// HandshakeTimeout bounds the opening handshake: a client that has not
	// completed it in this time is dropped and counted. Default 5s.
	HandshakeTimeout time.Duration
	// Loops is the number of event loops (goroutines blocked in epoll) that
	// serve upgraded connections. Default runtime.GOMAXPROCS(0).
	Loops int
	// MaxPendingWrite caps, per connection, the bytes of replies the kernel
	// would not take yet. A client that does not read its replies is closed
	// as a slow reader once the cap is exceeded. A single reply the kernel
	// cannot take at once counts too, so keep it above MaxMessage. With
	// Delay in echo mode, the replies waiting out the delay count as well.
	// Default 4 MiB.
	MaxPendingWrite int
	// Subprotocols are the subprotocols the server speaks. The server picks
	// the first one the client offers that is in this list; with an empty
	// list it never selects one.
	Subprotocols []string
	// IO is how the event loops use the kernel: IOAuto ("auto", the
	// default: io_uring if available, else system calls), IOUring
	// ("io_uring": required, New fails without it) or IOSyscalls
	// ("syscalls": one read or write per operation). Batching through
	// io_uring spends far less CPU per message where system calls are
	// expensive, as on virtual machines. Stats.IO reports the mode in use.
	IO string
	// Delay holds every reply (echo mode) or delivery (broadcast mode) back
	// after its message was received, to model a slow backend: a fixed time
	// (FixedDelay) or a distribution each message draws its own delay from
	// (see Delay; ParseDelay reads "5ms", "2ms-20ms", "exp:5ms",
	// "normal:5ms,1ms"). Order per connection is kept: a reply whose draw
	// is shorter than the one before waits for it (it goes out at the later
	// of its own due time and its predecessor's), so a distribution's
	// spread also delays the messages queued behind a long draw, as a
	// backend serving one connection in order would. Pongs and close frames
	// answering a client are not data replies, but a close frame never
	// overtakes a delayed echo. The zero Delay (the default) sends at once.
	Delay Delay
	// PingInterval, if not zero, makes the server ping every open
	// connection every PingInterval, with an 8-byte payload (a big-endian
	// counter), and expect the pong carrying the same payload before the
	// next ping is due. Stats.PongMissing and Stats.ClientsNotAnswering count
	// the failures; a client is not closed for them. At least 1ms.
	PingInterval time.Duration
	// StatsAddr, if not empty, is a TCP address (host:port; port 0 picks a
	// free port, Server.StatsAddr reports it) where Listen serves the
	// current Stats as JSON over HTTP at /stats, until Shutdown.
	StatsAddr string
	// MaxConns caps the connections the server holds at once: upgraded
	// ones not yet closed plus those inside the opening handshake. A
	// connection accepted beyond it is closed at once, before its
	// handshake, and counted (Stats.RefusedMaxConns). Default 100000.
	MaxConns int
	// IdleTimeout, if not zero, closes an upgraded connection that has sent
	// nothing (no byte, so no frame, pings included) for this long, with
	// close code 1001 (going away), and counts it (Stats.IdleCloses). Each
	// event loop checks its connections on one deadline of its own, so a
	// connection may live up to about IdleTimeout/8 longer. At least 1ms.
	IdleTimeout time.Duration
	// AllowedOrigins, if not empty, are the only values of the Origin
	// header accepted in an opening handshake (compared ignoring case, as
	// scheme://host[:port], e.g. "https://example.com"). A handshake with
	// any other Origin is refused with HTTP 403 and counted
	// (Stats.OriginRejected). A handshake without Origin is accepted:
	// clients other than browsers send none. Empty (the default) accepts
	// any Origin.
	AllowedOrigins []string
	// DisableDeflate turns permessage-deflate (RFC 7692) off: offers of
	// it are declined, and a frame with RSV1 set fails the connection with
	// 1002. By default (false) the server accepts the first acceptable
	// offer, with no context takeover in either direction (its response
	// carries client_no_context_takeover; server_no_context_takeover and
	// server_max_window_bits=15 when offered; offers of a smaller server
	// window are declined), so that compression state belongs to the
	// event loop, not to the connection. A compressed message that does
	// not inflate closes the connection with 1007, one that inflates to
	// more than MaxMessage with 1009 (inflating stops there); an empty
	// compressed payload is an empty message, as zlib-based peers read it. The echo of
	// a compressed message is compressed, of an uncompressed one is not;
	// in broadcast mode so is each delivery to a member that negotiated
	// the extension (the others get it uncompressed). The server's own
	// messages are compressed at compress/flate's BestSpeed.
	DisableDeflate bool

	// netns (issue 16): a stall. StallAt and StallFor, if StallFor is not
	// zero, hold every reply (echo, rpc) or delivery (broadcast) of a
	// message received from StallAt (wall clock) to StallAt+StallFor until
	// that window ends, or its own Delay if that ends later: the server
	// reads on but answers nothing, as a backend paused by a collector or
	// a failover would, then answers everything it held at once, in order.
	// Stats.Stalled counts the messages held. Not in push mode. ParseStall
	// reads `wsbench serve --stall AFTER:FOR`.
	StallAt  time.Time
	StallFor time.Duration
}

// Defaults and limits.
const (
	DefaultAddr             = "127.0.0.1:8080"
	DefaultMaxMessage       = 1 << 20
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultMaxPendingWrite  = 4 << 20
	DefaultMaxConns         = 100000
	DefaultPushRate         = 10
	// MaxPushRate is the largest PushRate accepted (one message per
	// microsecond).
	MaxPushRate = 1e6

	// MaxMaxMessage is the largest MaxMessage accepted (1 GiB): a message is
	// buffered whole, so larger limits are a configuration mistake.
	MaxMaxMessage = 1 << 30
	// MaxLoops is the largest Loops accepted.
	MaxLoops = 4096
	// MinPingInterval is the smallest non-zero PingInterval accepted.
	MinPingInterval = time.Millisecond
	// MinIdleTimeout is the smallest non-zero IdleTimeout accepted.
	MinIdleTimeout = time.Millisecond
)

// DefaultConfig returns the configuration a zero Config stands for, with every
// default filled in. Loops is runtime.GOMAXPROCS(0) at the time of the call.
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Mode == "" {
		c.Mode = ModeEcho
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.Loops == 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.MaxPendingWrite == 0 {
		c.MaxPendingWrite = DefaultMaxPendingWrite
	}
	if c.IO == "" {
		c.IO = IOAuto
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.PushRate == 0 {
		c.PushRate = DefaultPushRate
	}
	return c
}

// Validate reports every problem with c, each naming its field, joined with
// errors.Join; nil means c is usable. Zero fields are valid (they mean the
// default).
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("server: Config.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	checkAddr := func(field, addr string) {
		if _, port, err := net.SplitHostPort(addr); err != nil {
			bad(field, "%q is not host:port: %v", addr, err)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			bad(field, "port %q of %q is not a number in 0-65535", port, addr)
		}
	}
	if c.Addr != "" {
		checkAddr("Addr", c.Addr)
	}
	switch c.Mode {
	case "", ModeEcho, ModeBroadcast, ModeRPC, ModePush:
	default:
		bad("Mode", "unknown mode %q (supported: %q, %q, %q, %q)", c.Mode, ModeEcho, ModeBroadcast, ModeRPC, ModePush)
	}
	if !(c.PushRate >= 0 && c.PushRate <= MaxPushRate) { // NaN too
		bad("PushRate", "%v is outside 0-%v messages a second (0 = default %d)", c.PushRate, float64(MaxPushRate), DefaultPushRate)
	}
	if c.PushCount < 0 {
		bad("PushCount", "%d is negative (0 = no end)", c.PushCount)
	}
	if c.Mode == ModePush && !c.Delay.IsZero() {
		bad("Delay", "%v: mode %q has no replies to delay (its pace is the push rate)", c.Delay, ModePush)
	}
	if c.MaxMessage < 0 || c.MaxMessage > MaxMaxMessage {
		bad("MaxMessage", "%d is outside 1-%d bytes (0 = default %d)", c.MaxMessage, MaxMaxMessage, DefaultMaxMessage)
	}
	if c.HandshakeTimeout < 0 {
		bad("HandshakeTimeout", "%v is negative", c.HandshakeTimeout)
	}
	if c.Loops < 0 || c.Loops > MaxLoops {
		bad("Loops", "%d is outside 1-%d (0 = GOMAXPROCS)", c.Loops, MaxLoops)
	}
	if c.MaxPendingWrite < 0 {
		bad("MaxPendingWrite", "%d is negative", c.MaxPendingWrite)
	}
	if _, err := iomode.Parse(c.IO); err != nil {
		bad("IO", "%v", err)
	}
	if err := c.Delay.check(); err != nil {
		bad("Delay", "%v", err)
	}
	// netns (issue 16): the stall.
	if err := checkStall(c.StallAt, c.StallFor); err != nil {
		bad("StallFor", "%v", err)
	} else if c.Mode == ModePush && c.StallFor > 0 {
		bad("StallFor", "%v: mode %q has no replies to hold (its pace is the push rate)", c.StallFor, ModePush)
	}
	if c.PingInterval < 0 {
		bad("PingInterval", "%v is negative", c.PingInterval)
	} else if c.PingInterval > 0 && c.PingInterval < MinPingInterval {
		bad("PingInterval", "%v is below %v (0 = no pings)", c.PingInterval, MinPingInterval)
	}
	if c.StatsAddr != "" {
		checkAddr("StatsAddr", c.StatsAddr)
	}
	if c.MaxConns < 0 {
		bad("MaxConns", "%d is negative (0 = default %d)", c.MaxConns, DefaultMaxConns)
	}
	if c.IdleTimeout < 0 {
		bad("IdleTimeout", "%v is negative", c.IdleTimeout)
	} else if c.IdleTimeout > 0 && c.IdleTimeout < MinIdleTimeout {
		bad("IdleTimeout", "%v is below %v (0 = no idle timeout)", c.IdleTimeout, MinIdleTimeout)
	}
	origins := make(map[string]bool, len(c.AllowedOrigins))
	for i, o := range c.AllowedOrigins {
		lo := strings.ToLower(o)
		switch {
		case o == "" || strings.ContainsAny(o, " \t\r\n,"):
			bad("AllowedOrigins", "[%d] %q is not an origin (scheme://host[:port])", i, o)
		case origins[lo]:
			bad("AllowedOrigins", "[%d] %q is listed twice", i, o)
		}
		origins[lo] = true
	}
	seen := make(map[string]bool, len(c.Subprotocols))
	for i, p := range c.Subprotocols {
		switch {
		case !isToken(p):
			bad("Subprotocols", "[%d] %q is not an HTTP token", i, p)
		case seen[p]:
			bad("Subprotocols", "[%d] %q is listed twice", i, p)
		}
		seen[p] = true
	}
	return errors.Join(errs...)
}

// isToken reports whether s is a non-empty RFC 7230 token, the syntax of a
// Sec-WebSocket-Protocol value.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= '0' && b <= '9', b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z':
		case b == '!' || b == '#' || b == '$' || b == '%' || b == '&' || b == '\'' || b == '*' ||
			b == '+' || b == '-' || b == '.' || b == '^' || b == '_' || b == '`' || b == '|' || b == '~':
		default:
			return false
		}
	}
	return true
}

// Stats is a snapshot of a Server's counters and of its process's CPU time
// and memory. Every counter is cumulative since New except Open.
//
// The process figures (CPUUserSeconds through UptimeSeconds) are the whole
// process's, not the server's alone: for `wsbench serve` in a process of its
// own they are the server's, but for a server running inside another
// program (the bundled server of `wsbench run`) they include that program,
// the benchmark client too. CPU time and uptime are measured since New,
// memory at the time of the snapshot. Off Linux they are zero.
type Stats struct {
	// Accepted counts TCP connections accepted by the listener.
	Accepted uint64 `json:"accepted"`
	// Upgraded counts completed opening handshakes.
	Upgraded uint64 `json:"upgraded"`
	// Open is the number of upgraded connections not yet closed.
	Open int64 `json:"open"`
	// HandshakeFailures counts accepted connections dropped before the
	// upgrade: bad requests, timeouts, resets.
	HandshakeFailures uint64 `json:"handshake_failures"`
	// HandshakeTimeouts is the part of HandshakeFailures that ran out of
	// HandshakeTimeout.
	HandshakeTimeouts uint64 `json:"handshake_timeouts"`
	// MessagesIn counts complete data messages received (a fragmented
	// message counts once); MessagesOut counts data messages sent.
	MessagesIn  uint64 `json:"messages_in"`
	MessagesOut uint64 `json:"messages_out"`
	// BytesIn and BytesOut count WebSocket bytes (frames, after the
	// handshake) read from and written to sockets.
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	// CloseCodesSent counts close frames sent, by status code. A close
	// frame with an empty body (the reply to an empty client close) is
	// counted under 1005, "no status code present".
	CloseCodesSent map[uint16]uint64 `json:"close_codes_sent"`
	// SlowReaderCloses counts connections closed because their unsent
	// replies exceeded MaxPendingWrite.
	SlowReaderCloses uint64 `json:"slow_reader_closes"`
	// AbnormalCloses counts connections that ended (EOF, reset, write
	// error) without a closing handshake.
	AbnormalCloses uint64 `json:"abnormal_closes"`
	// RefusedMaxConns counts connections closed on accept, before their
	// handshake, because the server held Config.MaxConns already. They
	// count in Accepted too.
	RefusedMaxConns uint64 `json:"refused_max_conns"`
	// IdleCloses counts connections closed with 1001 because they sent
	// nothing for Config.IdleTimeout (the 1001 counts in CloseCodesSent).
	IdleCloses uint64 `json:"idle_closes"`
	// OriginRejected counts handshakes refused with HTTP 403 because their
	// Origin was not in Config.AllowedOrigins. They are not counted in
	// HandshakeFailures.
	OriginRejected uint64 `json:"origin_rejected"`
	// DeflateNegotiated counts opening handshakes that negotiated
	// permessage-deflate (see Config.DisableDeflate).
	DeflateNegotiated uint64 `json:"deflate_negotiated"`
	// CompressedIn counts the data messages received compressed
	// (permessage-deflate), part of MessagesIn; CompressedOut the data
	// messages sent compressed, part of MessagesOut.
	CompressedIn  uint64 `json:"messages_compressed_in"`
	CompressedOut uint64 `json:"messages_compressed_out"`
	// IO is the I/O mode the event loops use: "io_uring" or "syscalls"
	// (see Config.IO). Empty off Linux.
	IO string `json:"io"`
	// Delay is Config.Delay in the syntax of ParseDelay ("0s": none).
	// Empty off Linux.
	Delay string `json:"delay"`
	// DelayClamped counts delays drawn below zero (Config.Delay's normal
	// distribution) and taken as zero.
	DelayClamped uint64 `json:"delay_clamped"`
	// netns (issue 16): Stalled counts the replies (echo, rpc) or
	// messages to deliver (broadcast) of messages received during
	// Config.StallAt..StallAt+StallFor, held until the stall's end.
	Stalled uint64 `json:"stalled"`

	// Rooms is the number of broadcast rooms with at least one member now.
	Rooms int64 `json:"rooms"`
	// BroadcastDeliveries counts frames queued to room members in
	// broadcast mode: one message to a room of n members counts n. They
	// count in MessagesOut too.
	BroadcastDeliveries uint64 `json:"broadcast_deliveries"`
	// PingsSent counts pings the server sent (Config.PingInterval);
	// PongsReceived counts the pongs that answered them, payload matching.
	PingsSent     uint64 `json:"pings_sent"`
	PongsReceived uint64 `json:"pongs_received"`
	// PongMissing counts pings whose pong had not come back when the next
	// ping was due or the connection closed.
	PongMissing uint64 `json:"pong_missing"`
	// ClientsNotAnswering counts connections that missed at least one
	// pong (each once).
	ClientsNotAnswering uint64 `json:"clients_not_answering"`

	// CPUUserSeconds and CPUSysSeconds are the CPU time the process spent
	// in user and kernel mode since New (getrusage(RUSAGE_SELF) deltas).
	CPUUserSeconds float64 `json:"cpu_user_s"`
	CPUSysSeconds  float64 `json:"cpu_sys_s"`
	// CPUCores is (CPUUserSeconds + CPUSysSeconds) / UptimeSeconds: the
	// average number of cores the process kept busy since New. Near the
	// number of CPUs, the process ran out of CPU.
	CPUCores float64 `json:"cpu_cores"`
	// MaxRSSKiB is the process's peak resident set size (ru_maxrss) over
	// its whole life, in KiB.
	MaxRSSKiB int64 `json:"max_rss_kib"`
	// RSSKiB is the process's resident set size now (/proc/self/statm), in
	// KiB.
	RSSKiB int64 `json:"rss_kib"`
	// UptimeSeconds is the wall time since New.
	UptimeSeconds float64 `json:"uptime_s"`
}
