package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/server"
)

const serveUsage = `Usage: wsbench serve [flags]

Run the bundled reference WebSocket server: strict RFC 6455 (protocol
violations close with 1002, invalid UTF-8 with 1007, oversize messages with
1009), epoll-driven so idle connections cost no goroutine. It prints the
address it listens on and, when stopped with SIGINT or SIGTERM, its counters
and its process's CPU time and memory as one JSON line. With --stats-interval
it also prints them every interval, with that interval's CPU cores and
messages per second: when client and server run as separate processes, this
shows which side ran out of CPU. With --stats-addr it serves them as JSON over
HTTP at /stats.

Modes (--mode):
  echo       every text and binary message goes back to its sender,
             unchanged and in order (the default)
  broadcast  chat rooms chosen by URL path: a client at /room/<name> joins
             room <name> (at any other path, the room named by the whole
             path); every message a member sends goes to every member of
             its room, the sender included, in the order received
  rpc        every JSON request {"id":ID,"params":P,…} is answered with
             {"jsonrpc":"2.0","id":ID,"result":P}; with a --delay
             distribution each answer waits its own draw (out of order)
  push       a connection's first message subscribes it: it gets
             --push-rate messages a second {"seq":N,"sent_ns":UNIX_NS}
             (--push-count of them; 0 = until it closes)
In echo, broadcast and rpc, --delay holds every reply or delivery back to
model a slow backend (in rpc, each answer leaves when its own draw ends, out
of order; push takes no --delay); in all, --ping-interval pings every connection and counts the pongs that do not
come back (pings_sent, pongs_received, pong_missing, clients_not_answering).

--delay is a fixed time or a distribution each message draws from:
  5ms              every reply 5ms after its message
  2ms-20ms         uniform, 2ms to 20ms
  exp:5ms          exponential, mean 5ms (most quick, a few very late)
  normal:5ms,1ms   normal, mean 5ms, standard deviation 1ms (draws below 0
                   go at once, counted as delay_clamped)
A connection's replies stay in order (except in rpc mode): a reply whose
draw is shorter than the previous one's goes out with it, not before it. The stats say the
setting in force (delay).

Limits: --max-conns closes connections beyond it on accept
(refused_max_conns), --idle-timeout closes with 1001 a connection that sends
nothing for that long (idle_closes), --allowed-origin refuses with 403 a
browser handshake from any other Origin (origin_rejected). Listening on an
address other than loopback prints a warning.

permessage-deflate (RFC 7692) is accepted when a client offers it, with no
context takeover either way (the server's compression state is per event
loop, not per connection); the echo of a compressed message is compressed
(deflate_negotiated, messages_compressed_in, messages_compressed_out). A
compressed message that does not inflate closes with 1007, one that
inflates past --max-message with 1009. --deflate=false declines it.
--subprotocol names the subprotocols the server speaks: it picks the first
one the client offers.

Examples:
  wsbench serve                          # ws://127.0.0.1:8080/
  wsbench serve --addr 127.0.0.1:0       # a free port, printed on start
  wsbench serve --max-message 65536
  wsbench serve --stats-interval 1s      # a stats line every second
  wsbench serve --io syscalls            # one system call per read or write
  wsbench serve --mode broadcast         # ws://127.0.0.1:8080/room/lobby is room "lobby"
  wsbench serve --delay 50ms             # every echo 50ms after its message
  wsbench serve --delay exp:5ms          # a slow backend with a long tail
  wsbench serve --mode rpc --delay 1ms-20ms  # JSON answers by id, out of order
  wsbench serve --mode push --push-rate 100  # 100 sequenced messages/s per subscriber
  wsbench serve --ping-interval 5s       # a ping every 5s, pong expected before the next
  wsbench serve --stats-addr 127.0.0.1:9090  # curl http://127.0.0.1:9090/stats
  wsbench serve --idle-timeout 30s --allowed-origin https://example.com
  wsbench serve --subprotocol chat,v2.chat --deflate=false
`

