//go:build linux

package driver

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/metrics"
)

// broadcast is --kind broadcast: connections sit in rooms of run.rooms.size
// by slot, and the first run.rooms.publishers of each room publish on the
// open model's schedule. The server relays each message to every member of
// the room: every member, the publisher included, records its delivery
// latency and its place in its publisher's sequence (conn.next,
// conn.seen); the publisher's own copy is also its echo, so messages still
// balance.
type broadcast struct {
	*echo
	// relayed: this loop has told the run's verdict that a message reached
	// a member other than its publisher.
	relayed bool
	// Once sending has stopped: how many of each publisher's messages every
	// member should get (nil until known), and how many of the loop's
	// connections are known to have theirs.
	targets  []uint64
	caughtUp int
}

func newBroadcast(w *worker) workload { return &broadcast{echo: &echo{w: w}} }

// adopt places c in its room: only a room's first publishers send, each on
// its own slot of the publishers' schedule; every member tracks each
// publisher's sequence.
func (b *broadcast) adopt(c *conn) {
	rm := b.w.run.rooms
	c.room = c.slot / rm.size
	c.pub = int32(c.sched)
	c.next = make([]uint64, rm.publishers)
	c.seen = make([]uint64, rm.publishers)
}

func (b *broadcast) sends(c *conn) bool { return c.pub >= 0 }

func (b *broadcast) message(c *conn, op ws.OpCode, p []byte, wireLen int, rx, now int64) bool {
	s, stampOK, ok := b.w.run.codec.get(p, c.slot)
	if stampOK && op == b.w.run.op {
		b.delivered(c, s, ok, rx)
		if int32(s.pub) != c.pub {
			if ok {
				b.sawRelay()
			}
			return false // another publisher's message: a delivery only
		}
	}
	return b.reply(c, op, p, wireLen, rx, now, s, stampOK, ok)
}

// delivered accounts for a broadcast message arriving at member c: its
// delivery latency, and its place in its publisher's sequence as c sees it.
func (b *broadcast) delivered(c *conn, s stamp, ok bool, rx int64) {
	w := b.w
	pos := int(s.pub) - c.room*w.run.rooms.publishers
	if pos < 0 || pos >= w.run.rooms.publishers || !ok {
		w.shard.Error("broadcast_foreign") // not from this room's publishers, or altered
		return
	}
	measured := s.intended >= w.run.measureStart
	// c.seen[pos] bit k: message next-1-k of this publisher has arrived
	// (the last 64), which tells a duplicate from a late arrival.
	switch next := c.next[pos]; {
	case s.seq == next:
		c.next[pos]++
		c.seen[pos] = c.seen[pos]<<1 | 1
	case s.seq > next:
		gap := s.seq - next
		if measured {
			w.shard.Counts.DeliveryGaps += int64(gap)
		}
		c.next[pos] = s.seq + 1
		if gap+1 >= 64 {
			c.seen[pos] = 1
		} else {
			c.seen[pos] = c.seen[pos]<<(gap+1) | 1
		}
	default:
		k := next - 1 - s.seq
		if k < 64 && c.seen[pos]>>k&1 == 1 {
			if measured {
				w.shard.Counts.DeliveriesDup++ // already delivered: not another delivery
			}
			return
		}
		if measured {
			w.shard.Counts.DeliveriesLate++
			if k < 64 {
				w.shard.Counts.DeliveryGaps-- // counted missing when skipped; it came after all
			}
		}
		if k < 64 {
			c.seen[pos] |= 1 << k
		}
	}
	if measured {
		w.shard.Counts.Deliveries++
		if rx >= w.run.stopAt.Load() {
			w.shard.Counts.DeliveriesInGrace++
		}
		w.shard.Record(metrics.Delivery, time.Duration(max(rx-s.intended, 0)))
		if sp, done := w.run.spread.arrive(int(s.pub), s.seq, rx); done {
			w.shard.Record(metrics.Spread, time.Duration(sp))
		}
	}
}

// sawRelay tells the run, once per loop, that a broadcast reached a member
// other than its publisher.
func (b *broadcast) sawRelay() {
	if !b.relayed {
		b.relayed = true
		b.w.run.verdict.relays.Add(1)
	}
}

// stopped records, as the loop stops sending, what each of its publishers
// sent, and counts the loop out of sending; the last loop out wakes the
// others, whose members may wait for nothing more.
func (b *broadcast) stopped() {
	r := b.w.run
	if r.pubs == nil {
		return
	}
	for _, c := range b.w.conns {
		if c.sched >= 0 {
			r.pubs[c.sched].sent, r.pubs[c.sched].first = c.nextSeq, c.firstMeasured
		}
	}
	if r.sending.Add(-1) == 0 && r.wakeAll != nil {
		r.wakeAll()
	}
}

// arrived reports whether every open member of this loop has, from each
// publisher of its room, as many messages as it sent (see
// run.deliveryTargets). A broadcast loop that stopped sending waits for
// this as well as for its own publishers' echoes, up to the grace period:
// deliveries still on their way when sending stopped are not missed. A
// member that has its messages keeps them (targets are final, arrivals
// only move on), so each is checked until it has them, and not again.
func (b *broadcast) arrived() bool {
	r := b.w.run
	if r.pubs == nil {
		return true
	}
	if r.sending.Load() > 0 {
		return false // a publisher may still send
	}
	if b.targets == nil {
		b.targets = r.deliveryTargets()
	}
	for ; b.caughtUp < len(b.w.conns); b.caughtUp++ {
		c := b.w.conns[b.caughtUp]
		if c.state != stateOpen || c.settled {
			continue
		}
		base := c.room * r.rooms.publishers
		for pos, next := range c.next {
			if next < b.targets[base+pos] {
				return false
			}
		}
	}
	return true
}

// missed counts, once the loop has ended, the measured messages of this
// process's publishers that its members never got after their last
// arrival from each publisher: they never came, so they are gaps too.
func (b *broadcast) missed() int64 {
	r := b.w.run
	var n int64
	for _, c := range b.w.conns {
		base := c.room * r.rooms.publishers
		for pos, next := range c.next {
			pb := r.pubs[base+pos]
			if !pb.here || pb.first == noSeq {
				continue
			}
			if from := max(next, pb.first); pb.sent > from {
				n += int64(pb.sent - from)
			}
		}
	}
	return n
}

// published is what one broadcast publisher sent: sent messages in all,
// the first of them measured (noSeq: none), and whether it is a
// connection of this process (here); the others' are unknown.
type published struct {
	sent, first uint64
	here        bool
}

// deliveryTargets is, per publisher, how many of its messages every member
// of its room should have once sending has stopped: what a publisher of
// this process sent, and what the schedule had a publisher of another
// process send (closed model: unknown, 0). Read it only once sending is 0.
func (r *run) deliveryTargets() []uint64 {
	t := make([]uint64, len(r.pubs))
	stop := time.Duration(r.stopAt.Load())
	for p, pb := range r.pubs {
		switch {
		case pb.here:
			t[p] = pb.sent
		case r.open:
			t[p] = r.sched.Index(p, stop)
		}
	}
	return t
}
