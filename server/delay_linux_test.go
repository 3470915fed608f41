//go:build linux

package server

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestDelayDistribution: over a few hundred echoes from loopback clients,
// each sending its next message when the previous echo is back, the delays
// measured respect the distribution of Config.Delay: never below its
// minimum, not above its maximum (plus the loopback's own time, and but for
// the odd echo a busy machine's scheduler holds back), a mean within a few
// standard errors (plus the loopback's time), and the spread the
// distribution has. Stats reports the setting.
func TestDelayDistribution(t *testing.T) {
	const conns, perConn = 4, 80 // 320 echoes, about a second per case
	cases := []struct {
		delay    string
		mean, sd time.Duration // of the distribution
		min, max time.Duration // of every draw (max 0: none)
		// shape checks the sorted delays for what tells the
		// distribution apart from a fixed delay of the same mean.
		shape func(sorted []time.Duration) error
	}{
		// Fixed: every echo Delay late.
		{"5ms", 5 * ms, 0, 5 * ms, 5 * ms, nil},
		// Uniform: between the bounds, spread evenly (about 10% of
		// draws below the first tenth of the range).
		{"2ms-20ms", 11 * ms, time.Duration(float64(18*ms) / math.Sqrt(12)), 2 * ms, 20 * ms,
			func(d []time.Duration) error {
				if p10 := d[len(d)/10]; p10 > 6*ms {
					return fmt.Errorf("p10 %v, want about 3.8ms", p10)
				}
				return nil
			}},
		// Exponential: p10 is 0.105 x mean, p90 2.3 x mean.
		{"exp:5ms", 5 * ms, 5 * ms, 0, 0, func(d []time.Duration) error {
			if p10, p90 := d[len(d)/10], d[len(d)*9/10]; p10 > 2*ms || p90 < 8*ms {
				return fmt.Errorf("p10 %v and p90 %v, want about 0.5ms and 11.5ms", p10, p90)
			}
			return nil
		}},
		// Normal: the interquartile range is 1.35 standard deviations
		// (and, unlike the deviation, robust to the odd late echo).
		{"normal:8ms,2ms", 8 * ms, 2 * ms, 0, 0, func(d []time.Duration) error {
			if iqr := d[len(d)*3/4] - d[len(d)/4]; iqr < 2*ms || iqr > 4*ms {
				return fmt.Errorf("interquartile range %v, want about 2.7ms", iqr)
			}
			return nil
		}},
	}
	// The loopback's own time on top of the delay: a round trip, the
	// loop's wake-up, the scheduler of a shared CI machine, -race.
	const overhead = 3 * ms
	for _, tc := range cases {
		t.Run(tc.delay, func(t *testing.T) {
			d, err := ParseDelay(tc.delay)
			if err != nil {
				t.Fatal(err)
			}
			s, addr := startServer(t, Config{Delay: d, Loops: 2})
			clients := make([]*rawConn, conns)
			for i := range clients {
				clients[i] = dialRaw(t, addr)
			}
			var mu sync.Mutex
			var all []time.Duration
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for _, c := range clients {
				wg.Go(func() {
					got, err := closedLoop(c, perConn)
					if err != nil {
						errs <- err
					}
					mu.Lock()
					all = append(all, got...)
					mu.Unlock()
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			slices.Sort(all)
			mean := meanOf(all)
			se := tc.sd / time.Duration(math.Sqrt(float64(len(all))))
			t.Logf("%s: %d echoes, min %v mean %v max %v (distribution mean %v)", tc.delay, len(all), all[0], mean, all[len(all)-1], tc.mean)
			if all[0] < tc.min {
				t.Errorf("an echo after %v, below the minimum %v", all[0], tc.min)
			}
			if tc.max > 0 {
				// A shared machine's scheduler may hold an echo back
				// now and then: a few late ones are its doing; many,
				// or one very late, the server's.
				late := len(all) - sort.Search(len(all), func(i int) bool { return all[i] > tc.max+overhead })
				if last := all[len(all)-1]; late > len(all)/10 || last > tc.max+100*ms {
					t.Errorf("%d echoes later than the maximum %v (+%v), the last after %v", late, tc.max, overhead, last)
				}
			}
			if mean < tc.mean-4*se || mean > tc.mean+4*se+overhead {
				t.Errorf("mean %v, want %v (±%v, +%v)", mean, tc.mean, 4*se, overhead)
			}
			if tc.shape != nil {
				if err := tc.shape(all); err != nil {
					t.Error(err)
				}
			}
			st := s.Stats()
			if st.Delay != tc.delay || st.MessagesIn != conns*perConn {
				t.Errorf("Stats: delay %q, messages in %d; want %q, %d", st.Delay, st.MessagesIn, tc.delay, conns*perConn)
			}
		})
	}
}

// closedLoop sends n binary messages on c, each once the echo of the one
// before is back, and returns each one's round-trip time.
func closedLoop(c *rawConn, n int) ([]time.Duration, error) {
	rtts := make([]time.Duration, 0, n)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range n {
		p := binary.BigEndian.AppendUint64(nil, uint64(i))
		start := time.Now()
		if _, err := c.Write(mf(ws.OpBinary, true, p)); err != nil {
			return rtts, err
		}
		f, err := ws.ReadFrame(c.br)
		if err != nil {
			return rtts, fmt.Errorf("echo %d: %w", i, err)
		}
		rtts = append(rtts, time.Since(start))
		if f.Header.OpCode != ws.OpBinary || binary.BigEndian.Uint64(f.Payload) != uint64(i) {
			return rtts, fmt.Errorf("echo %d: %v %x", i, f.Header.OpCode, f.Payload)
		}
	}
	return rtts, nil
}

func meanOf(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// TestDelayOrderKept: with a delay drawn per message, a connection's replies
// still go out in the order its messages came: a message whose draw is
// shorter than the one before waits for it. Pipelined echoes (several per
// read, and over many reads) come back in order, and no later than the
// largest draw after the last message (the waits do not add up); a close
// frame comes after every echo; in broadcast mode a member on another loop
// gets a publisher's messages in order.
func TestDelayOrderKept(t *testing.T) {
	const maxDelay = 20 * ms
	delay := Delay{Dist: DelayUniform, Max: maxDelay}
	t.Run("echo", func(t *testing.T) {
		_, addr := startServer(t, Config{Delay: delay})
		c := dialRaw(t, addr)
		const batches, perBatch = 20, 10
		var last time.Time
		for b := range batches {
			var buf []byte
			for i := range perBatch {
				buf = append(buf, mf(ws.OpBinary, true, binary.BigEndian.AppendUint64(nil, uint64(b*perBatch+i)))...)
			}
			c.send(t, buf)
			last = time.Now()
			time.Sleep(time.Millisecond)
		}
		for i := range batches * perBatch {
			f := c.readFrame(t)
			if f.Header.OpCode != ws.OpBinary || binary.BigEndian.Uint64(f.Payload) != uint64(i) {
				t.Fatalf("echo %d: %v %x, want message %d: out of order", i, f.Header.OpCode, f.Payload, i)
			}
		}
		if d := time.Since(last); d > maxDelay+500*ms {
			t.Errorf("last echo %v after the last message, want at most about %v", d, maxDelay)
		}
	})
	t.Run("close-behind", func(t *testing.T) {
		_, addr := startServer(t, Config{Delay: Delay{Dist: DelayExp, Mean: 5 * ms}})
		c := dialRaw(t, addr)
		c.echoesThenClose(t, 30)
		c.expectEOF(t)
	})
	t.Run("deflate-echo", func(t *testing.T) {
		s, addr := startServer(t, Config{Delay: delay})
		c := dialDeflate(t, addr, "/")
		msgs := mixedMessages(t, 40)
		var buf []byte
		for _, m := range msgs {
			buf = append(buf, m.frame...)
		}
		c.send(t, buf)
		for i, m := range msgs {
			op, compressed, p := c.readMessage(t)
			if op != ws.OpText || compressed != m.compressed || string(p) != m.text {
				t.Fatalf("echo %d: %v compressed %v %q, want %q compressed %v", i, op, compressed, p, m.text, m.compressed)
			}
		}
		if !waitFor(2*time.Second, func() bool { st := s.Stats(); return st.MessagesOut == 40 && st.CompressedOut == 20 }) {
			st := s.Stats()
			t.Errorf("MessagesOut %d, CompressedOut %d; want 40, 20", st.MessagesOut, st.CompressedOut)
		}
	})
	t.Run("deflate-broadcast", func(t *testing.T) {
		s, addr := startServer(t, Config{Mode: ModeBroadcast, Loops: 2, Delay: delay})
		deflates := []bool{true, false, false, true} // loops 0, 1, 0, 1
		members := make([]*rawConn, len(deflates))
		for i, d := range deflates {
			members[i] = dialDeflateMember(t, s, addr, "/room/z", d)
		}
		msgs := mixedMessages(t, 40)
		var buf []byte
		for _, m := range msgs {
			buf = append(buf, m.frame...)
		}
		members[0].send(t, buf)
		for k, c := range members {
			for i, m := range msgs {
				op, compressed, p := c.readMessage(t)
				if op != ws.OpText || compressed != (m.compressed && deflates[k]) || string(p) != m.text {
					t.Fatalf("member %d, message %d: %v compressed %v %q, want %q compressed %v",
						k, i, op, compressed, p, m.text, m.compressed && deflates[k])
				}
			}
		}
	})
	t.Run("broadcast", func(t *testing.T) {
		s, addr := startServer(t, Config{Mode: ModeBroadcast, Loops: 2, Delay: delay})
		pub := dialMember(t, s, addr, "/room/o", false) // loop 0
		sub := dialMember(t, s, addr, "/room/o", false) // loop 1
		const n = 100
		var buf []byte
		for i := range n {
			buf = append(buf, mf(ws.OpText, true, fmt.Appendf(nil, "%d", i))...)
		}
		pub.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := pub.Write(buf); err != nil {
			t.Fatal(err)
		}
		for k, c := range []*wsClient{pub, sub} {
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			for i := range n {
				p, _, err := wsutil.ReadServerData(c)
				if err != nil {
					t.Fatalf("member %d, message %d: %v", k, i, err)
				}
				if string(p) != fmt.Sprint(i) {
					t.Fatalf("member %d: message %q where %d was due: out of order", k, p, i)
				}
			}
		}
	})
}

// mixedMessage is a text message and the client frame that sends it.
type mixedMessage struct {
	text       string
	compressed bool
	frame      []byte
}

// mixedMessages returns n text messages, every other one compressed.
func mixedMessages(t *testing.T, n int) []mixedMessage {
	msgs := make([]mixedMessage, n)
	for i := range msgs {
		m := mixedMessage{text: fmt.Sprintf("message %d %s", i, pattern(50, i)), compressed: i%2 == 0}
		if m.compressed {
			m.frame = compressedFrame(t, ws.OpText, []byte(m.text))
		} else {
			m.frame = mf(ws.OpText, true, []byte(m.text))
		}
		msgs[i] = m
	}
	return msgs
}
