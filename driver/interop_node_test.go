package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/wsbench/wsbench/internal/iomode"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/uring"
	"github.com/wsbench/wsbench/metrics"
)

// nodeDir holds the Node echo server and its package.json/package-lock.json.
const nodeDir = "testdata/node"

// TestAgainstNodeWS runs the driver against an echo server we did not write:
// Node's `ws` package (driver/testdata/node/echo-server.js), which also pings
// every client once right after it connects. Every run must end clean: no
// errors, every measured message echoed, nothing lost or left in flight; and
// the server must have seen a correct pong and a status-1000 close from every
// connection.
func TestAgainstNodeWS(t *testing.T) {
	srv := startNodeEcho(t, findNodeWS(t))
	url := fmt.Sprintf("ws://127.0.0.1:%d/", srv.port)

	cases := []struct {
		name     string
		conns    int
		rate     float64
		size     int
		binary   bool
		fragment int
	}{
		{name: "closed_text_64B", conns: 20, size: 64},
		{name: "open_binary_256B", conns: 50, rate: 2000, size: 256, binary: true},
		// 100000 bytes: a 64-bit length header, and frames larger than the
		// driver's 64 KiB read buffer, so they arrive in several reads.
		{name: "closed_binary_100000B", conns: 5, size: 100000, binary: true},
		// each message as 5 frames, which Node's ws reassembles
		{name: "closed_text_fragmented", conns: 5, size: 200, fragment: 5},
	}
	var totalConns int
	for _, io := range []iomode.Mode{IOUring, IOSyscalls} {
		if io == IOUring && uring.Probe() != nil {
			continue
		}
		for _, tc := range cases {
			totalConns += tc.conns
			t.Run(string(io)+"/"+tc.name, func(t *testing.T) { runNodeCase(t, url, io, tc.conns, tc.rate, tc.size, tc.binary, tc.fragment) })
		}
	}

	// The server's side of the story: every connection answered the ping with
	// its payload and ended with a normal close handshake.
	st, err := srv.stop()
	if err != nil {
		t.Fatalf("stop node echo server: %v", err)
	}
	t.Logf("node echo server: %v", st)
	want := map[string]int{
		"connections": totalConns,
		"pongs":       totalConns,
		"badpongs":    0,
		"closes1000":  totalConns,
		"otherCloses": 0,
		"errors":      0,
	}
	for k, v := range want {
		got, ok := st[k]
		if !ok {
			t.Errorf("server stats lack %q: %v", k, st)
		} else if got != v {
			t.Errorf("server stats: %s = %d, want %d", k, got, v)
		}
	}
}

// TestAgainstNodeWSDeflate: with --deflate, permessage-deflate is
// negotiated with Node's ws (no context takeover both ways), every message
// goes out compressed and the server's compressed echoes are decompressed
// and matched; fragmented compressed messages too. Against a server that
// declines the extension, every connection fails as handshake_no_deflate.
func TestAgainstNodeWSDeflate(t *testing.T) {
	node := findNodeWS(t)
	srv := startNodeEcho(t, node, "--deflate")
	url := fmt.Sprintf("ws://127.0.0.1:%d/", srv.port)
	for _, tc := range []struct {
		name           string
		rate           float64
		size, fragment int
		binary         bool
	}{
		{name: "closed_text", size: 1000},
		{name: "open_binary", rate: 1000, size: 4096, binary: true},
		{name: "fragmented", size: 2000, fragment: 3},
		{name: "large", size: 200000, binary: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := quickSpec(5, 500*time.Millisecond)
			spec.Deflate, spec.Rate, spec.Size, spec.Fragment, spec.Binary = true, tc.rate, tc.size, tc.fragment, tc.binary
			res, err := Run(context.Background(), Config{Spec: spec, Target: url})
			if err != nil {
				t.Fatal(err)
			}
			checkHealthy(t, res, 5, metrics.RTT)
			c := res.Snapshot.Counts
			if c.DeflateRawSent != c.Sent*int64(tc.size) || c.DeflateWireSent <= 0 || c.DeflateWireSent*2 > c.DeflateRawSent {
				t.Errorf("sent %d messages: %d bytes raw, %d compressed", c.Sent, c.DeflateRawSent, c.DeflateWireSent)
			}
			if c.DeflateRawReceived != c.Received*int64(tc.size) || c.DeflateWireReceived*2 > c.DeflateRawReceived {
				t.Errorf("received %d messages: %d bytes raw, %d on the wire (the server's echoes should be compressed)",
					c.Received, c.DeflateRawReceived, c.DeflateWireReceived)
			}
		})
	}
	if st, err := srv.stop(); err != nil || st["errors"] != 0 {
		t.Errorf("node server: %v %v", st, err)
	}

	plain := startNodeEcho(t, node)
	spec := quickSpec(3, 200*time.Millisecond)
	spec.Deflate = true
	res, err := Run(context.Background(), Config{Spec: spec, Target: fmt.Sprintf("ws://127.0.0.1:%d/", plain.port)})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Snapshot.Counts; c.ConnsOpened != 0 || res.Snapshot.Errors["handshake_no_deflate"] != 3 {
		t.Errorf("declined: %+v errors %v", c, res.Snapshot.Errors)
	}
}

