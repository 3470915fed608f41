package server

import (
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/wire"
)

// Fuzz targets with invariants, not just survival. Each checks the server's
// code against a model written here from RFC 6455 (and RFC 7692), which
// shares nothing with the server but gobwas's frame reader for its output.
// scripts/fuzz.sh runs them (make fuzz-smoke: 5 s each).

// fuzzPingID is the payload of the server's outstanding ping in FuzzFeed.
const fuzzPingID = 0x0102030405060708

// FuzzFeed feeds arbitrary client bytes to the frame reader (codec.feed with
// a session), permessage-deflate negotiated or not, with a message limit of
// 1 to 2048 bytes. Invariants:
//
//   - the reader is split-invariant: the bytes in one read, or cut into
//     reads at the points cuts chooses (carrying the incomplete frame like the
//     event loop does), give the same output bytes, close code and counters;
//   - the output is what an independent model of RFC 6455 says: every frame
//     unmasked and final, parsing back (ws.ReadHeader) to the pongs and echoes
//     of the input's pings and messages, in order, the echo of a compressed
//     message compressed (RSV1) and inflating to the message;
//   - a close, if any, is last, starts at codec.closeAt, and carries the code
//     the model expects: 1002 for any protocol violation (unmasked frame, RSV
//     bits, reserved opcode, bad control frame, broken fragmentation, bad
//     close body), 1007 for text that is not UTF-8 or a payload that does not
//     inflate, 1009 for a message over the limit (raw or inflated), the
//     client's own code echoed (1005: empty body) for a valid client close;
//   - without a close, everything up to the first incomplete frame is
//     consumed; with one, the session has released its message.
func FuzzFeed(f *testing.F) {
	for _, s := range feedSeeds(f) {
		f.Add(s.in, s.cuts, s.deflate, s.limit)
	}
	f.Fuzz(func(t *testing.T, in, cuts []byte, deflate bool, limit uint16) {
		maxMessage := 1 + int64(limit)%2048
		whole := runFeed(in, nil, deflate, maxMessage)
		split := runFeed(in, cuts, deflate, maxMessage)
		if !bytes.Equal(whole.out, split.out) || whole.closing != split.closing || whole.code != split.code ||
			whole.consumed != split.consumed || whole.closeAt != split.closeAt || whole.counts != split.counts {
			t.Fatalf("split-dependent: whole read: %d bytes out, closing %v code %d, consumed %d, counts %+v; "+
				"cut at %v: %d bytes out, closing %v code %d, consumed %d, counts %+v",
				len(whole.out), whole.closing, whole.code, whole.consumed, whole.counts,
				cuts, len(split.out), split.closing, split.code, split.consumed, split.counts)
		}
		m := modelFeed(in, deflate, maxMessage)
		checkFeed(t, whole, m)
	})
}

// feedCounts are the codec's counters after a run.
type feedCounts struct {
	msgsIn, msgsOut, compIn, compOut, pongs uint64
}

// feedRun is what the codec did with one input.
type feedRun struct {
	out      []byte
	closing  bool
	code     ws.StatusCode
	consumed int // without closing: bytes of the complete frames
	closeAt  int // with closing: where the close frame starts in out
	counts   feedCounts
	released bool // the session holds no message
}

// runFeed feeds in to a fresh codec and session (a ping of the server's
// outstanding), in one read if cuts is nil, else in reads of 1+cuts[i]
// bytes in turn (1 byte each for an empty cuts), keeping the unconsumed
// tail of each read in front of the next, as the event loop does.
func runFeed(in, cuts []byte, deflate bool, maxMessage int64) feedRun {
	c := newTestCodec(maxMessage)
	c.pingID = fuzzPingID
	s := session{deflate: deflate, pingOut: true}
	var r feedRun
	var carry []byte // the unconsumed tail of the last read
	for off, i := 0, 0; off < len(in) || (cuts == nil && off == 0); i++ {
		size := len(in)
		if cuts != nil {
			size = 1
			if len(cuts) > 0 {
				size += int(cuts[i%len(cuts)])
			}
		}
		end := min(off+size, len(in))
		data := append(carry, in[off:end]...) // a copy: feed unmasks in place
		off = end
		n, closing, code := c.feed(&s, data)
		r.consumed += n
		if closing {
			r.closing, r.code, r.closeAt = true, code, c.closeAt
			break
		}
		carry = append([]byte(nil), data[n:]...)
		if cuts == nil {
			break
		}
	}
	r.out = c.out
	r.counts = feedCounts{c.msgsIn, c.msgsOut, c.compIn, c.compOut, c.pongs}
	r.released = s.msg == nil && s.msgOp == 0
	return r
}

