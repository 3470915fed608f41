package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/server"
)

// echoServer starts the bundled server in echo mode, speaking
// subprotocols (it picks the first the client offers), and returns its URL.
func echoServer(t *testing.T, subprotocols ...string) string {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Subprotocols = subprotocols
	return startServer(t, cfg)
}

// TestRunPresetWrongServer: a preset aimed at a server that does not speak
// its protocol (the bundled echo server, which even accepts the preset's
// subprotocol) ends long before its 20 s, exit 1, with one line naming
// what was expected and what arrived instead, and no secret in it.
func TestRunPresetWrongServer(t *testing.T) {
	url := echoServer(t, "graphql-transport-ws", "v12.stomp", "mqtt")
	for _, c := range []struct {
		name string
		args []string
		says []string
	}{
		{"graphql-ws: no connection_ack", []string{"--protocol", "graphql-ws"},
			[]string{"expected a message matching $.type==connection_ack", `{"type":"connection_init"}`, "open_mismatch"}},
		{"socketio: no open packet", []string{"--protocol", "socketio"},
			[]string{"the Engine.IO open packet", "nothing came", "open_timeout"}},
		{"mqtt: no CONNACK", []string{"--protocol", "mqtt"},
			[]string{"CONNACK accepted (20 02 00 00)", `\x10\x1c\x00\x04MQTT`, "open_mismatch"}},
		{"stomp: no CONNECTED", []string{"--protocol", "stomp", "--protocol-opt", "passcode=hunter22"},
			[]string{"CONNECTED with version:1.2", "passcode:REDAC", "open_mismatch"}},
		{"jsonrpc: requests echoed, never answered", []string{"--protocol", "jsonrpc", "--timeout", "500ms"},
			[]string{"no request was answered", "$.id (beside a result or an error)", `{"jsonrpc":"2.0","id":1,"method":"echo"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			args := append([]string{"run", "-q", "--kind", "request", "-c", "2", "-d", "20s", "--warmup", "0s", "--protocol-opt", "open_timeout=1s"}, c.args...)
			code, _, stderr := runCLI(append(args, url)...)
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the run took %v of its 20s", took)
			}
			if code != exitFailed {
				t.Errorf("exit %d, want %d; stderr %q", code, exitFailed, stderr)
			}
			line := strings.TrimSpace(stderr)
			if strings.Count(line, "\n") != 0 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			for _, want := range c.says {
				if !strings.Contains(line, want) {
					t.Errorf("stderr %q lacks %q", line, want)
				}
			}
			if strings.Contains(stderr, "hunter22") {
				t.Errorf("the passcode in %q", stderr)
			}
		})
	}
}

// TestRunPresetNoSubprotocol: a preset whose subprotocol the server does
// not speak (the bundled echo server speaking none) fails its connections
// at the handshake, and the line says which subprotocol was asked for.
func TestRunPresetNoSubprotocol(t *testing.T) {
	url := echoServer(t)
	for _, c := range []struct{ preset, subprotocol string }{{"mqtt", "mqtt"}, {"stomp", "v12.stomp"}, {"graphql-ws", "graphql-transport-ws"}} {
		code, _, stderr := runCLI("run", "-q", "--kind", "request", "-c", "2", "-d", "20s", "--protocol", c.preset, url)
		line := strings.TrimSpace(stderr)
		want := "; the server speaks none of the subprotocols asked for (" + c.subprotocol + ", which the " + c.preset + " preset speaks)"
		if code != exitFailed || strings.Count(line, "\n") != 0 || !strings.Contains(line, "handshake_no_subprotocol 2") || !strings.HasSuffix(line, want) {
			t.Errorf("%s: exit %d, stderr %q: want %d and one line ending %q", c.preset, code, stderr, exitFailed, want)
		}
	}
}

// TestRunPresetBadInput: a bad preset or option exits 2 with one line
// naming the flag and the option.
func TestRunPresetBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		says []string
	}{
		{[]string{"--protocol", "amqp"}, []string{"--protocol:", `"amqp": no such protocol preset`, "jsonrpc, graphql-ws, socketio, stomp, mqtt"}},
		{[]string{"--protocol", "mqtt", "--protocol-opt", "qos=2"}, []string{"--protocol-opt:", "mqtt qos: want 0 or 1"}},
		{[]string{"--protocol", "mqtt", "--protocol-opt", "qso=1"}, []string{"--protocol-opt:", "mqtt qso: no such option (mqtt has topic, qos"}},
		{[]string{"--protocol-opt", "qos=1"}, []string{"--protocol-opt:", "give the preset, --protocol"}},
	} {
		code, _, stderr := runCLI(append([]string{"run", "-q", "--kind", "request", "-c", "1", "-d", "1s", "ws://127.0.0.1:9/"}, c.args...)...)
		line, _, _ := strings.Cut(stderr, "\n") // then the pointer to --help
		if code != exitUsage {
			t.Errorf("%q: exit %d, stderr %q: want %d", c.args, code, stderr, exitUsage)
		}
		for _, want := range c.says {
			if !strings.Contains(line, want) {
				t.Errorf("%q: stderr %q lacks %q", c.args, line, want)
			}
		}
	}
}

// TestRunPresetBundled: the jsonrpc preset runs offline against the
// bundled server (no URL), which answers JSON-RPC by id: every request
// answered.
func TestRunPresetBundled(t *testing.T) {
	code, stdout, stderr := runCLI("run", "-q", "--kind", "request", "--protocol", "jsonrpc", "--protocol-opt", "params=[{{seq}}]",
		"-c", "2", "-r", "100", "-d", "1s", "--warmup", "0s")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "the jsonrpc preset's requests") || !strings.Contains(stdout, "timed out 0") || !strings.Contains(stdout, "unsolicited 0") {
		t.Errorf("summary:\n%s", stdout)
	}
}
