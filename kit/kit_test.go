package kit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// goServers are the main packages of the kit/servers module, one per library.
var goServers = []string{"gorilla", "coder", "gobwas", "nbio", "gws", "fasthttp"}

// proxies are the kit servers that put a Debian proxy in front of gorilla
// (kit/servers/internal/proxy); their main packages are in kit/servers too.
var proxies = []string{"nginx", "haproxy"}

// nodeDir holds the Node ws and Bun servers and their lock file.
const nodeDir = "servers/node"

// budget bounds every wait on a server: generous, since CI's 2 cores are busy.
const budget = 20 * time.Second

// builds holds the binaries built once per test run: every Go server and
// wsbench itself.
var builds struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// binaries builds the Go servers (in the kit/servers module), wsbench and
// the kit's compare command (in the main module) into one temporary folder, both builds at once, the first
// time a test asks, and returns the folder.
func binaries(t *testing.T) string {
	t.Helper()
	builds.once.Do(func() {
		builds.dir, builds.err = os.MkdirTemp("", "wsbench-kit")
		if builds.err != nil {
			return
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		build := func(i int, dir string, args ...string) {
			defer wg.Done()
			cmd := exec.Command("go", append([]string{"build", "-o", builds.dir + string(filepath.Separator)}, args...)...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go build %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
			}
		}
		wg.Add(2)
		var pkgs []string
		for _, s := range append(goServers, proxies...) {
			pkgs = append(pkgs, "./"+s)
		}
		go build(0, "servers", pkgs...)
		go build(1, "..", "./cmd/wsbench", "./kit/compare")
		wg.Wait()
		builds.err = errors.Join(errs...)
		fmt.Fprintf(os.Stderr, "kit: built %d servers and wsbench in %v\n", len(pkgs), time.Since(start).Round(time.Millisecond))
	})
	if builds.err != nil {
		t.Fatal(builds.err)
	}
	return builds.dir
}

// missing skips the test, or fails it under CI=true, where .ci/run must have
// installed what it needs.
func missing(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...) + ": this test needs node on PATH, `npm ci` run in kit/servers/node and Debian's nginx and haproxy (.ci/run does it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// kitServer is one server of the kit and how to start it.
type kitServer struct {
	name    string
	command func(t *testing.T, flags ...string) *exec.Cmd
	// dropsEmpty: the library never hands an empty data message to the
	// application, so it cannot be echoed or broadcast (nbio v1.6.8: Conn.Parse
	// delivers a message only when its payload is non-nil). The test checks
	// that this is still so, and kit/README.md says it.
	dropsEmpty bool
}

func servers() []kitServer {
	var list []kitServer
	for _, name := range goServers {
		list = append(list, kitServer{name: name, dropsEmpty: name == "nbio", command: func(t *testing.T, flags ...string) *exec.Cmd {
			return exec.Command(filepath.Join(binaries(t), name), flags...)
		}})
	}
	for _, name := range proxies {
		list = append(list, kitServer{name: name, command: func(t *testing.T, flags ...string) *exec.Cmd {
			if _, err := exec.LookPath(name); err != nil {
				if _, serr := os.Stat("/usr/sbin/" + name); serr != nil {
					missing(t, "%s is not installed (%v)", name, err)
				}
			}
			return exec.Command(filepath.Join(binaries(t), name), flags...)
		}})
	}
	list = append(list,
		kitServer{name: "node-ws", command: func(t *testing.T, flags ...string) *exec.Cmd {
			node, err := exec.LookPath("node")
			if err != nil {
				missing(t, "node not found on PATH (%v)", err)
			}
			if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ws", "package.json")); err != nil {
				missing(t, "Node package ws is not installed (%v)", err)
			}
			cmd := exec.Command(node, append([]string{"ws-server.js"}, flags...)...)
			cmd.Dir = nodeDir
			return cmd
		}},
		kitServer{name: "bun", command: func(t *testing.T, flags ...string) *exec.Cmd {
			bun, err := filepath.Abs(filepath.Join(nodeDir, "node_modules", ".bin", "bun"))
			if err == nil {
				_, err = os.Stat(bun)
			}
			if err != nil {
				missing(t, "npm package bun is not installed (%v)", err)
			}
			cmd := exec.Command(bun, append([]string{"bun-server.js"}, flags...)...)
			cmd.Dir = nodeDir
			return cmd
		}},
	)
	return list
}

// running is a started server: its address and how to stop it.
type running struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	done   chan error // cmd.Wait's result
	exited bool       // done was received
}

