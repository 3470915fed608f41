package driver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/metrics"
)

// TestDialErrorKind: each way a TCP connect fails gets its own kind; a host
// name that does not resolve is connect_dns, not the catch-all connect_error.
func TestDialErrorKind(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		// the resolver found no such host
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, "connect_dns"},
		// the resolver timed out: still a DNS failure, not a connect timeout
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "x.example", IsTimeout: true}}, "connect_dns"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "connect_refused"},
		{context.DeadlineExceeded, "connect_timeout"},
		{errors.New("something else"), "connect_error"},
	}
	for _, c := range cases {
		if got := dialErrorKind(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
}

// TestDialAllCountsEveryAttempt: dialAll's goroutines share one shard; every
// attempt is counted once (attempted, connect time, handshake time or the
// failure's kind, opened), and the connections that opened come back in
// index order. The server refuses every second handshake by closing the
// connection, so exactly half fail, whichever they are.
func TestDialAllCountsEveryAttempt(t *testing.T) {
	l := listenLoopback(t, func(c net.Conn, i int64) {
		if i%2 == 0 {
			return // closed before the handshake's response
		}
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		io.Copy(io.Discard, c) // hold it until the client closes
	})
	u, err := url.Parse(l.url())
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	rec := metrics.NewRecorder()
	ds := dialAll(context.Background(), u, dialPlan{n: n, conc: 8, timeout: 10 * time.Second}, rec)
	defer closeDialed(ds)
	snap, err := rec.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c := snap.Counts
	if c.ConnsAttempted != n || c.ConnsOpened != n/2 || c.ConnsFailed != n/2 {
		t.Fatalf("attempted %d opened %d failed %d, want %d, %d, %d", c.ConnsAttempted, c.ConnsOpened, c.ConnsFailed, n, n/2, n/2)
	}
	var kinds int64
	for k, v := range snap.Errors {
		if k != "handshake_eof" && k != "handshake_reset" {
			t.Errorf("error kind %s (%d), want handshake_eof or handshake_reset", k, v)
		}
		kinds += v
	}
	if kinds != n/2 {
		t.Errorf("%d errors counted, want %d: %v", kinds, n/2, snap.Errors)
	}
	if got := snap.Hist[metrics.Connect].Count(); got != n {
		t.Errorf("%d connect times, want %d", got, n)
	}
	if got := snap.Hist[metrics.Handshake].Count(); got != n/2 {
		t.Errorf("%d handshake times, want %d", got, n/2)
	}
	if len(ds) != n/2 {
		t.Fatalf("%d connections returned, want %d", len(ds), n/2)
	}
	for i, d := range ds {
		if i > 0 && d.index <= ds[i-1].index {
			t.Fatalf("indexes %d then %d: not in order", ds[i-1].index, d.index)
		}
		if d.fd <= 2 {
			t.Fatalf("connection %d: fd %d", d.index, d.fd)
		}
	}
}
