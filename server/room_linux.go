//go:build linux

package server

import (
	"slices"
	"sync"
	"sync/atomic"
)

// This file is broadcast mode (Config.Mode "broadcast"): rooms shared by the
// event loops, and the hand-off of messages from the loop that receives them
// to the loops that serve the other members.
//
// A room is split by loop. Each loop keeps the list of its own members of
// the room (room.local[loop.idx]); no other goroutine reads or writes it. The
// part shared between loops is only which loops have members (room.loops, an
// immutable slice swapped under Server.roomsMu when a loop gets its first
// member or loses its last) and the registry of rooms by name.
//
// A loop that receives messages from a member encodes them once, as the
// frames to deliver (codec.held, all the frames one read brought), then:
//
//   - writes them to its own members of the room, directly;
//   - for every other loop with members, copies them ONCE into a shared,
//     reference-counted buffer (bframe) and appends one delivery, the room
//     and the buffer, to that loop's inbox (loop.post), waking the loop if
//     it is not awake already.
//
// A loop takes its inbox at the top of each pass, like its new connections,
// and writes each delivery to its own members of the room (deliver). The
// frames reach the kernel from the shared buffer, or are copied into a
// member's pending buffer like any reply; the last loop done with a bframe
// puts it back in a pool. No loop ever touches another loop's connections:
// deliveries name rooms, not connections.
//
// Order: one sender's messages are read, published and posted in order, and
// every inbox is handled in order, so each member gets them in the order the
// server received them. A member that does not read is closed as a slow
// reader once Config.MaxPendingWrite bytes pile up for it, like in echo mode;
// the other members are not held up by it.

// room is one broadcast room.
type room struct {
	name string
	// loops are the loops that have members in the room, the publisher's
	// included: an immutable slice, replaced under Server.roomsMu.
	loops atomic.Pointer[[]*loop]
	// local holds each loop's members, indexed by loop.idx; only that
	// loop touches its slot.
	local []*members
}

// members are one loop's members of a room.
type members struct {
	conns []*conn // each conn's ridx is its index here
}

// bframe is a run of encoded frames shared by the loops that deliver it,
// returned to bframePool when the last one is done.
type bframe struct {
	frames
	refs atomic.Int32
}

// maxPooledBframe is the largest buffer kept in bframePool.
const maxPooledBframe = 64 << 10

var bframePool = sync.Pool{New: func() any { return new(bframe) }}

// newBframe copies fr into a shared buffer with one reference.
func newBframe(fr frames) *bframe {
	f := bframePool.Get().(*bframe)
	f.b = append(f.b[:0], fr.b...)
	f.z = append(f.z[:0], fr.z...)
	f.n, f.nz = fr.n, fr.nz
	f.refs.Store(1)
	return f
}

// release drops one reference; the last one returns f to the pool.
func (f *bframe) release() {
	if f.refs.Add(-1) != 0 {
		return
	}
	if cap(f.b) > maxPooledBframe {
		f.b = nil
	}
	if cap(f.z) > maxPooledBframe {
		f.z = nil
	}
	bframePool.Put(f)
}

// delivery is a room's frames handed to another loop.
type delivery struct {
	r  *room
	bf *bframe
}

// joinRoom returns the room called name, creating it if needed, and makes
// sure l is among its loops, with a member list. Only l calls it for l.
func (s *Server) joinRoom(name string, l *loop) *room {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	r := s.rooms[name]
	if r == nil {
		r = &room{name: name, local: make([]*members, len(s.loops))}
		r.loops.Store(&[]*loop{})
		s.rooms[name] = r
		s.roomCount.Add(1)
	}
	if r.local[l.idx] == nil {
		r.local[l.idx] = &members{}
		loops := append(slices.Clone(*r.loops.Load()), l)
		r.loops.Store(&loops)
	}
	return r
}

