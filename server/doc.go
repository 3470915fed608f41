// Package server is wsbench's bundled reference WebSocket server: what
// "wsbench serve" runs, and what "wsbench run" starts in-process when it is
// given no URL. It is a strict RFC 6455 echo server built to stay out of the
// way of the measurements, and it stands apart from the client side of
// wsbench: it imports none of its packages. Besides echoing it can broadcast
// in chat rooms, hold replies back to model a slow backend, ping its clients
// and serve its counters over HTTP: the server side of wsbench's scenarios.
//
// # Structure
//
// An accept loop takes TCP connections from a net.Listener. Each one gets a
// short-lived goroutine that performs the opening handshake with
// github.com/gobwas/ws under Config.HandshakeTimeout, then detaches the socket
// from Go's runtime poller (internal/netpoll.TakeFD) and hands the raw file
// descriptor to one of Config.Loops event loops, round robin.
//
// An event loop is one goroutine blocked in epoll_wait (level-triggered). It
// owns one 64 KiB read buffer and one write buffer and uses them for all of
// its connections, so an idle connection costs no goroutine and no buffer:
// just a small struct in the loop's table. A connection holds memory of its
// own only while something is pending: the bytes of an incomplete frame, a
// fragmented message being reassembled, or replies the kernel would not take
// yet. Those buffers come from, and go back to, a per-loop pool.
//
// On readiness the loop does one read, parses every complete frame in it,
// unmasks payloads in place and assembles all the replies in its write
// buffer, which it sends with a single write. What the kernel does not take
// is kept per connection and flushed on writability; a client that lets more
// than Config.MaxPendingWrite bytes pile up is closed as a slow reader.
//
// With io_uring (Config.IO; the default where the kernel allows it) the loop
// batches those reads and writes instead of making a system call for each,
// as the load driver does: a pass hands the kernel, in one io_uring_enter,
// the replies queued since the last pass and a non-blocking receive for
// every ready connection, each into its own slot of the loop's read buffer.
// Replies wait in a pooled buffer of their connection until the next pass
// (or until the loop is about to sleep), then go out in order; the buffer
// returns to the pool once the kernel has taken them. Where a system call
// costs about a microsecond, as on virtual machines, this halves the
// server's CPU time per echoed message.
//
// # Modes
//
// In echo mode (ModeEcho, the default) every text or binary message is sent
// back unchanged with its opcode, in order; a fragmented message is
// reassembled and sent back as one frame.
//
// In broadcast mode (ModeBroadcast) every connection joins the room its URL
// path names (/room/<name>: <name>; any other path: the whole path) and
// every message a member sends goes to every member of the room, the sender
// included, unchanged and in the order the server received them from that
// sender. Members may be on different event loops. A loop encodes each
// message once; it writes it to its own members and, for each other loop with
// members, posts it (a reference-counted buffer shared by all) to that
// loop's inbox and wakes it. Each loop writes only to its own connections
// (see room_linux.go). A member that does not read is closed as a slow
// reader; the others keep going.
//
// In rpc mode (ModeRPC) every JSON object with an "id" member is answered
// {"jsonrpc":"2.0","id":ID,"result":PARAMS}, id and params copied byte for
// byte from the request (rpc.go: json.Valid, then a scan for the two
// top-level members, no allocation), through the same echo and delay paths:
// the codec swaps the message for its answer. The one difference is in the
// delay queue: an answer is due when its own draw ends, not after the
// connection's previous one, so answers come back out of order.
//
// In push mode (ModePush) a connection's first data message subscribes it;
// each loop keeps its subscribers in a min-heap by when their next message
// ({"seq":N,"sent_ns":UNIX_NS}) is due and sends it from its poller timeout,
// like the delayed replies (push_linux.go).
//
// With Config.Delay every reply (echo) or delivery (broadcast) goes out
// some time after its message was received: a fixed time, or a time each
// message draws from a distribution (uniform, exponential or normal; see
// Delay and ParseDelay) with its loop's own random generator. Each loop
// keeps the messages waiting in one min-heap by due time and wakes for the
// first one through its poller timeout: no goroutine or timer per message.
// Order per connection is kept: a reply is due at the later of its own time
// and its connection's previous reply's, so a short draw never overtakes a
// long one; and a close frame never overtakes a held echo.
//
// With Config.PingInterval each loop, on one deadline of its own, pings all
// its open connections (an 8-byte counter as payload) every interval and
// counts pings whose matching pong has not come back when the next ping is
// due or the connection closes (Stats.PongMissing,
// Stats.ClientsNotAnswering).
//
// Three limits keep the server safe to expose: Config.MaxConns closes
// connections beyond it as soon as they are accepted, before the handshake;
// Config.AllowedOrigins refuses with 403 a handshake whose Origin header is
// not listed; Config.IdleTimeout closes with 1001 a connection that sent
// nothing for that long, found by each loop on one deadline of its own, like
// the pings (Stats.RefusedMaxConns, Stats.OriginRejected, Stats.IdleCloses).
//
// With Config.StatsAddr, Listen also serves the current Stats as JSON at
// http://StatsAddr/stats (net/http, in goroutines of its own), until
// Shutdown.
//
// # Protocol
//
// The opening handshake is gobwas/ws's Upgrader plus the checks of RFC 6455
// section 4.2.1 it leaves out (handshake.go): a Sec-WebSocket-Key that is
// the base64 encoding of 16 bytes, sent once; Connection and
// Sec-WebSocket-Protocol values that are lists of tokens; HTTP/1.1 to 1.9.
// A request that fails them gets 400, and so does one whose request line
// cannot be parsed (gobwas would close without an answer). A request that
// cannot be read (over 16 KiB, cut short) is dropped without one.
//
// Client pings are answered with pongs carrying the same payload at once,
// even between the fragments of a message and ahead of replies held back by
// Config.Delay; pongs are ignored unless they answer the server's own ping.
// A subprotocol is chosen only from Config.Subprotocols.
//
// The one extension is permessage-deflate (RFC 7692, deflate.go), accepted
// unless Config.DisableDeflate, always with no context takeover: the
// response asks the client for client_no_context_takeover, and the server
// compresses each of its messages on its own. So no connection keeps a
// compression window: each event loop has one decompressor and one
// compressor (compress/flate, the compressor through
// github.com/gobwas/ws/wsflate, made on the loop's first compressed
// message, about 1.2 MiB), reset for every
// message, and a connection that negotiated the extension holds no more
// memory than one that did not. A compressed message is reassembled like any
// other, inflated whole (never past Config.MaxMessage bytes, so a
// decompression bomb costs no more than a message at the limit), checked,
// and echoed compressed; an uncompressed one is echoed uncompressed. In
// broadcast mode a run of frames with compressed messages is encoded twice,
// once for the members that negotiated the extension and once for those
// that did not, each shared by all of them.
//
// Protocol violations fail the connection with a close frame: 1002 for
// unmasked frames, RSV bits other than permessage-deflate's RSV1 on the
// first frame of a message, reserved opcodes, bad control frames and broken
// fragmentation (as ws.CheckHeader and wsflate.MessageState define them)
// and for invalid close codes; 1007 for text that is not UTF-8 and for a
// compressed message that does not inflate (its payload is not consistent
// with its type, as RFC 6455 defines 1007; Node's ws closes with 1007 for it
// too); 1009 for a message over Config.MaxMessage, detected from the frame
// header before any payload is buffered, or, compressed, while it is
// inflated. A client close is answered with a close echoing its code.
//
// Every close, whoever starts it, ends the same way: the close frame is
// written, the write side is shut down (FIN), and input is read and discarded
// until the client's EOF or about a second has passed; only then is the
// socket closed. Closing earlier with unread input would make the kernel send
// a reset, which may destroy the close frame before the client reads it.
//
// # Platforms
//
// The server needs Linux epoll; elsewhere New returns ErrUnsupported.
// io_uring needs Linux 5.19 or later and is off in some sandboxes (the
// kernel.io_uring_disabled sysctl, Docker's default seccomp profile); there
// the default I/O mode falls back to one system call per operation.
package server
