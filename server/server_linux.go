//go:build linux

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
	"github.com/wsbench/wsbench/internal/uring"
)

// Server is the reference WebSocket server. Create it with New, start it with
// Listen, stop it with Shutdown. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	io       string // the I/O mode in use: IOUring or IOSyscalls
	upgrader ws.Upgrader
	loops    []*loop
	next     atomic.Uint64 // round-robin loop choice

	mu         sync.Mutex
	ln         net.Listener
	stopping   bool
	handshakes map[net.Conn]struct{} // connections inside the opening handshake

	stopFlag   atomic.Bool // stopping, readable without mu
	acceptDone chan struct{}
	statsLn    net.Listener   // Config.StatsAddr's, nil without
	statsSrv   *http.Server   // serves /stats on statsLn
	statsDone  chan struct{}  // closed when statsSrv.Serve has returned
	hsWG       sync.WaitGroup // handshake goroutines
	stopOnce   sync.Once
	forceOnce  sync.Once
	done       chan struct{} // closed when everything has stopped

	accepted, upgraded, hsFail, hsTimeout, slow, abnormal atomic.Uint64
	open                                                  atomic.Int64
	refusedMax, idleCloses, originRejected                atomic.Uint64
	deflateConns                                          atomic.Uint64
	closeCodes                                            [5000]atomic.Uint64
	// inHandshake counts connections accepted and not yet upgraded or
	// dropped: with open, what Config.MaxConns caps.
	inHandshake atomic.Int64

	// Broadcast mode (room_linux.go): the rooms with members, by name.
	roomsMu   sync.Mutex
	rooms     map[string]*room
	roomCount atomic.Int64

	started procSample // the process's CPU time when New ran, for Stats
}

// New validates cfg, fills in its defaults and creates the event loops
// (their epoll instances). Nothing listens until Listen. A Server that was
// created must be shut down to release the loops, even if it never listened.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Subprotocols = slices.Clone(cfg.Subprotocols)
	cfg.AllowedOrigins = slices.Clone(cfg.AllowedOrigins)
	s := &Server{
		cfg:        cfg,
		handshakes: make(map[net.Conn]struct{}),
		rooms:      make(map[string]*room),
		done:       make(chan struct{}),
		started:    sampleProcess(),
	}
	s.upgrader = newUpgrader(&s.cfg)
	// The rings are set up first: making them is what tells whether
	// io_uring is available (the same test as uring.Probe).
	var rings []*uring.Ring
	if cfg.IO != IOSyscalls {
		var err error
		if rings, err = newRings(cfg.Loops); err != nil && cfg.IO == IOUring {
			return nil, fmt.Errorf("server: Config.IO: %w", err)
		}
	}
	s.io = IOSyscalls
	if rings != nil {
		s.io = IOUring
	}
	for i := range cfg.Loops {
		var ring *uring.Ring
		if rings != nil {
			ring = rings[i]
		}
		l, err := newLoop(s, i, ring)
		if err != nil {
			for _, l := range s.loops {
				l.release()
			}
			for _, r := range rings[min(i, len(rings)):] {
				r.Close()
			}
			return nil, fmt.Errorf("server: creating event loop: %w", err)
		}
		s.loops = append(s.loops, l)
	}
	return s, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Server) Config() Config {
	c := s.cfg
	c.Subprotocols = slices.Clone(c.Subprotocols)
	c.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	return c
}

// Listen starts listening on the configured address and serving: an accept
// loop plus the event loops, and the stats endpoint if Config.StatsAddr is
// set. It returns the bound address (useful with port 0) without blocking.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil, ErrServerClosed
	}
	if s.ln != nil {
		return nil, ErrAlreadyListening
	}
	// No TCP keep-alive on accepted connections: a benchmark server's
	// connections carry only what the client sends (Config.PingInterval and
	// IdleTimeout are the WebSocket ways to watch a quiet one), and the four
	// setsockopt calls Go makes per accepted connection to set it up were a
	// fifth of the server's system calls in a connection storm.
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.cfg.StatsAddr != "" {
		sln, err := net.Listen("tcp", s.cfg.StatsAddr)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("server: Config.StatsAddr: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /stats", s.serveStats)
		s.statsLn = sln
		s.statsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: s.cfg.HandshakeTimeout}
		s.statsDone = make(chan struct{})
		go func() {
			defer close(s.statsDone)
			s.statsSrv.Serve(sln) // returns ErrServerClosed on Shutdown
		}()
	}
	s.ln = ln
	for _, l := range s.loops {
		go l.run()
	}
	s.acceptDone = make(chan struct{})
	go s.acceptLoop(ln)
	return ln.Addr(), nil
}

// Addr returns the address the server listens on, nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// StatsAddr returns the address of the stats endpoint (Config.StatsAddr),
// nil before Listen or without one. Its Stats are at http://StatsAddr/stats.
func (s *Server) StatsAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statsLn == nil {
		return nil
	}
	return s.statsLn.Addr()
}

// Warnings returns, once the server listens, a line for each thing that
// makes it reachable beyond this machine: the WebSocket or stats listener
// bound to an address other than loopback (0.0.0.0 included), and, for an
// exposed WebSocket listener, the lack of Config.AllowedOrigins. Nil before
// Listen and when everything is on loopback.
func (s *Server) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	var stats net.Addr
	if s.statsLn != nil {
		stats = s.statsLn.Addr()
	}
	return exposureWarnings(s.ln.Addr(), stats, s.cfg.AllowedOrigins)
}

