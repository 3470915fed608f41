// Command coder is the wsbench kit server built on coder/websocket: /echo
// echoes every message with its opcode, /bcast sends every message to every
// /bcast connection. See kit/README.md for the protocol.
//
// Written the way coder/websocket's examples do it: net/http with
// websocket.Accept, messages streamed through Reader/Writer on /echo (its echo
// example), and Conn.Write, which is safe for concurrent use, to every member
// on /bcast.
package main

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/coder/websocket"

	"github.com/wsbench/wsbench/kit/servers/internal/kit"
)

type server struct {
	opts    websocket.AcceptOptions
	members kit.Members[*websocket.Conn]
}

func main() {
	flags := kit.ParseFlags("coder")
	s := &server{opts: websocket.AcceptOptions{
		InsecureSkipVerify: true, // any Origin: the kit serves load generators, not browsers
		CompressionMode:    websocket.CompressionDisabled,
	}}
	if flags.Deflate {
		s.opts.CompressionMode = websocket.CompressionContextTakeover
	}
	mux := http.NewServeMux()
	mux.HandleFunc(kit.EchoPath, s.echo)
	mux.HandleFunc(kit.BcastPath, s.bcast)
	mux.HandleFunc(kit.BcastPrefix, s.bcast)
	ln, err := kit.Listen(flags.Addr)
	if err != nil {
		kit.Fatal("coder", err)
	}
	srv := &http.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			kit.Fatal("coder", err)
		}
	}()
	kit.WaitSignal()
	_ = srv.Close()
}

func (s *server) accept(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	conn, err := websocket.Accept(w, r, &s.opts)
	if err != nil {
		return nil // Accept has answered with an HTTP error
	}
	conn.SetReadLimit(kit.MaxMessage)
	return conn
}

// echo copies each message into a writer of the same type. coder/websocket
// answers pings and the close handshake while Reader reads.
func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	conn := s.accept(w, r)
	if conn == nil {
		return
	}
	defer conn.CloseNow()
	ctx := r.Context()
	for {
		typ, rd, err := conn.Reader(ctx)
		if err != nil {
			return
		}
		wr, err := conn.Writer(ctx, typ)
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
	conn := s.accept(w, r)
	if conn == nil {
		return
	}
	s.members.Add(conn)
	defer func() {
		s.members.Remove(conn)
		conn.CloseNow()
	}()
	ctx := r.Context()
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		for _, to := range s.members.Load() {
			err := to.Write(context.Background(), typ, data)
			if err != nil && to == conn {
				return
			}
		}
	}
}