// start runs the server on a loopback port the kernel picks and reads the
// "listening on ADDR" line its stdout must begin with. The server is stopped
// by its PID when the test ends, if the test did not stop it.
func start(t *testing.T, s kitServer, flags ...string) *running {
	t.Helper()
	cmd := s.command(t, append([]string{"-addr", "127.0.0.1:0"}, flags...)...)
	r := &running{cmd: cmd, stderr: new(bytes.Buffer), done: make(chan error, 1)}
	cmd.Stderr = r.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		r.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if !r.exited {
			_ = cmd.Process.Kill()
			<-r.done
		}
	})
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "listening on ")
		if !ok || !found {
			t.Fatalf("%s: first stdout line %q, want \"listening on ADDR\"; stderr: %s", s.name, line, r.stderr)
		}
		if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
			t.Fatalf("%s: listening on %q, want a loopback HOST:PORT", s.name, addr)
		}
		r.addr = addr
	case <-time.After(budget):
		t.Fatalf("%s: no \"listening on\" line after %v; stderr: %s", s.name, budget, r.stderr)
	}
	return r
}

// stop sends SIGTERM to the server's PID and checks that it exits with
// status 0 within the budget.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case err := <-r.done:
		r.exited = true
		if err != nil {
			t.Errorf("after SIGTERM: %v, want exit status 0; stderr: %s", err, r.stderr)
		}
	case <-time.After(budget):
		t.Errorf("still running %v after SIGTERM", budget)
	}
}

// client is one WebSocket connection of the test, made with gobwas/ws.
type client struct {
	net.Conn
	rd io.Reader // frames the server sent with its handshake answer come first
	hs ws.Handshake
}

func (c *client) Read(p []byte) (int, error) { return c.rd.Read(p) }

func dial(t *testing.T, addr, path string, extensions ...httphead.Option) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	d := ws.Dialer{Extensions: extensions}
	conn, br, hs, err := d.Dial(ctx, "ws://"+addr+path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(budget)); err != nil {
		t.Fatal(err)
	}
	c := &client{Conn: conn, rd: conn, hs: hs}
	if br != nil {
		c.rd = io.MultiReader(br, conn)
	}
	return c
}

// send writes one masked message in one frame.
func (c *client) send(t *testing.T, op ws.OpCode, p []byte) {
	t.Helper()
	if err := wsutil.WriteClientMessage(c, op, p); err != nil {
		t.Fatalf("send %v: %v", op, err)
	}
}

// frame reads the next frame as it is on the wire, unmasked by nobody: a
// server never masks.
func (c *client) frame(t *testing.T) ws.Frame {
	t.Helper()
	f, err := ws.ReadFrame(c)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if f.Header.Masked {
		t.Fatalf("server sent a masked %v frame", f.Header.OpCode)
	}
	return f
}

// TestKitServers starts every kit server and checks the kit protocol
// (kit/README.md) against it, then runs the real wsbench against its /echo
// and, started with -deflate, with --deflate.
func TestKitServers(t *testing.T) {
	for _, s := range servers() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, s)
			t.Run("echo", func(t *testing.T) { checkEcho(t, srv.addr, s.dropsEmpty) })
			t.Run("bcast", func(t *testing.T) { checkBroadcast(t, srv.addr) })
			t.Run("close", func(t *testing.T) { checkClose(t, srv.addr) })
			t.Run("no_deflate_by_default", func(t *testing.T) { checkDeflateOffer(t, srv.addr, false) })
			t.Run("wsbench_run", func(t *testing.T) { checkWsbench(t, srv.addr, 10, time.Second) })
			srv.stop(t)

			t.Run("deflate", func(t *testing.T) {
				srv := start(t, s, "-deflate")
				checkDeflateOffer(t, srv.addr, true)
				checkWsbench(t, srv.addr, 2, 300*time.Millisecond, "--deflate")
				srv.stop(t)
			})
		})
	}
}

