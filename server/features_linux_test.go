//go:build linux

package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"
)

// dialMember dials path on addr with gobwas's ws.Dialer (with a 4 KiB
// receive buffer if small) and waits until the server has handed the
// connection to a loop, so that connections dialed one after another go to
// the loops in round-robin order: with Loops 2, the first to loop 0, the
// second to loop 1, and so on. It then pings through the connection, so that
// when it returns the loop has registered it (and, in broadcast mode, made it
// a member of its room).
func dialMember(t *testing.T, s *Server, addr, path string, small bool) *wsClient {
	t.Helper()
	before := s.next.Load()
	d := ws.Dialer{Timeout: ioTimeout}
	if small {
		d.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
			}}
			return nd.DialContext(ctx, network, addr)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, "ws://"+addr+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{Conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	if !waitFor(2*time.Second, func() bool { return s.next.Load() == before+1 }) {
		t.Fatalf("connection to %s not handed to a loop", path)
	}
	c.SetDeadline(time.Now().Add(ioTimeout))
	if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewPingFrame([]byte("sync")))); err != nil {
		t.Fatal(err)
	}
	if f := readClientFrame(t, c); f.Header.OpCode != ws.OpPong || string(f.Payload) != "sync" {
		t.Fatalf("%s: got %v %q, want the pong to our ping", path, f.Header.OpCode, f.Payload)
	}
	return c
}

// readClientFrame reads one server frame from c under a deadline.
func readClientFrame(t *testing.T, c *wsClient) ws.Frame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	f, err := ws.ReadFrame(c)
	if err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	return f
}

// sendText writes a masked text message.
func sendText(t *testing.T, c io.Writer, msg string) {
	t.Helper()
	if nc, ok := c.(net.Conn); ok {
		nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	}
	if err := wsutil.WriteClientText(c, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func TestRoomName(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"/room/a", "a"},           // the room named after /room/
		{"/room/a?user=1", "a"},    // the query is not part of it
		{"/room/a/b", "a/b"},       // everything after /room/
		{"/room/", "/room/"},       // no name: the whole path
		{"/", "/"},                 // any other path names its own room
		{"/chat?x#y", "/chat"},     // without query or fragment
		{"/rooms/a", "/rooms/a"},   // only /room/ is special
		{"/room", "/room"},         // no slash after room
		{"/Room/a", "/Room/a"},     // paths are case-sensitive
		{"/room/%20x", "%20x"},     // not unescaped: clients agree on the bytes
		{"/room/a?", "a"},          // an empty query
		{"/room/a#frag", "a"},      // a fragment (which clients should not send)
		{"/room/a?b=/room/c", "a"}, // the query is cut first
	} {
		if got := roomNameOf(tc.uri); got != tc.want {
			t.Errorf("roomNameOf(%q) = %q, want %q", tc.uri, got, tc.want)
		}
	}
}

