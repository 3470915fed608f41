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
	ln         net.Listener
	stallAfter time.Duration // stall this long after the first message...
	stallFor   time.Duration // ...for this long (0: never)
	first      atomic.Int64  // unix ns of the first message
	received   atomic.Int64
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	sources    map[string]int // accepted connections by remote IP
	pick       string         // subprotocol to pick when offered ("": pick none)
	handshakes []seenHandshake
}

// seenHandshake is what the test server saw of one opening handshake.
type seenHandshake struct {
	headers   map[string]string
	protocols []string
}

func startTestServer(t *testing.T, stallAfter, stallFor time.Duration) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, stallAfter: stallAfter, stallFor: stallFor, conns: map[net.Conn]struct{}{}, sources: map[string]int{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) url() string { return "ws://" + s.ln.Addr().String() + "/" }

func (s *testServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			s.sources[a.IP.String()]++
		}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *testServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	seen := seenHandshake{headers: map[string]string{}}
	u := ws.Upgrader{
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
		s.received.Add(1)
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

func (s *testServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