// checkEcho: every message comes back once, with its opcode and bytes, in
// order: text and binary, empty and 64 KiB (a 64-bit length, and more than
// one read buffer in most libraries). A ping sent last must be answered by
// a pong with its payload as the very next frame: nothing extra was echoed.
// With dropsEmpty, the empty messages must be the ones that do not come back.
func checkEcho(t *testing.T, addr string, dropsEmpty bool) {
	c := dial(t, addr, "/echo")
	rnd := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(rnd.Uint32())
	}
	bigText := bytes.Repeat([]byte("kit ✓ "), (64<<10)/len("kit ✓ "))
	msgs := []struct {
		op      ws.OpCode
		payload []byte
	}{
		{ws.OpText, []byte("hello, kit")},
		{ws.OpBinary, []byte{0, 1, 2, 0xfe, 0xff}},
		{ws.OpText, nil},   // empty text
		{ws.OpBinary, nil}, // empty binary
		{ws.OpBinary, big},
		{ws.OpText, bigText},
		{ws.OpBinary, []byte("binary that reads as text")}, // opcode, not content, decides
	}
	// Send from another goroutine while this one reads: a server blocked
	// writing echoes nobody reads would stop reading, and the sends would
	// block in turn.
	sent := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := wsutil.WriteClientMessage(c, m.op, m.payload); err != nil {
				sent <- fmt.Errorf("send %v: %w", m.op, err)
				return
			}
		}
		sent <- nil
	}()
	for i, m := range msgs {
		if dropsEmpty && len(m.payload) == 0 {
			continue
		}
		got, op, err := wsutil.ReadServerData(c)
		if err != nil {
			t.Fatalf("message %d: read echo: %v", i, err)
		}
		if op != m.op || !bytes.Equal(got, m.payload) {
			t.Errorf("message %d: echo is %v, %d bytes; want %v, %d bytes, identical", i, op, len(got), m.op, len(m.payload))
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	checkPing(t, c)
}

// checkPing sends a ping and wants the next frame to be its pong.
func checkPing(t *testing.T, c *client) {
	t.Helper()
	payload := []byte("kit-ping-42")
	if err := ws.WriteFrame(c, ws.MaskFrameInPlace(ws.NewPingFrame(bytes.Clone(payload)))); err != nil {
		t.Fatal(err)
	}
	f := c.frame(t)
	if f.Header.OpCode != ws.OpPong || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("answer to ping %q: %v frame %q, want a pong with the same payload", payload, f.Header.OpCode, f.Payload)
	}
}

// checkClose: a close frame (1000) is answered by a close frame with status
// 1000, and then the server closes the TCP connection.
func checkClose(t *testing.T, addr string) {
	c := dial(t, addr, "/echo")
	c.send(t, ws.OpText, []byte("before close"))
	if got, _, err := wsutil.ReadServerData(c); err != nil || string(got) != "before close" {
		t.Fatalf("echo before close: %q, %v", got, err)
	}
	body := ws.NewCloseFrameBody(ws.StatusNormalClosure, "kit done")
	if err := ws.WriteFrame(c, ws.MaskFrameInPlace(ws.NewCloseFrame(body))); err != nil {
		t.Fatal(err)
	}
	f := c.frame(t)
	if f.Header.OpCode != ws.OpClose {
		t.Fatalf("answer to close: %v frame, want close", f.Header.OpCode)
	}
	if code, _ := ws.ParseCloseFrameData(f.Payload); code != ws.StatusNormalClosure {
		t.Errorf("answer to close 1000: status %d, want 1000", code)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the close handshake: read %d bytes, %v; want EOF (the server closes TCP)", n, err)
	}
}

// checkDeflateOffer offers permessage-deflate (no context takeover either
// way, as wsbench --deflate does) and checks whether the server took it.
func checkDeflateOffer(t *testing.T, addr string, want bool) {
	t.Helper()
	offer := httphead.Option{Name: []byte("permessage-deflate")}
	offer.Parameters.Set([]byte("server_no_context_takeover"), nil)
	offer.Parameters.Set([]byte("client_no_context_takeover"), nil)
	c := dial(t, addr, "/echo", offer)
	var got bool
	for _, e := range c.hs.Extensions {
		got = got || string(e.Name) == "permessage-deflate"
	}
	if got != want {
		t.Errorf("permessage-deflate offered: accepted %v (extensions %q), want %v", got, c.hs.Extensions, want)
	}
	if got {
		return // what comes back may be compressed: wsbench --deflate checks it
	}
	c.send(t, ws.OpText, []byte("plain"))
	if got, _, err := wsutil.ReadServerData(c); err != nil || string(got) != "plain" {
		t.Errorf("uncompressed message after the offer: echo %q, %v", got, err)
	}
}

