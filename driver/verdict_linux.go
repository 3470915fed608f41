//go:build linux

package driver

import (
	"fmt"

	"github.com/gobwas/ws"
)

// sawEcho tells the run, once per loop, that a reply matched its message.
func (w *worker) sawEcho() {
	if !w.echoed {
		w.echoed = true
		w.run.verdict.echoes.Add(1)
		signal(w.run.verdict.firstEcho)
	}
}

// sawRelay tells the run, once per loop, that a broadcast reached a member
// other than its publisher.
func (w *worker) sawRelay() {
	if !w.relayed {
		w.relayed = true
		w.run.verdict.relays.Add(1)
	}
}

// notEcho keeps, the first time in the run, what c received instead of the
// echo of its message c.expected: an excerpt of each, for the line that
// says the server does not echo.
func (w *worker) notEcho(c *conn, op ws.OpCode, p []byte) {
	v := &w.run.verdict
	if v.first.Load() != nil {
		return
	}
	cd := w.run.codec
	st := stamp{seq: c.expected, pub: uint32(max(c.pub, 0)), conn: uint32(c.slot)}
	size := cd.size
	if cd.tmpl != nil {
		size = cd.renderLen(st)
	}
	sent := make([]byte, size)
	cd.put(sent, st)
	m := &Mismatch{Kind: "echo_mismatch", Sent: sent[:min(size, excerptLen)], SentLen: size,
		Got: append([]byte(nil), p[:min(len(p), excerptLen)]...), GotLen: len(p), SentOp: opName(w.run.op), GotOp: opName(op)}
	if v.first.CompareAndSwap(nil, m) {
		signal(v.firstMismatch)
	}
}

func opName(op ws.OpCode) string {
	switch op {
	case ws.OpText:
		return "text"
	case ws.OpBinary:
		return "binary"
	case ws.OpPing:
		return "ping"
	case ws.OpPong:
		return "pong"
	}
	return fmt.Sprintf("opcode %d", op)
}
