// Command gws is the wsbench kit server built on lxzan/gws: /echo echoes every
// message with its opcode, /bcast sends every message to every /bcast
// connection. See kit/README.md for the protocol.
//
// Written the way gws's README and examples do it: gws's own Server (it reads
// the HTTP request itself, no net/http), an event handler per path whose
// OnMessage writes back, and on /bcast a Broadcaster, which encodes (and
// compresses) the frame once and queues it on every member's write queue.
package main

import (
	"bufio"
	"net"
	"net/http"

	"github.com/lxzan/gws"

	"github.com/wsbench/wsbench/kit/servers/internal/kit"
)

// echo is the event handler of /echo.
type echo struct {
	gws.BuiltinEventHandler
}

// OnPing answers with the ping's payload (BuiltinEventHandler's pong is empty).
func (echo) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

func (echo) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	_ = socket.WriteMessage(message.Opcode, message.Bytes())
}

// bcast is the event handler of /bcast.
type bcast struct {
	echo
	members kit.Members[*gws.Conn]
}

func (b *bcast) OnOpen(socket *gws.Conn)             { b.members.Add(socket) }
func (b *bcast) OnClose(socket *gws.Conn, err error) { b.members.Remove(socket) }

// OnMessage does not Close the message: the Broadcaster reads the payload
// after it returns (into each member's compression window when deflate is on),
// so the buffer must not go back to gws's pool.
func (b *bcast) OnMessage(socket *gws.Conn, message *gws.Message) {
	br := gws.NewBroadcaster(message.Opcode, message.Bytes())
	for _, to := range b.members.Load() {
		_ = br.Broadcast(to)
	}
	_ = br.Close()
}

func main() {
	flags := kit.ParseFlags("gws")
	opt := func() *gws.ServerOption {
		return &gws.ServerOption{
			ReadMaxPayloadSize: kit.MaxMessage,
			PermessageDeflate: gws.PermessageDeflate{
				Enabled:               flags.Deflate,
				ServerContextTakeover: true,
				ClientContextTakeover: true,
			},
		}
	}
	echoUp := gws.NewUpgrader(echo{}, opt())
	bcastUp := gws.NewUpgrader(&bcast{}, opt())
	srv := gws.NewServer(echo{}, opt())
	srv.OnError = func(net.Conn, error) {}
	srv.OnRequest = func(conn net.Conn, br *bufio.Reader, r *http.Request) {
		up := echoUp
		switch kit.Route(r.URL.Path) {
		case kit.EchoPath:
		case kit.BcastPath:
			up = bcastUp
		default:
			_, _ = conn.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			_ = conn.Close()
			return
		}
		socket, err := up.UpgradeFromConn(conn, br, r)
		if err != nil {
			return // UpgradeFromConn has answered 400 and closed conn
		}
		socket.ReadLoop()
	}
	ln, err := kit.Listen(flags.Addr)
	if err != nil {
		kit.Fatal("gws", err)
	}
	// RunListener never returns once the listener is closed (it retries
	// Accept), so the process simply exits on the signal.
	go func() { _ = srv.RunListener(ln) }()
	kit.WaitSignal()
}
