package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/internal/cliflag"
	"github.com/wsbench/wsbench/internal/promserve"
	"github.com/wsbench/wsbench/server"
)

//go:embed help/serve.txt
var serveUsage string

func serveCmd(args []string, stdout, stderr io.Writer) error {
	cfg := server.DefaultConfig()
	fs := cliflag.NewSet("serve", serveUsage, stdout)
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
	stall := fs.String("stall", "", "hold every reply of messages received in a window until its end: AFTER:FOR, AFTER a duration after start or an RFC 3339 time, FOR a duration (netns, issue 16)")
	statsInterval := fs.Duration("stats-interval", 0, "print counters, CPU and memory every interval (0 = only on stop)")
	metricsAddr := fs.String("metrics-addr", "", "serve the counters, CPU and memory for Prometheus at http://ADDR/metrics (port 0 picks a free port)") // prom part
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("takes no arguments, got %q", fs.Args())
	}
	if *statsInterval < 0 {
		return usagef("--stats-interval: must not be negative, got %v", *statsInterval)
	}
	if *metricsAddr != "" { // prom part
		if err := promserve.CheckAddr(*metricsAddr); err != nil {
			return usagef("--metrics-addr %s: %v", *metricsAddr, err)
		}
	}
	cfg.DisableDeflate = !*deflate
	var err error
	if cfg.Delay, err = server.ParseDelay(*delay); err != nil {
		return usageError{err}
	}
	if *stall != "" { // netns (issue 16)
		if cfg.StallAt, cfg.StallFor, err = server.ParseStall(*stall, time.Now()); err != nil {
			return usageError{err}
		}
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
	signalled, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
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
	fmt.Fprintf(stdout, "wsbench serve: listening on ws://%s/ (%s)\n", addr, srv.Settings())
	if sa := srv.StatsAddr(); sa != nil {
		fmt.Fprintf(stdout, "wsbench serve: stats on http://%s/stats\n", sa)
	}
	if *metricsAddr != "" { // prom part
		ep, err := promserve.Listen(*metricsAddr, srv.Registry())
		if err != nil {
			srv.Shutdown(context.Background())
			return failedError{fmt.Errorf("--metrics-addr %s: %w", *metricsAddr, err)}
		}
		defer ep.Close()
		fmt.Fprintf(stdout, "wsbench serve: metrics on %s\n", ep.URL())
	}

	srv.Intervals(signalled, *statsInterval, func(st server.IntervalStats) {
		line, _ := json.Marshal(st)
		fmt.Fprintf(stdout, "wsbench serve: stats %s\n", line)
	})
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
	"server: Config.StallFor", "--stall", // netns (issue 16)
)

// flagNamed rewrites a server configuration error to name flags, not fields.
func flagNamed(err error) error { return errors.New(serveFlags.Replace(err.Error())) }