// TestNodeWSServerCloses: Node's ws server closes each connection with a
// code of its choosing after 5 echoes (the server-to-client direction of
// the close handshake). wsbench names each drop close_<code>, answers with
// the same code, counts the one message in flight on each as lost, and its
// counts balance.
func TestNodeWSServerCloses(t *testing.T) {
	srv := startNodeEcho(t, findNodeWS(t))
	for _, code := range []int{1000, 1001, 1011, 4000} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			// 5 echoes in 1.5 s: room for the race detector on a busy machine,
			// so every connection is closed by the server, not by the run's end.
			spec := quickSpec(4, 1500*time.Millisecond)
			spec.Warmup = 0
			url := fmt.Sprintf("ws://127.0.0.1:%d/close/%d/5", srv.port, code)
			res, err := Run(context.Background(), Config{Spec: spec, Target: url})
			if err != nil {
				t.Fatal(err)
			}
			c, errs := res.Snapshot.Counts, res.Snapshot.Errors
			kind := fmt.Sprintf("close_%d", code)
			if c.ConnsOpened != 4 || c.ConnsDropped != 4 || errs[kind] != 4 || len(errs) != 1 {
				t.Errorf("opened %d dropped %d errors %v, want 4 drops named %s", c.ConnsOpened, c.ConnsDropped, errs, kind)
			}
			if !c.Balanced() || c.Received != 20 || c.Lost > 4 || c.InFlight != 0 {
				t.Errorf("counts %+v: want 5 echoes per connection, at most its one next message lost", c)
			}
		})
	}
	st, err := srv.stop()
	if err != nil || st["serverCloses"] != 16 || st["errors"] != 0 {
		t.Errorf("node server: %v %v (want 16 closes it started, no errors)", st, err)
	}
	// Each close was answered with the server's own code (1000 ones count as
	// closes1000, the rest as otherCloses).
	if st["closes1000"] != 4 || st["otherCloses"] != 12 {
		t.Errorf("node server saw closes %v", st)
	}
}

// runNodeCase is one run against the Node server; every one must end clean.
func runNodeCase(t *testing.T, url string, io iomode.Mode, conns int, rate float64, size int, binary bool, fragment int) {

	spec := quickSpec(conns, time.Second)
	spec.Rate = rate
	spec.Size = size
	spec.Binary = binary
	spec.Fragment = fragment
	// A hang shows as an interrupted (and, later, aborted) run, not a
	// test stuck until the global timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	abort, cancelAbort := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelAbort()
	res, err := Run(ctx, Config{Spec: spec, Target: url, Abort: abort, IO: io})
	if err != nil {
		t.Fatal(err)
	}
	wanted := []metrics.Metric{metrics.RTT, metrics.RTTUncorrected, metrics.Connect, metrics.Handshake}
	if rate > 0 {
		wanted = append(wanted, metrics.SendLag)
	}
	checkHealthy(t, res, conns, wanted...)
	snap := res.Snapshot
	c := snap.Counts
	if c.Sent != c.Received {
		t.Errorf("sent %d != received %d", c.Sent, c.Received)
	}
	if c.InFlight != 0 {
		t.Errorf("in flight %d, want 0", c.InFlight)
	}
	if c.Lost != 0 {
		t.Errorf("lost %d, want 0", c.Lost)
	}
	rtt := snap.Hist[metrics.RTT]
	secs := res.Measured().Seconds()
	t.Logf("%d conns, %d B %s, %s model: sent %d received %d in %v: %.0f msg/s, %.1f MB/s received; rtt p50 %v p99 %v max %v",
		conns, size, map[bool]string{false: "text", true: "binary"}[binary], spec.Model(),
		c.Sent, c.Received, res.Measured().Round(time.Millisecond),
		float64(c.Received)/secs, float64(c.BytesReceived)/secs/1e6,
		rtt.Percentile(50), rtt.Percentile(99), rtt.Percentile(100))
}

