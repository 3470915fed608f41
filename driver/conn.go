package driver

import "github.com/wsbench/wsbench/internal/flow"

const noSeq = ^uint64(0)

// Connection states.
const (
	stateOpen    uint8 = iota // exchanging messages
	stateClosing              // our close frame is sent; waiting for the server's
	stateClosed               // file descriptor closed
)

// conn is one client connection, owned by exactly one worker. An idle conn is
// this struct and a kernel socket: no goroutine, no read buffer. carry and frag
// are allocated only while a partial frame or a fragmented message is
// outstanding; pending keeps the few bytes of capacity one message needs.
type conn struct {
	fd    int
	slot  int // the connection's index in the run
	sched int // its index in the open-model schedule (-1: it never sends)
	state uint8

	nextSeq       uint64 // sequence number of the next message to send
	expected      uint64 // sequence number of the next reply expected
	firstMeasured uint64 // first sequence number sent inside the measured window
	settled       bool   // its outstanding messages are already counted as lost or in flight

	due     int64   // open model: intended time of the next send (ns since run origin)
	exact   float64 // Poisson arrivals: that send's exact time, before the tick
	blocked bool    // open model: a send is due but --max-inflight is reached
	// retiring: a staged run's plan closed its slot; it sends no more and
	// closes once its replies are in (due: by then at the latest).
	retiring bool

	// Broadcast: the room, the publisher index (-1: a listener only), and the
	// next sequence number expected from each of the room's publishers.
	room int
	pub  int32
	next []uint64
	seen []uint64 // per publisher: which of the 64 before next arrived

	// stream part: the connection's place in the run's stream (nil: the
	// run has none).
	stream *flow.StreamConn
	flow   *flowConn // flowrun: kind flow's session (workload_flow.go)

	readState        // the read side: a partial frame, a fragmented message (clientcodec.go)
	pending   []byte // bytes queued to send: frames made since the last flush, or left by a short write

	// rpc: a request run's requests in flight (nil: another kind), and
	// the connection's template variables when its opening captured some
	// (nil: its slot's data row; see worker.vars).
	rq   *reqConn
	vars [][]byte
	// pkt holds the start of a protocol packet (Protocol.Packets: MQTT)
	// whose rest is in the next message.
	pkt []byte

	dirty     bool // on the worker's flush list
	waitOut   bool // the socket took only part of pending; waiting for it to become writable
	polledOut bool // registered for writability with epoll
}

// outstanding is how many sent messages still await a reply.
func (c *conn) outstanding() uint64 { return c.nextSeq - c.expected }

// measuredIn counts the sequence numbers in [from, to) that belong to the measured window.
func (c *conn) measuredIn(from, to uint64) int64 {
	if from < c.firstMeasured {
		from = c.firstMeasured
	}
	if to <= from {
		return 0
	}
	return int64(to - from)
}

// connWaitOut is the loop's way to c.waitOut, for netpoll.Sort.
func connWaitOut(c *conn) *bool { return &c.waitOut }
