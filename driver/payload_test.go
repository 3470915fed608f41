package driver

import (
	"testing"
	"unicode/utf8"
)

func TestCodecRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		binary bool
		pub    bool
	}{
		// broadcast stamps carry a publisher too, text and binary
		{"broadcast-text", 64, false, true},
		{"broadcast-binary-min", 28, true, true},
		// smallest text payload: the stamp alone
		{"text-min", 32, false, false},
		// default size
		{"text-64", 64, false, false},
		// smallest binary payload
		{"binary-min", 24, true, false},
		// a large binary payload
		{"binary-64k", 65536, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCodecFor(tc.size, tc.binary, tc.pub)
			p := make([]byte, tc.size)
			want := stamp{seq: 1<<40 + 7, intended: 123456789, sent: 123456999}
			if tc.pub {
				want.pub = 1<<31 + 5
			}
			c.put(p, want)
			if !tc.binary && !utf8.Valid(p) {
				t.Fatal("text payload is not valid UTF-8")
			}
			got, stampOK, ok := c.get(p)
			if !stampOK || !ok || got != want {
				t.Fatalf("get = %+v %v %v, want %+v", got, stampOK, ok, want)
			}
			// An altered filler byte is caught, but the stamp is still read.
			if tc.size > c.stampSize() {
				p[len(p)-1] ^= 1
				if got, stampOK, ok := c.get(p); ok || !stampOK || got != want {
					t.Fatalf("altered payload: %+v %v %v", got, stampOK, ok)
				}
				p[len(p)-1] ^= 1
			}
			// A truncated echo is not accepted.
			if _, _, ok := c.get(p[:len(p)-1]); ok {
				t.Fatal("truncated payload accepted")
			}
		})
	}
}

func BenchmarkCodecPutGet(b *testing.B) {
	c := newCodec(64, false)
	p := make([]byte, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.put(p, stamp{seq: uint64(i), intended: int64(i), sent: int64(i)})
		if _, _, ok := c.get(p); !ok {
			b.Fatal("bad")
		}
	}
}
