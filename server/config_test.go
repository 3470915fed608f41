package server

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	want := Config{
		Addr:             "127.0.0.1:8080",
		Mode:             "echo",
		MaxMessage:       1 << 20,
		HandshakeTimeout: 5 * time.Second,
		Loops:            runtime.GOMAXPROCS(0),
		MaxPendingWrite:  4 << 20,
		IO:               "auto",
	}
	if c.Addr != want.Addr || c.Mode != want.Mode || c.MaxMessage != want.MaxMessage ||
		c.HandshakeTimeout != want.HandshakeTimeout || c.Loops != want.Loops ||
		c.MaxPendingWrite != want.MaxPendingWrite || len(c.Subprotocols) != 0 || c.IO != want.IO ||
		!c.Delay.IsZero() || c.PingInterval != 0 || c.StatsAddr != "" ||
		c.MaxConns != 100000 || c.IdleTimeout != 0 || len(c.AllowedOrigins) != 0 || c.DisableDeflate {
		t.Fatalf("DefaultConfig() = %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		fields []string // field names the error must mention; none = valid
	}{
		// Zero fields mean defaults.
		{"zero", Config{}, nil},
		// A fully spelled-out valid config.
		{"full", Config{Addr: "127.0.0.1:0", Mode: "echo", MaxMessage: 10, HandshakeTimeout: time.Second,
			Loops: 3, MaxPendingWrite: 1, Subprotocols: []string{"chat", "v2.json"}, IO: "syscalls"}, nil},
		// Every I/O mode by name.
		{"io-auto", Config{IO: "auto"}, nil},
		{"io-uring", Config{IO: "io_uring"}, nil},
		// Empty host means all interfaces.
		{"any-host", Config{Addr: ":9000"}, nil},
		// Missing port.
		{"addr-no-port", Config{Addr: "localhost"}, []string{"Addr"}},
		// Port out of range.
		{"addr-bad-port", Config{Addr: "127.0.0.1:70000"}, []string{"Addr"}},
		// Both modes by name; any other is refused.
		{"mode-broadcast", Config{Mode: "broadcast"}, nil},
		{"mode-echo", Config{Mode: "echo"}, nil},
		{"mode-unknown", Config{Mode: "bogus"}, []string{"Mode"}},
		// Delay, ping interval and stats address.
		{"delay", Config{Delay: FixedDelay(100 * time.Millisecond), PingInterval: time.Second, StatsAddr: "127.0.0.1:0"}, nil},
		{"negative-delay", Config{Delay: FixedDelay(-time.Second)}, []string{"Delay"}},
		// Delay distributions: their own parameters only, in range.
		{"delay-uniform", Config{Delay: Delay{Dist: DelayUniform, Min: time.Millisecond, Max: 20 * time.Millisecond}}, nil},
		{"delay-exp", Config{Delay: Delay{Dist: DelayExp, Mean: 5 * time.Millisecond}}, nil},
		{"delay-normal", Config{Delay: Delay{Dist: DelayNormal, Mean: 5 * time.Millisecond, StdDev: time.Millisecond}}, nil},
		{"delay-uniform-inverted", Config{Delay: Delay{Dist: DelayUniform, Min: 2 * time.Second, Max: time.Second}}, []string{"Delay"}},
		{"delay-exp-stray-max", Config{Delay: Delay{Dist: DelayExp, Mean: time.Second, Max: time.Second}}, []string{"Delay"}},
		{"delay-too-long", Config{Delay: FixedDelay(2 * MaxDelay)}, []string{"Delay"}},
		{"delay-unknown-dist", Config{Delay: Delay{Dist: 9}}, []string{"Delay"}},
		{"negative-ping-interval", Config{PingInterval: -time.Second}, []string{"PingInterval"}},
		{"tiny-ping-interval", Config{PingInterval: time.Microsecond}, []string{"PingInterval"}},
		{"stats-addr-no-port", Config{StatsAddr: "localhost"}, []string{"StatsAddr"}},
		{"stats-addr-bad-port", Config{StatsAddr: "127.0.0.1:99999"}, []string{"StatsAddr"}},
		// Negative sizes and durations.
		{"negative-max-message", Config{MaxMessage: -1}, []string{"MaxMessage"}},
		{"huge-max-message", Config{MaxMessage: 1 << 40}, []string{"MaxMessage"}},
		{"negative-timeout", Config{HandshakeTimeout: -time.Second}, []string{"HandshakeTimeout"}},
		{"negative-loops", Config{Loops: -2}, []string{"Loops"}},
		{"too-many-loops", Config{Loops: MaxLoops + 1}, []string{"Loops"}},
		{"negative-pending", Config{MaxPendingWrite: -5}, []string{"MaxPendingWrite"}},
		// Subprotocols must be tokens, listed once.
		{"subprotocol-space", Config{Subprotocols: []string{"a b"}}, []string{"Subprotocols"}},
		{"subprotocol-empty", Config{Subprotocols: []string{""}}, []string{"Subprotocols"}},
		{"subprotocol-dup", Config{Subprotocols: []string{"x", "x"}}, []string{"Subprotocols"}},
		// Limits: connections, idle timeout, origins.
		{"limits", Config{MaxConns: 3, IdleTimeout: time.Second, AllowedOrigins: []string{"https://a.example", "null"}}, nil},
		{"negative-max-conns", Config{MaxConns: -1}, []string{"MaxConns"}},
		{"negative-idle-timeout", Config{IdleTimeout: -time.Second}, []string{"IdleTimeout"}},
		{"tiny-idle-timeout", Config{IdleTimeout: time.Microsecond}, []string{"IdleTimeout"}},
		{"origin-empty", Config{AllowedOrigins: []string{""}}, []string{"AllowedOrigins"}},
		{"origin-space", Config{AllowedOrigins: []string{"https://a b"}}, []string{"AllowedOrigins"}},
		{"origin-dup", Config{AllowedOrigins: []string{"https://a.example", "HTTPS://A.example"}}, []string{"AllowedOrigins"}},
		// An unknown I/O mode.
		{"io-unknown", Config{IO: "aio"}, []string{"IO"}},
		// Every problem is reported, not just the first.
		{"several", Config{Addr: "nope", Mode: "x", Loops: -1}, []string{"Addr", "Mode", "Loops"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors naming %v", tc.fields)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), "Config."+f+":") {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tc.fields) {
				t.Errorf("error has %d lines, want %d: %q", got, len(tc.fields), err)
			}
			if _, nerr := New(tc.cfg); nerr == nil {
				t.Errorf("New accepted an invalid config")
			}
		})
	}
}

func TestStatsJSON(t *testing.T) {
	b, err := json.Marshal(Stats{CloseCodesSent: map[uint16]uint64{1000: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"accepted":`, `"upgraded":`, `"open":`, `"handshake_failures":`, `"handshake_timeouts":`,
		`"messages_in":`, `"messages_out":`, `"bytes_in":`, `"bytes_out":`, `"close_codes_sent":{"1000":2}`,
		`"slow_reader_closes":`, `"abnormal_closes":`, `"io":`, `"rooms":`, `"broadcast_deliveries":`,
		`"pings_sent":`, `"pongs_received":`, `"pong_missing":`, `"clients_not_answering":`,
		`"refused_max_conns":`, `"idle_closes":`, `"origin_rejected":`,
		`"deflate_negotiated":`, `"messages_compressed_in":`, `"messages_compressed_out":`,
		`"delay":`, `"delay_clamped":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}