// TestBroadcastRooms: three members of /room/a and one of /room/b over two
// loops; a message from a member of room a reaches every member of room a,
// the sender included, byte-identical, and no member of room b, whichever
// loop the sender is on.
func TestBroadcastRooms(t *testing.T) {
	s, addr := startServer(t, Config{Mode: ModeBroadcast, Loops: 2})
	a1 := dialMember(t, s, addr, "/room/a", false)        // loop 0
	a2 := dialMember(t, s, addr, "/room/a", false)        // loop 1
	b1 := dialMember(t, s, addr, "/room/b", false)        // loop 0
	a3 := dialMember(t, s, addr, "/room/a?user=3", false) // loop 1
	room := []*wsClient{a1, a2, a3}
	if got := s.Stats().Rooms; got != 2 {
		t.Fatalf("Rooms = %d, want 2", got)
	}

	var deliveries uint64
	for i, sender := range []*wsClient{a1, a2, a3} {
		msg := fmt.Sprintf("hello from a%d: %s", i+1, pattern(300*i, i))
		sendText(t, sender, msg)
		var first ws.Frame
		for j, c := range room {
			f := readClientFrame(t, c)
			if f.Header.OpCode != ws.OpText || !f.Header.Fin || string(f.Payload) != msg {
				t.Fatalf("a%d's message at a%d: fin %v op %v %q, want text %q", i+1, j+1, f.Header.Fin, f.Header.OpCode, f.Payload, msg)
			}
			if j == 0 {
				first = f
			} else if f.Header != first.Header || !bytes.Equal(f.Payload, first.Payload) {
				t.Fatalf("a%d's message differs between a1 and a%d: %+v vs %+v", i+1, j+1, first.Header, f.Header)
			}
		}
		deliveries += 3
	}
	// b1 gets nothing from room a: its next frame is its own message, which
	// its loop delivers after anything posted there before.
	sendText(t, b1, "only for b")
	if f := readClientFrame(t, b1); string(f.Payload) != "only for b" {
		t.Fatalf("b1 got %v %q first, want its own message", f.Header.OpCode, f.Payload)
	}
	deliveries++
	// And room a gets nothing from room b: every member's next frame is the
	// next message of room a.
	sendText(t, a3, "after b")
	for j, c := range room {
		if f := readClientFrame(t, c); string(f.Payload) != "after b" {
			t.Fatalf("a%d got %q, want %q", j+1, f.Payload, "after b")
		}
	}
	deliveries += 3

	if !waitFor(2*time.Second, func() bool { return s.Stats().BroadcastDeliveries == deliveries }) {
		t.Errorf("BroadcastDeliveries = %d, want %d", s.Stats().BroadcastDeliveries, deliveries)
	}
	// Replies are counted out once their writes return: allow a moment.
	waitFor(2*time.Second, func() bool { st := s.Stats(); return st.MessagesIn == 5 && st.MessagesOut == deliveries })
	st := s.Stats()
	if st.MessagesIn != 5 || st.MessagesOut != deliveries {
		t.Errorf("MessagesIn %d, MessagesOut %d; want 5, %d", st.MessagesIn, st.MessagesOut, deliveries)
	}
	// The room goes when its last member does.
	b1.Close()
	if !waitFor(2*time.Second, func() bool { return s.Stats().Rooms == 1 }) {
		t.Errorf("Rooms = %d after room b's only member left, want 1", s.Stats().Rooms)
	}
}

