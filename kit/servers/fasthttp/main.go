// Command fasthttp is the wsbench kit server built on fasthttp/websocket over
// valyala/fasthttp: /echo echoes every message with its opcode, /bcast sends
// every message to every /bcast connection. See kit/README.md for the protocol.
//
// Written the way fasthttp/websocket's examples do it: a fasthttp.Server whose
// handler calls FastHTTPUpgrader.Upgrade, messages streamed through
// NextReader/NextWriter on /echo, and a PreparedMessage (the frame encoded
// once) written to every member on /bcast.
package main

import (
	"io"
	"sync"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/wsbench/wsbench/kit/servers/internal/kit"
)

type member struct {
	mu   sync.Mutex // one writer at a time, as in gorilla
	conn *websocket.Conn
}

type server struct {
	upgrader websocket.FastHTTPUpgrader
	members  kit.Members[*member]
}

func main() {
	flags := kit.ParseFlags("fasthttp")
	s := &server{upgrader: websocket.FastHTTPUpgrader{
		ReadBufferSize:    4096,
		WriteBufferSize:   4096,
		WriteBufferPool:   &sync.Pool{},
		EnableCompression: flags.Deflate,
		CheckOrigin:       func(*fasthttp.RequestCtx) bool { return true },
	}}
	ln, err := kit.Listen(flags.Addr)
	if err != nil {
		kit.Fatal("fasthttp", err)
	}
	srv := &fasthttp.Server{
		Handler:               s.route,
		Name:                  "wsbench-kit-fasthttp",
		NoDefaultServerHeader: true,
	}
	go func() {
		if err := srv.Serve(ln); err != nil {
			kit.Fatal("fasthttp", err)
		}
	}()
	kit.WaitSignal()
	_ = ln.Close()
}

func (s *server) route(ctx *fasthttp.RequestCtx) {
	switch kit.Route(string(ctx.Path())) {
	case kit.EchoPath:
		_ = s.upgrader.Upgrade(ctx, s.echo)
	case kit.BcastPath:
		_ = s.upgrader.Upgrade(ctx, s.bcast)
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

// echo copies each message into a writer of the same type. Pings are answered
// and close frames echoed by the default handlers while NextReader reads.
func (s *server) echo(conn *websocket.Conn) {
	defer conn.Close()
	conn.SetReadLimit(kit.MaxMessage)
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

func (s *server) bcast(conn *websocket.Conn) {
	conn.SetReadLimit(kit.MaxMessage)
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