// wantFrame is one frame the model expects from the server.
type wantFrame struct {
	op         ws.OpCode
	payload    []byte // data or pong payload, or close body
	compressed bool
}

// feedModel is what RFC 6455 says the server answers to an input.
type feedModel struct {
	frames      []wantFrame
	closing     bool
	code        ws.StatusCode
	clientClose bool // code echoes the client's valid close code
	consumed    int  // without closing: bytes of the complete frames
	counts      feedCounts
}

// modelFeed is the reference: a plain, unoptimized reading of RFC 6455
// sections 5 and 7 and RFC 7692 section 6, for a server whose outstanding
// ping carries fuzzPingID.
func modelFeed(in []byte, deflate bool, limit int64) feedModel {
	var m feedModel
	fail := func(code ws.StatusCode) feedModel {
		m.closing, m.code = true, code
		body := binary.BigEndian.AppendUint16(nil, uint16(code))
		m.frames = append(m.frames, wantFrame{op: ws.OpClose, payload: body})
		return m
	}
	pingOut := true
	var (
		open     bool // a fragmented message is open
		fragOp   ws.OpCode
		frag     []byte
		fragComp bool
	)
	for pos := 0; ; {
		b := in[pos:]
		m.consumed = pos
		if len(b) < 2 {
			return m
		}
		fin := b[0]&0x80 != 0
		rsv := b[0] >> 4 & 7
		op := ws.OpCode(b[0] & 0x0f)
		masked := b[1]&0x80 != 0
		hlen := 2
		switch b[1] & 0x7f {
		case 126:
			hlen += 2
		case 127:
			hlen += 8
		}
		if masked {
			hlen += 4
		}
		if len(b) < hlen {
			return m
		}
		var length uint64
		switch l7 := b[1] & 0x7f; l7 {
		case 126:
			length = uint64(binary.BigEndian.Uint16(b[2:]))
		case 127:
			length = binary.BigEndian.Uint64(b[2:])
		default:
			length = uint64(l7)
		}
		if length>>63 != 0 {
			return fail(ws.StatusProtocolError)
		}
		data := op == ws.OpText || op == ws.OpBinary
		control := op == ws.OpClose || op == ws.OpPing || op == ws.OpPong
		compressed := false
		if deflate && rsv&4 != 0 && data {
			compressed, rsv = true, rsv&^4
		}
		switch {
		case rsv != 0, // RSV bits no extension defines
			!data && !control && op != ws.OpContinuation, // reserved opcode
			control && (length > 125 || !fin),
			!masked,
			open && data,                     // a new message inside a fragmented one
			!open && op == ws.OpContinuation: // nothing to continue
			return fail(ws.StatusProtocolError)
		}
		if !control {
			total := length
			if op == ws.OpContinuation {
				total += uint64(len(frag))
			}
			if total > uint64(limit) {
				return fail(ws.StatusMessageTooBig)
			}
		}
		if uint64(len(b)-hlen) < length {
			return m
		}
		key := b[hlen-4 : hlen]
		p := make([]byte, length)
		for i := range p {
			p[i] = b[hlen+i] ^ key[i%4]
		}
		pos += hlen + int(length)
		switch op {
		case ws.OpPing:
			m.frames = append(m.frames, wantFrame{op: ws.OpPong, payload: p})
		case ws.OpPong:
			if pingOut && len(p) == 8 && binary.BigEndian.Uint64(p) == fuzzPingID {
				pingOut = false
				m.counts.pongs++
			}
		case ws.OpClose:
			if len(p) == 0 {
				m.closing, m.code = true, ws.StatusNoStatusRcvd
				m.frames = append(m.frames, wantFrame{op: ws.OpClose})
				return m
			}
			if len(p) == 1 {
				return fail(ws.StatusProtocolError)
			}
			code := ws.StatusCode(binary.BigEndian.Uint16(p))
			if !sendableCloseCode(code) {
				return fail(ws.StatusProtocolError)
			}
			if !utf8.Valid(p[2:]) {
				return fail(ws.StatusInvalidFramePayloadData)
			}
			m.clientClose = true
			return fail(code)
		case ws.OpText, ws.OpBinary:
			if !fin {
				open, fragOp, frag, fragComp = true, op, p, compressed
				continue
			}
			if code := m.message(op, p, compressed, limit); code != 0 {
				return fail(code)
			}
		case ws.OpContinuation:
			frag = append(frag, p...)
			if fin {
				open = false
				if code := m.message(fragOp, frag, fragComp, limit); code != 0 {
					return fail(code)
				}
				frag = nil
			}
		}
	}
}