// TestBroadcastOrder: two publishers on different loops each send 100
// messages of varying sizes, pipelined, while every member of the room
// reads; each member gets all 200, each publisher's in the order sent.
func TestBroadcastOrder(t *testing.T) {
	const perSender = 100
	s, addr := startServer(t, Config{Mode: ModeBroadcast, Loops: 2})
	members := []*wsClient{
		dialMember(t, s, addr, "/room/a", false), // loop 0, publisher 0
		dialMember(t, s, addr, "/room/a", false), // loop 1, publisher 1
		dialMember(t, s, addr, "/room/a", false), // loop 0
	}
	payload := func(sender, i int) []byte {
		return append(fmt.Appendf(nil, "%d %03d ", sender, i), pattern((i*797)%3000, i+sender)...)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2+len(members))
	for p := range 2 {
		wg.Go(func() {
			var b []byte
			for i := range perSender {
				b = append(b, mf(ws.OpText, true, payload(p, i))...)
			}
			members[p].SetWriteDeadline(time.Now().Add(ioTimeout))
			if _, err := members[p].Write(b); err != nil {
				errs <- fmt.Errorf("publisher %d: %v", p, err)
			}
		})
	}
	for m, c := range members {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(2 * ioTimeout))
			next := [2]int{}
			for range 2 * perSender {
				got, op, err := wsutil.ReadServerData(c)
				if err != nil {
					errs <- fmt.Errorf("member %d after %v messages: %v", m, next, err)
					return
				}
				var sender, i int
				if _, err := fmt.Sscanf(string(got), "%d %d ", &sender, &i); err != nil || sender < 0 || sender > 1 {
					errs <- fmt.Errorf("member %d: unexpected message %.20q", m, got)
					return
				}
				if i != next[sender] || op != ws.OpText || !bytes.Equal(got, payload(sender, i)) {
					errs <- fmt.Errorf("member %d: got message %d of publisher %d (op %v, %d bytes), want message %d",
						m, i, sender, op, len(got), next[sender])
					return
				}
				next[sender]++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !waitFor(2*time.Second, func() bool { return s.Stats().BroadcastDeliveries == 2*perSender*3 }) {
		t.Errorf("BroadcastDeliveries = %d, want %d", s.Stats().BroadcastDeliveries, 2*perSender*3)
	}
}

// TestBroadcastSlowReader: a member that reads nothing is closed as a slow
// reader once MaxPendingWrite bytes pile up for it; the other members, one of
// them on the same loop, keep receiving every message in order.
func TestBroadcastSlowReader(t *testing.T) {
	const size, limit = 8 << 10, 4000 // messages of 8 KiB, at most 32 MiB
	s, addr := startServer(t, Config{Mode: ModeBroadcast, Loops: 2, MaxMessage: 16 << 10, MaxPendingWrite: 64 << 10})
	pub := dialMember(t, s, addr, "/room/slow", false) // loop 0
	slow := dialMember(t, s, addr, "/room/slow", true) // loop 1
	r0 := dialMember(t, s, addr, "/room/slow", false)  // loop 0
	r1 := dialMember(t, s, addr, "/room/slow", false)  // loop 1, with slow
	readers := []*wsClient{pub, r0, r1}
	msg := func(i int) []byte { return append(fmt.Appendf(nil, "%04d ", i), pattern(size-5, i)...) }

	// The readers read until "end", checking order; got says how far they
	// are, so that the publisher does not outrun them (only slow falls
	// behind).
	got := make([]atomic.Int64, len(readers))
	errs := make(chan error, len(readers))
	var wg sync.WaitGroup
	for k, c := range readers {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for i := 0; ; i++ {
				p, _, err := wsutil.ReadServerData(c)
				if err != nil {
					errs <- fmt.Errorf("reader %d at message %d: %v", k, i, err)
					return
				}
				if string(p) == "end" {
					got[k].Store(-int64(i)) // done, with i messages
					return
				}
				if !bytes.Equal(p, msg(i)) {
					errs <- fmt.Errorf("reader %d: message %d is %.8q, want %.8q", k, i, p, msg(i))
					return
				}
				got[k].Store(int64(i + 1))
			}
		})
	}
	behind := func(sent int) bool {
		for k := range got {
			if n := got[k].Load(); n >= 0 && n < int64(sent-8) {
				return true
			}
		}
		return false
	}
	sent, closedAt := 0, -1
	deadline := time.Now().Add(20 * time.Second)
	for ; sent < limit && (closedAt < 0 || sent < closedAt+20); sent++ {
		for behind(sent) && time.Now().Before(deadline) && len(errs) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		if time.Now().After(deadline) || len(errs) > 0 {
			break
		}
		pub.SetWriteDeadline(time.Now().Add(ioTimeout))
		if err := wsutil.WriteClientBinary(pub, msg(sent)); err != nil {
			t.Fatal(err)
		}
		if closedAt < 0 && sent%8 == 0 && s.Stats().SlowReaderCloses > 0 {
			closedAt = sent
		}
	}
	sendText(t, pub, "end")
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if closedAt < 0 {
		t.Fatalf("non-reading member not closed after %d messages of %d bytes", sent, size)
	}
	for k := range got {
		if n := -got[k].Load(); n != int64(sent) {
			t.Errorf("reader %d got %d messages, want %d", k, n, sent)
		}
	}
	st := s.Stats()
	if st.SlowReaderCloses != 1 || st.Open != 3 {
		t.Errorf("SlowReaderCloses %d, Open %d; want 1, 3", st.SlowReaderCloses, st.Open)
	}
	// The slow member's connection ends once it reads what the kernel holds.
	slow.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.Copy(io.Discard, slow); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("slow member's connection: %v, want its end", err)
	}
}

// TestBroadcastDelay: with Delay, a message reaches the members on both
// loops no earlier than Delay after it was sent.
func TestBroadcastDelay(t *testing.T) {
	const delay = 100 * time.Millisecond
	s, addr := startServer(t, Config{Mode: ModeBroadcast, Loops: 2, Delay: FixedDelay(delay)})
	a := dialMember(t, s, addr, "/room/d", false) // loop 0
	b := dialMember(t, s, addr, "/room/d", false) // loop 1
	start := time.Now()
	sendText(t, a, "one")
	sendText(t, b, "two")
	for k, c := range []*wsClient{a, b} {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		seen := map[string]bool{}
		for range 2 {
			p, _, err := wsutil.ReadServerData(c)
			if err != nil {
				t.Fatalf("member %d: %v", k, err)
			}
			if d := time.Since(start); d < delay || d > delay+3*time.Second {
				t.Errorf("member %d: %q after %v, want at least %v", k, p, d, delay)
			}
			seen[string(p)] = true
		}
		if !seen["one"] || !seen["two"] {
			t.Errorf("member %d got %v, want one and two", k, seen)
		}
	}
}

