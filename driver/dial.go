package driver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// dialed is one connection that completed its opening handshake.
type dialed struct {
	index int      // its position among the connections asked for
	fd    int      // the socket, now owned by the caller
	carry []byte   // bytes the server sent right after its handshake response
	vars  [][]byte // rpc: the connection's variables captured by the opening (nil: none)
}

// dialPlan is what dialAll opens: n connections, at most conc at a time, each
// within timeout. With sources, connection i binds to sources[(first+i) mod
// len(sources)] (first: the slot of connection 0 in a split run), so the
// parts of a split run spread over the addresses as one process would.
type dialPlan struct {
	n, conc int
	timeout time.Duration
	sources []netip.Addr
	first   int
	dialer  ws.Dialer               // subprotocols and extra headers of the opening handshake
	require bool                    // a connection whose server picks no subprotocol fails
	urlFor  func(slot int) *url.URL // each slot's URL, if not the target's (see connURLs)
	rate    float64                 // connections started per second (0: as fast as conc allows)
	tls     *tls.Config             // wss://: the client TLS configuration (nil: ws://)
	ports   *portPicker             // source ports bound in turn (nil: the kernel picks at connect)
	// rpc: opening is what each connection says and awaits right after
	// its handshake (a Protocol's Open steps; nil: nothing).
	opening *opening
}

// endpoint is where slot's connection goes: its URL (the target's, or
// urlFor's) and the local address it binds (sources[slot mod len]; the zero
// Addr: the kernel's choice). Every way of opening a slot asks here.
func (p dialPlan) endpoint(u *url.URL, slot int) (*url.URL, netip.Addr) {
	var src netip.Addr
	if len(p.sources) > 0 {
		src = p.sources[slot%len(p.sources)]
	}
	if p.urlFor != nil {
		u = p.urlFor(slot)
	}
	return u, src
}

// hostPort is the address to dial for u: its host and port, the scheme's
// default port when it has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "wss" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// connURLs returns the URL of each connection slot when they differ from
// the target's: a broadcast room's path (slot / RoomSize), and the Query
// template with the slot's number and token. nil: every slot uses u.
func connURLs(c *scenario.Compiled, u *url.URL) func(slot int) *url.URL {
	spec, tokens := c.Spec, c.Tokens
	broadcast := c.Kind == scenario.KindBroadcast
	if !broadcast && spec.Query == "" {
		return nil
	}
	return func(slot int) *url.URL {
		ru := *u
		if broadcast {
			// Connection slot joins room slot / RoomSize, at that room's path.
			ru.Path = fmt.Sprintf(spec.RoomPath, slot/spec.RoomSize)
			ru.RawPath = ""
		}
		if spec.Query != "" {
			q := strings.ReplaceAll(spec.Query, "{{conn}}", strconv.Itoa(slot))
			if len(tokens) > 0 {
				q = strings.ReplaceAll(q, "{{token}}", url.QueryEscape(tokens[slot%len(tokens)]))
			}
			if ru.RawQuery != "" {
				q = ru.RawQuery + "&" + q
			}
			ru.RawQuery = q
		}
		return &ru
	}
}

// handshakeDialer is the gobwas/ws Dialer for c's handshake options.
func handshakeDialer(c *scenario.Compiled) ws.Dialer {
	d := ws.Dialer{Protocols: c.Spec.Subprotocols}
	if p := c.Protocol; p != nil && p.Subprotocol != "" && !slices.Contains(d.Protocols, p.Subprotocol) {
		// rpc: the protocol's own subprotocol, offered first (and required: see requireSubprotocol).
		d.Protocols = append([]string{p.Subprotocol}, d.Protocols...)
	}
	h := http.Header{}
	for _, hd := range c.Headers {
		h.Add(hd.Name, hd.Value)
	}
	if c.Spec.Origin != "" {
		h.Set("Origin", c.Spec.Origin)
	}
	if c.Spec.Deflate {
		d.Extensions = []httphead.Option{deflateOffer()}
	}
	if len(h) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(h)
	}
	return d
}

// requireSubprotocol reports whether a connection whose server picks no
// subprotocol fails: asked for, or the protocol's own (rpc).
func requireSubprotocol(c *scenario.Compiled) bool {
	return c.Spec.RequireSubprotocol || c.Protocol != nil && c.Protocol.Subprotocol != ""
}

