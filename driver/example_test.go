package driver_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/scenario"
)

// Two connections in the closed model against an echo server on loopback,
// for a fifth of a second. Timings vary from machine to machine; what Run
// guarantees does not: every connection opens, and every message sent is
// received, lost or still in flight when the run ends.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go serveEcho(ln)

	spec := scenario.Default()
	spec.Conns = 2
	spec.Warmup = 0
	spec.Duration = scenario.Duration(200 * time.Millisecond)
	spec.Grace = scenario.Duration(5 * time.Second) // a busy machine may answer late

	res, err := driver.Run(context.Background(), driver.Config{
		Spec:   spec,
		Target: "ws://" + ln.Addr().String() + "/",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := res.Snapshot.Counts
	fmt.Println("stop reason:", res.StopReason)
	fmt.Println("connections opened:", c.ConnsOpened)
	fmt.Println("sent some:", c.Sent >= 2)
	fmt.Println("counts balance:", c.Balanced())
	fmt.Println("lost:", c.Lost)
	// Output:
	// stop reason: completed
	// connections opened: 2
	// sent some: true
	// counts balance: true
	// lost: 0
}

// serveEcho answers every message with the same message, a goroutine per
// connection, until ln is closed.
func serveEcho(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			if _, err := ws.Upgrade(nc); err != nil {
				return
			}
			for {
				msg, op, err := wsutil.ReadClientData(nc)
				if err != nil {
					return
				}
				if err := wsutil.WriteServerMessage(nc, op, msg); err != nil {
					return
				}
			}
		}()
	}
}