// TestDelayEcho: with Delay, an echo arrives no earlier than Delay after its
// message was sent, pipelined echoes keep their order, and a pong is not
// held back behind them.
func TestDelayEcho(t *testing.T) {
	const delay = 100 * time.Millisecond
	s, addr := startServer(t, Config{Delay: FixedDelay(delay)})
	c := dialRaw(t, addr)

	start := time.Now()
	c.send(t, mf(ws.OpText, true, []byte("slow")))
	f := c.readFrame(t)
	if d := time.Since(start); d < delay || d > delay+3*time.Second {
		t.Errorf("echo after %v, want at least %v", d, delay)
	}
	if f.Header.OpCode != ws.OpText || string(f.Payload) != "slow" {
		t.Fatalf("got %v %q", f.Header.OpCode, f.Payload)
	}

	const n = 10
	var b []byte
	for i := range n {
		b = append(b, mf(ws.OpBinary, true, pattern(100*i, i))...)
	}
	b = append(b, mf(ws.OpPing, true, []byte("now"))...)
	start = time.Now()
	c.send(t, b)
	if f := c.readFrame(t); f.Header.OpCode != ws.OpPong || string(f.Payload) != "now" {
		t.Fatalf("first frame %v %q, want the pong, not held back", f.Header.OpCode, f.Payload)
	}
	if d := time.Since(start); d >= delay {
		t.Errorf("pong after %v, want it at once", d)
	}
	for i := range n {
		f := c.readFrame(t)
		if f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, pattern(100*i, i)) {
			t.Fatalf("echo %d: op %v, %d bytes", i, f.Header.OpCode, len(f.Payload))
		}
		if i == 0 {
			if d := time.Since(start); d < delay {
				t.Errorf("first pipelined echo after %v, want at least %v", d, delay)
			}
		}
	}
	// The loop counts a reply once its write returns, which can be just
	// after the client has read it: give the counter a moment.
	waitFor(2*time.Second, func() bool { return s.Stats().MessagesOut == n+1 })
	if st := s.Stats(); st.MessagesIn != n+1 || st.MessagesOut != n+1 {
		t.Errorf("MessagesIn %d, MessagesOut %d, want %d each", st.MessagesIn, st.MessagesOut, n+1)
	}
}

