//go:build linux

package driver

// ping is --kind ping: every message is a ping control frame (run.op is
// ws.OpPing, its payload the binary stamp), and the server's pong carries
// the payload back (RFC 6455 §5.5.3). The read path hands pongs to
// worker.message only in this workload; from there a pong is matched and
// timed exactly as an echo.
type ping struct{ *echo }

func newPing(w *worker) workload { return ping{&echo{w: w}} }
