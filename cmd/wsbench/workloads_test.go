package main

import (
	"testing"
)

// TestWorkloadsAgainstBundledServer runs the workloads not covered by their
// own tests end to end against the bundled server, started in-process with
// no URL, and checks each one's metrics.
func TestWorkloadsAgainstBundledServer(t *testing.T) {
	t.Run("connect storm", func(t *testing.T) {
		rep := runJSON(t, "--kind", "connect", "-c", "8", "-d", "1s", "--warmup", "0s")
		c, m := rep.Connections, rep.Messages
		if c.Opened < 100 || c.Failed != 0 || c.Attempted != c.Opened || len(rep.Errors) != 0 {
			t.Errorf("storm connections %+v errors %v", c, rep.Errors)
		}
		// One message and one close handshake per connection, each timed.
		if m.Sent != c.Opened || m.Received != m.Sent || rep.Latency["handshake"].Count != c.Opened ||
			rep.Latency["close"].Count != c.Opened || rep.Latency["rtt"].Count != m.Received {
			t.Errorf("storm: opened %d, sent %d received %d, handshakes %d closes %d", c.Opened, m.Sent, m.Received,
				rep.Latency["handshake"].Count, rep.Latency["close"].Count)
		}
	})
	t.Run("hold", func(t *testing.T) {
		rep := runJSON(t, "--kind", "hold", "-c", "30", "-d", "1s", "--warmup", "0s", "--interval", "200ms", "--connect-rate", "300")
		if rep.Connections.Opened != 30 || rep.Connections.Dropped != 0 || rep.Messages.Sent != 0 {
			t.Errorf("hold: %+v %+v", rep.Connections, rep.Messages)
		}
		for i, iv := range rep.Intervals {
			if iv.Open != 30 {
				t.Errorf("interval %d: %d open, want all 30 for the whole run", i, iv.Open)
			}
		}
	})
	t.Run("deflate", func(t *testing.T) {
		// wsbench's compressor against the bundled server's, both ways.
		rep := runJSON(t, "--deflate", "-c", "4", "-r", "400", "-s", "2000", "-d", "1s", "--warmup", "0s")
		z := rep.Compression
		if z == nil || rep.Messages.Received < 300 || !rep.Messages.Balanced || len(rep.Errors) != 0 {
			t.Fatalf("deflate run: %+v %+v errors %v", rep.Messages, z, rep.Errors)
		}
		if z.SentRatio < 5 || z.ReceivedRatio < 5 || z.RawReceived != rep.Messages.Received*2000 {
			t.Errorf("compression %+v: the patterned payload should shrink at least 5× each way", *z)
		}
	})
	t.Run("template", func(t *testing.T) {
		rep := runJSON(t, "--template", `{"user":{{conn}},"seq":{{seq}},"id":"{{stamp}}"}`, "--query", "user={{conn}}",
			"-c", "4", "-r", "200", "-d", "1s", "--warmup", "0s")
		if rep.Messages.Received < 150 || rep.Messages.Lost != 0 || len(rep.Errors) != 0 {
			t.Errorf("templated echo: %+v errors %v", rep.Messages, rep.Errors)
		}
	})
}
