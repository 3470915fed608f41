package driver

// dueHeap is a min-heap of connections ordered by their next intended send
// time: the open model's shared scheduler, one per worker, instead of one timer
// per connection.
type dueHeap []*conn

func (h *dueHeap) push(c *conn) {
	*h = append(*h, c)
	h.up(len(*h) - 1)
}

func (h dueHeap) top() *conn { return h[0] }

func (h *dueHeap) pop() *conn {
	old := *h
	c := old[0]
	n := len(old) - 1
	old[0] = old[n]
	old[n] = nil
	*h = old[:n]
	if n > 0 {
		h.down(0)
	}
	return c
}

func (h dueHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].due <= h[i].due {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (h dueHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].due < h[l].due {
			m = r
		}
		if h[i].due <= h[m].due {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