func serveCmd(args []string, stdout, stderr io.Writer) error {
	cfg := server.DefaultConfig()
	fs := newFlagSet("serve", serveUsage, stdout)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (port 0 picks a free port)")
	fs.StringVar(&cfg.Mode, "mode", cfg.Mode, "server mode: echo, broadcast (rooms by URL path: /room/<name>), rpc (JSON answers by id) or push (a stream per subscriber)")
	fs.Float64Var(&cfg.PushRate, "push-rate", cfg.PushRate, "push mode: messages a second to each subscriber")
	fs.IntVar(&cfg.PushCount, "push-count", cfg.PushCount, "push mode: messages per subscriber, then the stream ends (0 = until it closes)")
	fs.Int64Var(&cfg.MaxMessage, "max-message", cfg.MaxMessage, "largest message accepted, in bytes (larger: close 1009)")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", cfg.HandshakeTimeout, "drop a connection that has not completed its opening handshake by then")
	fs.IntVar(&cfg.Loops, "loops", cfg.Loops, fmt.Sprintf("event loops (default GOMAXPROCS, %d here; 0 = GOMAXPROCS)", cfg.Loops))
	fs.Lookup("loops").DefValue = "0" // the line above says it: not "(default 2)" after "0 = GOMAXPROCS"
	fs.IntVar(&cfg.MaxPendingWrite, "max-pending-write", cfg.MaxPendingWrite, "bytes queued for a client that does not read before it is closed")
	fs.StringVar(&cfg.IO, "io", cfg.IO, "how the event loops use the kernel: auto, io_uring (a system call per batch of sends and receives) or syscalls (one per operation)")
	delay := fs.String("delay", cfg.Delay.String(), "hold every reply (echo) or delivery (broadcast) back after its message was received: DURATION, MIN-MAX (uniform), exp:MEAN or normal:MEAN,STDDEV (0 = at once)")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", cfg.PingInterval, "ping every connection this often and expect each pong before the next ping (0 = no pings)")
	fs.StringVar(&cfg.StatsAddr, "stats-addr", cfg.StatsAddr, "serve the counters as JSON over HTTP at http://ADDR/stats (port 0 picks a free port)")
	fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "connections held at most (upgraded or in handshake); more are closed on accept")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "close a connection with 1001 after it has sent nothing for this long (0 = never)")
	fs.StringSliceVar(&cfg.AllowedOrigins, "allowed-origin", cfg.AllowedOrigins, "accept handshakes only from this Origin (repeatable or comma-separated; none = any; no Origin header is accepted)")
	fs.StringSliceVar(&cfg.Subprotocols, "subprotocol", cfg.Subprotocols, "subprotocols the server speaks; it picks the first the client offers (repeatable or comma-separated; none = never picks one)")
	deflate := fs.Bool("deflate", !cfg.DisableDeflate, "accept permessage-deflate (RFC 7692) offers, with no context takeover; --deflate=false declines them")
	statsInterval := fs.Duration("stats-interval", 0, "print counters, CPU and memory every interval (0 = only on stop)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("takes no arguments, got %q", fs.Args())
	}
	if *statsInterval < 0 {
		return usagef("--stats-interval: must not be negative, got %v", *statsInterval)
	}
	cfg.DisableDeflate = !*deflate
	var err error
	if cfg.Delay, err = server.ParseDelay(*delay); err != nil {
		return usageError{err}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{flagNamed(err)}
	}
	srv, err := server.New(cfg)
	if err != nil {
		return usageError{flagNamed(err)}
	}
	// Catch signals before printing the address: whoever reads it may
	// signal at once.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	addr, err := srv.Listen()
	if err != nil {
		srv.Shutdown(context.Background()) // releases the event loops
		if msg := flagNamed(err).Error(); strings.HasPrefix(msg, "--") {
			return failedError{errors.New(msg)} // --stats-addr: ...
		}
		return failedError{fmt.Errorf("--addr %s: %w", cfg.Addr, err)}
	}
	for _, w := range srv.Warnings() {
		fmt.Fprintf(stderr, "wsbench serve: warning: %s\n", w)
	}
	deflateState := "on"
	if cfg.DisableDeflate {
		deflateState = "off"
	}
	delayState := ""
	if !cfg.Delay.IsZero() {
		delayState = ", delay " + cfg.Delay.String()
	}
	fmt.Fprintf(stdout, "wsbench serve: listening on ws://%s/ (mode %s, I/O %s, permessage-deflate %s%s)\n", addr, cfg.Mode, srv.Stats().IO, deflateState, delayState)
	if sa := srv.StatsAddr(); sa != nil {
		fmt.Fprintf(stdout, "wsbench serve: stats on http://%s/stats\n", sa)
	}

	var tick <-chan time.Time
	var ticker *time.Ticker
	if *statsInterval > 0 {
		ticker = time.NewTicker(*statsInterval)
		tick = ticker.C
	}
	prev := srv.Stats()
	for running := true; running; {
		select {
		case <-sigs:
			running = false
		case <-tick:
			cur := srv.Stats()
			line, _ := json.Marshal(newIntervalStats(prev, cur))
			fmt.Fprintf(stdout, "wsbench serve: stats %s\n", line)
			prev = cur
		}
	}
	if ticker != nil {
		ticker.Stop() // no stats lines during or after Shutdown
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(ctx)
	stats, _ := json.Marshal(srv.Stats())
	fmt.Fprintf(stdout, "wsbench serve: stopped; stats %s\n", stats)
	if err != nil {
		return failedError{fmt.Errorf("shutdown: %w", err)}
	}
	return nil
}

