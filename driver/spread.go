package driver

import "sync"

// spreadTable measures, in a broadcast run, each message's spread over its
// room: the time from the first member's arrival to the last's. Members of a
// room sit on different event loops, so each publisher's recent messages
// share a small table under a lock (one lock per publisher: loops contend
// only over the same message). A message is recorded once every member of
// its room has it; one that some member never gets (a gap) is dropped when
// its slot is reused. Rooms split over --procs processes are never complete
// in one process, so they record no spread.
type spreadTable struct {
	members int32 // room size: arrivals that complete a message
	pubs    []spreadPub
}

// spreadWindow is how many recent messages per publisher are tracked: far
// more than a publisher has in flight at broadcast rates.
const spreadWindow = 64

type spreadPub struct {
	mu    sync.Mutex
	slots [spreadWindow]spreadSlot
}

type spreadSlot struct {
	seq         uint64
	first, last int64
	n           int32
}

func newSpreadTable(publishers, members int) *spreadTable {
	return &spreadTable{members: int32(members), pubs: make([]spreadPub, publishers)}
}

// arrive notes that a member received publisher pub's message seq at rx; on
// the room's last arrival it returns the message's spread.
func (t *spreadTable) arrive(pub int, seq uint64, rx int64) (spread int64, complete bool) {
	if t == nil || pub < 0 || pub >= len(t.pubs) {
		return 0, false
	}
	p := &t.pubs[pub]
	p.mu.Lock()
	s := &p.slots[seq%spreadWindow]
	if s.n == 0 || s.seq != seq {
		*s = spreadSlot{seq: seq, first: rx, last: rx}
	} else {
		s.first, s.last = min(s.first, rx), max(s.last, rx)
	}
	s.n++
	if s.n == t.members {
		spread, complete = s.last-s.first, true
		s.n = 0
	}
	p.mu.Unlock()
	return spread, complete
}