// TestDelayCloseBehindEchoes: a close frame never overtakes echoes held back
// by Delay, whether the client or Shutdown starts the closing handshake.
func TestDelayCloseBehindEchoes(t *testing.T) {
	const delay = 100 * time.Millisecond
	t.Run("client-close", func(t *testing.T) {
		_, addr := startServer(t, Config{Delay: FixedDelay(delay)})
		c := dialRaw(t, addr)
		start := time.Now()
		c.echoesThenClose(t, 3)
		if d := time.Since(start); d < delay {
			t.Errorf("close after %v, want at least %v", d, delay)
		}
		c.expectEOF(t)
	})
	t.Run("shutdown", func(t *testing.T) {
		s, addr := startServer(t, Config{Delay: FixedDelay(delay)})
		c := dialRaw(t, addr)
		c.send(t, mf(ws.OpText, true, []byte("last")))
		if !waitFor(2*time.Second, func() bool { return s.Stats().MessagesIn == 1 }) {
			t.Fatal("message not received")
		}
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- s.Shutdown(ctx)
		}()
		if f := c.readFrame(t); f.Header.OpCode != ws.OpText || string(f.Payload) != "last" {
			t.Fatalf("got %v %q, want the echo first", f.Header.OpCode, f.Payload)
		}
		f := c.readFrame(t)
		if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusGoingAway {
			t.Fatalf("got %v code %d, want close 1001", f.Header.OpCode, code)
		}
		c.send(t, mf(ws.OpClose, true, closeBody(1001, "")))
		c.expectEOF(t)
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
}

// TestPing: with PingInterval, the server pings every connection each
// interval with an 8-byte payload; a client that answers misses no pong, one
// that never reads and one that answers with the wrong payload are counted as
// not answering (but not closed).
func TestPing(t *testing.T) {
	const interval = 50 * time.Millisecond
	t.Run("answering", func(t *testing.T) {
		s, addr := startServer(t, Config{PingInterval: interval})
		c := dialRaw(t, addr)
		start := time.Now()
		var prev []byte
		const pings = 4
		for i := range pings {
			f := c.readFrame(t)
			if f.Header.OpCode != ws.OpPing || len(f.Payload) != 8 || bytes.Equal(f.Payload, prev) {
				t.Fatalf("frame %d: %v payload %x (previous %x), want a ping with a new 8-byte payload", i, f.Header.OpCode, f.Payload, prev)
			}
			prev = f.Payload
			c.send(t, mf(ws.OpPong, true, f.Payload))
		}
		if d := time.Since(start); d < (pings-1)*interval {
			t.Errorf("%d pings in %v, want one per %v", pings, d, interval)
		}
		st := s.Stats()
		if st.PingsSent < pings || st.PongsReceived < pings-1 || st.PongMissing != 0 || st.ClientsNotAnswering != 0 {
			t.Errorf("PingsSent %d, PongsReceived %d, PongMissing %d, ClientsNotAnswering %d; want >= %d, >= %d, 0, 0",
				st.PingsSent, st.PongsReceived, st.PongMissing, st.ClientsNotAnswering, pings, pings-1)
		}
	})
	for _, tc := range []struct {
		name string
		pong func(ping []byte) []byte // the pong to answer with, nil: none
	}{
		// Never reads, never answers.
		{"silent", nil},
		// Answers every ping, with a payload that is not the ping's.
		{"wrong-payload", func(p []byte) []byte { return binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(p)+1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startServer(t, Config{PingInterval: interval})
			c := dialRaw(t, addr)
			if tc.pong != nil {
				go func() {
					for {
						c.SetReadDeadline(time.Now().Add(ioTimeout))
						f, err := ws.ReadFrame(c.br)
						if err != nil {
							return
						}
						if f.Header.OpCode == ws.OpPing {
							c.SetWriteDeadline(time.Now().Add(ioTimeout))
							if _, err := c.Write(mf(ws.OpPong, true, tc.pong(f.Payload))); err != nil {
								return
							}
						}
					}
				}()
			}
			time.Sleep(3 * interval)
			if !waitFor(2*time.Second, func() bool { return s.Stats().ClientsNotAnswering == 1 }) {
				t.Fatalf("ClientsNotAnswering = %d, want 1", s.Stats().ClientsNotAnswering)
			}
			st := s.Stats()
			if st.PongMissing < 1 || st.PingsSent < 2 || st.PongsReceived != 0 || st.Open != 1 {
				t.Errorf("PongMissing %d, PingsSent %d, PongsReceived %d, Open %d; want >= 1, >= 2, 0, 1",
					st.PongMissing, st.PingsSent, st.PongsReceived, st.Open)
			}
		})
	}
}

// TestStatsAddr: with StatsAddr, GET /stats returns the current Stats as
// JSON; other methods and paths are refused; Shutdown stops the endpoint; an
// address in use makes Listen fail, naming the field.
func TestStatsAddr(t *testing.T) {
	s, addr := startServer(t, Config{StatsAddr: "127.0.0.1:0", PingInterval: time.Hour})
	sa := s.StatsAddr()
	if sa == nil {
		t.Fatal("StatsAddr() = nil")
	}
	c := dialWS(t, addr)
	c.SetDeadline(time.Now().Add(ioTimeout))
	if err := wsutil.WriteClientText(c, []byte("count me")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wsutil.ReadServerData(c); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: ioTimeout}
	url := "http://" + sa.String() + "/stats"
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /stats: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var st map[string]any
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("GET /stats: not JSON: %v\n%s", err, body)
	}
	for _, key := range []string{"accepted", "upgraded", "open", "messages_in", "messages_out", "rooms",
		"broadcast_deliveries", "pings_sent", "pongs_received", "pong_missing", "clients_not_answering", "io"} {
		if _, ok := st[key]; !ok {
			t.Errorf("GET /stats lacks %q: %s", key, body)
		}
	}
	if st["messages_in"] != 1.0 || st["open"] != 1.0 || st["upgraded"] != 1.0 {
		t.Errorf("GET /stats: messages_in %v, open %v, upgraded %v; want 1 each", st["messages_in"], st["open"], st["upgraded"])
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/stats", http.StatusMethodNotAllowed},
		{"GET", "/", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+sa.String()+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %s, want %d", tc.method, tc.path, resp.Status, tc.status)
		}
	}

	// The stats address is taken now: a second server cannot listen there.
	s2, err := New(Config{Addr: "127.0.0.1:0", StatsAddr: sa.String(), IO: testIO})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Listen(); err == nil || !strings.Contains(err.Error(), "Config.StatsAddr:") {
		t.Errorf("Listen with the stats address in use: %v, want a Config.StatsAddr error", err)
	}
	if s2.Addr() != nil {
		t.Errorf("after a failed Listen, Addr = %v", s2.Addr())
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, err := client.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("GET /stats after Shutdown: %s, want an error", resp.Status)
	}
}
