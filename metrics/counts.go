package metrics

// Counts is the message and connection accounting of a run, or of one shard
// of it. Its invariant is that every sent message is received, lost or still
// in flight (or, a request, timed out or failed): Sent == Received +
// TimedOut + Failed + Lost + InFlight (see [Counts.Balanced]).
type Counts struct {
	// ConnsAttempted counts connection attempts.
	ConnsAttempted int64
	// ConnsOpened counts connections that completed their handshake.
	ConnsOpened int64
	// ConnsFailed counts connection attempts that failed.
	ConnsFailed int64
	// ConnsDropped counts opened connections that ended before the run
	// closed them: the server closed them, reset them or broke the protocol
	// (the errors say which).
	ConnsDropped int64

	// Sent counts messages sent.
	Sent int64
	// Received counts sent messages whose reply arrived.
	Received int64
	// Lost counts sent messages given up on: timed out, or their connection
	// closed before the reply arrived.
	Lost int64
	// InFlight counts sent messages still awaiting a reply when counted.
	InFlight int64

	// Unsent counts, in the open model, sends that were due but never made
	// before the run stopped. They are not part of Sent.
	Unsent int64

	// BytesSent counts payload bytes sent.
	BytesSent int64
	// BytesReceived counts payload bytes received.
	BytesReceived int64

	// Broadcast runs: Deliveries counts measured messages received by room
	// members (publishers' own copies included); DeliveryGaps the messages a
	// member never got: skipped (a late arrival takes its gap back), or
	// still missing when the run ended; DeliveriesLate those that arrived after a
	// later one of the same publisher (out of order); DeliveriesDup those a
	// member received again (not counted in Deliveries); DeliveriesInGrace
	// those of Deliveries that arrived after sending stopped, in the grace
	// period.
	Deliveries        int64
	DeliveryGaps      int64
	DeliveriesLate    int64
	DeliveriesDup     int64
	DeliveriesInGrace int64

	// Streams (stream part: kind subscribe, and the server's stream of
	// the other protocol kinds): Stream counts measured stream messages
	// (duplicates not included); StreamGaps the sequence numbers skipped
	// (a late arrival takes its gap back); StreamLate those that arrived
	// after a later one; StreamDups those that arrived again;
	// StreamStalls the gaps between stream messages longer than the
	// stream's stall; StreamOther the messages of a subscribe run that
	// were not the stream's; StreamEarly stream messages whose send time
	// was after their arrival (clocks apart: recorded as 0 delivery).
	Stream       int64
	StreamGaps   int64
	StreamLate   int64
	StreamDups   int64
	StreamStalls int64
	StreamOther  int64
	StreamEarly  int64
	// StreamSilent counts connections whose stream had been silent for
	// longer than the stall when sending stopped (kind subscribe).
	StreamSilent int64

	// Reconnects counts slots reopened after their connection dropped or
	// failed to open (--reconnect).
	Reconnects int64

	// permessage-deflate runs: the measured messages' payload bytes before
	// compression (Raw) and as they crossed the wire (Wire), per direction.
	DeflateRawSent, DeflateWireSent         int64
	DeflateRawReceived, DeflateWireReceived int64

	// flowrun: scripted flows (kind flow). Sessions counts the scripts
	// started (a long-lived connection's every round of its steps, or one
	// per connection at a session rate), SessionsFailed those that ended on
	// a failed step (a timeout, a mismatch, the connection closing), not
	// those the run's end stopped. NoReply counts sent messages no step
	// waits a reply for (a send followed by a think, a receive, a ping, a
	// close or the script's end): done once sent, neither received nor lost.
	// Awaited counts the steps that waited for the server (expect,
	// receive, ping) and got what they waited for.
	Sessions, SessionsFailed int64
	NoReply                  int64
	Awaited                  int64
	// rpc: request/response runs (kind request). TimedOut counts measured
	// requests given up on after their timeout, Failed those answered with
	// an error reply (the errors say which: error_CODE); both are part of
	// the balance beside Received (answered) and Lost. Unsolicited counts
	// messages that answered no request in flight and that no rule or
	// stream claimed (not part of the balance: nothing sent asked for them).
	TimedOut    int64
	Failed      int64
	Unsolicited int64
}