// message is a complete data message in the model: its echo, or the close
// code it fails the connection with.
func (m *feedModel) message(op ws.OpCode, p []byte, compressed bool, limit int64) ws.StatusCode {
	if compressed {
		var code ws.StatusCode
		if p, code = modelInflate(p, limit); code != 0 {
			return code
		}
	}
	if op == ws.OpText && !utf8.Valid(p) {
		return ws.StatusInvalidFramePayloadData
	}
	m.counts.msgsIn++
	m.counts.msgsOut++
	if compressed {
		m.counts.compIn++
		m.counts.compOut++
	}
	m.frames = append(m.frames, wantFrame{op: op, payload: p, compressed: compressed})
	return 0
}

// sendableCloseCode reports whether a close frame may carry code (RFC 6455
// section 7.4): the codes the RFC defines for sending, and 3000-4999.
func sendableCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	}
	return false
}

// modelInflate inflates a permessage-deflate payload with compress/flate
// (RFC 7692 section 7.2.2: the payload, then 0x00 0x00 0xff 0xff; then an
// empty final block so that the stream ends), reading at most limit+1
// bytes: 1009 over limit, 1007 for a payload that is not DEFLATE. An empty
// payload is an empty message (the server's documented leniency).
func modelInflate(p []byte, limit int64) ([]byte, ws.StatusCode) {
	if len(p) == 0 {
		return []byte{}, 0
	}
	tail := []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader(tail)))
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	switch {
	case int64(len(out)) > limit:
		return nil, ws.StatusMessageTooBig
	case err != nil:
		return nil, ws.StatusInvalidFramePayloadData
	}
	return out, 0
}

