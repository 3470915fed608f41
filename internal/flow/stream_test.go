package flow

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func testStream(t testing.TB, match, seq, sent string, unit, stall time.Duration) *Stream {
	t.Helper()
	s := &Stream{Match: MustMatcher(match), Unit: unit, Stall: stall}
	if seq != "" {
		m := MustMatcher(seq)
		s.Seq = &m
	}
	if sent != "" {
		m := MustMatcher(sent)
		s.Sent = &m
	}
	return s
}

// push is a message of the bundled push server's stream.
func push(seq uint64, sentNs int64) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"sent_ns":%d}`, seq, sentNs)
}

// TestStreamAccount feeds one connection a sequence with every case of the
// accounting in turn; each row is one message and what it must be.
func TestStreamAccount(t *testing.T) {
	const ms = int64(time.Millisecond)
	s := testStream(t, "$.seq", "$.seq", "$.sent_ns", time.Nanosecond, 50*time.Millisecond)
	var c StreamConn
	c.Start(0, 0) // subscribed at 0, measured from there
	const unix0 = int64(1_700_000_000_000_000_000)
	for i, r := range []struct {
		why  string
		msg  []byte
		rx   int64 // ms
		want Arrival
	}{
		{"first: gap from the subscription", push(1, unix0+9*ms), 10,
			Arrival{Stream: true, Measured: true, Gap: 10 * ms, Latency: ms, HasLatency: true}},
		{"next in order", push(2, unix0+19*ms), 20,
			Arrival{Stream: true, Measured: true, Gap: 10 * ms, Latency: ms, HasLatency: true}},
		{"not the stream's: nothing else read", []byte(`{"jsonrpc":"2.0","result":true,"id":1}`), 25, Arrival{}},
		{"3 and 4 skipped, a stall", push(5, unix0+80*ms), 90,
			Arrival{Stream: true, Measured: true, Skipped: 2, Gap: 70 * ms, Stall: true, Latency: 10 * ms, HasLatency: true}},
		{"4 late: fills its gap back", push(4, unix0+85*ms), 95,
			Arrival{Stream: true, Measured: true, Late: true, Gap: 5 * ms, Latency: 10 * ms, HasLatency: true}},
		{"4 again: a duplicate, no gap or latency", push(4, unix0+85*ms), 96,
			Arrival{Stream: true, Measured: true, Dup: true}},
		{"5 again: a duplicate", push(5, unix0+80*ms), 97,
			Arrival{Stream: true, Measured: true, Dup: true}},
		{"6: gap from the last stream message (4 late), not the duplicates", push(6, unix0+99*ms), 100,
			Arrival{Stream: true, Measured: true, Gap: 5 * ms, Latency: ms, HasLatency: true}},
		{"sent after the arrival: clocks apart", push(7, unix0+200*ms), 110,
			Arrival{Stream: true, Measured: true, Gap: 10 * ms, HasLatency: true, Early: true}},
		{"a seq that is not a number", []byte(`{"seq":"x","sent_ns":1}`), 120,
			Arrival{Stream: true, Measured: true, BadSeq: true, Gap: 10 * ms, Latency: unix0 + 120*ms - 1, HasLatency: true}},
		{"a sent time that is not a number", []byte(`{"seq":8,"sent_ns":"soon"}`), 130,
			Arrival{Stream: true, Measured: true, Gap: 10 * ms, BadSent: true}},
		{"3, older than the 64 remembered? no: 3 is late too", push(3, unix0+120*ms), 140,
			Arrival{Stream: true, Measured: true, Late: true, Gap: 10 * ms, Latency: 20 * ms, HasLatency: true}},
		{"a jump past the bitmap", push(100, unix0+149*ms), 150,
			Arrival{Stream: true, Measured: true, Skipped: 91, Gap: 10 * ms, Latency: ms, HasLatency: true}},
		{"older than the bitmap: late, never a duplicate", push(9, unix0+159*ms), 160,
			Arrival{Stream: true, Measured: true, Late: true, Gap: 10 * ms, Latency: ms, HasLatency: true}},
	} {
		got := s.Account(&c, r.msg, r.rx*ms, unix0+r.rx*ms)
		if got != r.want {
			t.Errorf("message %d (%s): got %+v, want %+v", i, r.why, got, r.want)
		}
	}
}

// TestStreamWindow: arrivals before the window are warm-up (their place in
// the sequence is kept), and the first measured gap starts at the window.
func TestStreamWindow(t *testing.T) {
	const ms = int64(time.Millisecond)
	s := testStream(t, "any", "bytes:0:2", "", 0, 0)
	var c StreamConn
	c.Start(-5*ms, 100*ms)
	for i, r := range []struct {
		why  string
		seq  uint16
		rx   int64
		want Arrival
	}{
		{"warm-up", 1, 10, Arrival{Stream: true}},
		{"warm-up, skipping 2", 3, 50, Arrival{Stream: true, Skipped: 1}},
		{"first measured: gap from the window's start", 4, 130, Arrival{Stream: true, Measured: true, Gap: 30 * ms}},
		{"duplicate of a warm-up message", 3, 140, Arrival{Stream: true, Measured: true, Dup: true}},
		{"2 late", 2, 150, Arrival{Stream: true, Measured: true, Late: true, Gap: 20 * ms}},
	} {
		got := s.Account(&c, []byte{byte(r.seq >> 8), byte(r.seq)}, r.rx*ms, 0)
		if got != r.want {
			t.Errorf("message %d (%s): got %+v, want %+v", i, r.why, got, r.want)
		}
	}
}

// TestStreamSilent: a stream silent for longer than the stall at the end,
// since its last message or the window's start.
func TestStreamSilent(t *testing.T) {
	s := testStream(t, "any", "", "", 0, 100)
	var c StreamConn
	c.Start(0, 50)
	if s.Silent(&c, 150) || !s.Silent(&c, 151) {
		t.Errorf("before any message: silent at 150 %v, at 151 %v; want from the window's start (50)", s.Silent(&c, 150), s.Silent(&c, 151))
	}
	s.Account(&c, []byte("x"), 500, 0)
	if s.Silent(&c, 600) || !s.Silent(&c, 601) {
		t.Errorf("after a message at 500: silent at 600 %v, at 601 %v", s.Silent(&c, 600), s.Silent(&c, 601))
	}
	s.Stall = 0
	if s.Silent(&c, 1e9) {
		t.Errorf("silent without a stall")
	}
}

func TestUnixNanos(t *testing.T) {
	for _, r := range []struct {
		v    string
		unit time.Duration
		want int64
		ok   bool
	}{
		{"1700000000123456789", time.Nanosecond, 1700000000123456789, true},
		{`"1700000000123"`, time.Millisecond, 1700000000123000000, true},
		{"1700000000123456", time.Microsecond, 1700000000123456000, true},
		{"1700000000.25", time.Second, 1700000000250000000, true},
		{"1700000000.1234567891", time.Second, 1700000000123456789, true}, // below a ns: dropped
		{"-5", time.Nanosecond, 0, false},
		{"", time.Nanosecond, 0, false},
		{"1e9", time.Second, 0, false},
		{"99999999999999999999", time.Nanosecond, 0, false}, // overflows
		{"9999999999999", time.Second, 0, false},            // overflows in ns
	} {
		got, ok := unixNanos([]byte(r.v), int64(r.unit))
		if got != r.want || ok != r.ok {
			t.Errorf("%q in %s: got %d %v, want %d %v", r.v, r.unit, got, ok, r.want, r.ok)
		}
	}
}

func BenchmarkStreamAccount(b *testing.B) {
	s := testStream(b, "$.seq", "$.seq", "$.sent_ns", time.Nanosecond, time.Second)
	var c StreamConn
	c.Start(0, 0)
	msgs := make([][]byte, 1024)
	for i := range msgs {
		msgs[i] = push(uint64(i+1), 1_700_000_000_000_000_000+int64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(msgs) == 0 {
			c.Start(int64(i), 0)
		}
		a := s.Account(&c, msgs[i%len(msgs)], int64(i)+1, 1_700_000_000_000_000_100+int64(i))
		if !a.Stream || a.Dup || a.Skipped != 0 {
			b.Fatalf("message %d: %+v", i, a)
		}
	}
}

// TestStreamSeqStart: a stream per subscription that starts at 1 counts
// what was missed before the first arrival; without a start, the first
// arrival starts the sequence.
func TestStreamSeqStart(t *testing.T) {
	for _, r := range []struct {
		why       string
		start     bool
		seqs      []uint64
		skipped   uint64 // net of the late ones that filled a gap
		late, dup int
	}{
		{"joined at 3: 1 and 2 missed", true, []uint64{3, 4, 5}, 2, 0, 0},
		{"joined at 3, then 2 late: one missed", true, []uint64{3, 4, 2, 5}, 1, 1, 0},
		{"from 1: nothing missed", true, []uint64{1, 2, 3}, 0, 0, 0},
		{"no start: joining midway misses nothing", false, []uint64{3, 4, 5}, 0, 0, 0},
		{"no start: 1 again is a duplicate", false, []uint64{1, 2, 1}, 0, 0, 1},
		{"no start: one from before the first is late, never skipped", false, []uint64{5, 6, 3}, 0, 1, 0},
		{"from 2: 1 is from before the start, 2 missed", true, []uint64{3, 1}, 1, 1, 0},
	} {
		s := testStream(t, "$.seq", "$.seq", "", 0, 0)
		s.SeqStart, s.HasSeqStart = 1, r.start
		if strings.HasPrefix(r.why, "from 2") {
			s.SeqStart = 2
		}
		var c StreamConn
		c.Start(0, 0)
		var skipped uint64
		late, dup := 0, 0
		for i, seq := range r.seqs {
			a := s.Account(&c, push(seq, 0), int64(i), 0)
			skipped += a.Skipped
			if a.Late {
				late++
				if !a.Before {
					skipped--
				}
			}
			if a.Dup {
				dup++
			}
		}
		if skipped != r.skipped || late != r.late || dup != r.dup {
			t.Errorf("%s: skipped %d late %d dup %d, want %d %d %d", r.why, skipped, late, dup, r.skipped, r.late, r.dup)
		}
	}
}

// FuzzStreamSequence: whatever order sequence numbers arrive in (within
// the 64 a connection remembers), the accounting adds up: each distinct
// number counts once, the rest are duplicates, and the numbers skipped net
// of those that came late are exactly the ones between the start and the
// highest that never came.
func FuzzStreamSequence(f *testing.F) {
	f.Add([]byte{1, 2, 3}, false)
	f.Add([]byte{3, 1, 2, 2, 5}, true)
	f.Add([]byte{9, 4, 9, 0, 12}, false)
	f.Fuzz(func(t *testing.T, seqs []byte, fromOne bool) {
		s := testStream(t, "bytes:0:1", "bytes:0:1", "", 0, 0)
		s.SeqStart, s.HasSeqStart = 1, fromOne
		var c StreamConn
		c.Start(0, 0)
		seen := map[byte]bool{}
		var counted, dups, net int64
		base, top := -1, -1
		for i, b := range seqs {
			b %= 60 // within what a connection remembers
			if fromOne && b == 0 {
				b = 1 // below the start, where nothing is defined to start
			}
			a := s.Account(&c, []byte{b}, int64(i), 0)
			switch {
			case a.Dup:
				dups++
				if !seen[b] {
					t.Fatalf("%d: first arrival of %d taken for a duplicate", i, b)
				}
				continue
			case seen[b]:
				t.Fatalf("%d: %d again, not a duplicate: %+v", i, b, a)
			}
			seen[b] = true
			counted++
			net += int64(a.Skipped)
			if a.Late && !a.Before {
				net--
			}
			if base < 0 {
				base = int(b)
				if fromOne {
					base = 1
				}
			}
			top = max(top, int(b))
		}
		if counted != int64(len(seen)) || counted+dups != int64(len(seqs)) {
			t.Fatalf("%d counted, %d duplicates of %d arrivals, %d distinct", counted, dups, len(seqs), len(seen))
		}
		missing := int64(0)
		for n := base; n <= top; n++ {
			if !seen[byte(n)] {
				missing++
			}
		}
		if base >= 0 && net != missing {
			t.Fatalf("%v (from one %v): net gaps %d, want %d missing between %d and %d", seqs, fromOne, net, missing, base, top)
		}
	})
}