// leaveRoom removes l, which has no members of r any more, from r, and r
// from the registry once no loop has members. Only l calls it for l.
func (s *Server) leaveRoom(r *room, l *loop) {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	r.local[l.idx] = nil
	loops := slices.DeleteFunc(slices.Clone(*r.loops.Load()), func(x *loop) bool { return x == l })
	r.loops.Store(&loops)
	if len(loops) == 0 && s.rooms[r.name] == r {
		delete(s.rooms, r.name)
		s.roomCount.Add(-1)
	}
}

// join makes c a member of the room called name.
func (l *loop) join(c *conn, name string) {
	r := l.s.joinRoom(name, l)
	m := r.local[l.idx]
	c.room, c.ridx = r, int32(len(m.conns))
	m.conns = append(m.conns, c)
}

// leave takes c out of its room, if it is in one: it gets no more
// deliveries.
func (l *loop) leave(c *conn) {
	r := c.room
	if r == nil {
		return
	}
	c.room = nil
	m := r.local[l.idx]
	last := len(m.conns) - 1
	moved := m.conns[last]
	m.conns[c.ridx] = moved
	moved.ridx = c.ridx
	m.conns[last] = nil
	m.conns = m.conns[:last]
	if last == 0 {
		l.s.leaveRoom(r, l)
	}
}

// publish delivers fr to every member of r: to this loop's members
// directly, to the other loops' through their inboxes. bf, if not nil, holds
// fr already (a delayed message) and is released.
func (l *loop) publish(r *room, fr frames, bf *bframe) {
	for _, tl := range *r.loops.Load() {
		if tl == l {
			continue
		}
		if bf == nil {
			bf = newBframe(fr) // once, for every other loop
		}
		bf.refs.Add(1)
		if !tl.post(delivery{r: r, bf: bf}) {
			bf.release()
		}
	}
	l.deliver(r, fr)
	if bf != nil {
		bf.release()
	}
}

// deliver writes fr to each of this loop's members of r: fr.z to those that
// negotiated permessage-deflate if there is a compressed run, else fr.b. A
// member whose writes fail or pile up is closed, which takes it out of the
// list: the walk goes backwards, so that the member moved into its place has
// been served already.
func (l *loop) deliver(r *room, fr frames) {
	m := r.local[l.idx]
	if m == nil {
		return
	}
	var sent, comp uint64
	for i := len(m.conns) - 1; i >= 0; i-- {
		if i >= len(m.conns) {
			continue
		}
		if c := m.conns[i]; fr.nz > 0 && c.sess.deflate {
			l.send(c, fr.z)
			comp += uint64(fr.nz)
		} else {
			l.send(c, fr.b)
		}
		sent += uint64(fr.n)
	}
	if sent != 0 {
		l.deliveries.Add(sent)
		l.msgsOut.Add(sent)
	}
	if comp != 0 {
		l.compOut.Add(comp)
	}
}

// post queues d for the loop and wakes it, unless it is awake already and
// bound to look at its inbox. It reports false when the loop has exited or is
// being forced down; the caller then still owns its reference to d.bf.
func (l *loop) post(d delivery) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.exited || l.force {
		return false
	}
	l.inbox = append(l.inbox, d)
	// kicked still set means a wake-up is pending, or the loop has not yet
	// taken its inbox (it clears kicked before it does): either way it will
	// see d.
	if !l.kicked.Swap(true) {
		l.poller.Wake()
	}
	return true
}

// deliverInbox delivers what other loops posted, taken at the top of a pass.
func (l *loop) deliverInbox() {
	for i, d := range l.posted {
		l.deliver(d.r, d.bf.frames)
		d.bf.release()
		l.posted[i] = delivery{}
	}
	l.posted = l.posted[:0]
}

// dropDeliveries releases deliveries that will not be made: the loop is
// exiting.
func dropDeliveries(ds []delivery) {
	for i, d := range ds {
		d.bf.release()
		ds[i] = delivery{}
	}
}
