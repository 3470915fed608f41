package flow

// Inflight is one connection's table of requests awaiting replies (the
// correlation table of a request run): request n (0, 1, 2, … in send order)
// carries the id IDBase+1+n (wrapped by IDMod when set), and a reply's key
// finds it again in O(1) without allocating: the table is a ring indexed
// by n, doubled when the requests in flight span more than it holds.
// Requests are answered in any order; the oldest one still in flight is
// always at the head, and, sent first, it is the first to time out.
type Inflight struct {
	ring       []Pending
	head, next uint64 // requests head … next-1 may be in flight; next is the next to send
	live       int
	base, mod  uint64
}

// Pending is one request in flight: when it was due (Intended) and sent
// (Sent), ns on the caller's clock; the replies it got so far; whether
// it counts (Measured: sent inside the measured window).
type Pending struct {
	Intended, Sent int64
	Replies        int32
	Measured       bool
	live           bool
}

// NewInflight is a table for r's ids (IDBase, IDMod), with room for size
// requests in flight before it grows.
func NewInflight(r *Request, size int) *Inflight {
	n := 8
	for n < size {
		n <<= 1
	}
	t := &Inflight{ring: make([]Pending, n)}
	if r != nil {
		t.base, t.mod = r.IDBase, r.IDMod
	}
	return t
}

// ID is the id request n carries ({{id}}).
func (t *Inflight) ID(n uint64) uint64 {
	if t.mod > 0 {
		n %= t.mod
	}
	return t.base + 1 + n
}

// Next is the number of the next request Add will make (the requests
// sent so far).
func (t *Inflight) Next() uint64 { return t.next }

// Span is how many request numbers the requests in flight span: from the
// oldest to the next (with wrapped ids, Add must not reach IDMod).
func (t *Inflight) Span() uint64 { return t.next - t.head }

// Len is how many requests are in flight.
func (t *Inflight) Len() int { return t.live }

// Add puts the next request in flight and returns its number.
func (t *Inflight) Add(intended, sent int64, measured bool) uint64 {
	n := t.next
	if n-t.head >= uint64(len(t.ring)) {
		t.grow()
	}
	t.ring[n&uint64(len(t.ring)-1)] = Pending{Intended: intended, Sent: sent, Measured: measured, live: true}
	t.next++
	t.live++
	return n
}

// grow doubles the ring, keeping each request at its number's place.
func (t *Inflight) grow() {
	old, mask := t.ring, uint64(len(t.ring)-1)
	t.ring = make([]Pending, 2*len(old))
	nm := uint64(len(t.ring) - 1)
	for n := t.head; n < t.next; n++ {
		t.ring[n&nm] = old[n&mask]
	}
}

// Lookup finds the request a reply with key names: its number and its
// entry, or ok false when no request in flight has that id. old says the
// id is one this connection sent and that is no longer in flight (a reply
// after the request completed or timed out, or a duplicate).
func (t *Inflight) Lookup(key uint64) (n uint64, p *Pending, ok, old bool) {
	if key <= t.base {
		return 0, nil, false, false
	}
	k := key - t.base - 1
	if t.mod > 0 {
		if k >= t.mod {
			return 0, nil, false, false
		}
		// The request in flight whose number wraps to k: the span in
		// flight is below mod, so there is at most one.
		if t.head == t.next {
			return 0, nil, false, t.next > 0
		}
		n = t.head + (k+t.mod-t.head%t.mod)%t.mod
	} else {
		n = k
	}
	if n >= t.next {
		return 0, nil, false, false
	}
	if n < t.head {
		return n, nil, false, true
	}
	p = &t.ring[n&uint64(len(t.ring)-1)]
	if !p.live {
		return n, nil, false, true
	}
	return n, p, true, false
}

// Done takes request n (found by Lookup or Oldest) out of flight.
func (t *Inflight) Done(n uint64) {
	p := &t.ring[n&uint64(len(t.ring)-1)]
	if n < t.head || n >= t.next || !p.live {
		return
	}
	p.live = false
	t.live--
	for t.head < t.next && !t.ring[t.head&uint64(len(t.ring)-1)].live {
		t.head++
	}
}

// Oldest is the oldest request in flight (ok false: none).
func (t *Inflight) Oldest() (n uint64, p *Pending, ok bool) {
	if t.live == 0 {
		return 0, nil, false
	}
	return t.head, &t.ring[t.head&uint64(len(t.ring)-1)], true
}

// Clear takes every request out of flight and returns how many were
// measured (to count as lost or in flight).
func (t *Inflight) Clear() (measured int64) {
	for n := t.head; n < t.next; n++ {
		p := &t.ring[n&uint64(len(t.ring)-1)]
		if p.live {
			p.live = false
			if p.Measured {
				measured++
			}
		}
	}
	t.head, t.live = t.next, 0
	return measured
}
