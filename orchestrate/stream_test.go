package orchestrate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// runSubscribe runs spec (kind subscribe) in this process as `wsbench run`
// does, the bundled server started by Target when spec has no target.
func runSubscribe(t *testing.T, spec scenario.Spec) *results.Report {
	t.Helper()
	spec = scenario.BundledPush(spec)
	c, err := scenario.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	target, bundled, stop, err := Target(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(spec.Duration)+30*time.Second)
	defer cancel()
	r, err := One(ctx, context.Background(), Plan{Spec: spec, Compiled: c, Target: target, Bundled: bundled, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSubscribeBundledExact: against the bundled push server, each of the
// connections gets exactly the count the server sends, gap-free, with a
// one-way latency that is never negative (one clock) and bounded.
func TestSubscribeBundledExact(t *testing.T) {
	const conns, rate, count = 4, 200, 100 // half a second of stream
	spec := scenario.Default()
	spec.Kind, spec.Conns, spec.Warmup, spec.Duration = scenario.KindSubscribe, conns, 0, scenario.Duration(3*time.Second)
	spec.PushRate, spec.PushCount = rate, count
	stopWatch := schedwatch.Watch()
	r := runSubscribe(t, spec)
	sched := stopWatch()
	st := r.Stream
	if st == nil {
		t.Fatalf("no stream in the report (failure %q)", r.Failure)
	}
	if st.Messages != conns*count || st.Gaps != 0 || st.Duplicates != 0 || st.Late != 0 || st.Other != 0 || st.Early != 0 {
		t.Errorf("stream %+v: want exactly %d messages (%d per connection), no gaps, duplicates, late, other or early ones", *st, conns*count, count)
	}
	if st.Clocks != results.ClocksSame {
		t.Errorf("clocks %q against the bundled server, want %q", st.Clocks, results.ClocksSame)
	}
	d, g := r.Latency["delivery"], r.Latency["gap"]
	if d.Count != conns*count || g.Count != conns*count {
		t.Errorf("delivery %d and gap %d values, want one per message (%d)", d.Count, g.Count, conns*count)
	}
	// One clock: never negative (Early is 0 above); bounded by a second
	// plus what the machine's scheduling delayed.
	if bound := float64((time.Second + 10*sched.Max).Microseconds()); d.MaxUs > bound {
		t.Errorf("delivery max %.0fµs, want at most %.0fµs (scheduling delay max %v)", d.MaxUs, bound, sched.Max)
	}
	if r.Failure != "" || r.Messages.Sent != 0 || !r.Messages.Balanced {
		t.Errorf("failure %q, messages %+v", r.Failure, r.Messages)
	}
	t.Logf("stream %+v; delivery p50 %.0fµs max %.0fµs; gap p50 %.0fµs; scheduling delay max %v", *st, d.P50Us, d.MaxUs, g.P50Us, sched.Max)
}

// TestSubscribeBundledRate: an endless stream at a known rate is measured
// at that rate per connection: never above it (the server keeps no burst),
// and below it no more than the machine's scheduling delay explains.
func TestSubscribeBundledRate(t *testing.T) {
	const conns, rate = 3, 50.0
	const window = 2 * time.Second
	spec := scenario.Default()
	spec.Kind, spec.Conns, spec.Warmup, spec.Duration = scenario.KindSubscribe, conns, scenario.Duration(200*time.Millisecond), scenario.Duration(window)
	spec.PushRate = rate
	stopWatch := schedwatch.Watch()
	r := runSubscribe(t, spec)
	sched := stopWatch()
	st := r.Stream
	if st == nil {
		t.Fatalf("no stream in the report (failure %q)", r.Failure)
	}
	// At most one message per period over the window, plus one at each edge.
	if most := rate * (1 + 2/(rate*r.DurationS)); st.PerConnPerSecond > most {
		t.Errorf("%.1f msg/s per connection, more than the server's %v (at most %.1f)", st.PerConnPerSecond, rate, most)
	}
	period := time.Duration(float64(time.Second) / rate)
	if least := rate * float64(period) / float64(period+2*sched.Max) * 0.8; st.PerConnPerSecond < least {
		t.Errorf("%.1f msg/s per connection, want at least %.1f of the server's %v (scheduling delay max %v)", st.PerConnPerSecond, least, rate, sched.Max)
	}
	if diff := st.PerSecond - conns*st.PerConnPerSecond; diff > 1e-6 || diff < -1e-6 {
		t.Errorf("%.3f msg/s in all, %.3f per connection of %d", st.PerSecond, st.PerConnPerSecond, conns)
	}
	if st.Gaps != 0 || st.Duplicates != 0 {
		t.Errorf("stream %+v: want no gaps or duplicates", *st)
	}
	// The gaps are the period: their median no shorter than half of it.
	if g := r.Latency["gap"]; g.P50Us < float64(period.Microseconds())/2 {
		t.Errorf("gap p50 %.0fµs, want about the period %v", g.P50Us, period)
	}
	t.Logf("%.1f msg/s per connection, %.1f in all; scheduling delay max %v", st.PerConnPerSecond, st.PerSecond, sched.Max)
}

// TestSubscribeNoStream: a run in which no message is the stream's fails
// with one line that names the matcher and shows what came instead.
func TestSubscribeNoStream(t *testing.T) {
	spec := scenario.Default()
	spec.Kind, spec.Conns, spec.Warmup, spec.Duration = scenario.KindSubscribe, 2, 0, scenario.Duration(500*time.Millisecond)
	spec.PushRate = 50
	spec.Stream = &scenario.StreamSpec{Match: "$.type==tick"}
	r := runSubscribe(t, spec)
	want := "no stream message arrived in the "
	if !strings.HasPrefix(r.Failure, want) || !strings.Contains(r.Failure, "matching $.type==tick") || !strings.Contains(r.Failure, "`{\"seq\":1,\"sent_ns\":") {
		t.Errorf("failure %q: want %q…, the matcher and the first message", r.Failure, want)
	}
}

// startNodePeer runs protocols/testdata/node's launcher on a free loopback
// port and returns its address (stopped, by its PID, when the test ends).
// Without node or the npm packages it skips, and fails under CI=true.
func startNodePeer(t *testing.T, launcher string, flags ...string) string {
	t.Helper()
	dir := filepath.Join("..", "protocols", "testdata", "node")
	missing := func(format string, a ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, a...) + ": this test needs node on PATH and `npm ci` in protocols/testdata/node"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "rpc-websockets", "package.json")); err != nil {
		missing("rpc-websockets is not installed (%v)", err)
	}
	cmd := exec.Command(node, append([]string{launcher, "--port", "0"}, flags...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", launcher, stderr.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		return a
	case <-time.After(20 * time.Second):
		t.Fatalf("%s printed no \"listening on\" line", launcher)
		return ""
	}
}

// TestSubscribePeerJSONRPC: rpc-websockets' "tick" notifications (one
// stream for every subscriber, seq from 1 since the server started, count
// of them in all), subscribed with rpc.on: each connection's count and the
// ticks it missed before subscribing add up to the count exactly, no tick
// comes twice or out of order, and the subscription's reply is the one
// message per connection that is not the stream's.
func TestSubscribePeerJSONRPC(t *testing.T) {
	const conns, rate, count = 3, 20, 40 // two seconds of ticks from the server's start
	addr := startNodePeer(t, "jsonrpc.js", "--rate", fmt.Sprint(rate), "--count", fmt.Sprint(count))
	one := uint64(1)
	spec := scenario.Default()
	spec.Target = "ws://" + addr + "/"
	spec.Kind, spec.Conns, spec.Warmup, spec.Duration = scenario.KindSubscribe, conns, 0, scenario.Duration(3*time.Second)
	spec.Open = []scenario.StepSpec{{Send: `{"jsonrpc":"2.0","method":"rpc.on","params":["tick"],"id":1}`}}
	spec.Stream = &scenario.StreamSpec{Match: "$.notification==tick", Seq: "$.params.seq", Sent: "$.params.sent_ns", Unit: "ns", SeqStart: &one}
	stopWatch := schedwatch.Watch()
	r := runSubscribe(t, spec)
	sched := stopWatch()
	st := r.Stream
	if st == nil {
		t.Fatalf("no stream in the report (failure %q)", r.Failure)
	}
	if st.Messages == 0 || st.Messages+st.Gaps != conns*count || st.Duplicates != 0 || st.Late != 0 {
		t.Errorf("stream %+v: want messages + ticks missed before subscribing = %d, none twice or late", *st, conns*count)
	}
	if st.Other != conns {
		t.Errorf("%d other messages, want the %d subscriptions' replies", st.Other, conns)
	}
	if st.Clocks != results.ClocksSame {
		t.Errorf("clocks %q for a loopback peer, want %q", st.Clocks, results.ClocksSame)
	}
	d := r.Latency["delivery"]
	if d.Count != st.Messages {
		t.Errorf("%d delivery values, want one per tick (%d)", d.Count, st.Messages)
	}
	if bound := float64((time.Second + 10*sched.Max).Microseconds()); d.MaxUs > bound {
		t.Errorf("delivery max %.0fµs, want at most %.0fµs (scheduling delay max %v)", d.MaxUs, bound, sched.Max)
	}
	if r.Failure != "" {
		t.Errorf("failure %q", r.Failure)
	}
	t.Logf("stream %+v; delivery p50 %.0fµs max %.0fµs; scheduling delay max %v", *st, d.P50Us, d.MaxUs, sched.Max)
}

// TestSubscribeMixBundled: the bundled push server cannot serve a mix with
// a subscribe group beside others: a FieldError on groups, no server.
func TestSubscribeMixBundled(t *testing.T) {
	spec := scenario.Default()
	spec.Groups = []scenario.Group{{Name: "feed", Kind: scenario.KindSubscribe, Conns: 1}, {Name: "echo", Conns: 1}}
	_, _, _, err := Target(spec)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "groups" {
		t.Errorf("got %v, want a FieldError on groups", err)
	}
}