// checkFeed compares a run with the model.
func checkFeed(t *testing.T, r feedRun, m feedModel) {
	t.Helper()
	if r.closing != m.closing || r.code != m.code {
		t.Fatalf("closing %v code %d, model says closing %v code %d", r.closing, r.code, m.closing, m.code)
	}
	if r.closing && !m.clientClose {
		switch r.code {
		case ws.StatusProtocolError, ws.StatusInvalidFramePayloadData, ws.StatusMessageTooBig, ws.StatusNoStatusRcvd:
		default:
			t.Fatalf("close code %d is none the server documents", r.code)
		}
	}
	if !r.closing && r.consumed != m.consumed {
		t.Fatalf("consumed %d bytes, model says %d (the complete frames)", r.consumed, m.consumed)
	}
	if r.closing && !r.released {
		t.Fatal("closing with the session still holding a message")
	}
	if r.counts != m.counts {
		t.Fatalf("counters %+v, model says %+v", r.counts, m.counts)
	}
	rd := bytes.NewReader(r.out)
	for i := 0; rd.Len() > 0; i++ {
		start := len(r.out) - rd.Len()
		h, err := ws.ReadHeader(rd)
		if err != nil {
			t.Fatalf("frame %d at %d: %v", i, start, err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(rd, p); err != nil {
			t.Fatalf("frame %d at %d: payload: %v", i, start, err)
		}
		if i >= len(m.frames) {
			t.Fatalf("frame %d (%v, %d bytes) beyond the %d the model expects", i, h.OpCode, len(p), len(m.frames))
		}
		w := m.frames[i]
		compressed := h.Rsv == ws.Rsv(true, false, false)
		switch {
		case h.Masked, !h.Fin:
			t.Fatalf("frame %d: masked %v fin %v: want an unmasked final frame", i, h.Masked, h.Fin)
		case h.Rsv != 0 && !compressed, compressed != w.compressed:
			t.Fatalf("frame %d: RSV %03b, want compressed %v", i, h.Rsv, w.compressed)
		case h.OpCode != w.op:
			t.Fatalf("frame %d: opcode %v, model says %v", i, h.OpCode, w.op)
		}
		if compressed {
			var code ws.StatusCode
			if p, code = modelInflate(p, 1<<30); code != 0 {
				t.Fatalf("frame %d: compressed echo does not inflate (%d)", i, code)
			}
		}
		if !bytes.Equal(p, w.payload) {
			t.Fatalf("frame %d (%v): payload %q, model says %q", i, h.OpCode, trunc(p), trunc(w.payload))
		}
		if h.OpCode == ws.OpClose && (!r.closing || start != r.closeAt || rd.Len() != 0) {
			t.Fatalf("close frame at %d of %d, closing %v closeAt %d: want the last frame, at closeAt", start, len(r.out), r.closing, r.closeAt)
		}
		if i == len(m.frames)-1 && rd.Len() != 0 {
			t.Fatalf("%d bytes after the %d frames the model expects", rd.Len(), len(m.frames))
		}
	}
	if n := countFrames(r.out); n != len(m.frames) {
		t.Fatalf("%d frames, model says %d", n, len(m.frames))
	}
}

// countFrames counts the whole frames in b.
func countFrames(b []byte) int {
	n := 0
	for len(b) > 0 {
		k := wire.FrameSize(b)
		if k == 0 || k > len(b) {
			break
		}
		b = b[k:]
		n++
	}
	return n
}

// trunc shortens b for a failure message.
func trunc(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "..."...)
	}
	return b
}

type feedSeed struct {
	in      []byte
	cuts    []byte
	deflate bool
	limit   uint16
}