// intervalStats is one --stats-interval line: the server's Stats plus figures
// for the interval since the previous line (or since the server started).
type intervalStats struct {
	server.Stats
	// IntervalSeconds is the interval's length, measured, not the flag.
	IntervalSeconds float64 `json:"interval_s"`
	// IntervalCPUCores is the process's CPU time in the interval divided by
	// its length.
	IntervalCPUCores float64 `json:"interval_cpu_cores"`
	// IntervalMessagesInPerSecond is the messages received in the interval
	// divided by its length.
	IntervalMessagesInPerSecond float64 `json:"interval_messages_in_per_s"`
}

func newIntervalStats(prev, cur server.Stats) intervalStats {
	// Six decimal places: the server's figures are in microseconds.
	micro := func(x float64) float64 { return math.Round(x*1e6) / 1e6 }
	st := intervalStats{Stats: cur}
	if secs := cur.UptimeSeconds - prev.UptimeSeconds; secs > 0 {
		cpu := cur.CPUUserSeconds + cur.CPUSysSeconds - prev.CPUUserSeconds - prev.CPUSysSeconds
		st.IntervalSeconds = micro(secs)
		st.IntervalCPUCores = micro(cpu / secs)
		st.IntervalMessagesInPerSecond = micro(float64(cur.MessagesIn-prev.MessagesIn) / secs)
	}
	return st
}

// serveFlags maps the server's Config fields to the flags that set them.
var serveFlags = strings.NewReplacer(
	"server: Config.Addr", "--addr", "server: Config.Mode", "--mode",
	"server: Config.MaxMessage", "--max-message", "server: Config.HandshakeTimeout", "--handshake-timeout",
	"server: Config.Loops", "--loops", "server: Config.MaxPendingWrite", "--max-pending-write",
	"server: Config.IO", "--io", "server: Config.Delay", "--delay",
	"server: Config.PingInterval", "--ping-interval", "server: Config.StatsAddr", "--stats-addr",
	"server: Config.MaxConns", "--max-conns", "server: Config.IdleTimeout", "--idle-timeout",
	"server: Config.AllowedOrigins", "--allowed-origin", "server: Config.Subprotocols", "--subprotocol",
	"server: Config.PushRate", "--push-rate", "server: Config.PushCount", "--push-count",
)

// flagNamed rewrites a server configuration error to name flags, not fields.
func flagNamed(err error) error { return errors.New(serveFlags.Replace(err.Error())) }