// Sub subtracts every field of o from c: with o an earlier state of c, what
// happened in between.
func (c *Counts) Sub(o Counts) {
	c.ConnsAttempted -= o.ConnsAttempted
	c.ConnsOpened -= o.ConnsOpened
	c.ConnsFailed -= o.ConnsFailed
	c.ConnsDropped -= o.ConnsDropped
	c.Sent -= o.Sent
	c.Received -= o.Received
	c.Lost -= o.Lost
	c.InFlight -= o.InFlight
	c.Unsent -= o.Unsent
	c.BytesSent -= o.BytesSent
	c.BytesReceived -= o.BytesReceived
	c.Deliveries -= o.Deliveries
	c.DeliveryGaps -= o.DeliveryGaps
	c.DeliveriesLate -= o.DeliveriesLate
	c.DeliveriesDup -= o.DeliveriesDup
	c.DeliveriesInGrace -= o.DeliveriesInGrace
	c.Reconnects -= o.Reconnects
	// stream part
	c.Stream -= o.Stream
	c.StreamGaps -= o.StreamGaps
	c.StreamLate -= o.StreamLate
	c.StreamDups -= o.StreamDups
	c.StreamStalls -= o.StreamStalls
	c.StreamOther -= o.StreamOther
	c.StreamEarly -= o.StreamEarly
	c.StreamSilent -= o.StreamSilent
	c.DeflateRawSent -= o.DeflateRawSent
	c.DeflateWireSent -= o.DeflateWireSent
	c.DeflateRawReceived -= o.DeflateRawReceived
	c.DeflateWireReceived -= o.DeflateWireReceived
	c.Sessions -= o.Sessions // flowrun
	c.SessionsFailed -= o.SessionsFailed
	c.NoReply -= o.NoReply
	c.Awaited -= o.Awaited
	// rpc
	c.TimedOut -= o.TimedOut
	c.Failed -= o.Failed
	c.Unsolicited -= o.Unsolicited
}

// Add adds every field of o to c.
func (c *Counts) Add(o Counts) {
	c.ConnsAttempted += o.ConnsAttempted
	c.ConnsOpened += o.ConnsOpened
	c.ConnsFailed += o.ConnsFailed
	c.ConnsDropped += o.ConnsDropped
	c.Sent += o.Sent
	c.Received += o.Received
	c.Lost += o.Lost
	c.InFlight += o.InFlight
	c.Unsent += o.Unsent
	c.BytesSent += o.BytesSent
	c.BytesReceived += o.BytesReceived
	c.Deliveries += o.Deliveries
	c.DeliveryGaps += o.DeliveryGaps
	c.DeliveriesLate += o.DeliveriesLate
	c.DeliveriesDup += o.DeliveriesDup
	c.DeliveriesInGrace += o.DeliveriesInGrace
	c.Reconnects += o.Reconnects
	// stream part
	c.Stream += o.Stream
	c.StreamGaps += o.StreamGaps
	c.StreamLate += o.StreamLate
	c.StreamDups += o.StreamDups
	c.StreamStalls += o.StreamStalls
	c.StreamOther += o.StreamOther
	c.StreamEarly += o.StreamEarly
	c.StreamSilent += o.StreamSilent
	c.DeflateRawSent += o.DeflateRawSent
	c.DeflateWireSent += o.DeflateWireSent
	c.DeflateRawReceived += o.DeflateRawReceived
	c.DeflateWireReceived += o.DeflateWireReceived
	c.Sessions += o.Sessions // flowrun
	c.SessionsFailed += o.SessionsFailed
	c.NoReply += o.NoReply
	c.Awaited += o.Awaited
	// rpc
	c.TimedOut += o.TimedOut
	c.Failed += o.Failed
	c.Unsolicited += o.Unsolicited
}

// Balanced reports whether every sent message is accounted for:
// Sent == Received + TimedOut + Failed + Lost + InFlight (+ NoReply: a
// flow's sends that await no reply).
func (c Counts) Balanced() bool {
	return c.Imbalance() == 0
}

// Imbalance returns Sent - (Received + TimedOut + Failed + Lost +
// InFlight + NoReply): positive when sent
// messages are unaccounted for, negative when more are accounted for than were
// sent. It is 0 for balanced counts.
func (c Counts) Imbalance() int64 {
	return c.Sent - (c.Received + c.TimedOut + c.Failed + c.Lost + c.InFlight + c.NoReply)
}