// findNodeWS returns the node binary once it has checked that the `ws` package
// is installed, or skips the test (fails it under CI=true) when either is missing.
func findNodeWS(t *testing.T) string {
	t.Helper()
	const hint = "this test needs node on PATH and `npm ci` run in driver/testdata/node; .ci/run must `npm ci` in driver/testdata/node before the Go tests"
	missing := func(format string, a ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, a...) + ": " + hint
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found on PATH (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ws", "package.json")); err != nil {
		missing("Node package ws is not installed (%v)", err)
	}
	return node
}

// nodeEcho is a running echo-server.js.
type nodeEcho struct {
	port  int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *nodeLineWriter
	errs  *nodeStderr

	stopOnce sync.Once
	stats    map[string]int
	stopErr  error
}

func startNodeEcho(t *testing.T, node string, flags ...string) *nodeEcho {
	t.Helper()
	// The whole life of the server is bounded: a stuck test cannot leave it running.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, node, append([]string{"echo-server.js", "--ping"}, flags...)...)
	cmd.Dir = nodeDir
	cmd.WaitDelay = 2 * time.Second
	s := &nodeEcho{cmd: cmd, out: newNodeLineWriter(), errs: &nodeStderr{}}
	cmd.Stdout = s.out
	cmd.Stderr = s.errs
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node echo server: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.stop(); err != nil {
			t.Errorf("stop node echo server: %v", err)
		}
		cancel()
		if t.Failed() {
			t.Logf("node echo server stderr:\n%s", s.errs.String())
		}
	})

	select {
	case line := <-s.out.lines:
		port, err := strconv.Atoi(strings.TrimPrefix(line, "LISTENING "))
		if !strings.HasPrefix(line, "LISTENING ") || err != nil || port <= 0 {
			t.Fatalf("node echo server said %q, want LISTENING <port>", line)
		}
		s.port = port
	case <-time.After(10 * time.Second):
		t.Fatalf("node echo server did not say LISTENING within 10s; stderr:\n%s", s.errs.String())
	}
	return s
}

// stop closes the server's stdin and sends it SIGTERM, kills it if it has not
// exited 2s later, waits for it, and returns the STATS it printed on the way out.
func (s *nodeEcho) stop() (map[string]int, error) {
	s.stopOnce.Do(func() {
		s.stdin.Close()
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case s.stopErr = <-done:
		case <-time.After(2 * time.Second):
			s.cmd.Process.Kill()
			s.stopErr = errors.Join(errors.New("did not exit within 2s of SIGTERM; killed"), <-done)
		}
		if s.stopErr != nil {
			return
		}
		// Wait has copied all of stdout by now.
		for {
			select {
			case line := <-s.out.lines:
				if f, ok := strings.CutPrefix(line, "STATS "); ok {
					s.stats, s.stopErr = parseNodeStats(f)
					return
				}
			default:
				s.stopErr = errors.New("exited without printing STATS")
				return
			}
		}
	})
	return s.stats, s.stopErr
}

// parseNodeStats reads "k=v k=v ..." with integer values.
func parseNodeStats(f string) (map[string]int, error) {
	st := map[string]int{}
	for kv := range strings.FieldsSeq(f) {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			return nil, fmt.Errorf("bad STATS field %q", kv)
		}
		st[k] = n
	}
	return st, nil
}

// nodeLineWriter is a process's stdout: it hands every complete line to a
// buffered channel (and drops lines beyond its capacity rather than block).
type nodeLineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func newNodeLineWriter() *nodeLineWriter { return &nodeLineWriter{lines: make(chan string, 64)} }

func (w *nodeLineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		select {
		case w.lines <- line:
		default:
		}
	}
	return len(p), nil
}

// nodeStderr collects a process's stderr.
type nodeStderr struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *nodeStderr) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *nodeStderr) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
