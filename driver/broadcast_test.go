package driver

import (
	"context"
	"net"

	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// broadcastServer is a chat-room server written for the tests, independent of
// the bundled one: a goroutine per connection, rooms by URL path. With
// skipEvery > 0 it drops every skipEvery-th message on its way to the member
// that joined each room last, the misbehaviour broadcast reach must show.
type broadcastServer struct {
	l         *loopback
	skipEvery int
	// With dupEvery > 0 the last member gets every dupEvery-th message
	// twice; with swapEvery > 0 it gets messages swapEvery-1 and swapEvery
	// (of every swapEvery) in the wrong order.
	dupEvery, swapEvery int
	// With fanOutDelay > 0 the sender gets its copy at once and the other
	// members theirs this long after (in order), as a server that echoes
	// first and fans out through a slower path does.
	fanOutDelay time.Duration
	mu          sync.Mutex
	rooms       map[string][]*member
}

type member struct {
	c     net.Conn
	mu    sync.Mutex
	count int
	held  []byte // swapEvery: a message held back to go after the next
}

func startBroadcastServer(t *testing.T, skipEvery int) *broadcastServer {
	t.Helper()
	s := &broadcastServer{skipEvery: skipEvery, rooms: map[string][]*member{}}
	s.l = listenLoopback(t, func(c net.Conn, _ int64) { s.serve(c) })
	return s
}

func (s *broadcastServer) serve(c net.Conn) {
	var room string
	u := ws.Upgrader{OnRequest: func(uri []byte) error { room = string(uri); return nil }}
	if _, err := u.Upgrade(c); err != nil {
		return
	}
	me := &member{c: c}
	s.mu.Lock()
	s.rooms[room] = append(s.rooms[room], me)
	s.mu.Unlock()
	var later chan fanOut
	if s.fanOutDelay > 0 {
		later = make(chan fanOut, 1024)
		done := make(chan struct{})
		go s.fanOutLater(later, done)
		defer func() { close(later); <-done }()
	}
	for {
		msg, op, err := wsutil.ReadClientData(c)
		if err != nil {
			return
		}
		s.mu.Lock()
		members := s.rooms[room]
		s.mu.Unlock()
		if later != nil {
			me.mu.Lock()
			wsutil.WriteServerMessage(c, op, msg)
			me.mu.Unlock()
			later <- fanOut{at: time.Now().Add(s.fanOutDelay), op: op, msg: msg, from: me, to: members}
			continue
		}
		for i, m := range members {
			m.mu.Lock()
			m.count++
			last := i == len(members)-1
			switch {
			case last && s.skipEvery > 0 && m.count%s.skipEvery == 0:
			case last && s.swapEvery > 0 && m.count%s.swapEvery == s.swapEvery-1:
				m.held = append([]byte(nil), msg...)
			case last && m.held != nil:
				wsutil.WriteServerMessage(m.c, op, msg)
				wsutil.WriteServerMessage(m.c, op, m.held)
				m.held = nil
			default:
				wsutil.WriteServerMessage(m.c, op, msg)
				if last && s.dupEvery > 0 && m.count%s.dupEvery == 0 {
					wsutil.WriteServerMessage(m.c, op, msg)
				}
			}
			m.mu.Unlock()
		}
	}
}

// fanOut is a message on its way to the members other than its sender.
type fanOut struct {
	at   time.Time
	op   ws.OpCode
	msg  []byte
	from *member
	to   []*member
}

// fanOutLater writes each message of q to its members, the sender's
// excepted, at its time; it closes done once q is closed and drained.
func (s *broadcastServer) fanOutLater(q <-chan fanOut, done chan<- struct{}) {
	defer close(done)
	for f := range q {
		time.Sleep(time.Until(f.at))
		for _, m := range f.to {
			if m == f.from {
				continue
			}
			m.mu.Lock()
			wsutil.WriteServerMessage(m.c, f.op, f.msg)
			m.mu.Unlock()
		}
	}
}

// broadcastSpec is a 600 ms broadcast run with no warm-up over 2 rooms of 5,
// with the given publishers per room and rate.
func broadcastSpec(publishers int, rate float64) scenario.Spec {
	spec := quickSpec(10, 600*time.Millisecond)
	spec.Kind = scenario.KindBroadcast
	spec.RoomSize, spec.Publishers = 5, publishers
	spec.Rate = rate
	spec.Warmup = 0
	return spec
}

// TestBroadcastReach: 2 rooms of 5 with 2 publishers each. On a faithful
// server every member gets every message (reach 1, no gaps), delivery
// latency is recorded for each, and the rooms do not mix; on a server that
// drops every 4th message to one member per room, reach falls and the
// gaps are counted.
func TestBroadcastReach(t *testing.T) {
	spec := broadcastSpec(2, 200)

	good := startBroadcastServer(t, 0)
	res, err := Run(context.Background(), Config{Spec: spec, Target: good.url()})
	if err != nil {
		t.Fatal(err)
	}
	checkHealthy(t, res, 10, metrics.RTT, metrics.Delivery)
	c := res.Snapshot.Counts
	if want := c.Sent * 5; c.Deliveries != want || c.DeliveryGaps != 0 || c.DeliveriesLate != 0 {
		t.Errorf("faithful server: %d deliveries of %d expected, %d gaps, %d late", c.Deliveries, want, c.DeliveryGaps, c.DeliveriesLate)
	}
	if n := res.Snapshot.Hist[metrics.Delivery].Count(); n != c.Deliveries {
		t.Errorf("%d delivery latencies for %d deliveries", n, c.Deliveries)
	}
	// Every message reached its whole room: one spread each, no larger than
	// the widest gap between deliveries.
	spread := res.Snapshot.Hist[metrics.Spread]
	if spread.Count() != c.Sent || spread.Percentile(100) > res.Snapshot.Hist[metrics.Delivery].Percentile(100) {
		t.Errorf("%d spreads for %d messages (max %v, delivery max %v)", spread.Count(), c.Sent, spread.Percentile(100), res.Snapshot.Hist[metrics.Delivery].Percentile(100))
	}
	good.mu.Lock()
	if len(good.rooms) != 2 || len(good.rooms["/room/0"]) != 5 || len(good.rooms["/room/1"]) != 5 {
		t.Errorf("server rooms: %v", good.rooms)
	}
	good.mu.Unlock()

	lossy := startBroadcastServer(t, 4)
	res, err = Run(context.Background(), Config{Spec: spec, Target: lossy.url()})
	if err != nil {
		t.Fatal(err)
	}
	c = res.Snapshot.Counts
	reach := float64(c.Deliveries) / float64(c.Sent*5)
	t.Logf("lossy server: reach %.3f, gaps %d", reach, c.DeliveryGaps)
	// A message some member missed has no spread.
	if n := res.Snapshot.Hist[metrics.Spread].Count(); n >= c.Sent || n == 0 {
		t.Errorf("lossy server: %d spreads for %d messages, want fewer (and some)", n, c.Sent)
	}
	if reach > 0.97 || reach < 0.9 || c.DeliveryGaps == 0 {
		t.Errorf("lossy server: reach %.3f (want about 0.95: a quarter of one member in five), gaps %d (want some)", reach, c.DeliveryGaps)
	}
}

func (s *broadcastServer) url() string { return s.l.url() }

// TestBroadcastDuplicatesAndOrder: a server that sends one member some
// messages twice has them counted as duplicates (not deliveries: reach
// stays 1); one that swaps pairs of messages has the second of each pair
// counted late, and no gap left behind.
func TestBroadcastDuplicatesAndOrder(t *testing.T) {
	spec := broadcastSpec(1, 100)
	for _, tc := range []struct {
		name string
		srv  *broadcastServer
	}{{"duplicates", &broadcastServer{dupEvery: 3}}, {"swaps", &broadcastServer{swapEvery: 4}}} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.srv
			s.rooms = map[string][]*member{}
			s.l = listenLoopback(t, func(c net.Conn, _ int64) { s.serve(c) })
			res, err := Run(context.Background(), Config{Spec: spec, Target: s.url()})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Snapshot.Counts
			perMember := c.Sent / 2 // each of the 2 rooms' publisher sent half
			t.Logf("%s: sent %d deliveries %d gaps %d late %d dup %d", tc.name, c.Sent, c.Deliveries, c.DeliveryGaps, c.DeliveriesLate, c.DeliveriesDup)
			if c.Deliveries != c.Sent*5 {
				t.Errorf("deliveries %d, want every message to every member once: %d", c.Deliveries, c.Sent*5)
			}
			switch tc.name {
			case "duplicates":
				if want := 2 * (perMember / 3); c.DeliveriesDup < want-2 || c.DeliveriesDup > want+2 || c.DeliveriesLate != 0 || c.DeliveryGaps != 0 {
					t.Errorf("dup %d (want about %d) late %d gaps %d", c.DeliveriesDup, want, c.DeliveriesLate, c.DeliveryGaps)
				}
			case "swaps":
				if want := 2 * (perMember / 4); c.DeliveriesLate < want-2 || c.DeliveriesLate > want+2 || c.DeliveriesDup != 0 || c.DeliveryGaps != 0 {
					t.Errorf("late %d (want about %d) dup %d gaps %d", c.DeliveriesLate, want, c.DeliveriesDup, c.DeliveryGaps)
				}
			}
		})
	}
}