// feedSeeds covers each rule of the model once, at least.
func feedSeeds(f testing.TB) []feedSeed {
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	pong := binary.BigEndian.AppendUint64(nil, fuzzPingID)
	long := pattern(600, 3)
	z := deflated(f, long)
	zFrag := maskedFrame(ws.OpText, false, z[:len(z)/2])
	zFrag[0] |= 0x40 // RSV1 on the first frame only
	bomb := deflated(f, make([]byte, 100000))
	return []feedSeed{
		// Echo, fragments, ping between them, the server's pong, close 1000.
		{cat(maskedFrame(ws.OpText, true, []byte("hello")), maskedFrame(ws.OpBinary, false, pattern(200, 1)),
			maskedFrame(ws.OpPing, true, []byte("ping")), maskedFrame(ws.OpContinuation, true, pattern(300, 2)),
			maskedFrame(ws.OpPong, true, pong), maskedFrame(ws.OpClose, true, closeBody(1000, "bye"))),
			[]byte{0, 3, 17, 200}, false, 1023},
		// Unmasked frame: 1002.
		{cat(maskedFrame(ws.OpText, true, []byte("ok")), wire.AppendFrame(nil, ws.OpText, true, []byte("x"), nil)), []byte{1}, false, 100},
		// Text with a rune split across fragments: echoed whole. Text
		// that is not UTF-8, whole or once joined: 1007.
		{cat(maskedFrame(ws.OpText, false, []byte{'a', 0xe2, 0x82}), maskedFrame(ws.OpContinuation, true, []byte{0xac})), []byte{2}, false, 100},
		{cat(maskedFrame(ws.OpText, false, []byte{'a', 0xe2, 0x82}), maskedFrame(ws.OpContinuation, true, []byte{'b'})), []byte{2}, false, 100},
		{maskedFrame(ws.OpText, true, []byte{0xff, 0xfe}), nil, false, 100},
		// Over the limit, one frame and fragments: 1009.
		{maskedFrame(ws.OpBinary, true, pattern(300, 4)), []byte{5}, false, 255},
		{cat(maskedFrame(ws.OpBinary, false, pattern(200, 4)), maskedFrame(ws.OpContinuation, true, pattern(200, 5))), nil, false, 300},
		// A 64-bit length with its top bit set: 1002 before any payload.
		{[]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, nil, false, 100},
		// Reserved opcode, long and fragmented control frames, orphan
		// continuation, RSV without an extension: 1002 each.
		{maskedFrame(ws.OpCode(3), true, nil), nil, false, 100},
		{maskedFrame(ws.OpPing, true, pattern(126, 0)), nil, false, 100},
		{maskedFrame(ws.OpPing, false, nil), nil, false, 100},
		{maskedFrame(ws.OpContinuation, true, []byte("x")), nil, false, 100},
		{rsvFrame(ws.OpText, true, 4, []byte("x")), nil, false, 100},
		// Close bodies: empty (1005), one byte, reserved code, bad reason.
		{maskedFrame(ws.OpClose, true, nil), nil, false, 100},
		{maskedFrame(ws.OpClose, true, []byte{3}), nil, false, 100},
		{maskedFrame(ws.OpClose, true, closeBody(1005, "")), nil, false, 100},
		{maskedFrame(ws.OpClose, true, closeBody(4000, "\xff")), nil, false, 100},
		{maskedFrame(ws.OpClose, true, closeBody(5000, "")), nil, false, 100},
		// permessage-deflate: a compressed message, fragmented, RSV1 on a
		// continuation and a control frame, not DEFLATE, a bomb.
		{compressedFrame(f, ws.OpText, long), []byte{9, 1}, true, 2047},
		{cat(zFrag, maskedFrame(ws.OpContinuation, true, z[len(z)/2:])), []byte{4}, true, 2047},
		{cat(zFrag, rsvFrame(ws.OpContinuation, true, 4, z[len(z)/2:])), nil, true, 2047},
		{rsvFrame(ws.OpPing, true, 4, nil), nil, true, 100},
		{rsvFrame(ws.OpBinary, true, 4, []byte("not deflate")), nil, true, 100},
		{rsvFrame(ws.OpBinary, true, 4, bomb), []byte{255}, true, 2047},
		// Nothing, and an incomplete header.
		{nil, nil, false, 0},
		{[]byte{0x81}, nil, true, 0},
	}
}

