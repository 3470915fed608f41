//go:build linux

package server

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsbench/wsbench/internal/heap"
	"github.com/wsbench/wsbench/internal/wire"
)

// This file is ModePush's streams. Like the delay queue (timer_linux.go) they
// run on the loop's clock: one min-heap of subscribers by when their next
// message is due, and the poller timeout wakes the loop for the first. No
// goroutine or timer per subscriber.

// pushQ holds a loop's subscribers, keyed by the loop time (ns) their next
// message is due.
type pushQ = heap.Heap[*conn]

// subscribe makes c a subscriber (its first data message in ModePush): its
// first message is due at once, then one every pushEvery.
func (l *loop) subscribe(c *conn) {
	if c.subscribed || c.state != stateOpen {
		return
	}
	c.subscribed = true
	l.pushQ.Push(l.now(), c)
}

// pushDue sends the stream messages due by now (loop time) and returns when
// the next is due; the queue must not be empty. A subscriber that has closed
// leaves the queue; one that got Config.PushCount messages too. A subscriber
// late by a whole interval or more (a loop that fell behind) gets its next
// message an interval from now rather than a burst.
func (l *loop) pushDue(now int64) int64 {
	for l.pushQ.Len() > 0 && l.pushQ.TopKey() <= now {
		due := l.pushQ.TopKey()
		c := l.pushQ.Pop()
		if c.state != stateOpen {
			continue
		}
		c.pushSeq++
		l.pushMsg = appendPushMessage(l.pushMsg[:0], c.pushSeq, time.Now())
		l.pushFrame = wire.AppendFrame(l.pushFrame[:0], ws.OpText, true, l.pushMsg, nil)
		l.msgsOut.Add(1)
		l.send(c, l.pushFrame) // may close c
		if c.state != stateOpen || (l.pushCount > 0 && c.pushSeq >= l.pushCount) {
			continue
		}
		next := due + l.pushEvery
		if next <= now {
			next = now + l.pushEvery
		}
		l.pushQ.Push(next, c)
	}
	if l.pushQ.Len() == 0 {
		return -1
	}
	return l.pushQ.TopKey()
}