// TestBroadcastDeliveriesInGrace: a server that fans each message out to
// the other members 50 ms after echoing it to its publisher. Over two event
// loops (so some loop may hold members and no publisher), a grace period
// that covers the delay must see every delivery arrive: reach exactly 1,
// no gaps, and the deliveries that came after sending stopped counted as
// such. With no grace period, what never came is counted as gaps, so
// deliveries and gaps account for every expected delivery.
func TestBroadcastDeliveriesInGrace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
	}{
		{"grace covers the delay", 5 * time.Second}, // 100× the delay: enough on any machine
		{"no grace", 0}, // the last 50 ms of fan-out are cut off
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &broadcastServer{fanOutDelay: 50 * time.Millisecond, rooms: map[string][]*member{}}
			s.l = listenLoopback(t, func(c net.Conn, _ int64) { s.serve(c) })
			spec := broadcastSpec(1, 100)
			spec.Grace = scenario.Duration(tc.grace)
			res, err := Run(context.Background(), Config{Spec: spec, Target: s.url(), Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Snapshot.Counts
			want := c.Sent * 5
			t.Logf("sent %d deliveries %d of %d, in grace %d, gaps %d late %d dup %d", c.Sent, c.Deliveries, want, c.DeliveriesInGrace, c.DeliveryGaps, c.DeliveriesLate, c.DeliveriesDup)
			if c.Sent == 0 || !c.Balanced() || c.Lost != 0 || c.DeliveriesLate != 0 || c.DeliveriesDup != 0 {
				t.Fatalf("counts %+v, want messages sent and balanced, none lost, late or duplicated", c)
			}
			if c.Deliveries+c.DeliveryGaps != want {
				t.Errorf("deliveries %d + gaps %d != %d expected: every expected delivery either arrives or is a gap", c.Deliveries, c.DeliveryGaps, want)
			}
			if c.DeliveriesInGrace > c.Deliveries {
				t.Errorf("%d deliveries in the grace period, of %d in all", c.DeliveriesInGrace, c.Deliveries)
			}
			if tc.grace == 0 {
				// Messages published in the last 50 ms reach only their
				// publisher before the loops close.
				if c.DeliveryGaps == 0 {
					t.Errorf("no gaps, though the fan-out of the last messages came after the run stopped")
				}
				return
			}
			if c.Deliveries != want || c.DeliveryGaps != 0 {
				t.Errorf("deliveries %d of %d, gaps %d: every delivery arrived within the grace period", c.Deliveries, want, c.DeliveryGaps)
			}
			// Each publisher's last message was due in the last 20 ms
			// before the stop (one per 20 ms each), so its fan-out to the
			// other 4 members came after it: in the grace period.
			if c.DeliveriesInGrace < 2*4 {
				t.Errorf("%d deliveries counted in the grace period, want at least the last messages' 8", c.DeliveriesInGrace)
			}
			if n := res.Snapshot.Hist[metrics.Delivery].Count(); n != c.Deliveries {
				t.Errorf("%d delivery latencies for %d deliveries", n, c.Deliveries)
			}
		})
	}
}
