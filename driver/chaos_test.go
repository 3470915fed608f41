package driver

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// chaosServer misbehaves in one named way on every fault-th connection it
// accepts (every connection when fault is 1) and echoes faithfully on the
// others, so a test sees both the failure's classification and that the
// healthy connections keep running.
type chaosServer struct {
	l     *loopback
	fault string
	every int
}

func startChaos(t *testing.T, fault string, every int) *chaosServer {
	t.Helper()
	s := &chaosServer{fault: fault, every: every}
	s.l = listenLoopback(t, func(c net.Conn, i int64) {
		if i%int64(s.every) == 0 {
			s.misbehave(c)
		} else {
			s.echo(c, false)
		}
	})
	return s
}

func (s *chaosServer) url() string { return s.l.url() }

// echo upgrades and echoes; with drop it leaves out every third message.
func (s *chaosServer) echo(c net.Conn, drop bool) {
	if _, err := ws.Upgrade(c); err != nil {
		return
	}
	serveEcho(c, drop)
}

func serveEcho(c net.Conn, drop bool) {
	for k := 1; ; k++ {
		msg, op, err := wsutil.ReadClientData(c)
		if err != nil {
			return
		}
		if drop && k%3 == 0 {
			continue
		}
		if wsutil.WriteServerMessage(c, op, msg) != nil {
			return
		}
	}
}

// respond reads the opening handshake request and writes raw.
func respond(c net.Conn, raw string) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	req.Body.Close()
	c.Write([]byte(raw))
}

