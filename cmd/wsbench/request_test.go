package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/server"
)

// rpcServer starts the bundled server in rpc mode, each reply delay late
// (the --delay syntax), and returns its URL.
func rpcServer(t *testing.T, delay string) string {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Mode = server.ModeRPC
	d, err := server.ParseDelay(delay)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Delay = d
	return startServer(t, cfg)
}

// startServer starts the bundled server with cfg (Addr set to a free
// loopback port), shut down when the test ends, and returns its URL.
func startServer(t *testing.T, cfg server.Config) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "ws://" + addr.String() + "/"
}

// TestRunRequestBundled: `run --kind request` with no URL and nothing else
// works offline against the bundled server in rpc mode: every request
// answered, the schedule's count kept, counts balanced.
func TestRunRequestBundled(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runCLI("run", "-q", "--kind", "request", "-c", "4", "-r", "200", "-d", "1s", "--warmup", "0s", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Messages
	if !m.Balanced || m.Received+m.InFlight != m.Sent || m.TimedOut != 0 || m.Failed != 0 || m.Unsolicited != 0 {
		t.Errorf("messages %+v", m)
	}
	if due := m.Sent + m.Unsent; due < 196 || due > 204 {
		t.Errorf("sent %d and unsent %d, want 200 due (±1 a connection)", m.Sent, m.Unsent)
	}
	if !strings.Contains(stdout, "sent = answered + timed out + failed + lost + in flight") || !strings.Contains(stdout, "requests matched to their replies by id") {
		t.Errorf("summary:\n%s", stdout)
	}
}

// TestRunRequestDelay: with --send and --match against a server that
// answers 15ms late, no request's latency is below 15ms.
func TestRunRequestDelay(t *testing.T) {
	url := rpcServer(t, "15ms")
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := runCLI("run", "-q", "--kind", "request", "--send", `{"jsonrpc":"2.0","id":{{id}},"method":"x","params":[{{seq}}]}`,
		"--match", "$.id", "-c", "3", "-r", "150", "-d", "1s", "--warmup", "100ms", "-o", out, url)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rtt", "rtt_uncorrected"} {
		// (3 significant digits: the min may read 0.1% low.)
		if l := rep.Latency[name]; l.Count != rep.Messages.Received || l.MinUs < 15000*0.999 {
			t.Errorf("%s: %d samples for %d answered, min %.0fµs below the delay 15ms", name, l.Count, rep.Messages.Received, l.MinUs)
		}
	}
}

// TestRunRequestWithheld: a server that never answers: the requests time
// out, the counts balance, and the run fails (exit 1) with one line naming
// what was expected and that nothing came back.
func TestRunRequestWithheld(t *testing.T) {
	url := replyServer(t, nil)
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := runCLI("run", "-q", "--kind", "request", "--send", `{"id":{{id}},"op":"get"}`, "--match", "$.id", "--timeout", "100ms",
		"-c", "2", "-d", "500ms", "--warmup", "0s", "-o", out, url)
	want := "wsbench run: no request was answered: expected replies whose $.id names a request in flight, within 100ms of the 19-byte text request `{\"id\":1,\"op\":\"get\"}`; nothing came back"
	if code != exitFailed || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if m := rep.Messages; !m.Balanced || m.TimedOut == 0 || m.Received != 0 || m.TimedOut+m.InFlight != m.Sent {
		t.Errorf("messages %+v", m)
	}
}

// TestRunRequestNotProtocol: a server that answers something else stops
// the run within seconds (no_reply) with a line that shows what came back.
func TestRunRequestNotProtocol(t *testing.T) {
	url := replyServer(t, []byte(`{"ok":true}`))
	start := time.Now()
	code, _, stderr := runCLI("run", "-q", "--kind", "request", "--send", `{"id":{{id}}}`, "--match", "$.id", "--timeout", "1s", "-c", "2", "-r", "50", "-d", "20s", url)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v of its 20s", took)
	}
	if code != exitFailed || !strings.Contains(stderr, "no request was answered: expected replies whose $.id names a request in flight") ||
		!strings.Contains(stderr, "got the 11-byte text message `{\"ok\":true}` (unsolicited ") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestRunRequestOpenFails: an opening the server does not answer as
// expected fails every connection: exit 1 with one line naming the
// expected message and what came instead.
func TestRunRequestOpenFails(t *testing.T) {
	url := replyServer(t, []byte(`{"type":"error"}`))
	code, _, stderr := runCLI("run", "-q", "--kind", "request", "--send", `{"id":{{id}}}`, "--match", "$.id",
		"--open", `send:{"type":"connection_init"}`, "--open", "expect:300ms:$.type==connection_ack", "-c", "2", "-d", "1s", url)
	want := "wsbench run: no connection got through the protocol's opening: expected a message matching $.type==connection_ack within 300ms after `{\"type\":\"connection_init\"}`, got the 16-byte text message `{\"type\":\"error\"}` (open_mismatch 2)\n"
	if code != exitFailed || stderr != want {
		t.Errorf("exit %d, stderr %q\nwant %q", code, stderr, want)
	}
}

