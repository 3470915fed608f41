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
	mu                  sync.Mutex
	rooms               map[string][]*member
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
	for {
		msg, op, err := wsutil.ReadClientData(c)
		if err != nil {
			return
		}
		s.mu.Lock()
		members := s.rooms[room]
		s.mu.Unlock()
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