func (s *chaosServer) misbehave(c net.Conn) {
	switch s.fault {
	case "reset":
		c.(*net.TCPConn).SetLinger(0) // close sends RST
	case "silent_handshake":
		time.Sleep(3 * time.Second)
	case "status_403":
		respond(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
	case "bad_accept":
		respond(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n")
	case "masked_frames", "garbage", "close_1000", "close_1001", "close_1002", "close_1008", "close_1011", "drop", "close_midrun":
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		if s.fault == "drop" {
			serveEcho(c, true)
			return
		}
		msg, op, err := wsutil.ReadClientData(c)
		if err != nil {
			return
		}
		switch s.fault {
		case "masked_frames":
			h := ws.Header{Fin: true, OpCode: op, Masked: true, Length: int64(len(msg)), Mask: [4]byte{1, 2, 3, 4}}
			b := make([]byte, wire.MaxHeaderSize+len(msg))
			n := wire.PutHeader(b, h)
			c.Write(append(b[:n], msg...))
		case "garbage":
			c.Write([]byte{0x8f, 0x7e, 0x00, 0x02, 'x', 'y', 0xff, 0xff})
		case "close_midrun":
			time.Sleep(200 * time.Millisecond)
		default:
			code := ws.StatusCode(map[string]uint16{"close_1000": 1000, "close_1001": 1001, "close_1002": 1002, "close_1008": 1008, "close_1011": 1011}[s.fault])
			wsutil.WriteServerMessage(c, ws.OpClose, ws.NewCloseFrameBody(code, "chaos"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMisbehavingServers: for each fault, one connection in three meets it
// and the others are served faithfully. wsbench must name the failure with
// its documented error kind, count the connections it ends, keep the healthy
// ones running, finish on time, and keep its counts balanced.
func TestMisbehavingServers(t *testing.T) {
	cases := []struct {
		fault, kind string
		handshake   bool // the fault stops the connection before it opens
	}{
		{"reset", "reset", true}, // connect_reset, handshake_reset or handshake_eof, by timing
		{"silent_handshake", "handshake_timeout", true},
		{"status_403", "handshake_status_403", true},
		{"bad_accept", "handshake_bad_accept", true},
		{"masked_frames", "protocol_error", false},
		{"garbage", "protocol_error", false},
		{"close_1000", "close_1000", false},
		{"close_1001", "close_1001", false},
		{"close_1002", "close_1002", false},
		{"close_1008", "close_1008", false},
		{"close_1011", "close_1011", false},
		{"close_midrun", "", false}, // unexpected_eof or connection_reset
		{"drop", "echo_skipped", false},
	}
	for _, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			srv := startChaos(t, tc.fault, 3)
			spec := quickSpec(6, 800*time.Millisecond)
			spec.Rate = 300
			spec.ConnectTimeout = scenario.Duration(time.Second)
			spec.Grace = scenario.Duration(500 * time.Millisecond)
			start := time.Now()
			res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), IO: IOSyscalls})
			if err != nil {
				t.Fatal(err)
			}
			el := time.Since(start)
			c, errs := res.Snapshot.Counts, res.Snapshot.Errors
			t.Logf("%s: %v; opened %d failed %d dropped %d; sent %d received %d lost %d in flight %d; errors %v",
				tc.fault, el.Round(time.Millisecond), c.ConnsOpened, c.ConnsFailed, c.ConnsDropped, c.Sent, c.Received, c.Lost, c.InFlight, errs)
			if el > 6*time.Second {
				t.Errorf("took %v: a misbehaving server must not hold the run up", el)
			}
			if !c.Balanced() {
				t.Errorf("counts do not balance: %+v", c)
			}
			var named int64
			for k, v := range errs {
				switch {
				case tc.kind == "reset" && (k == "connect_reset" || k == "handshake_reset" || k == "handshake_eof"):
					named += v
				case tc.kind != "" && strings.HasPrefix(k, tc.kind):
					named += v
				case tc.kind == "" && (k == "unexpected_eof" || k == "connection_reset"):
					named += v
				}
			}
			switch {
			case tc.fault == "drop":
				if named == 0 { // counted per skipped message, not per connection
					t.Errorf("errors %v: want the skipped echoes named %q", errs, tc.kind)
				}
			case named != 2:
				t.Errorf("errors %v: want the 2 faulty connections named %q", errs, tc.kind)
			}
			switch {
			case tc.handshake:
				if c.ConnsFailed != 2 || c.ConnsOpened != 4 {
					t.Errorf("opened %d failed %d, want 4 and 2", c.ConnsOpened, c.ConnsFailed)
				}
			case tc.fault == "drop":
				if c.ConnsDropped != 0 || c.Lost == 0 {
					t.Errorf("dropped %d lost %d: skipped echoes are lost messages, the connections live on", c.ConnsDropped, c.Lost)
				}
			default:
				if c.ConnsOpened != 6 || c.ConnsDropped != 2 {
					t.Errorf("opened %d dropped %d, want 6 and 2", c.ConnsOpened, c.ConnsDropped)
				}
			}
			// The healthy four kept going for the whole window: about 4/6 of
			// 300/s for 0.8s.
			if c.Received < 100 {
				t.Errorf("received %d: the healthy connections must keep running", c.Received)
			}
		})
	}
}

// TestReconnect: with --reconnect, a slot whose connection the server
// closes mid-run, or whose handshake it refuses, is reopened after the
// backoff and carries on; the reopens are counted and the counts balance.
func TestReconnect(t *testing.T) {
	for _, tc := range []struct {
		fault string
		rate  float64
	}{{"close_midrun", 300}, {"status_403", 300}, {"close_1001", 0}} {
		t.Run(tc.fault, func(t *testing.T) {
			srv := startChaos(t, tc.fault, 3)
			spec := quickSpec(6, time.Second)
			spec.Rate = tc.rate
			spec.Reconnect = scenario.Duration(50 * time.Millisecond)
			spec.ConnectTimeout = scenario.Duration(time.Second)
			start := time.Now()
			res, err := Run(context.Background(), Config{Spec: spec, Target: srv.url(), IO: IOSyscalls})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Snapshot.Counts
			t.Logf("%s: opened %d failed %d dropped %d reconnects %d; sent %d received %d lost %d unsent %d; errors %v",
				tc.fault, c.ConnsOpened, c.ConnsFailed, c.ConnsDropped, c.Reconnects, c.Sent, c.Received, c.Lost, c.Unsent, res.Snapshot.Errors)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
			if !c.Balanced() {
				t.Errorf("counts do not balance: %+v", c)
			}
			if c.Reconnects < 2 {
				t.Errorf("%d reconnects, want at least the 2 faulty slots back", c.Reconnects)
			}
			if c.ConnsOpened < 6 && tc.fault != "status_403" || c.ConnsOpened < 4+c.Reconnects-c.ConnsFailed {
				t.Errorf("opened %d with %d reconnects", c.ConnsOpened, c.Reconnects)
			}
			// Reopened slots send again: almost everything due was sent.
			if tc.rate > 0 && c.Unsent > c.Sent/4 {
				t.Errorf("unsent %d of %d: reopened slots did not carry on", c.Unsent, c.Sent+c.Unsent)
			}
			// In the closed model each connection receives one reply a
			// round trip: the four healthy ones alone make half of what
			// their round trips allow, however slow the machine made them.
			if rtt := res.Snapshot.Hist[metrics.RTTUncorrected].Raw().Mean(); tc.rate == 0 {
				if least := int64(0.5 * 4 * res.Measured().Seconds() / (rtt / 1e6)); c.Received < least {
					t.Errorf("closed model received %d, want at least %d (mean round trip %.0fµs)", c.Received, least, rtt)
				}
			}
		})
	}
}
