//go:build linux

package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// nodeDir holds the Node conformance client and its package.json and
// package-lock.json (`npm ci` there installs ws).
const nodeDir = "testdata/node"

// findNodeWS returns the node binary once it has checked that the ws package
// is installed. Without node on PATH the test skips; without ws it skips
// too, except under CI=true, where .ci/run must have run `npm ci`.
func findNodeWS(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node not on PATH (%v): this test runs Node's ws client against the server", err)
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ws", "package.json")); err != nil {
		msg := fmt.Sprintf("Node package ws not installed (%v): run `npm ci` in server/%s", err, nodeDir)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// nodeClose is what a ws 'close' event saw, or the error of its step.
type nodeClose struct {
	Code       int
	Reason     string
	Extensions string // the connection's negotiated extensions (violations)
	Error      string
}

// nodeEcho is the outcome of conformance.js's echoSuite.
type nodeEcho struct {
	Protocol           string
	Extensions         string // ws's WebSocket.extensions
	ResponseExtensions string // the response's Sec-WebSocket-Extensions
	Echoes             []struct {
		Binary, OK, GotBinary bool
		Size, GotSize         int
	}
	Fragmented []bool
	ClientPing string
	Close      nodeClose
	Errors     []string
	Error      string
}

// nodeResult is conformance.js's RESULT line.
type nodeResult struct {
	Deflate, PlainClient, NoDeflate nodeEcho
	Subprotocols                    map[string]struct{ Protocol, ResponseProtocol, Error string }
	Pings                           struct {
		Pings          int
		PayloadLengths []int
		Close          nodeClose
		Error          string
	}
	Closes     map[string]nodeClose
	Idle       nodeClose
	Violations map[string]nodeClose
}

// TestNodeConformance runs Node's ws client (8.23.0, pinned in
// testdata/node/package-lock.json) against the server: a peer we did not
// write. conformance.js records what the client saw; this test asserts it,
// and the server's own counters beside it:
//
//   - handshake: the subprotocol the server picks from Config.Subprotocols
//     (and ws refusing a response with none when it asked for one), and
//     permessage-deflate negotiated (client_no_context_takeover) or not;
//   - text and binary echoes at 0 B to 100 KiB (7-, 16- and 64-bit
//     lengths) with permessage-deflate on (every message compressed both
//     ways), off on the client, and off on the server (DisableDeflate);
//   - fragmented messages (ws's send with fin: false), a character split
//     between fragments, a client ping;
//   - the server's pings (PingInterval) answered by ws;
//   - closes: the client's 1000, 4000 and 4999 with reasons and an empty
//     one, each echoed; the server's 1001 for an idle client;
//   - every violation the server closes for, seen from the client's close
//     event: 1002 (unmasked, RSV1 without the extension, RSV1 on a
//     continuation or a ping, reserved opcode), 1007 (invalid UTF-8, plain
//     or compressed; a payload that is not DEFLATE) and 1009 (too big,
//     fragmented too big, a decompression bomb).
func TestNodeConformance(t *testing.T) {
	node := findNodeWS(t)
	const maxMsg = 256 << 10
	protos := []string{"wsbench.echo", "chat"}
	deflateSrv, deflateAddr := startServer(t, Config{Subprotocols: protos, MaxMessage: maxMsg})
	plainSrv, plainAddr := startServer(t, Config{Subprotocols: protos, MaxMessage: maxMsg})
	noDeflateSrv, noDeflateAddr := startServer(t, Config{Subprotocols: protos, MaxMessage: maxMsg, DisableDeflate: true})
	_, subAddr := startServer(t, Config{Subprotocols: protos})
	pingSrv, pingAddr := startServer(t, Config{PingInterval: 50 * time.Millisecond})
	idleSrv, idleAddr := startServer(t, Config{IdleTimeout: 200 * time.Millisecond})
	closeSrv, closeAddr := startServer(t, Config{})
	violSrv, violAddr := startServer(t, Config{MaxMessage: maxMsg})

	url := func(addr string) string { return "ws://" + addr + "/" }
	arg, _ := json.Marshal(map[string]any{
		"deflate": url(deflateAddr), "plainClient": url(plainAddr), "noDeflate": url(noDeflateAddr),
		"subprotocols": url(subAddr), "ping": url(pingAddr), "idle": url(idleAddr), "close": url(closeAddr), "violations": url(violAddr),
		"maxMessage": maxMsg,
	})
	res := runNodeConformance(t, node, string(arg))

	// Echo suites: every echo intact, with and without compression.
	const msgs = 2*8 + 3 // two kinds at eight sizes, three fragmented messages
	for _, tc := range []struct {
		name       string
		got        nodeEcho
		srv        *Server
		extensions string // what ws reports negotiated
		response   string // the response's Sec-WebSocket-Extensions
		compressed uint64 // messages compressed each way
	}{
		// ws offers permessage-deflate and compresses everything (threshold 0).
		{"deflate", res.Deflate, deflateSrv, "permessage-deflate", "permessage-deflate;client_no_context_takeover", msgs},
		// ws offers nothing.
		{"plain-client", res.PlainClient, plainSrv, "", "", 0},
		// ws offers it, the server declines (DisableDeflate).
		{"deflate-disabled", res.NoDeflate, noDeflateSrv, "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.got
			if g.Error != "" {
				t.Fatalf("echo suite failed: %s", g.Error)
			}
			if g.Protocol != "chat" {
				t.Errorf("subprotocol %q, want chat (the client offered nope, chat)", g.Protocol)
			}
			if g.Extensions != tc.extensions || g.ResponseExtensions != tc.response {
				t.Errorf("extensions %q (response %q), want %q (response %q)", g.Extensions, g.ResponseExtensions, tc.extensions, tc.response)
			}
			if len(g.Echoes) != 16 {
				t.Errorf("%d echoes, want 16", len(g.Echoes))
			}
			for _, e := range g.Echoes {
				if !e.OK {
					t.Errorf("echo of %d B (binary %v): got %d B binary %v, not the message sent", e.Size, e.Binary, e.GotSize, e.GotBinary)
				}
			}
			if len(g.Fragmented) != 3 || slices.Contains(g.Fragmented, false) {
				t.Errorf("fragmented messages (text, binary > 64 KiB, split character) echoed intact: %v, want all true", g.Fragmented)
			}
			if g.ClientPing != "node-ping" {
				t.Errorf("pong to the client's ping carried %q, want node-ping", g.ClientPing)
			}
			if g.Close.Code != 1000 || len(g.Errors) != 0 {
				t.Errorf("close code %d (errors %q), want 1000 and no errors", g.Close.Code, g.Errors)
			}
			want := Stats{MessagesIn: msgs, MessagesOut: msgs, CompressedIn: tc.compressed, CompressedOut: tc.compressed,
				CloseCodesSent: map[uint16]uint64{1000: 1}}
			if tc.compressed > 0 {
				want.DeflateNegotiated = 1
			}
			if !waitFor(2*time.Second, func() bool { return echoStatsMatch(tc.srv.Stats(), want) }) {
				st := tc.srv.Stats()
				t.Errorf("server stats: messages in %d out %d, compressed in %d out %d, deflate negotiated %d, close codes %v; want %d, %d, %d, %d, %d, %v",
					st.MessagesIn, st.MessagesOut, st.CompressedIn, st.CompressedOut, st.DeflateNegotiated, st.CloseCodesSent,
					want.MessagesIn, want.MessagesOut, want.CompressedIn, want.CompressedOut, want.DeflateNegotiated, want.CloseCodesSent)
			}
		})
	}

	t.Run("subprotocols", func(t *testing.T) {
		sp := res.Subprotocols
		// The client's first offer the server speaks.
		if g := sp["preferred"]; g.Error != "" || g.Protocol != "chat" || g.ResponseProtocol != "chat" {
			t.Errorf("offer chat, wsbench.echo: %+v, want chat", g)
		}
		// No offer: none picked.
		if g := sp["none"]; g.Error != "" || g.Protocol != "" || g.ResponseProtocol != "" {
			t.Errorf("no offer: %+v, want no subprotocol", g)
		}
		// Nothing in common: the server picks none and ws, which asked for
		// one, fails the handshake (RFC 6455 4.1).
		if g := sp["unknown"]; !strings.Contains(g.Error, "Server sent no subprotocol") {
			t.Errorf("offer mqtt: %+v, want ws to fail with \"Server sent no subprotocol\"", g)
		}
	})

	t.Run("server-pings", func(t *testing.T) {
		g := res.Pings
		if g.Error != "" {
			t.Fatal(g.Error)
		}
		if g.Pings < 4 || slices.ContainsFunc(g.PayloadLengths, func(n int) bool { return n != 8 }) {
			t.Errorf("client saw %d pings with payloads of %v bytes, want at least 4 of 8 bytes", g.Pings, g.PayloadLengths)
		}
		if g.Close.Code != 1000 {
			t.Errorf("close code %d, want 1000", g.Close.Code)
		}
		// Every ping the client saw was answered with its payload; one
		// more may have crossed the client's close.
		ok := waitFor(2*time.Second, func() bool {
			st := pingSrv.Stats()
			return st.PongsReceived >= uint64(g.Pings) && st.PingsSent-st.PongsReceived <= 1 && st.Open == 0
		})
		if st := pingSrv.Stats(); !ok {
			t.Errorf("server: pings sent %d, pongs received %d (client saw %d pings), open %d", st.PingsSent, st.PongsReceived, g.Pings, st.Open)
		}
	})

	t.Run("client-closes", func(t *testing.T) {
		// The server echoes the client's code (not its reason); an empty
		// close gets an empty close, which ws reports as 1005.
		for name, want := range map[string]int{"1000": 1000, "4000": 4000, "4999": 4999, "empty": 1005} {
			if g := res.Closes[name]; g.Error != "" || g.Code != want || g.Reason != "" {
				t.Errorf("client close %s: ws saw %+v, want code %d without reason", name, g, want)
			}
		}
		want := map[uint16]uint64{1000: 1, 4000: 1, 4999: 1, 1005: 1}
		if !waitFor(2*time.Second, func() bool { return maps.Equal(closeSrv.Stats().CloseCodesSent, want) }) {
			t.Errorf("server CloseCodesSent %v, want %v", closeSrv.Stats().CloseCodesSent, want)
		}
	})

	t.Run("idle-close", func(t *testing.T) {
		if g := res.Idle; g.Error != "" || g.Code != 1001 {
			t.Errorf("idle client: ws saw %+v, want close 1001", g)
		}
		if !waitFor(2*time.Second, func() bool { return idleSrv.Stats().IdleCloses == 1 }) {
			t.Errorf("server IdleCloses %d, want 1", idleSrv.Stats().IdleCloses)
		}
	})

	t.Run("violations", func(t *testing.T) {
		cases := []struct {
			name    string
			code    int
			deflate bool // permessage-deflate was negotiated
		}{
			{"unmasked", 1002, false},
			{"rsv1NotNegotiated", 1002, false},
			{"rsv1Continuation", 1002, true},
			{"rsv1Ping", 1002, true},
			{"reservedOpcode", 1002, false},
			{"invalidUTF8", 1007, false},
			{"invalidUTF8Compressed", 1007, true},
			{"corruptDeflate", 1007, true},
			{"tooBig", 1009, false},
			{"tooBigFragmented", 1009, false},
			{"bomb", 1009, true},
		}
		want := map[uint16]uint64{}
		for _, tc := range cases {
			want[uint16(tc.code)]++
			g, ok := res.Violations[tc.name]
			wantExt := map[bool]string{true: "permessage-deflate", false: ""}[tc.deflate]
			if !ok || g.Error != "" || g.Code != tc.code || g.Extensions != wantExt {
				t.Errorf("%s: ws saw %+v, want close %d with extensions %q", tc.name, g, tc.code, wantExt)
			}
		}
		if len(res.Violations) != len(cases) {
			t.Errorf("%d violations reported, want %d", len(res.Violations), len(cases))
		}
		if !waitFor(2*time.Second, func() bool { return maps.Equal(violSrv.Stats().CloseCodesSent, want) }) {
			t.Errorf("server CloseCodesSent %v, want %v", violSrv.Stats().CloseCodesSent, want)
		}
	})
}

// echoStatsMatch compares the counters an echo suite sets.
func echoStatsMatch(st, want Stats) bool {
	return st.MessagesIn == want.MessagesIn && st.MessagesOut == want.MessagesOut &&
		st.CompressedIn == want.CompressedIn && st.CompressedOut == want.CompressedOut &&
		st.DeflateNegotiated == want.DeflateNegotiated && maps.Equal(st.CloseCodesSent, want.CloseCodesSent)
}

// runNodeConformance runs conformance.js with arg, bounded in time, and
// returns its RESULT.
func runNodeConformance(t *testing.T, node, arg string) nodeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "conformance.js", arg)
	cmd.Dir = nodeDir
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node conformance.js: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	var res nodeResult
	found := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("conformance.js RESULT: %v\n%s", err, line)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("conformance.js printed no RESULT line\nstdout:\n%s\nstderr:\n%s", out, stderr.String())
	}
	if testing.Verbose() {
		t.Logf("conformance.js: %s", strings.TrimSpace(out))
	}
	return res
}