// checkBroadcast: members connections to /bcast each send perSender
// messages (text and binary alternating) and each member receives every one
// of them exactly once, its own included, with its opcode, each sender's in
// the order sent. Half the members join at /bcast/0 (what wsbench --kind
// broadcast --room-path /bcast/%d dials): the same set.
func checkBroadcast(t *testing.T, addr string) {
	const members, perSender = 4, 20
	conns := make([]*client, members)
	for i := range conns {
		path := "/bcast"
		if i%2 == 1 {
			path = "/bcast/0"
		}
		conns[i] = dial(t, addr, path)
	}
	// A connection is a member once it has received its own message: until
	// every one has, an earlier one's messages may miss it, so this warm-up
	// traffic is not counted.
	var wg sync.WaitGroup
	errs := make(chan error, members)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- joinBroadcast(c, i)
		}()
	}
	wg.Wait()
	for range members {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runBroadcast(c, i, members, perSender)
		}()
	}
	wg.Wait()
	for range members {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, c := range conns {
		checkPing(t, c)
	}
}

func joinBroadcast(c *client, i int) error {
	own := fmt.Sprintf("join %d", i)
	if err := wsutil.WriteClientMessage(c, ws.OpText, []byte(own)); err != nil {
		return err
	}
	for {
		got, _, err := wsutil.ReadServerData(c)
		if err != nil {
			return fmt.Errorf("member %d waiting for its own join: %w", i, err)
		}
		if string(got) == own {
			return nil
		}
	}
}

// runBroadcast is member i: it sends its messages, then "end i", and reads
// until it has every member's end. Each sender's messages reach a member in
// the order sent, so by the time a member has every end it has every message,
// and a duplicate would have come before its sender's end.
func runBroadcast(c *client, i, members, perSender int) error {
	for k := range perSender {
		op := ws.OpText
		if k%2 == 1 {
			op = ws.OpBinary
		}
		if err := wsutil.WriteClientMessage(c, op, fmt.Appendf(nil, "msg %d %d", i, k)); err != nil {
			return fmt.Errorf("member %d send: %w", i, err)
		}
	}
	if err := wsutil.WriteClientMessage(c, ws.OpText, fmt.Appendf(nil, "end %d", i)); err != nil {
		return fmt.Errorf("member %d send: %w", i, err)
	}
	next := make([]int, members) // next message index expected from each sender
	ends := 0
	for ends < members {
		got, op, err := wsutil.ReadServerData(c)
		if err != nil {
			return fmt.Errorf("member %d: read after %v messages and %d ends: %w", i, next, ends, err)
		}
		var from, k int
		switch {
		case bytes.HasPrefix(got, []byte("join ")):
			continue // warm-up traffic of a member that joined later
		case bytes.HasPrefix(got, []byte("end ")):
			if _, err := fmt.Sscanf(string(got), "end %d", &from); err != nil {
				return fmt.Errorf("member %d: unexpected message %q", i, got)
			}
			if next[from] != perSender {
				return fmt.Errorf("member %d: end of member %d after %d of its %d messages", i, from, next[from], perSender)
			}
			next[from]++ // a second end would be caught as a duplicate
			ends++
			continue
		}
		if _, err := fmt.Sscanf(string(got), "msg %d %d", &from, &k); err != nil || from < 0 || from >= members {
			return fmt.Errorf("member %d: unexpected message %q", i, got)
		}
		wantOp := ws.OpText
		if k%2 == 1 {
			wantOp = ws.OpBinary
		}
		if k != next[from] || op != wantOp {
			return fmt.Errorf("member %d: got %v %q, want %v message %d of member %d (a loss, duplicate or reorder)", i, op, got, wantOp, next[from], from)
		}
		next[from]++
	}
	return nil
}

// wsbenchResult is the part of wsbench's JSON result the smoke check reads.
type wsbenchResult struct {
	StopReason  string `json:"stop_reason"`
	Connections struct {
		Opened int `json:"opened"`
		Failed int `json:"failed"`
	} `json:"connections"`
	Messages struct {
		Sent     int64 `json:"sent"`
		Received int64 `json:"received"`
		Balanced bool  `json:"balanced"`
	} `json:"messages"`
	Errors map[string]int64 `json:"errors"`
}

