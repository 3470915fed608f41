//go:build linux

package driver

import (
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/internal/heap"
	"github.com/wsbench/wsbench/internal/wire"
	"github.com/wsbench/wsbench/metrics"
)

// request is the request/response workload (--kind request): each send
// the pacer makes is the Protocol's Request.Template rendered with the
// connection's next id ({{id}}: 1, 2, … per connection), its timing kept
// in the connection's table of requests in flight (flow.Inflight), not in
// the payload. A message a key matcher reads a key from that names a
// request in flight is a reply to it, in any order; after Replies replies
// the request is answered and timed from its intended send time (RTT) and
// its actual send (RTTUncorrected). A reply the Error matcher matches
// fails the request (Counts.Failed, error kind error_VALUE); a request
// without its replies after Timeout is timed out (Counts.TimedOut, error
// kind request_timeout). A message that names no request in flight goes
// to the Protocol's rules, then to the stream (worker.stream), and is
// otherwise counted as unsolicited. The first such message, or, when no
// message comes back at all, the requests sent, make the verdict's line.
type request struct {
	w       *worker
	req     *flow.Request
	timeout int64
	replies int32
	// expiry holds connections with requests in flight by the deadline of
	// their oldest (at most one entry per connection: reqConn.armed).
	expiry heap.Heap[*conn]
	vals   flow.Values
	buf    []byte // the request being rendered
	// replied: this loop has told the verdict that a reply matched.
	replied bool
	expect  string // the key matchers, for the verdict line
}

// reqConn is a connection's part of a request run.
type reqConn struct {
	tab   *flow.Inflight
	armed bool // on the expiry heap
}

func newRequest(w *worker) workload {
	req := w.run.proto.Request // scenario.Compile gives a request run one
	q := &request{w: w, req: req, timeout: int64(req.Timeout), replies: int32(max(req.Replies, 1))}
	srcs := make([]string, len(req.Keys))
	for i := range req.Keys {
		srcs[i] = req.Keys[i].Src
	}
	q.expect = strings.Join(srcs, " or ")
	return q
}

func (q *request) adopt(c *conn) {
	c.rq = &reqConn{tab: flow.NewInflight(q.req, 8)}
}

func (q *request) sends(*conn) bool { return true }
func (q *request) stopped()         {}
func (q *request) arrived() bool    { return true }
func (q *request) missed() int64    { return 0 }

// send renders and queues c's next request, due at intended, and puts it
// in flight.
func (q *request) send(c *conn, intended, now int64) {
	w := q.w
	rq := c.rq
	for q.req.IDMod > 0 && rq.tab.Span() >= q.req.IDMod {
		// Wrapped ids (MQTT's 16-bit packet ids): the next would name the
		// oldest request still in flight, which is given up as timed out.
		n, e, _ := rq.tab.Oldest()
		q.expire(c, n, e)
	}
	n := rq.tab.Next()
	q.vals = flow.Values{Conn: uint64(c.slot), Seq: c.nextSeq, ID: rq.tab.ID(n), Now: w.wallNow(now), Vars: w.vars(c)}
	q.buf = q.req.Template.Append(q.buf[:0], &q.vals)
	wireLen, zLen := w.sendMessage(c, w.run.op, q.buf)
	measured := intended >= w.run.measureStart
	if measured {
		if c.firstMeasured == noSeq {
			c.firstMeasured = c.nextSeq
		}
		w.shard.Counts.Sent++
		w.shard.Counts.BytesSent += int64(wireLen)
		if w.zip != nil {
			w.shard.Counts.DeflateRawSent += int64(len(q.buf))
			w.shard.Counts.DeflateWireSent += int64(zLen)
		}
		if w.pacing().lagged() {
			w.shard.Record(metrics.SendLag, time.Duration(now-intended))
		}
	}
	rq.tab.Add(intended, now, measured)
	c.nextSeq++
	w.outstanding++
	if !rq.armed {
		rq.armed = true
		q.expiry.Push(now+q.timeout, c)
	}
	if !q.replied && w.run.verdict.noReply.Load() == nil {
		w.run.verdict.noReply.CompareAndSwap(nil, &Mismatch{Kind: "request_timeout", Expect: q.expect, Timeout: time.Duration(q.timeout),
			Sent: clip(q.buf), SentLen: len(q.buf), SentOp: wire.OpName(w.run.op)})
	}
}

