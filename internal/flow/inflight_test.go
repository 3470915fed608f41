package flow

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestInflightAnyOrder: requests answered in a random order are each found
// once by their id, the table grows past its first size, the head (the
// oldest in flight) follows, and a second reply to the same id is old.
func TestInflightAnyOrder(t *testing.T) {
	tab := NewInflight(&Request{}, 8)
	const n = 1000
	for i := range n {
		if got := tab.Add(int64(i), int64(i)+1, i >= 10); got != uint64(i) {
			t.Fatalf("request %d numbered %d", i, got)
		}
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	measured := int64(0)
	for k, i := range order {
		id := tab.ID(uint64(i))
		if id != uint64(i)+1 {
			t.Fatalf("request %d has id %d, want %d", i, id, i+1)
		}
		got, p, ok, old := tab.Lookup(id)
		if !ok || old || got != uint64(i) || p.Intended != int64(i) || p.Sent != int64(i)+1 {
			t.Fatalf("lookup of id %d: %d %+v %v %v", id, got, p, ok, old)
		}
		if p.Measured {
			measured++
		}
		tab.Done(got)
		if _, _, ok, old := tab.Lookup(id); ok || !old {
			t.Fatalf("id %d after its reply: ok %v old %v", id, ok, old)
		}
		if tab.Len() != n-k-1 {
			t.Fatalf("len %d after %d replies", tab.Len(), k+1)
		}
		if h, _, ok := tab.Oldest(); ok && h > uint64(minLeft(order[k+1:])) {
			t.Fatalf("oldest %d, but %d is still in flight", h, minLeft(order[k+1:]))
		}
	}
	if measured != n-10 {
		t.Errorf("measured %d, want %d", measured, n-10)
	}
	if _, _, ok, old := tab.Lookup(n + 1); ok || old {
		t.Errorf("an id never sent: ok %v old %v", ok, old)
	}
}

func minLeft(s []int) int {
	m := int(^uint(0) >> 1)
	for _, v := range s {
		m = min(m, v)
	}
	return m
}

// TestInflightWrap: ids that wrap (MQTT: 1 … 65535) still find their
// request while fewer than IDMod are in flight.
func TestInflightWrap(t *testing.T) {
	tab := NewInflight(&Request{IDBase: 100, IDMod: 5}, 2)
	for i := range 12 {
		tab.Add(0, int64(i), true)
		if i >= 3 {
			// Keep three in flight: answer the oldest.
			n, _, _ := tab.Oldest()
			tab.Done(n)
		}
	}
	// In flight: 9, 10, 11 (ids 100+1+4, 100+1+0, 100+1+1).
	for _, c := range []struct {
		id   uint64
		n    uint64
		ok   bool
		note string
	}{
		{105, 9, true, "9 mod 5 = 4"},
		{101, 10, true, "10 mod 5 = 0"},
		{102, 11, true, "11 mod 5 = 1"},
		{103, 0, false, "12 was never sent; 7 is done"},
		{100, 0, false, "below the base"},
		{106, 0, false, "above base+mod"},
	} {
		n, p, ok, _ := tab.Lookup(c.id)
		if ok != c.ok || ok && (n != c.n || p.Sent != int64(c.n)) {
			t.Errorf("id %d (%s): n %d ok %v", c.id, c.note, n, ok)
		}
	}
	if got := tab.Clear(); got != 3 || tab.Len() != 0 {
		t.Errorf("cleared %d, len %d", got, tab.Len())
	}
}

// BenchmarkCorrelate is the sans-IO part of the request workload's path
// for one reply, with 32 requests in flight: the key read from a JSON-RPC
// reply ($.id), its request found and taken out of flight, the next put
// in. 0 allocs/op. (driver's BenchmarkRequestCorrelate adds the shard's
// records and the next request's rendering and framing.)
func BenchmarkCorrelate(b *testing.B) {
	m := MustMatcher("$.id")
	tab := NewInflight(&Request{}, 64)
	for i := range 32 {
		tab.Add(int64(i), int64(i), true)
	}
	reply := make([]byte, 0, 128)
	var sum int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, _, _ := tab.Oldest()
		reply = append(reply[:0], `{"jsonrpc":"2.0","id":`...)
		reply = strconv.AppendUint(reply, tab.ID(n), 10)
		reply = append(reply, `,"result":["wsbench",7]}`...)
		v, ok := m.Value(reply)
		if !ok {
			b.Fatal("no key")
		}
		k, _ := m.Key(v)
		got, e, found, _ := tab.Lookup(k)
		if !found {
			b.Fatalf("id %d not in flight", k)
		}
		sum += e.Sent - e.Intended
		tab.Done(got)
		tab.Add(int64(i), int64(i), true)
	}
	_ = sum
}

// FuzzInflight drives a table with a random sequence of sends, replies
// (to random ids, in flight or not) and give-ups of the oldest, with and
// without wrapped ids, against a plain map: every lookup finds exactly the
// requests the map has in flight, by their number; Len and Oldest agree.
func FuzzInflight(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 3, 0, 2}, uint8(0))
	f.Add([]byte{0, 0, 0, 0, 0, 1, 9, 4, 4, 0, 0, 0, 0, 0, 0}, uint8(5))
	f.Fuzz(func(t *testing.T, ops []byte, mod uint8) {
		r := &Request{IDBase: 10, IDMod: uint64(mod)}
		tab := NewInflight(r, 1)
		live := map[uint64]bool{} // request number → in flight
		var next uint64
		for _, op := range ops {
			switch op % 3 {
			case 0: // send, giving up the oldest first when its id would come round
				for r.IDMod > 0 && tab.Span() >= r.IDMod {
					n, _, _ := tab.Oldest()
					tab.Done(n)
					delete(live, n)
				}
				if n := tab.Add(int64(next), int64(next), true); n != next {
					t.Fatalf("request %d numbered %d", next, n)
				}
				live[next] = true
				next++
			case 1: // a reply to some id
				id := uint64(op/3) + 10
				n, p, ok, _ := tab.Lookup(id)
				if ok {
					if !live[n] || tab.ID(n) != id || p.Sent != int64(n) {
						t.Fatalf("id %d found request %d (in flight %v, its id %d)", id, n, live[n], tab.ID(n))
					}
					tab.Done(n)
					delete(live, n)
				} else {
					for m := range live {
						if tab.ID(m) == id {
							t.Fatalf("id %d not found, but request %d has it in flight", id, m)
						}
					}
				}
			case 2: // give up the oldest
				if n, _, ok := tab.Oldest(); ok {
					for m := range live {
						if m < n {
							t.Fatalf("oldest %d, but %d is in flight", n, m)
						}
					}
					tab.Done(n)
					delete(live, n)
				} else if len(live) > 0 {
					t.Fatalf("no oldest, %d in flight", len(live))
				}
			}
			if tab.Len() != len(live) {
				t.Fatalf("len %d, %d in flight", tab.Len(), len(live))
			}
		}
		if got := tab.Clear(); got != int64(len(live)) {
			t.Fatalf("cleared %d, %d in flight", got, len(live))
		}
	})
}