// checkWsbench runs the real wsbench (closed model) against the server's
// /echo and wants every connection opened, messages received, counts that
// balance and no errors.
func checkWsbench(t *testing.T, addr string, conns int, d time.Duration, flags ...string) {
	t.Helper()
	args := append([]string{"run", "-q", "--json", "--warmup", "0", "-c", fmt.Sprint(conns), "-d", d.String()}, flags...)
	// wsbench stops itself after d and its grace; the timeout only bounds a hang.
	ctx, cancel := context.WithTimeout(context.Background(), budget+d)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binaries(t), "wsbench"), append(args, "ws://"+addr+"/echo")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wsbench %s: %v; stderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	var res wsbenchResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("wsbench result: %v", err)
	}
	m := res.Messages
	t.Logf("wsbench run -c %d %s: %d sent, %d received in %v", conns, strings.Join(flags, " "), m.Sent, m.Received, d)
	if res.StopReason != "completed" || res.Connections.Opened != conns || res.Connections.Failed != 0 {
		t.Errorf("stop reason %q, %d of %d connections opened, %d failed", res.StopReason, res.Connections.Opened, conns, res.Connections.Failed)
	}
	if !m.Balanced || m.Received <= 0 || len(res.Errors) > 0 {
		t.Errorf("messages %+v, errors %v; want balanced, some received, no errors", m, res.Errors)
	}
}

// TestCompareQuick runs the comparison end to end, as
// scripts/compare-servers.sh --quick does, on three of its cases (about 30 s
// on a busy 2-core machine): each server passes the smoke check, every trial
// leaves its result with the server's usage sampled by PID, and the folder
// has summary.md with a row per server per case, env.json, index.html and
// wsbench compare's pages. Figures are not checked: they are the machine's.
func TestCompareQuick(t *testing.T) {
	bin := binaries(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "compare"), "--quick", "--bin", bin, "--out", out, "--cases", "echo,idle,bcast")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("compare --quick: %v\n%s", err, stderr.String())
	}
	t.Logf("compare --quick on 3 cases: %v", time.Since(start).Round(time.Second))
	if strings.Contains(stderr.String(), "smoke check") {
		t.Errorf("a server failed the smoke check:\n%s", stderr.String())
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []string{"echo-20c-32B", "idle-200c", "bcast-20"}
	for _, c := range cases {
		_, table, ok := strings.Cut(string(summary), "\n## "+c+"\n")
		if !ok {
			t.Fatalf("summary.md has no table for %s:\n%s", c, summary)
		}
		table, _, _ = strings.Cut(table, "\n## ")
		for _, s := range []string{"gorilla", "gws"} {
			// A run a busy machine starved is marked, not counted: the row
			// is there whatever its count of trials.
			if !regexp.MustCompile(`\| (\d|–) \| ` + s + ` \| [0-2] \|`).MatchString(table) {
				t.Errorf("summary.md, %s: no row for %s:\n%s", c, s, table)
			}
			for n := 1; n <= 2; n++ {
				var res struct {
					StopReason  string `json:"stop_reason"`
					ServerUsage *struct {
						PIDs      []int   `json:"pids"`
						CPUS      float64 `json:"cpu_s"`
						MaxRSSKiB int64   `json:"max_rss_kib"`
					} `json:"server_usage"`
				}
				b, err := os.ReadFile(filepath.Join(out, "raw", c, fmt.Sprintf("%s-%d.json", s, n)))
				if err == nil {
					err = json.Unmarshal(b, &res)
				}
				if err != nil {
					t.Errorf("%s %s trial %d: %v", c, s, n, err)
					continue
				}
				if u := res.ServerUsage; u == nil || len(u.PIDs) != 1 || u.CPUS < 0 || u.MaxRSSKiB <= 0 {
					t.Errorf("%s %s trial %d: server_usage %+v, want the server's PID sampled", c, s, n, u)
				}
			}
		}
		if _, err := os.Stat(filepath.Join(out, "html", c+".html")); err != nil {
			t.Errorf("wsbench compare's page for %s: %v", c, err)
		}
	}
	var env struct {
		ServerCPUs string            `json:"server_cpus"`
		ClientCPUs string            `json:"client_cpus"`
		Versions   map[string]string `json:"versions"`
		LockFiles  map[string]string `json:"lock_files_sha256"`
	}
	if b, err := os.ReadFile(filepath.Join(out, "env.json")); err != nil || json.Unmarshal(b, &env) != nil {
		t.Fatalf("env.json: %v", err)
	}
	if env.ServerCPUs == "" || env.ClientCPUs == "" || env.Versions["wsbench"] == "" || env.Versions["go"] == "" ||
		len(env.LockFiles["kit/servers/go.sum"]) != 64 {
		t.Errorf("env.json %+v: want CPUs, versions and lock-file hashes", env)
	}
	page, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte("Content-Security-Policy")) || bytes.Contains(page, []byte("<script")) ||
		!bytes.Contains(page, []byte(`href="html/echo-20c-32B.html"`)) {
		t.Errorf("index.html: want a self-contained page (CSP, no script) linking the compare pages")
	}
}