// TestRunRequestUsage: bad request settings are usage errors naming their flag.
func TestRunRequestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--replies", "0"}, "--replies: want a number of replies, at least 1"},             // not a count
		{[]string{"--timeout", "soon"}, "--timeout: want a positive duration"},                      // not a duration
		{[]string{"--open", "hello"}, "--open: want send:TEMPLATE or expect:MATCHER"},               // no step kind
		{[]string{"--send", `{"id":{{id}}}`, "--match", "id"}, "--match: \"id\": want a JSON path"}, // not a matcher
		{[]string{"--match", "$.id"}, "--send: a request run needs the request to send"},            // target given: no default
		{[]string{"--send", `{"x":1}`, "--match", "$.id"}, "--send: \"{\\\"x\\\":1}\" has no {{id}}"},
		{[]string{"--send", `{"id":{{id}}}`, "--match", "$.id", "--open", "expect:$.a", "--open", "send:{{nope"}, "--open: "},
		{[]string{"--send", `{"id":{{id}}}`, "--match", "$.id", "--every", "1ms:x"}, "--every: must be at least 10ms"},
	} {
		args := append([]string{"run", "--kind", "request"}, c.args...)
		args = append(args, "ws://127.0.0.1:1/")
		code, _, stderr := runCLI(args...)
		if first, _, _ := strings.Cut(stderr, "\n"); code != exitUsage || !strings.Contains(first, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

// TestRunRequestAllFailed: a server that answers every request with an
// error fails the run (exit 1) with a line that says so, counting the
// errors by code, and the summary's Requests line has them as failed.
func TestRunRequestAllFailed(t *testing.T) {
	url := replyServer(t, []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found"}}`))
	// (id null: no request is named, so each is unsolicited: the run stops as no_reply.)
	code, _, stderr := runCLI("run", "-q", "--kind", "request", "--send", `{"id":{{id}}}`, "--match", "$.id", "--error-match", "$.error.code",
		"-c", "2", "-d", "300ms", "--warmup", "0s", url)
	if code != exitFailed || !strings.Contains(stderr, "no request was answered") {
		t.Errorf("id null: exit %d, stderr %q", code, stderr)
	}
	url = rpcErrorServer(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runCLI("run", "-q", "--kind", "request", "--send", `{"id":{{id}}}`, "--match", "$.id", "--error-match", "$.error.code",
		"-c", "2", "-d", "300ms", "--warmup", "0s", "-o", out, url)
	if code != exitFailed || !strings.HasPrefix(stderr, "wsbench run: every request failed: ") || !strings.Contains(stderr, "(errors: error_-32601 ") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if m := rep.Messages; m.Failed == 0 || m.Received != 0 || !m.Balanced || !strings.Contains(stdout, fmt.Sprintf("failed %d", m.Failed)) {
		t.Errorf("messages %+v, summary:\n%s", m, stdout)
	}
}

// rpcErrorServer answers every request with a JSON-RPC error naming its id.
func rpcErrorServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := ws.Upgrade(c); err != nil {
					return
				}
				for {
					p, _, err := wsutil.ReadClientData(c)
					if err != nil {
						return
					}
					var r struct{ ID json.RawMessage }
					json.Unmarshal(p, &r)
					if err := wsutil.WriteServerText(c, []byte(`{"id":`+string(r.ID)+`,"error":{"code":-32601}}`)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/"
}

// TestRunRequestSplitAndStaged: a request run split over two processes
// (each child sees the bundled server's URL, so the request the bundled
// server answers is written into the spec) and a staged one keep their
// schedules exactly, every request answered.
func TestRunRequestSplitAndStaged(t *testing.T) {
	for _, c := range []struct {
		args []string
		due  int64 // requests the schedule holds
	}{
		{[]string{"--procs", "2", "-c", "4", "-r", "400", "-d", "1s", "--warmup", "0s"}, 400},
		{[]string{"--stage", "0s:4:100", "--stage", "1s:8:400", "--stage", "1s:8:400"}, 650}, // 250 on the ramp, 400 held
	} {
		// (The built binary: a split run starts its processes from it.)
		rep := runJSON(t, append([]string{"-q", "--kind", "request"}, c.args...)...)
		m := rep.Messages
		if due := m.Sent + m.Unsent; !m.Balanced || m.Received+m.InFlight != m.Sent || m.TimedOut+m.Failed+m.Unsolicited != 0 || due < c.due-8 || due > c.due+8 {
			t.Errorf("%v: messages %+v, want %d due", c.args, m, c.due)
		}
		if rep.Scenario.Request == nil || rep.Scenario.Request.Send != scenario.BundledRequest {
			t.Errorf("%v: the result's scenario says request %+v", c.args, rep.Scenario.Request)
		}
	}
}
