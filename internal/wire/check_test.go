package wire

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/deflate"
)

// TestRulesCheck: each header rule, for the side that reads it, and the
// close code a breach fails the connection with.
func TestRulesCheck(t *testing.T) {
	const max = 100
	server := Rules{Side: ws.StateServerSide, MaxMessage: max} // reads masked client frames
	serverZ := Rules{Side: ws.StateServerSide, Deflate: true, MaxMessage: max}
	client := Rules{Side: ws.StateClientSide, MaxMessage: max} // reads unmasked server frames
	clientZ := Rules{Side: ws.StateClientSide, Deflate: true, MaxMessage: max}
	data := func(op ws.OpCode, fin bool, rsv byte, n int64, masked bool) ws.Header {
		return ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: n, Masked: masked}
	}
	const r1, r2 = 4, 2
	cases := []struct {
		name  string
		rules Rules
		h     ws.Header
		open  bool
		sofar int64
		code  ws.StatusCode
		comp  bool
	}{
		{"client frame masked", server, data(ws.OpText, true, 0, 5, true), false, 0, 0, false},
		{"client frame unmasked", server, data(ws.OpText, true, 0, 5, false), false, 0, 1002, false},
		{"server frame unmasked", client, data(ws.OpText, true, 0, 5, false), false, 0, 0, false},
		{"server frame masked", client, data(ws.OpText, true, 0, 5, true), false, 0, 1002, false},
		{"rsv1 without deflate", client, data(ws.OpBinary, true, r1, 5, false), false, 0, 1002, false},
		{"rsv1 with deflate: compressed", clientZ, data(ws.OpBinary, true, r1, 5, false), false, 0, 0, true},
		{"rsv1 with deflate, server side", serverZ, data(ws.OpText, false, r1, 5, true), false, 0, 0, true},
		{"rsv2 with deflate", clientZ, data(ws.OpBinary, true, r2, 5, false), false, 0, 1002, false},
		{"rsv1 on a continuation", serverZ, data(ws.OpContinuation, true, r1, 5, true), true, 5, 1002, false},
		{"rsv1 on a ping", clientZ, data(ws.OpPing, true, r1, 0, false), false, 0, 1002, false},
		{"reserved opcode", client, data(3, true, 0, 0, false), false, 0, 1002, false},
		{"ping over 125 bytes", client, data(ws.OpPing, true, 0, 126, false), false, 0, 1002, false},
		{"fragmented close", client, data(ws.OpClose, false, 0, 2, false), false, 0, 1002, false},
		{"orphan continuation", client, data(ws.OpContinuation, true, 0, 1, false), false, 0, 1002, false},
		{"text inside a fragmented message", client, data(ws.OpText, true, 0, 1, false), true, 1, 1002, false},
		{"continuation of an open message", client, data(ws.OpContinuation, true, 0, 1, false), true, 1, 0, false},
		{"message at the limit", client, data(ws.OpBinary, true, 0, max, false), false, 0, 0, false},
		{"message over the limit", client, data(ws.OpBinary, true, 0, max+1, false), false, 0, 1009, false},
		{"fragments over the limit", server, data(ws.OpContinuation, false, 0, 1, true), true, max, 1009, false},
		// control frames may come between fragments and do not add to the message
		{"ping inside a full message", client, data(ws.OpPing, true, 0, 125, false), true, max, 0, false},
		// a broken rule is reported before the size
		{"masked and over the limit", client, data(ws.OpBinary, true, 0, max+1, true), false, 0, 1002, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			comp, code := tc.rules.Check(tc.h, tc.open, tc.sofar)
			if code != tc.code || comp != tc.comp {
				t.Fatalf("Check = %v, %d; want %v, %d", comp, code, tc.comp, tc.code)
			}
		})
	}
}

// TestParseClose: the code a close body carries, and the strict reply.
func TestParseClose(t *testing.T) {
	body := func(code uint16, reason string) []byte { return append([]byte{byte(code >> 8), byte(code)}, reason...) }
	cases := []struct {
		name        string
		p           []byte
		code, reply ws.StatusCode
	}{
		{"empty", nil, 1005, 1005},
		{"one byte", []byte{3}, 1005, 1002},
		{"normal", body(1000, "bye"), 1000, 1000},
		{"application code", body(4000, ""), 4000, 4000},
		{"1005 must not be sent", body(1005, ""), 1005, 1002},
		{"1006 must not be sent", body(1006, ""), 1006, 1002},
		{"unassigned 1016", body(1016, ""), 1016, 1002},
		{"below 1000", body(999, ""), 999, 1002},
		{"5000 and up", body(5000, ""), 5000, 1002},
		{"reason not UTF-8", body(1000, "a\xff"), 1000, 1007},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, reply := ParseClose(tc.p)
			if code != tc.code || reply != tc.reply {
				t.Fatalf("ParseClose = %d, %d; want %d, %d", code, reply, tc.code, tc.reply)
			}
		})
	}
}

// TestPayloadRules: the UTF-8 rule of text messages, the close codes of
// decompression errors, FrameSize and OpName.
func TestPayloadRules(t *testing.T) {
	if CheckText(ws.OpText, []byte("é")) != 0 || CheckText(ws.OpText, []byte{0xc3}) != 1007 || CheckText(ws.OpBinary, []byte{0xc3}) != 0 {
		t.Error("CheckText: want 1007 only for a text message that is not UTF-8")
	}
	for err, want := range map[error]ws.StatusCode{
		nil: 0, deflate.ErrTooBig: 1009, fmt.Errorf("x: %w", deflate.ErrTooBig): 1009, errors.New("flate: corrupt input"): 1007,
	} {
		if got := InflateCode(err); got != want {
			t.Errorf("InflateCode(%v) = %d, want %d", err, got, want)
		}
	}
	f := AppendFrame(nil, ws.OpBinary, true, make([]byte, 300), nil)
	if FrameSize(f) != len(f) || FrameSize(f[:3]) != 0 || FrameSize([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}) != 0 {
		t.Errorf("FrameSize: %d of a %d-byte frame, %d of 3 bytes of it", FrameSize(f), len(f), FrameSize(f[:3]))
	}
	for op, want := range map[ws.OpCode]string{ws.OpText: "text", ws.OpBinary: "binary", ws.OpPing: "ping", ws.OpPong: "pong", ws.OpClose: "opcode 8", 11: "opcode 11"} {
		if got := OpName(op); got != want {
			t.Errorf("OpName(%d) = %q, want %q", op, got, want)
		}
	}
}