// message finds the request p answers, by the first key a key matcher
// reads; what answers none goes to the rules, then the stream, or is
// unsolicited. It reports whether a request was done with.
func (q *request) message(c *conn, op ws.OpCode, p []byte, wireLen int, rx, now int64) bool {
	w := q.w
	for i := range q.req.Keys {
		m := &q.req.Keys[i]
		v, ok := m.Value(p)
		if !ok {
			continue
		}
		k, ok := m.Key(v)
		if !ok {
			continue
		}
		n, e, found, old := c.rq.tab.Lookup(k)
		if found {
			return q.reply(c, n, e, p, wireLen, rx, now)
		}
		if old {
			// A reply to a request no longer in flight: timed out, or
			// answered already.
			w.shard.Error("reply_late")
			return false
		}
		break
	}
	if w.proto != nil && w.proto.rule(c, p) || w.streamMessage(c, p, wireLen, rx) {
		return false
	}
	if now >= w.run.measureStart {
		w.shard.Counts.Unsolicited++
	}
	q.unsolicited(c, op, p)
	return false
}

// reply accounts for p, a reply to request n of c (e): an error reply
// fails it; its last expected reply answers it.
func (q *request) reply(c *conn, n uint64, e *flow.Pending, p []byte, wireLen int, rx, now int64) bool {
	w := q.w
	q.sawReply()
	if e.Measured {
		w.shard.Counts.BytesReceived += int64(wireLen)
	}
	if q.req.Error != nil {
		if v, isErr := q.req.Error.Value(p); isErr {
			if e.Measured {
				w.shard.Counts.Failed++
				w.shard.Error(errorKind(v))
			}
			q.done(c, n)
			return true
		}
	}
	if e.Replies++; e.Replies < q.replies {
		return false
	}
	if e.Measured {
		// A reply cannot arrive before its request was sent: a stamp that
		// says so (a wall-clock step mid-pass) falls back to the read time.
		if rx < e.Sent {
			rx = now
		}
		w.shard.Counts.Received++
		w.shard.Record(metrics.RTT, time.Duration(rx-e.Intended))
		w.shard.Record(metrics.RTTUncorrected, time.Duration(rx-e.Sent))
		if w.stamps.on() {
			w.shard.Record(metrics.ReadLag, time.Duration(max(now-rx, 0)))
		}
	}
	q.done(c, n)
	return true
}

// done takes request n of c out of flight.
func (q *request) done(c *conn, n uint64) {
	c.rq.tab.Done(n)
	c.expected++
	q.w.outstanding--
}

// timers times out the requests whose replies did not come within the
// timeout of their send, oldest first, and returns how long until the
// next may (-1: none in flight).
func (q *request) timers(now int64) int64 {
	w := q.w
	for q.expiry.Len() > 0 {
		if due := q.expiry.TopKey(); due > now {
			return due - now
		}
		c := q.expiry.Pop()
		rq := c.rq
		rq.armed = false
		if c.settled || c.state == stateClosed {
			continue
		}
		for {
			n, e, ok := rq.tab.Oldest()
			if !ok {
				break
			}
			if dl := e.Sent + q.timeout; dl > now {
				rq.armed = true
				q.expiry.Push(dl, c)
				break
			}
			q.expire(c, n, e)
			w.answered(c, now) // the closed model sends the next request
		}
	}
	return -1
}

// expire gives request n of c (e) up as timed out.
func (q *request) expire(c *conn, n uint64, e *flow.Pending) {
	if e.Measured {
		q.w.shard.Counts.TimedOut++
		q.w.shard.Error("request_timeout")
	}
	q.done(c, n)
}

// settle forgets c's requests in flight and counts the measured ones.
func (q *request) settle(c *conn) int64 { return c.rq.tab.Clear() }

// sawReply tells the run, once per loop, that a reply matched its request.
func (q *request) sawReply() {
	if !q.replied {
		q.replied = true
		q.w.run.verdict.echoes.Add(1)
		signal(q.w.run.verdict.firstEcho)
	}
}

// unsolicited keeps, the first time in the run, a message that answered
// no request, beside a request c sent: for the line that says the server
// does not answer the requests.
func (q *request) unsolicited(c *conn, op ws.OpCode, p []byte) {
	v := &q.w.run.verdict
	if v.first.Load() != nil {
		return
	}
	m := &Mismatch{Kind: "unsolicited", Expect: q.expect, Timeout: time.Duration(q.timeout),
		Got: clip(p), GotLen: len(p), GotOp: wire.OpName(op), SentOp: wire.OpName(q.w.run.op)}
	if nr := v.noReply.Load(); nr != nil {
		m.Sent, m.SentLen = nr.Sent, nr.SentLen
	}
	if v.first.CompareAndSwap(nil, m) {
		signal(v.firstMismatch)
	}
}

// errorKind names an error reply by the Error matcher's value:
// error_-32001. Only letters, digits, '-', '_' and '.' are kept (others
// become '_'), at most 32 of them.
func errorKind(v []byte) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	var b [6 + 32]byte
	out := append(b[:0], "error_"...)
	for _, ch := range v[:min(len(v), 32)] {
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '-', ch == '_', ch == '.':
			out = append(out, ch)
		default:
			out = append(out, '_')
		}
	}
	return string(out)
}
