// Package heap is a binary min-heap over a slice, of values of one type by
// an int64 key (a time, in practice): the driver's open-model scheduler
// (connections by next send time), its redial planner (slots by retry time)
// and the server's delay queue (replies by due time) are each one Heap.
//
//	var h heap.Heap[*conn]
//	h.Push(c.due, c)
//	for h.Len() > 0 && h.TopKey() <= now {
//		send(h.Pop())
//	}
//
// Values with equal keys come out in the order they were pushed. The key is
// kept beside the value, so that comparing two entries is comparing two
// integers in the heap's own array, with no call (an order given as a
// function or an interface method is called through the generic
// dictionary) and no pointer to follow: as fast as the hand-written heaps it
// replaced (BenchmarkHeap).
//
// Push and Pop cost O(log n) and, once the slice has grown to the heap's
// largest size, no allocation. The zero value is an empty heap; it is not
// safe for concurrent use.
package heap

// Heap is a binary min-heap of T by int64 key, first in first out among
// equal keys. The zero value is an empty heap.
type Heap[T any] struct {
	s   []entry[T]
	seq uint64 // pushes so far: orders equal keys
}

type entry[T any] struct {
	key int64
	seq uint64
	v   T
}

// before reports whether e comes out before o.
func (e *entry[T]) before(o *entry[T]) bool {
	return e.key < o.key || (e.key == o.key && e.seq < o.seq)
}

// Len returns the number of values in the heap.
func (h *Heap[T]) Len() int { return len(h.s) }

// Top returns the value that comes out first, valid until the next Push or
// Pop; the heap must not be empty.
func (h *Heap[T]) Top() *T { return &h.s[0].v }

// TopKey returns the key of the value that comes out first; the heap must
// not be empty.
func (h *Heap[T]) TopKey() int64 { return h.s[0].key }

// Push adds v with key.
func (h *Heap[T]) Push(key int64, v T) {
	h.seq++
	e := entry[T]{key: key, seq: h.seq, v: v}
	h.s = append(h.s, e)
	// Sift the new entry up through a hole: parents move down, and e is
	// written once, where it stops.
	s := h.s
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !e.before(&s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
}

// Pop removes and returns the value that comes out first; the heap must not
// be empty. The slot it vacates is zeroed, so that the heap keeps nothing
// it gave back reachable.
func (h *Heap[T]) Pop() T {
	s := h.s
	top := s[0].v
	n := len(s) - 1
	last := s[n]
	s[n] = entry[T]{}
	s = s[:n]
	h.s = s
	if n == 0 {
		return top
	}
	// Sift the last entry down from the root through a hole.
	i := 0
	for {
		m := 2*i + 1
		if m >= n {
			break
		}
		if r := m + 1; r < n && s[r].before(&s[m]) {
			m = r
		}
		if !s[m].before(&last) {
			break
		}
		s[i] = s[m]
		i = m
	}
	s[i] = last
	return top
}
