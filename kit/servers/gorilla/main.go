// Command gorilla is the wsbench kit server built on gorilla/websocket: /echo
// echoes every message with its opcode, /bcast sends every message to every
// /bcast connection. See kit/README.md for the protocol.
//
// Written the way gorilla's examples do it: net/http with an Upgrader sharing a
// write buffer pool, messages streamed through NextReader/NextWriter on /echo,
// and a PreparedMessage (the frame encoded once) written to every member on
// /bcast.
package main

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/kit/servers/internal/kit"
)

type member struct {
	mu   sync.Mutex // one writer at a time: gorilla allows one concurrent writer
	conn *websocket.Conn
}

type server struct {
	upgrader websocket.Upgrader
	members  kit.Members[*member]
}

func main() {
	flags := kit.ParseFlags("gorilla")
	s := &server{upgrader: websocket.Upgrader{
		ReadBufferSize:    4096,
		WriteBufferSize:   4096,
		WriteBufferPool:   &sync.Pool{},
		EnableCompression: flags.Deflate,
		CheckOrigin:       func(*http.Request) bool { return true },
	}}
	mux := http.NewServeMux()
	mux.HandleFunc(kit.EchoPath, s.echo)
	mux.HandleFunc(kit.BcastPath, s.bcast)
	mux.HandleFunc(kit.BcastPrefix, s.bcast)
	ln, err := kit.Listen(flags.Addr)
	if err != nil {
		kit.Fatal("gorilla", err)
	}
	srv := &http.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			kit.Fatal("gorilla", err)
		}
	}()
	kit.WaitSignal()
	_ = srv.Close()
}

func (s *server) upgrade(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // Upgrade has answered with an HTTP error
	}
	conn.SetReadLimit(kit.MaxMessage)
	return conn
}

// echo copies each message into a writer of the same type, so no message is
// held whole in memory. Pings are answered and close frames echoed by gorilla's
// default handlers while NextReader reads.
func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	conn := s.upgrade(w, r)
	if conn == nil {
		return
	}
	defer conn.Close()
	for {
		op, rd, err := conn.NextReader()
		if err != nil {
			return
		}
		wr, err := conn.NextWriter(op)
		if err != nil {
			return
		}
		if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Close(); err != nil {
			return
		}
	}
}

func (s *server) bcast(w http.ResponseWriter, r *http.Request) {
	conn := s.upgrade(w, r)
	if conn == nil {
		return
	}
	m := &member{conn: conn}
	s.members.Add(m)
	defer func() {
		s.members.Remove(m)
		conn.Close()
	}()
	for {
		op, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(op, data)
		if err != nil {
			return
		}
		for _, to := range s.members.Load() {
			to.mu.Lock()
			err := to.conn.WritePreparedMessage(pm)
			to.mu.Unlock()
			if err != nil && to == m {
				return
			}
		}
	}
}
