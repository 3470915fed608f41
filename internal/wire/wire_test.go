package wire

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// headerCases drives both the parse and the put tests.
var headerCases = []struct {
	name string
	h    ws.Header
}{
	// smallest frame: 7-bit length, no mask
	{"text-7bit", ws.Header{Fin: true, OpCode: ws.OpText, Length: 5}},
	// 125 is the largest 7-bit length
	{"binary-125", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 125}},
	// 126 switches to the 16-bit length
	{"binary-126", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 126}},
	// 65535 is the largest 16-bit length
	{"binary-65535-masked", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 65535, Masked: true, Mask: [4]byte{1, 2, 3, 4}}},
	// 65536 switches to the 64-bit length (RFC 6455 "over 64 KiB")
	{"binary-65536-masked", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 65536, Masked: true, Mask: [4]byte{9, 8, 7, 6}}},
	// non-final fragment, then a continuation with rsv1 set
	{"fragment", ws.Header{Fin: false, OpCode: ws.OpText, Length: 3}},
	{"continuation-rsv1", ws.Header{Fin: true, OpCode: ws.OpContinuation, Rsv: 4, Length: 1 << 20}},
	// control frames
	{"close-masked", ws.Header{Fin: true, OpCode: ws.OpClose, Length: 2, Masked: true, Mask: [4]byte{0xff, 0, 0xff, 0}}},
	{"ping-empty", ws.Header{Fin: true, OpCode: ws.OpPing}},
}

func TestPutHeaderMatchesGobwas(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			var want bytes.Buffer
			if err := ws.WriteHeader(&want, tc.h); err != nil {
				t.Fatal(err)
			}
			var b [MaxHeaderSize]byte
			n := PutHeader(b[:], tc.h)
			if !bytes.Equal(b[:n], want.Bytes()) {
				t.Fatalf("PutHeader = %x, gobwas WriteHeader = %x", b[:n], want.Bytes())
			}
			if HeaderSize(tc.h) != n || ws.HeaderSize(tc.h) != n {
				t.Fatalf("HeaderSize = %d, gobwas %d, written %d", HeaderSize(tc.h), ws.HeaderSize(tc.h), n)
			}
		})
	}
}

func TestParseHeaderRoundTrip(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			var b [MaxHeaderSize]byte
			n := PutHeader(b[:], tc.h)
			// Every strict prefix is "need more", never an error or a wrong header.
			for i := 0; i < n; i++ {
				if _, got, err := ParseHeader(b[:i]); got != 0 || err != nil {
					t.Fatalf("prefix %d of %d: n=%d err=%v, want 0, nil", i, n, got, err)
				}
			}
			h, got, err := ParseHeader(b[:n])
			if err != nil || got != n || h != tc.h {
				t.Fatalf("ParseHeader = %+v, %d, %v; want %+v, %d", h, got, err, tc.h, n)
			}
		})
	}
}

func TestParseHeaderRejectsLengthMSB(t *testing.T) {
	b := []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}
	if _, _, err := ParseHeader(b); err != ErrLengthMSB {
		t.Fatalf("err = %v, want ErrLengthMSB", err)
	}
}

func TestAppendFrameMasksCopy(t *testing.T) {
	p := []byte("hello")
	mask := [4]byte{1, 2, 3, 4}
	f := AppendFrame(nil, ws.OpText, true, p, &mask)
	if string(p) != "hello" {
		t.Fatal("AppendFrame modified its input")
	}
	fr, err := ws.ReadFrame(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	fr = ws.UnmaskFrameInPlace(fr)
	if string(fr.Payload) != "hello" || fr.Header.OpCode != ws.OpText || !fr.Header.Fin {
		t.Fatalf("frame = %+v %q", fr.Header, fr.Payload)
	}
}

func TestCloseBody(t *testing.T) {
	var b [ws.MaxControlFramePayloadSize]byte
	body := CloseBody(b[:], ws.StatusProtocolError, string(bytes.Repeat([]byte("x"), 200)))
	code, reason := ws.ParseCloseFrameData(body)
	if code != ws.StatusProtocolError || len(reason) != 123 || len(body) != 125 {
		t.Fatalf("code %d reason len %d body len %d", code, len(reason), len(body))
	}
}

// FuzzParseHeader checks ParseHeader against gobwas/ws's ReadHeader on arbitrary
// bytes: the same header or the same refusal, and a parsed header re-encodes to
// the bytes it came from.
func FuzzParseHeader(f *testing.F) {
	for _, tc := range headerCases {
		var b [MaxHeaderSize]byte
		f.Add(b[:PutHeader(b[:], tc.h)])
	}
	f.Add([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		want, werr := ws.ReadHeader(bytes.NewReader(b))
		switch {
		case err != nil:
			if werr == nil {
				t.Fatalf("ParseHeader error %v, gobwas accepted %+v", err, want)
			}
		case n == 0:
			if werr == nil {
				t.Fatalf("ParseHeader wants more, gobwas parsed %+v", want)
			}
		default:
			if werr != nil || want != h {
				t.Fatalf("ParseHeader = %+v, gobwas = %+v, %v", h, want, werr)
			}
			var out [MaxHeaderSize]byte
			m := PutHeader(out[:], h)
			// A non-minimal length encoding is legal to read but re-encodes shorter.
			if m > n || (m == n && !bytes.Equal(out[:m], b[:n])) {
				t.Fatalf("re-encoded %x from %x", out[:m], b[:n])
			}
		}
	})
}

func BenchmarkParseHeader(b *testing.B) {
	var buf [MaxHeaderSize]byte
	n := PutHeader(buf[:], ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 300, Masked: true})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, got, _ := ParseHeader(buf[:n]); got != n {
			b.Fatal(got)
		}
	}
}

func BenchmarkPutHeader(b *testing.B) {
	var buf [MaxHeaderSize]byte
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 300, Masked: true}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		PutHeader(buf[:], h)
	}
}
