package protocols

import (
	"testing"
)

// BenchmarkReplyKey: reading the correlation key (and the error matcher's
// verdict) from a reply as the request workload does, per preset. All but
// stomp allocate nothing; stomp finds a MESSAGE's body and a RECEIPT's
// receipt-id among headers in any order with regular expressions (Go's
// regexp allocates its match).
func BenchmarkReplyKey(b *testing.B) {
	for _, c := range []struct {
		preset string
		opts   map[string]string
		reply  string
	}{
		{"jsonrpc", nil, `{"jsonrpc":"2.0","result":["wsbench",17],"id":4711}`},
		{"graphql-ws", nil, `{"id":"4711","type":"next","payload":{"data":{"__typename":"Query"}}}`},
		{"socketio", nil, `434711["hi",17]`},
		{"stomp", nil, "MESSAGE\nsubscription:0\ndestination:/topic/wsbench.3\nmessage-id:T_0@@session-x@@1\ncontent-length:4\n\n4711\x00"},
		{"mqtt", nil, "\x30\x14\x00\x10wsbench/00000003\x12\x67"},
	} {
		b.Run(c.preset, func(b *testing.B) {
			p, err := Preset(c.preset, c.opts)
			if err != nil {
				b.Fatal(err)
			}
			msg := []byte(c.reply)
			var sink uint64
			b.ReportAllocs()
			for b.Loop() {
				for i := range p.Request.Keys {
					m := &p.Request.Keys[i]
					if v, ok := m.Value(msg); ok {
						k, _ := m.Key(v)
						sink += k
						break
					}
				}
				if p.Request.Error != nil && p.Request.Error.Matches(msg) {
					sink++
				}
			}
			if sink == 0 {
				b.Fatal("no key read")
			}
		})
	}
}
