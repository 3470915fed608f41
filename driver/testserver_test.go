package driver

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// testServer is an echo server written independently of the bundled one,
// goroutine per connection on gobwas/ws's high-level API, that can stall every
// reply once for a fixed time: the misbehaviour coordinated omission hides.
type testServer struct {
	l          *loopback
	stallAfter time.Duration // stall this long after the first message...
	stallFor   time.Duration // ...for this long (0: never)
	first      atomic.Int64  // unix ns of the first message
	received   atomic.Int64
	mu         sync.Mutex     // guards sources and handshakes
	sources    map[string]int // accepted connections by remote IP
	pick       string         // subprotocol to pick when offered ("": pick none)
	handshakes []seenHandshake
	samples    []string // the first messages received, for tests of payloads
}

// seenHandshake is what the test server saw of one opening handshake.
type seenHandshake struct {
	at        time.Time // when the upgrade completed
	uri       string
	headers   map[string]string
	protocols []string
}

func startTestServer(t *testing.T, stallAfter, stallFor time.Duration) *testServer {
	t.Helper()
	s := &testServer{stallAfter: stallAfter, stallFor: stallFor, sources: map[string]int{}}
	s.l = listenLoopback(t, func(c net.Conn, _ int64) { s.serve(c) })
	return s
}

func (s *testServer) url() string { return s.l.url() }

// close stops the server: no more connections, the open ones closed.
func (s *testServer) close() { s.l.close() }

func (s *testServer) serve(c net.Conn) {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		s.mu.Lock()
		s.sources[a.IP.String()]++
		s.mu.Unlock()
	}
	seen := seenHandshake{headers: map[string]string{}}
	u := ws.Upgrader{
		OnRequest: func(uri []byte) error {
			seen.uri = string(uri)
			return nil
		},
		Protocol: func(p []byte) bool {
			seen.protocols = append(seen.protocols, string(p))
			return s.pick != "" && string(p) == s.pick
		},
		OnHeader: func(key, value []byte) error {
			seen.headers[string(key)] = string(value)
			return nil
		},
	}
	if _, err := u.Upgrade(c); err != nil {
		return
	}
	seen.at = time.Now()
	s.mu.Lock()
	s.handshakes = append(s.handshakes, seen)
	s.mu.Unlock()
	for {
		msg, op, err := wsutil.ReadClientData(c)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		s.first.CompareAndSwap(0, now)
		if s.received.Add(1) <= 200 {
			s.mu.Lock()
			s.samples = append(s.samples, string(msg))
			s.mu.Unlock()
		}
		if s.stallFor > 0 {
			from := s.first.Load() + int64(s.stallAfter)
			if until := from + int64(s.stallFor); now >= from && now < until {
				time.Sleep(time.Duration(until - now))
			}
		}
		if err := wsutil.WriteServerMessage(c, op, msg); err != nil {
			return
		}
	}
}