// FuzzHandshake runs the server's opening handshake (upgrade: gobwas's
// Upgrader as the server configures it, and the server's own checks) on an
// arbitrary request, read in pieces cuts chooses, under one of 16
// configurations opts chooses (subprotocols, allowed origins, deflate off,
// broadcast mode), padded past 16 KiB if opts says so. Invariants:
//
//   - a request the server accepts has every property of RFC 6455 section
//     4.2.1, checked here on its own: a GET request line with a Request-URI
//     and HTTP/1.1 or later, Host, Upgrade: websocket, Connection with the
//     upgrade token, Sec-WebSocket-Version: 13 and exactly one
//     Sec-WebSocket-Key that is the base64 encoding of 16 bytes; it fits in
//     16 KiB; the response is a 101 whose Sec-WebSocket-Accept is
//     base64(SHA-1(key + GUID)) computed here, whose subprotocol (if any) is
//     one the client offered and the server speaks, whose extension (if any)
//     is permessage-deflate with client_no_context_takeover, only when
//     deflate is on; its Origin, with allowed origins, is one of them; and
//     the bytes behind the request are handed on, none lost or repeated;
//   - a complete request the server refuses gets a 4xx response (505 for an
//     HTTP version other than 1.x), 403 for a refused Origin, never a 101;
//   - a request with no end in its first 16 KiB is refused.
func FuzzHandshake(f *testing.F) {
	good := "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	seeds := []struct {
		req  string
		opts uint8
	}{
		{good + "\r\n", 0},
		{good + "Sec-WebSocket-Protocol: v1, chat\r\nOrigin: https://example.com\r\n\r\n", 1 | 2},
		{good + "Origin: https://evil.example\r\n\r\n", 2},
		{good + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo\r\n\r\n", 0},
		{good + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n", 4},
		{strings.ReplaceAll(good, "\r\n", "\n") + "\n\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 8},
		{strings.ToLower(good) + "\r\n", 0},
		{strings.Replace(good, "GET /chat", "GET /room/a?x=1", 1) + "\r\n", 8},
		{strings.Replace(good, "GET", "POST", 1) + "\r\n", 0},
		{strings.Replace(good, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n", 0},
		{strings.Replace(good, "HTTP/1.1", "HTTP/1.:", 1) + "\r\n", 0},
		{strings.Replace(good, "Version: 13", "Version: 8", 1) + "\r\n", 0},
		{strings.Replace(good, "Upgrade: websocket", "Upgrade: h2c", 1) + "\r\n", 0},
		{strings.Replace(good, "Connection: Upgrade", "Connection: keep-alive, upgrade", 1) + "\r\n", 0},
		{strings.Replace(good, "Connection: Upgrade", "Connection: close", 1) + "\r\n", 0},
		{strings.Replace(good, "dGhlIHNhbXBsZSBub25jZQ==", "!!!!!!!!!!!!!!!!!!!!!!!!", 1) + "\r\n", 0},
		{strings.Replace(good, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ==", 1) + "\r\n", 0},
		{good + "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n", 0},
		{strings.Replace(good, "Host: server.example.com\r\n", "", 1) + "\r\n", 0},
		{"GET /chat\r\n\r\n", 0},
		{"\r\n\r\n", 0},
		{good, 0},
		{good + "\r\n", 16}, // padded past 16 KiB
	}
	for _, s := range seeds {
		f.Add([]byte(s.req), []byte{}, s.opts)
		f.Add([]byte(s.req), []byte{0, 7, 100}, s.opts)
	}
	f.Fuzz(func(t *testing.T, req, cuts []byte, opts uint8) {
		cfg := Config{}
		if opts&1 != 0 {
			cfg.Subprotocols = []string{"chat", "v2.chat"}
		}
		if opts&2 != 0 {
			cfg.AllowedOrigins = []string{"https://example.com"}
		}
		cfg.DisableDeflate = opts&4 != 0
		if opts&8 != 0 {
			cfg.Mode = ModeBroadcast
		}
		cfg = cfg.withDefaults()
		if opts&16 != 0 {
			// Past the size limit, from a small input (so that the
			// fuzzer's inputs, and minimizing them, stay cheap): a
			// padding header behind the request line.
			line, rest, _ := bytes.Cut(req, []byte("\n"))
			pad := "X-Padding: " + strings.Repeat("a", maxRequest) + "\r\n"
			req = slices.Concat(line, []byte("\n"+pad), rest)
		}
		conn := &memConn{in: req, cuts: cuts}
		up, badOrigin, err := upgrade(&cfg, newUpgrader(&cfg), conn)
		resp := conn.out.String()
		read := len(req) - len(conn.in)
		end := headEnd(req)
		rq := parseRequest(req, end)

		if err != nil {
			if strings.Contains(resp, " 101 ") || up.proto != "" || up.room != "" || up.deflate || up.extra != nil {
				t.Fatalf("refused (%v), but response %q, upgraded %+v", err, resp, up)
			}
			status := statusOf(resp)
			switch {
			case end >= 0 && end <= maxRequest && resp == "":
				t.Fatalf("complete request refused (%v) without a response", err)
			case resp == "":
			case status == 505 && !rq.version11:
			case status < 400 || status > 499:
				t.Fatalf("refused (%v) with %q, want a 4xx", err, firstLine(resp))
			}
			if badOrigin && (status != 403 || len(cfg.AllowedOrigins) == 0 || rq.originsAllowed(cfg.AllowedOrigins)) {
				t.Fatalf("refused for its Origin (%q) with %q", rq.header["origin"], firstLine(resp))
			}
			return
		}

		// Accepted.
		if end < 0 || end > maxRequest || end > read {
			t.Fatalf("accepted a request whose end is at %d (read %d)", end, read)
		}
		if bad := rq.problem(); bad != "" {
			t.Fatalf("accepted a request that %s:\n%q", bad, req[:end])
		}
		if want := "HTTP/1.1 101 Switching Protocols\r\n"; !strings.HasPrefix(resp, want) || !strings.HasSuffix(resp, "\r\n\r\n") {
			t.Fatalf("accepted with response %q", resp)
		}
		h := sha1.Sum([]byte(rq.header["sec-websocket-key"][0] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		accept := base64.StdEncoding.EncodeToString(h[:])
		rh := parseHeaders(resp)
		if got := rh["sec-websocket-accept"]; len(got) != 1 || got[0] != accept {
			t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, accept)
		}
		if p := rh["sec-websocket-protocol"]; len(p) > 0 {
			if len(p) != 1 || p[0] != up.proto || !containsString(cfg.Subprotocols, p[0]) || !rq.offered(p[0]) {
				t.Fatalf("subprotocol %q (upgrade says %q), offered %q, spoken %q", p, up.proto, rq.header["sec-websocket-protocol"], cfg.Subprotocols)
			}
		} else if up.proto != "" {
			t.Fatalf("upgrade says subprotocol %q, the response none", up.proto)
		}
		ext := rh["sec-websocket-extensions"]
		if up.deflate != (len(ext) > 0) || (len(ext) > 0 && (cfg.DisableDeflate || len(ext) != 1 ||
			!strings.HasPrefix(ext[0], "permessage-deflate") || !strings.Contains(ext[0], "client_no_context_takeover"))) {
			t.Fatalf("extensions %q with deflate %v (disabled %v)", ext, up.deflate, cfg.DisableDeflate)
		}
		if len(cfg.AllowedOrigins) > 0 && !rq.originsAllowed(cfg.AllowedOrigins) {
			t.Fatalf("accepted Origin %q, allowed %q", rq.header["origin"], cfg.AllowedOrigins)
		}
		if cfg.Mode != ModeBroadcast && up.room != "" {
			t.Fatalf("room %q in echo mode", up.room)
		}
		if want := req[end:read]; !bytes.Equal(up.extra, want) || (len(want) == 0) != (up.extra == nil) {
			t.Fatalf("handed on %q after the request, want %q", up.extra, want)
		}
	})
}

// memConn is an in-memory client connection: reads serve in (1+cuts[i]
// bytes at a time, in turn; no limit for empty cuts), then io.EOF; writes
// collect in out.
type memConn struct {
	in    []byte
	cuts  []byte
	reads int
	out   bytes.Buffer
}

func (c *memConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	if len(c.cuts) > 0 {
		p = p[:min(len(p), 1+int(c.cuts[c.reads%len(c.cuts)]))]
	}
	c.reads++
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) { return c.out.Write(p) }

// headEnd returns the offset just past the empty line that ends the request
// head in req (lines end in LF, optionally CR LF; the first line is the
// request line even if empty), -1 if there is none.
func headEnd(req []byte) int {
	lines := bytes.SplitAfter(req, []byte("\n"))
	pos := 0
	for i, l := range lines {
		if !bytes.HasSuffix(l, []byte("\n")) {
			return -1
		}
		pos += len(l)
		if i > 0 && (len(l) == 1 || (len(l) == 2 && l[0] == '\r')) {
			return pos
		}
	}
	return -1
}

// request is a request head as RFC 6455 reads it, for the model.
type request struct {
	method, uri, proto string
	version11          bool                // HTTP/1.1 or a later 1.x, well formed
	header             map[string][]string // by lower-case name, in order
	malformed          bool                // a header line without a colon
}

// parseRequest splits req[:end] into its request line and headers (names
// and values trimmed of spaces and tabs, as HTTP allows); without an end
// (-1), the whole lines there are.
func parseRequest(req []byte, end int) request {
	rq := request{header: map[string][]string{}}
	head := string(req)
	if end >= 0 {
		head = head[:end]
	}
	lines := strings.Split(head, "\n")
	lines = lines[:len(lines)-1] // what follows the last LF
	if end >= 0 {
		lines = lines[:len(lines)-1] // the empty line
	}
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if i == 0 {
			var rest string
			rq.method, rest, _ = strings.Cut(l, " ")
			rq.uri, rq.proto, _ = strings.Cut(rest, " ")
			minor, ok := strings.CutPrefix(rq.proto, "HTTP/1.")
			rq.version11 = ok && len(minor) == 1 && minor >= "1" && minor <= "9"
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			rq.malformed = true
			continue
		}
		k = strings.ToLower(strings.Trim(k, " \t"))
		rq.header[k] = append(rq.header[k], strings.Trim(v, " \t"))
	}
	return rq
}

// problem returns what makes rq not an opening handshake of RFC 6455
// section 4.2.1, "" if nothing.
func (rq request) problem() string {
	all := func(name string, ok func(string) bool) bool {
		vs := rq.header[name]
		for _, v := range vs {
			if !ok(v) {
				return false
			}
		}
		return len(vs) > 0
	}
	switch {
	case rq.malformed:
		return "has a header line without a colon"
	case rq.method != "GET":
		return fmt.Sprintf("is a %q request", rq.method)
	case rq.uri == "":
		return "has no Request-URI"
	case !rq.version11:
		return fmt.Sprintf("is %q, not HTTP/1.1", rq.proto)
	case len(rq.header["host"]) == 0:
		return "has no Host"
	case !all("upgrade", func(v string) bool { return strings.EqualFold(v, "websocket") }):
		return fmt.Sprintf("has Upgrade %q", rq.header["upgrade"])
	case !all("connection", func(v string) bool { return hasToken(v, "upgrade") }):
		return fmt.Sprintf("has Connection %q", rq.header["connection"])
	case !all("sec-websocket-version", func(v string) bool { return v == "13" }):
		return fmt.Sprintf("has Sec-WebSocket-Version %q", rq.header["sec-websocket-version"])
	case len(rq.header["sec-websocket-key"]) != 1:
		return fmt.Sprintf("has %d Sec-WebSocket-Key headers", len(rq.header["sec-websocket-key"]))
	}
	if k, err := base64.StdEncoding.DecodeString(rq.header["sec-websocket-key"][0]); err != nil || len(k) != 16 {
		return fmt.Sprintf("has Sec-WebSocket-Key %q, not 16 bytes in base64", rq.header["sec-websocket-key"][0])
	}
	return ""
}

// offered reports whether the client offered subprotocol p.
func (rq request) offered(p string) bool {
	for _, v := range rq.header["sec-websocket-protocol"] {
		for _, o := range strings.Split(v, ",") {
			if strings.Trim(o, " \t") == p {
				return true
			}
		}
	}
	return false
}

// originsAllowed reports whether every Origin header of rq is in allowed
// (ignoring case).
func (rq request) originsAllowed(allowed []string) bool {
	for _, o := range rq.header["origin"] {
		ok := false
		for _, a := range allowed {
			ok = ok || strings.EqualFold(o, a)
		}
		if !ok {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token,
// ignoring case.
func hasToken(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.Trim(t, " \t"), token) {
			return true
		}
	}
	return false
}

// parseHeaders returns the header fields of an HTTP response head, by
// lower-case name.
func parseHeaders(resp string) map[string][]string {
	h := map[string][]string{}
	lines := strings.Split(resp, "\r\n")
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			k = strings.ToLower(strings.TrimSpace(k))
			h[k] = append(h[k], strings.TrimSpace(v))
		}
	}
	return h
}

// statusOf returns the status code of an HTTP response, 0 if there is none.
func statusOf(resp string) int {
	_, rest, ok := strings.Cut(firstLine(resp), " ")
	if !ok || !strings.HasPrefix(resp, "HTTP/1.1 ") || len(rest) < 3 {
		return 0
	}
	n, err := strconv.Atoi(rest[:3])
	if err != nil {
		return 0
	}
	return n
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