// dialAll opens the plan's connections, recording TCP connect and upgrade
// times as two histograms, and returns those that opened, in index order.
// Failures are counted by kind in the shards, not returned.
//
// The plan's conc dialling goroutines record into one shard, under a lock
// (a dial takes tens of microseconds; the lock is held for a few hundred
// nanoseconds): a shard each would hold a connect and a handshake histogram
// each, 2 × 136 KiB, 17 MiB for the default 64, which is the largest part
// of an idle run's memory at 10,000 connections.
func dialAll(ctx context.Context, u *url.URL, p dialPlan, rec *metrics.Recorder) []dialed {
	addr := hostPort(u)
	jobs := make(chan int)
	results := make([]dialed, p.n)
	opened := make([]bool, p.n)
	shard := lockedShard{sh: rec.NewShard()}
	var wg sync.WaitGroup
	for range min(p.conc, p.n) {
		wg.Go(func() {
			for i := range jobs {
				target, src := p.endpoint(u, p.first+i)
				d, t := dialOne(ctx, target, addr, src, p, p.first+i)
				shard.record(t)
				if t.opened {
					d.index = i
					results[i], opened[i] = d, true
				}
			}
		})
	}
	start := time.Now()
feed:
	for i := range p.n {
		if p.rate > 0 {
			// Connection i starts i/rate after the first: a ramp, not a burst.
			if d := time.Until(start.Add(time.Duration(float64(i) / p.rate * float64(time.Second)))); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					break feed
				}
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	out := results[:0] // compacted in place: entry i moves only to i or before
	for i, d := range results {
		if opened[i] {
			out = append(out, d)
		}
	}
	return out
}

// lockedShard is one shard that several dialling goroutines record into.
type lockedShard struct {
	mu sync.Mutex
	sh *metrics.Shard
}

func (l *lockedShard) record(t dialOutcome) {
	l.mu.Lock()
	t.record(l.sh)
	l.mu.Unlock()
}

// dialOutcome is what one attempt to open a connection measured: recorded
// into a shard by whoever owns it (see lockedShard).
type dialOutcome struct {
	connect   time.Duration // TCP connect time (valid if connected)
	handshake time.Duration // TLS and opening handshake time (valid if opened or upgraded)
	connected bool          // the TCP connect succeeded
	upgraded  bool          // the opening handshake succeeded
	opened    bool          // dialOne: the caller owns the socket
	reconnect bool          // opened again a slot whose connection had dropped or failed
	failure   string        // the error kind; "" if none
}

// record counts the attempt in sh: attempted, connect and handshake times,
// failed by kind, opened.
func (t dialOutcome) record(sh *metrics.Shard) {
	sh.Counts.ConnsAttempted++
	if t.connected {
		sh.Record(metrics.Connect, t.connect)
	}
	if t.upgraded {
		sh.Record(metrics.Handshake, t.handshake)
	}
	if t.failure != "" {
		sh.Counts.ConnsFailed++
		sh.Error(t.failure)
	}
	if t.opened {
		sh.Counts.ConnsOpened++
	}
	if t.reconnect {
		sh.Counts.Reconnects++
	}
}

// open connects and does the opening handshake, timing both. On success
// (t.upgraded) the caller owns nc (with its deadline still set) and br;
// otherwise t.failure names what failed.
func open(ctx context.Context, u *url.URL, addr string, src netip.Addr, p dialPlan) (nc net.Conn, br *bufio.Reader, t dialOutcome) {
	deadline := time.Now().Add(p.timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	var err error
	tries := 0 // ports of the picker tried, over every socket of this dial
	for {
		// No TCP keep-alive: the run's traffic is only what its scenario
		// says (heartbeats are WebSocket pings: --kind ping), and setting
		// it up costs four setsockopt calls per connection, a fifth of the
		// dial's system calls.
		nd := net.Dialer{KeepAlive: -1}
		picked := p.ports != nil && tries < portTries
		switch {
		case picked:
			// Bound by the Control hook, which steps past ports held by a
			// listener on the same socket (bind: EADDRINUSE).
			nd.Control = p.ports.bindControl(src, &tries)
		case src.IsValid():
			nd.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
			nd.Control = bindAddressNoPort
		}
		nc, err = nd.DialContext(ctx, "tcp", addr)
		if err != nil && picked && (errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL)) {
			continue // that port is taken towards this server: a new socket, the next port
		}
		break
	}
	if err != nil {
		t.failure = dialErrorKind(err)
		return nil, nil, t
	}
	connected := time.Now()
	t.connect, t.connected = connected.Sub(start), true
	nc.SetDeadline(deadline)
	if p.tls != nil {
		// The handshake metric covers TLS and the upgrade together.
		tc, err := tlsHandshake(ctx, nc, p.tls)
		if err != nil {
			nc.Close()
			t.failure = tlsErrorKind(err)
			return nil, nil, t
		}
		nc = tc
	}
	br, hs, err := p.dialer.Upgrade(nc, u)
	if err == nil && p.require && hs.Protocol == "" {
		err = errNoSubprotocol
	}
	if err == nil && len(p.dialer.Extensions) > 0 {
		err = checkDeflate(hs)
	}
	if err != nil {
		nc.Close()
		t.failure = handshakeErrorKind(err)
		return nil, nil, t
	}
	t.handshake, t.upgraded = time.Since(connected), true
	return nc, br, t
}

// dialOne opens one connection for an event loop, slot's: open, the
// protocol's opening if it has one (p.opening), then the socket taken from
// Go's poller. d is valid if t.opened.
func dialOne(ctx context.Context, u *url.URL, addr string, src netip.Addr, p dialPlan, slot int) (d dialed, t dialOutcome) {
	nc, br, t := open(ctx, u, addr, src, p)
	if !t.upgraded {
		return d, t
	}
	nc.SetDeadline(time.Time{})
	rd := br
	var rest []byte // packets the opening read past its last expected one
	if p.opening != nil {
		if rd == nil {
			rd = bufio.NewReaderSize(nc, 4096)
		}
		var err error
		if d.vars, rest, err = p.opening.run(nc, rd, slot); err != nil {
			nc.Close()
			if br != nil {
				ws.PutReader(br)
			}
			t.failure = p.opening.fail(err)
			return dialed{}, t
		}
	}
	if rd != nil {
		if k := rd.Buffered(); k > 0 {
			b, _ := rd.Peek(k)
			d.carry = append([]byte(nil), b...)
		}
	}
	if len(rest) > 0 {
		d.carry = append(serverFrame(rest), d.carry...)
	}
	if br != nil {
		ws.PutReader(br)
	}
	var err error
	if tc, ok := nc.(*tls.Conn); ok {
		d.fd, err = bridgeTLS(tc)
	} else {
		d.fd, err = netpoll.TakeFD(nc)
	}
	if err != nil {
		nc.Close()
		t.failure = "harness_socket_error"
		return dialed{}, t
	}
	t.opened = true
	return d, t
}

// dialErrorKind names a failed TCP connect.
func dialErrorKind(err error) string {
	var ne net.Error
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return "connect_dns" // the host name did not resolve (the CLI says why)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect_refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "connect_timeout"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "connect_file_limit"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "connect_no_source_port"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ENOTCONN):
		return "connect_reset" // accepted, then reset before the connect call returned
	default:
		return "connect_error"
	}
}

var errNoSubprotocol = errors.New("the server picked none of the subprotocols offered")

// handshakeErrorKind names a failed opening handshake; a refusal by HTTP
// status carries the status, as in "handshake_status_403".
func handshakeErrorKind(err error) string {
	var status ws.StatusError
	var ne net.Error
	switch {
	case errors.Is(err, errNoSubprotocol):
		return "handshake_no_subprotocol"
	case errors.Is(err, errNoDeflate):
		return "handshake_no_deflate"
	case errors.Is(err, errDeflateTakeover):
		return "handshake_deflate_context_takeover"
	case errors.Is(err, ws.ErrHandshakeBadSubProtocol):
		return "handshake_bad_subprotocol"
	case errors.Is(err, ws.ErrHandshakeBadSecAccept):
		return "handshake_bad_accept"
	case errors.Is(err, syscall.ECONNRESET):
		return "handshake_reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "handshake_eof"
	case errors.As(err, &status):
		return fmt.Sprintf("handshake_status_%d", int(status))
	case errors.As(err, &ne) && ne.Timeout():
		return "handshake_timeout"
	default:
		return "handshake_error"
	}
}
