package flow

// This file is the accounting of a server-pushed stream (Stream), sans-IO:
// the caller passes each message with its arrival time on the caller's
// clock and as Unix time; Account says what the message was (a stream
// message or not, its gap since the previous one, its place in the
// sequence, its one-way delivery latency). The driver turns the Arrival
// into counts and histograms; tests feed it sequences without a socket.

// StreamConn is one connection's place in its stream. Start it when the
// connection subscribes; it allocates nothing after.
type StreamConn struct {
	// last is the arrival of the previous stream message (or, before the
	// first, the subscription), on the caller's clock.
	last int64
	// window is when the measured window opens: a message that arrives
	// before it is warm-up (its place in the sequence is kept, nothing
	// counted).
	window int64
	// next is the sequence number expected next; seen bit k says message
	// next-1-k arrived (the last 64), which tells a duplicate from a late
	// arrival. hasSeq: a sequence number has been read.
	next, seen uint64
	hasSeq     bool
	// base is where the sequence started: an arrival from before it was
	// never skipped (Before).
	base uint64
}

// Start puts c at the start of a stream: subscribed is when the
// connection subscribed, window when the measured window opens (both on
// the caller's clock; window ≤ subscribed: from the subscription on).
// The first message's gap is measured from the later of the two.
func (c *StreamConn) Start(subscribed, window int64) {
	*c = StreamConn{last: subscribed, window: window}
}

// Silent reports whether c's stream has been silent for longer than the
// stall at end (the caller's clock): no stream message since the later of
// the last one and the window's start. Without a stall, never.
func (s *Stream) Silent(c *StreamConn, end int64) bool {
	return s.Stall > 0 && end-max(c.last, c.window) > int64(s.Stall)
}

// Arrival is what one message was to its connection's stream.
type Arrival struct {
	// Stream: the message matched Stream.Match; otherwise nothing else is set.
	Stream bool
	// Measured: it arrived inside the measured window (warm-up arrivals
	// only move the sequence on).
	Measured bool
	// Dup: its sequence number arrived before (not another stream message:
	// no gap, no latency). Late: it arrived after a later one and fills
	// the gap counted then, unless Before: it is from before the sequence
	// started (the connection's first arrival, or Stream.SeqStart), so no
	// gap was counted for it. Skipped: the sequence numbers it jumped over.
	Dup, Late, Before bool
	Skipped           uint64
	// BadSeq: Seq is set but did not read a number from the message.
	BadSeq bool
	// Gap is the time since the previous stream message on the
	// connection (for the first: since the subscription, or the window's
	// start if later), in ns; Stall says it is longer than Stream.Stall.
	Gap   int64
	Stall bool
	// Latency is the one-way delivery latency, ns (arrival minus the
	// message's Sent time), when HasLatency; Early says the Sent time was
	// after the arrival (clocks apart), and Latency is then 0.
	Latency    int64
	HasLatency bool
	Early      bool
	// BadSent: Sent is set but did not read a number from the message.
	BadSent bool
}

// Account accounts for message p arriving on c at rx (the caller's clock)
// and unix (the same instant as Unix ns, for the one-way latency). It
// allocates nothing for JSON paths and byte ranges.
func (s *Stream) Account(c *StreamConn, p []byte, rx, unix int64) Arrival {
	var a Arrival
	if !s.Match.Matches(p) {
		return a
	}
	a.Stream = true
	a.Measured = rx >= c.window
	if s.Seq != nil {
		if v, ok := s.Seq.Value(p); !ok {
			a.BadSeq = true
		} else if seq, ok := s.seqNumber(v); !ok {
			a.BadSeq = true
		} else if !c.hasSeq && s.HasSeqStart && seq >= s.SeqStart {
			c.hasSeq, c.next, c.base = true, s.SeqStart, s.SeqStart
			c.sequence(seq, &a)
		} else if c.sequence(seq, &a); a.Dup {
			return a
		}
	}
	if a.Measured {
		from := max(c.last, c.window)
		a.Gap = max(rx-from, 0)
		a.Stall = s.Stall > 0 && a.Gap > int64(s.Stall)
	}
	c.last = max(c.last, rx)
	if s.Sent != nil {
		v, ok := s.Sent.Value(p)
		var sent int64
		if ok {
			sent, ok = unixNanos(v, int64(s.Unit))
		}
		switch {
		case !ok:
			a.BadSent = true
		case unix < sent:
			a.HasLatency, a.Early = true, true
		default:
			a.HasLatency, a.Latency = true, unix-sent
		}
	}
	return a
}

// seqNumber reads a sequence number: a bytes matcher's big-endian bytes,
// or a decimal number, bare or quoted.
func (s *Stream) seqNumber(v []byte) (uint64, bool) {
	if s.Seq.Binary() {
		return s.Seq.Key(v)
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
		n = n*10 + uint64(b-'0')
	}
	return n, true
}

// sequence places seq in c's sequence (as the broadcast workload does per
// publisher): the next one, a jump over some (Skipped), or one from before
// the last, which arrived already (Dup) or comes late and fills its gap
// (Late). The first sequence number read starts the sequence.
func (c *StreamConn) sequence(seq uint64, a *Arrival) {
	switch next := c.next; {
	case !c.hasSeq:
		c.hasSeq, c.next, c.base = true, seq+1, seq
		c.seen = 1
	case seq == next:
		c.next = seq + 1
		c.seen = c.seen<<1 | 1
	case seq > next:
		gap := seq - next
		a.Skipped = gap
		c.next = seq + 1
		if gap+1 >= 64 {
			c.seen = 1
		} else {
			c.seen = c.seen<<(gap+1) | 1
		}
	default:
		k := next - 1 - seq
		if k < 64 && c.seen>>k&1 == 1 {
			a.Dup = true
			return
		}
		a.Late, a.Before = true, seq < c.base
		if k < 64 {
			c.seen |= 1 << k
		}
	}
}

// unixNanos reads a time in units of unit ns since the Unix epoch: a
// decimal number, bare or quoted, with an optional fraction (1.5 in
// seconds is 1.5e9 ns). Fraction digits below a nanosecond are dropped.
func unixNanos(v []byte, unit int64) (int64, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if unit <= 0 {
		unit = 1
	}
	var whole int64
	i := 0
	for ; i < len(v) && v[i] != '.'; i++ {
		b := v[i]
		if b < '0' || b > '9' || whole > (1<<62)/10 {
			return 0, false
		}
		whole = whole*10 + int64(b-'0')
	}
	if i == 0 || whole > (1<<62)/unit {
		return 0, false
	}
	ns := whole * unit
	if i < len(v) { // a fraction of a unit
		scale := unit
		for _, b := range v[i+1:] {
			if b < '0' || b > '9' {
				return 0, false
			}
			scale /= 10
			ns += int64(b-'0') * scale
		}
	}
	return ns, true
}