// serveStats answers GET /stats with the current Stats as JSON.
func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	b, err := json.Marshal(s.Stats())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer close(s.acceptDone)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.stopFlag.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, like net/http.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.accepted.Add(1)
		// Only this goroutine adds to the sum, so it never exceeds the
		// cap; open counts a connection before inHandshake lets it go.
		if s.open.Load()+s.inHandshake.Load() >= int64(s.cfg.MaxConns) {
			nc.Close()
			s.refusedMax.Add(1)
			continue
		}
		s.inHandshake.Add(1)
		s.hsWG.Add(1)
		go s.handshake(nc)
	}
}

// handshake runs the opening handshake on nc and hands the upgraded
// connection to an event loop.
func (s *Server) handshake(nc net.Conn) {
	defer s.hsWG.Done()
	upgraded := false
	defer func() {
		if !upgraded {
			s.inHandshake.Add(-1)
		}
	}()
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.handshakes[nc] = struct{}{}
	s.mu.Unlock()

	nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	up, badOrigin, err := upgrade(&s.cfg, s.upgrader, nc)

	s.mu.Lock()
	delete(s.handshakes, nc)
	s.mu.Unlock()
	if err != nil {
		if badOrigin && !s.stopFlag.Load() {
			s.originRejected.Add(1)
		} else {
			s.handshakeFailed(err)
		}
		nc.Close()
		return
	}
	fd, err := netpoll.TakeFD(nc)
	if err != nil {
		s.handshakeFailed(err)
		nc.Close()
		return
	}
	s.upgraded.Add(1)
	if up.deflate {
		s.deflateConns.Add(1)
	}
	s.open.Add(1)
	upgraded = true
	s.inHandshake.Add(-1) // after open.Add: the sum never dips below the truth
	l := s.loops[(s.next.Add(1)-1)%uint64(len(s.loops))]
	h := handoff{fd: fd, extra: up.extra, proto: up.proto, room: up.room, deflate: up.deflate}
	if !l.handoff(h) {
		unix.Close(fd)
		s.open.Add(-1)
	}
}

func (s *Server) handshakeFailed(err error) {
	if s.stopFlag.Load() {
		return // cut short by Shutdown, not the client's failure
	}
	s.hsFail.Add(1)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.hsTimeout.Add(1)
	}
}

// Shutdown stops the server: it stops accepting, sends close 1001 (going
// away) to every open connection and waits until all of them have closed
// (each closing handshake is bounded by about a second), then stops the event
// loops. If ctx ends first, the remaining connections are closed at once and
// ctx's error is returned. Shutdown is idempotent and safe to call
// concurrently; later calls wait like the first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(s.beginStop)
	select {
	case <-s.done:
		return nil
	default:
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	s.forceOnce.Do(func() {
		for _, l := range s.loops {
			l.stop(true)
		}
	})
	<-s.done
	return ctx.Err()
}

func (s *Server) beginStop() {
	s.mu.Lock()
	s.stopping = true
	s.stopFlag.Store(true)
	ln := s.ln
	for nc := range s.handshakes {
		nc.SetDeadline(time.Unix(1, 0)) // fail the handshake now
	}
	statsSrv, statsDone := s.statsSrv, s.statsDone
	s.mu.Unlock()
	if statsSrv != nil {
		statsSrv.Close() // the listener and any request in progress
	}

	if ln == nil { // never listened: the loops never ran
		for _, l := range s.loops {
			l.mu.Lock()
			l.exited = true
			l.mu.Unlock()
			l.release()
		}
		close(s.done)
		return
	}
	ln.Close()
	for _, l := range s.loops {
		l.stop(false)
	}
	go func() {
		<-s.acceptDone
		s.hsWG.Wait()
		for _, l := range s.loops {
			<-l.done
		}
		if statsDone != nil {
			<-statsDone
		}
		close(s.done)
	}()
}

// Stats returns a snapshot of the counters and of the process's CPU time and
// memory (see Stats for what they cover). It may be called at any time,
// concurrently with serving.
func (s *Server) Stats() Stats {
	st := Stats{
		Accepted:          s.accepted.Load(),
		Upgraded:          s.upgraded.Load(),
		Open:              s.open.Load(),
		HandshakeFailures: s.hsFail.Load(),
		HandshakeTimeouts: s.hsTimeout.Load(),
		SlowReaderCloses:  s.slow.Load(),
		AbnormalCloses:    s.abnormal.Load(),
		RefusedMaxConns:   s.refusedMax.Load(),
		IdleCloses:        s.idleCloses.Load(),
		OriginRejected:    s.originRejected.Load(),
		DeflateNegotiated: s.deflateConns.Load(),
		CloseCodesSent:    make(map[uint16]uint64),
		IO:                s.io,
		Delay:             s.cfg.Delay.String(),
		Rooms:             s.roomCount.Load(),
	}
	for _, l := range s.loops {
		st.MessagesIn += l.msgsIn.Load()
		st.MessagesOut += l.msgsOut.Load()
		st.BytesIn += l.bytesIn.Load()
		st.BytesOut += l.bytesOut.Load()
		st.BroadcastDeliveries += l.deliveries.Load()
		st.PingsSent += l.pingsSent.Load()
		st.PongsReceived += l.pongs.Load()
		st.PongMissing += l.pongMissing.Load()
		st.ClientsNotAnswering += l.notAnswering.Load()
		st.CompressedIn += l.compIn.Load()
		st.CompressedOut += l.compOut.Load()
		st.DelayClamped += l.delayClamped.Load()
		st.Stalled += l.stalled.Load() // netns
	}
	for code := range s.closeCodes {
		if n := s.closeCodes[code].Load(); n != 0 {
			st.CloseCodesSent[uint16(code)] = n
		}
	}
	st.setProcess(s.started)
	return st
}

// countClose counts a close frame sent with code.
func (s *Server) countClose(code ws.StatusCode) {
	if int(code) < len(s.closeCodes) {
		s.closeCodes[code].Add(1)
	}
}
