package metrics

import (
	"fmt"
	"strconv"
	"strings"
)

// Metric names one of the latency distributions a run records.
type Metric uint8

// The metrics a run records. Each has its own histogram in a [Shard] and a
// [Snapshot].
const (
	// RTT is the corrected round trip: from the time a message was due to be
	// sent (its intended send time) to the time its echo arrived. It includes
	// any time the sender spent behind schedule, so it does not suffer from
	// coordinated omission.
	RTT Metric = iota
	// RTTUncorrected is the round trip from the actual send to the echo.
	RTTUncorrected
	// SendLag is how far behind its intended send time a message was sent.
	SendLag
	// Connect is the time to establish the transport connection.
	Connect
	// Handshake is the time for the opening handshake once connected.
	Handshake
	// ReadLag is how long an echo waited between its arrival (the kernel's
	// receive timestamp) and the client reading it: the client's own delay,
	// kept out of RTT.
	ReadLag
	// Delivery is one-way delivery latency. In a broadcast run, the time
	// from a message's intended publish time to its arrival at one member
	// of the room (every member, the publisher included, records one). In
	// a server's stream (kind subscribe, or the stream of another protocol
	// kind), the time from the send time the server wrote into the message
	// to its arrival: two clocks, comparable only on one machine (results
	// marks it unsynchronised otherwise).
	Delivery
	// Close is, in a connection storm, the close handshake: from sending
	// the close frame to the server's close frame.
	Close
	// Spread is, in a broadcast run, one message's spread over its room:
	// from its first member's arrival to its last's (recorded once every
	// member has it).
	Spread
	// Gap is, in a server's stream (stream part), the time between two
	// stream messages arriving on one connection (the first: since the
	// subscription, or the measured window's start if later).
	Gap
	// NumMetrics is the number of metrics; it is not a metric.
	NumMetrics
)

var metricNames = [NumMetrics]string{
	RTT:            "rtt",
	RTTUncorrected: "rtt_uncorrected",
	SendLag:        "send_lag",
	Connect:        "connect",
	Handshake:      "handshake",
	ReadLag:        "read_lag",
	Delivery:       "delivery",
	Close:          "close",
	Spread:         "spread",
	Gap:            "gap",
}

// String returns the metric's stable name ("rtt", "rtt_uncorrected",
// "send_lag", "connect", "handshake", "read_lag", "delivery", "close", "spread", "gap"), as used in output and accepted by
// [ParseMetric]. A value that is not a metric prints as "Metric(N)".
func (m Metric) String() string {
	if m < NumMetrics {
		return metricNames[m]
	}
	return "Metric(" + strconv.Itoa(int(m)) + ")"
}

// ParseMetric returns the metric whose [Metric.String] name is s. The error
// for an unknown name quotes it and lists the valid names.
func ParseMetric(s string) (Metric, error) {
	for m, name := range metricNames {
		if s == name {
			return Metric(m), nil
		}
	}
	return 0, fmt.Errorf("metrics: unknown metric %q (valid: %s)", s, strings.Join(metricNames[:], ", "))
}

// Metrics returns every metric, in order. The slice is new on each call.
func Metrics() []Metric {
	ms := make([]Metric, NumMetrics)
	for i := range ms {
		ms[i] = Metric(i)
	}
	return ms
}
