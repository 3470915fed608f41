package driver

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// loopback is the part every test server shares: a listener on 127.0.0.1
// that serves each accepted connection in its own goroutine (serve gets the
// connection and its number, counting from 1) and closes it when serve
// returns. close, which also runs when the test ends, closes the listener
// and every connection still open and waits for the goroutines.
type loopback struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	n     atomic.Int64
}

func listenLoopback(t *testing.T, serve func(c net.Conn, i int64)) *loopback {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &loopback{ln: ln, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.conns[c] = struct{}{}
			l.mu.Unlock()
			i := l.n.Add(1)
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer func() {
					l.mu.Lock()
					delete(l.conns, c)
					l.mu.Unlock()
					c.Close()
				}()
				serve(c, i)
			}()
		}
	}()
	t.Cleanup(l.close)
	return l
}

func (l *loopback) url() string { return "ws://" + l.ln.Addr().String() + "/" }

func (l *loopback) close() {
	l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
