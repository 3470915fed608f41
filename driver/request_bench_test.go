//go:build linux

package driver

import (
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// requestWorker is a worker running the request workload with one
// connection over a socketpair (nothing is read from the peer: the
// benchmark hands the replies to the workload itself).
func requestWorker(b testing.TB) (*worker, *request, *conn) {
	b.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	p := &flow.Protocol{Request: &flow.Request{Template: flow.MustTemplate(scenario.BundledRequest),
		Keys: []flow.Matcher{flow.MustMatcher("$.id")}, Error: ptr(flow.MustMatcher("$.error.code")), Replies: 1, Timeout: 10 * time.Second}}
	r := &run{codec: newCodec(64, false), op: ws.OpText, maxMessage: 1 << 20, closeTimeout: int64(closeTimeout),
		kind: string(scenario.KindRequest), proto: p, vars: func(int) [][]byte { return nil }}
	r.verdict.init()
	r.origin = time.Now()
	r.stopAt.Store(1 << 62)
	w, err := newWorker(r, metrics.NewRecorder().NewShard(), false)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.adopt(fds[0], 0, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		w.abort()
		w.release()
		unix.Close(fds[1])
	})
	return w, w.load.(*request), w.conns[0]
}

func ptr[T any](v T) *T { return &v }

// BenchmarkRequestCorrelate is the request workload's path for one reply,
// with 32 requests in flight on the connection: the key read from the
// JSON-RPC reply ($.id, gjson in place), its request found in the
// connection's table, its latency recorded into the shard, and the next
// request rendered and queued. 0 allocs/op.
func BenchmarkRequestCorrelate(b *testing.B) {
	w, q, c := requestWorker(b)
	const inFlight = 32
	for range inFlight {
		q.send(c, 0, 0)
	}
	reply := make([]byte, 0, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, _, _ := c.rq.tab.Oldest()
		reply = append(reply[:0], `{"jsonrpc":"2.0","id":`...)
		reply = strconv.AppendUint(reply, c.rq.tab.ID(n), 10)
		reply = append(reply, `,"result":["wsbench",0]}`...)
		now := int64(i + 1)
		if !q.message(c, ws.OpText, reply, len(reply)+2, now, now) {
			b.Fatal("the reply answered no request")
		}
		q.send(c, now, now)
		c.pending, w.out.dirty = c.pending[:0], w.out.dirty[:0] // not flushed: the socket is not the subject
		c.dirty = false
	}
	b.StopTimer()
	if got := w.shard.Counts.Received; got != int64(b.N) {
		b.Fatalf("answered %d of %d", got, b.N)
	}
}
