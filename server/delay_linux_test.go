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
	"github.com/wsbench/wsbench/internal/schedwatch"
)

// TestDelayDistribution: over a few hundred echoes from loopback clients,
// each sending its next message when the previous echo is back, the delays
// measured respect the distribution of Config.Delay: never below its
// minimum, not above its maximum, a mean within a few standard errors, and
// the spread the distribution has. Stats reports the setting. (TestDelayDraw
// holds the draws to the distribution exactly; this holds the echoes to the
// draws.) Every bound above the distribution allows for the loopback's own
// time, measured meanwhile by a control client on a server with a fixed 1ms
// delay: a round trip, the loops' wake-ups and the delay timer's, the race
// detector and a shared machine's scheduler add as much to the control's
// echoes as to those measured.
func TestDelayDistribution(t *testing.T) {
	const conns, perConn = 4, 80 // 320 echoes, about a second per case
	cases := []struct {
		delay    string
		mean, sd time.Duration // of the distribution
		min, max time.Duration // of every draw (max 0: none)
		// shape checks the sorted delays for what tells the
		// distribution apart from a fixed delay of the same mean.
		// noise is what the loopback adds to a round trip (see below).
		shape func(sorted []time.Duration, noise time.Duration) error
	}{
		// Fixed: every echo Delay late.
		{"5ms", 5 * ms, 0, 5 * ms, 5 * ms, nil},
		// Uniform: between the bounds, spread evenly (about 10% of
		// draws below the first tenth of the range).
		{"2ms-20ms", 11 * ms, time.Duration(float64(18*ms) / math.Sqrt(12)), 2 * ms, 20 * ms,
			func(d []time.Duration, noise time.Duration) error {
				if p10 := d[len(d)/10]; p10 > 6*ms+noise {
					return fmt.Errorf("p10 %v, want about 3.8ms (+%v)", p10, noise)
				}
				return nil
			}},
		// Exponential: p10 is 0.105 x mean, p90 2.3 x mean.
		{"exp:5ms", 5 * ms, 5 * ms, 0, 0, func(d []time.Duration, noise time.Duration) error {
			if p10, p90 := d[len(d)/10], d[len(d)*9/10]; p10 > 2*ms+noise || p90 < 8*ms {
				return fmt.Errorf("p10 %v and p90 %v, want about 0.5ms (+%v) and 11.5ms", p10, p90, noise)
			}
			return nil
		}},
		// Normal: the interquartile range is 1.35 standard deviations
		// (and, unlike the deviation, robust to the odd late echo).
		{"normal:8ms,2ms", 8 * ms, 2 * ms, 0, 0, func(d []time.Duration, noise time.Duration) error {
			if iqr := d[len(d)*3/4] - d[len(d)/4]; iqr < 2*ms || iqr > 4*ms+noise {
				return fmt.Errorf("interquartile range %v, want about 2.7ms (+%v)", iqr, noise)
			}
			return nil
		}},
	}
	// The delay's own timer may wake a little late even on a quiet machine.
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
			// The control: one client echoing on a server with a fixed
			// 1ms delay, a message every millisecond for as long as the
			// measured clients run, sees what the loopback adds.
			const ctlDelay = ms
			_, ctlAddr := startServer(t, Config{Loops: 2, Delay: FixedDelay(ctlDelay)})
			ctlConn := dialRaw(t, ctlAddr)
			ctlDone := make(chan struct{})
			var ctl []time.Duration
			var ctlErr error
			var ctlWG sync.WaitGroup
			ctlWG.Go(func() { ctl, ctlErr = controlLoop(ctlConn, ctlDone) })
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
			close(ctlDone)
			ctlWG.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if ctlErr != nil || len(ctl) == 0 {
				t.Fatalf("control: %d echoes, %v", len(ctl), ctlErr)
			}
			slices.Sort(all)
			slices.Sort(ctl)
			for i := range ctl {
				ctl[i] = max(ctl[i]-ctlDelay, 0)
			}
			// What the loopback added: to most echoes (its p90), to the
			// slowest (its max), on average (its mean).
			noise, noiseMax, noiseMean := ctl[len(ctl)*9/10], ctl[len(ctl)-1], meanOf(ctl)
			mean := meanOf(all)
			se := tc.sd / time.Duration(math.Sqrt(float64(len(all))))
			t.Logf("%s: %d echoes, min %v mean %v max %v (distribution mean %v); control: %d echoes, mean %v p90 %v max %v",
				tc.delay, len(all), all[0], mean, all[len(all)-1], tc.mean, len(ctl), noiseMean, noise, noiseMax)
			if all[0] < tc.min {
				t.Errorf("an echo after %v, below the minimum %v", all[0], tc.min)
			}
			if tc.max > 0 {
				// An echo is late if the delay and what the loopback adds
				// to most round trips do not explain it. The loopback
				// makes some late (as many as its slow round trips, in
				// bursts: a tenth more), the server many, or one later
				// than the loopback's slowest.
				slack := overhead + noise
				above := func(d []time.Duration, x time.Duration) int {
					return len(d) - sort.Search(len(d), func(i int) bool { return d[i] > x })
				}
				late, share := above(all, tc.max+slack), float64(above(ctl, noise))/float64(len(ctl))
				if last := all[len(all)-1]; float64(late) > (share+0.1)*float64(len(all)) || last > tc.max+overhead+100*ms+noiseMax {
					t.Errorf("%d echoes later than the maximum %v (+%v; the control's share above %v: %.2f), the last after %v (control's slowest %v)",
						late, tc.max, slack, noise, share, last, noiseMax)
				}
			}
			if hi := tc.mean + 4*se + overhead + 2*noiseMean; mean < tc.mean-4*se || mean > hi {
				t.Errorf("mean %v, want %v (-%v, +%v)", mean, tc.mean, 4*se, hi-tc.mean)
			}
			if tc.shape != nil {
				if err := tc.shape(all, noise); err != nil {
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
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return closedLoopFrom(c, 0, n)
}

// closedLoopFrom is closedLoop for messages first to first+n-1, without a
// deadline of its own.
func closedLoopFrom(c *rawConn, first, n int) ([]time.Duration, error) {
	rtts := make([]time.Duration, 0, n)
	for i := first; i < first+n; i++ {
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

// controlLoop echoes one binary message at a time on c, a millisecond apart,
// until done is closed, and returns each one's round-trip time.
func controlLoop(c *rawConn, done <-chan struct{}) ([]time.Duration, error) {
	var rtts []time.Duration
	c.SetDeadline(time.Now().Add(30 * time.Second))
	for i := 0; ; i++ {
		select {
		case <-done:
			return rtts, nil
		case <-time.After(time.Millisecond):
		}
		got, err := closedLoopFrom(c, i, 1)
		rtts = append(rtts, got...)
		if err != nil {
			return rtts, err
		}
	}
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
		stopWatch := schedwatch.Watch()
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
		if d, most := time.Since(last), maxDelay+500*ms+4*stopWatch().Max; d > most {
			t.Errorf("last echo %v after the last message, want at most about %v (%v with the scheduling delay seen)", d, maxDelay, most)
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
