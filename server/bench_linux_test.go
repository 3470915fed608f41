//go:build linux

package server

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/wire"
)

// BenchmarkEchoLoopback measures the whole server path over loopback: one
// client pipelines b.N binary messages (in batches of 64 per write, at most
// 16 batches ahead of the echoes it has read, so the server never holds
// enough unread replies to close it as a slow reader) while reading the
// echoes back. Allocations are the whole process's, client
// included. The name says the server's I/O mode (TestMain runs it in each).
// The deflate- variants negotiate permessage-deflate and send every message
// compressed, so the server inflates and deflates each one.
func BenchmarkEchoLoopback(b *testing.B) {
	for _, deflate := range []bool{false, true} {
		for _, size := range []int{16, 128, 1024} {
			name := testIO + "/" + wire.OpName(ws.OpBinary) + "-" + itoa(size)
			if deflate {
				name = testIO + "/deflate-" + wire.OpName(ws.OpBinary) + "-" + itoa(size)
			}
			b.Run(name, func(b *testing.B) { benchEchoLoopback(b, size, deflate, Delay{}) })
		}
	}
}

// BenchmarkEchoLoopbackDelay is BenchmarkEchoLoopback for 128-byte messages
// held back by Config.Delay, fixed and drawn per message: the delay queue's
// path, which must not allocate either. The pipeline's window (1,024
// messages) over the delay bounds the rate.
func BenchmarkEchoLoopbackDelay(b *testing.B) {
	for _, delay := range []string{"100us", "exp:100us", "50us-150us"} {
		d, err := ParseDelay(delay)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(testIO+"/"+d.String(), func(b *testing.B) { benchEchoLoopback(b, 128, false, d) })
	}
}

func benchEchoLoopback(b *testing.B, size int, deflate bool, delay Delay) {
	_, addr := startServer(b, Config{Loops: 1, Delay: delay})
	var c *rawConn
	var fr []byte
	replyLen := wire.HeaderSize(ws.Header{Length: int64(size)}) + size
	if deflate {
		c = dialDeflate(b, addr, "/")
		fr = compressedFrame(b, ws.OpBinary, pattern(size, 0))
		// The server's reply: the same bytes its compressor makes here.
		replyLen = len(newFlater().appendCompressed(nil, ws.OpBinary, pattern(size, 0)))
	} else {
		c = dialRaw(b, addr)
		fr = mf(ws.OpBinary, true, pattern(size, 0))
	}
	const batch = 64
	batchBuf := bytes.Repeat(fr, batch)
	c.SetDeadline(time.Now().Add(time.Minute))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	werr := make(chan error, 1)
	window := make(chan struct{}, 16) // batches written and not yet read back
	go func() {
		for sent := 0; sent < b.N; sent += batch {
			window <- struct{}{}
			k := min(batch, b.N-sent)
			if _, err := c.Write(batchBuf[:k*len(fr)]); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	buf := make([]byte, batch*replyLen)
	for left := b.N * replyLen; left > 0; {
		n, err := io.ReadFull(c.br, buf[:min(len(buf), left)])
		left -= n
		if err != nil {
			b.Fatalf("read: %v with %d bytes left", err, left)
		}
		<-window // a batch's worth of echoes is back
	}
	b.StopTimer()
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
