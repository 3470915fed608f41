// Command nbio is the wsbench kit server built on lesismal/nbio: /echo echoes
// every message with its opcode, /bcast sends every message to every /bcast
// connection. See kit/README.md for the protocol.
//
// Written the way nbio's examples do it: an nbhttp.Engine (epoll, no goroutine
// per connection) with ReleaseWebsocketPayload, one Upgrader per path created
// once, OnMessage writing back; WriteMessage never blocks (nbio queues what
// the socket does not take), so /bcast writes to every member in turn.
package main

import (
	"net"
	"net/http"
	"os"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/wsbench/wsbench/kit/servers/internal/kit"
)

func newUpgrader(deflate bool) *websocket.Upgrader {
	u := websocket.NewUpgrader()
	u.CheckOrigin = func(*http.Request) bool { return true }
	u.MessageLengthLimit = kit.MaxMessage
	u.KeepaliveTime = 0 // no idle read deadline (nbio's default closes a connection idle for 120 s)
	u.EnableCompression(deflate)
	return u
}

func main() {
	flags := kit.ParseFlags("nbio")
	logging.Output = os.Stderr // stdout's first line is "listening on ADDR"

	echo := newUpgrader(flags.Deflate)
	echo.OnMessage(func(c *websocket.Conn, op websocket.MessageType, data []byte) {
		_ = c.WriteMessage(op, data)
	})

	var members kit.Members[*websocket.Conn]
	bcast := newUpgrader(flags.Deflate)
	bcast.OnOpen(members.Add)
	bcast.OnClose(func(c *websocket.Conn, _ error) { members.Remove(c) })
	bcast.OnMessage(func(_ *websocket.Conn, op websocket.MessageType, data []byte) {
		for _, to := range members.Load() {
			_ = to.WriteMessage(op, data)
		}
	})

	mux := http.NewServeMux()
	mux.HandleFunc(kit.EchoPath, func(w http.ResponseWriter, r *http.Request) {
		_, _ = echo.Upgrade(w, r, nil)
	})
	joinBcast := func(w http.ResponseWriter, r *http.Request) {
		_, _ = bcast.Upgrade(w, r, nil)
	}
	mux.HandleFunc(kit.BcastPath, joinBcast)
	mux.HandleFunc(kit.BcastPrefix, joinBcast)

	engine := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{flags.Addr},
		Handler:                 mux,
		ReleaseWebsocketPayload: true,
		// nbio opens the listener itself: announce the address it got.
		Listen: func(network, addr string) (net.Listener, error) {
			ln, err := net.Listen(network, addr)
			if err == nil {
				kit.Announce(ln.Addr())
			}
			return ln, err
		},
	})
	if err := engine.Start(); err != nil {
		kit.Fatal("nbio", err)
	}
	kit.WaitSignal()
	engine.Stop()
}
