package driver

import "github.com/wsbench/wsbench/internal/heap"

// dueHeap is a min-heap of connections ordered by their next intended send
// time (conn.due when pushed): the open model's shared scheduler, one per
// worker, instead of one timer per connection.
type dueHeap struct{ h heap.Heap[*conn] }

func (d *dueHeap) len() int     { return d.h.Len() }
func (d *dueHeap) push(c *conn) { d.h.Push(c.due, c) }
func (d *dueHeap) top() *conn   { return *d.h.Top() }
func (d *dueHeap) pop() *conn   { return d.h.Pop() }

// take pops the next connection whose send is due by now and may be made,
// for a pacer to send on. It returns nil and how long until the next send
// is due when none is (-1: the heap is empty), or 0 once *n, the pops of
// this pass, reaches sendBudget, so a backlog cannot starve the reads.
// Connections no longer open, retiring, or holding --max-inflight messages
// (marked blocked, for the pacer to put back when a reply comes) are
// dropped from the heap.
func (d *dueHeap) take(w *worker, now int64, n *int) (*conn, int64) {
	for ; d.len() > 0; *n++ {
		c := d.top()
		if c.due > now {
			return nil, c.due - now
		}
		if *n == sendBudget {
			return nil, 0
		}
		d.pop()
		if c.state != stateOpen || c.retiring {
			continue
		}
		if w.run.maxInflight > 0 && c.outstanding() >= w.run.maxInflight {
			c.blocked = true
			continue
		}
		*n++
		return c, 0
	}
	return nil, -1
}
