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
