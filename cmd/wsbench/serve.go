package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
1009), epoll-driven so idle connections cost no goroutine, echoing every text
and binary message unchanged. It prints the address it listens on and, when
stopped with SIGINT or SIGTERM, its counters as one JSON line.

Examples:
  wsbench serve                          # ws://127.0.0.1:8080/
  wsbench serve --addr 127.0.0.1:0       # a free port, printed on start
  wsbench serve --max-message 65536
`

func serveCmd(args []string, stdout, stderr io.Writer) error {
	cfg := server.DefaultConfig()
	fs := newFlagSet("serve", serveUsage, stdout)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (port 0 picks a free port)")
	fs.StringVar(&cfg.Mode, "mode", cfg.Mode, "server mode: echo")
	fs.Int64Var(&cfg.MaxMessage, "max-message", cfg.MaxMessage, "largest message accepted, in bytes (larger: close 1009)")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", cfg.HandshakeTimeout, "drop a connection that has not completed its opening handshake by then")
	fs.IntVar(&cfg.Loops, "loops", cfg.Loops, "event loops (0 = GOMAXPROCS)")
	fs.IntVar(&cfg.MaxPendingWrite, "max-pending-write", cfg.MaxPendingWrite, "bytes queued for a client that does not read before it is closed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("takes no arguments, got %q", fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return usageError{flagNamed(err)}
	}
	srv, err := server.New(cfg)
	if err != nil {
		return usageError{flagNamed(err)}
	}
	addr, err := srv.Listen()
	if err != nil {
		return failedError{fmt.Errorf("--addr %s: %w", cfg.Addr, err)}
	}
	if host, _, _ := net.SplitHostPort(addr.String()); !isLoopback(host) {
		fmt.Fprintf(stderr, "wsbench serve: warning: listening on %s, reachable from other machines\n", host)
	}
	fmt.Fprintf(stdout, "wsbench serve: listening on ws://%s/ (mode %s)\n", addr, cfg.Mode)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	<-sigs
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
)

// flagNamed rewrites a server configuration error to name flags, not fields.
func flagNamed(err error) error { return errors.New(serveFlags.Replace(err.Error())) }

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
