//go:build linux

package server_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/server"
)

// Start a server on a free port, echo one message through it, shut it down.
func Example() {
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		log.Fatal(err)
	}

	conn, _, _, err := ws.Dial(context.Background(), "ws://"+addr.String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	if err := wsutil.WriteClientText(conn, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	reply, op, err := wsutil.ReadServerData(conn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%t %s\n", op == ws.OpText, reply)
	conn.Close()

	if err := srv.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	st := srv.Stats()
	fmt.Println("messages in:", st.MessagesIn, "out:", st.MessagesOut)
	// Output:
	// true hello
	// messages in: 1 out: 1
}
