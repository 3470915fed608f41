package heap

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

type item struct {
	key int64
	seq int // order of pushing, to check ties
}

// TestHeapOrders interleaves pushes and pops of random keys (many equal)
// and checks every pop against a sorted model of what is in the heap.
func TestHeapOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Heap[item]
	var model []int64 // keys in the heap, sorted
	for i := range 5000 {
		if r.IntN(3) > 0 || h.Len() == 0 {
			k := r.Int64N(100)
			h.Push(k, item{key: k, seq: i})
			j, _ := slices.BinarySearch(model, k)
			model = slices.Insert(model, j, k)
		} else {
			if got, key := h.Top().key, h.TopKey(); got != model[0] || key != got {
				t.Fatalf("step %d: top %d (key %d), want %d", i, got, key, model[0])
			}
			if got := h.Pop().key; got != model[0] {
				t.Fatalf("step %d: pop %d, want %d", i, got, model[0])
			}
			model = model[1:]
		}
		if h.Len() != len(model) {
			t.Fatalf("step %d: Len %d, want %d", i, h.Len(), len(model))
		}
	}
	for len(model) > 0 {
		if got := h.Pop().key; got != model[0] {
			t.Fatalf("drain: pop %d, want %d", got, model[0])
		}
		model = model[1:]
	}
	if h.Len() != 0 {
		t.Fatalf("Len %d after draining", h.Len())
	}
}

// TestHeapTiesFirstInFirstOut: values of equal keys come out in the order
// they were pushed, pushes and pops interleaved.
func TestHeapTiesFirstInFirstOut(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h Heap[item]
	var prev item
	pushed := 0
	check := func(e item) {
		if e.key < prev.key || (e.key == prev.key && e.seq < prev.seq) {
			t.Fatalf("(key %d, push #%d) after (key %d, push #%d)", e.key, e.seq, prev.key, prev.seq)
		}
		prev = e
	}
	for range 50 {
		for range r.IntN(40) {
			// Few distinct keys, so that ties are common; never below
			// what was popped already.
			k := prev.key + r.Int64N(5)
			h.Push(k, item{key: k, seq: pushed})
			pushed++
		}
		for range r.IntN(40) {
			if h.Len() == 0 {
				break
			}
			check(h.Pop())
		}
	}
	for h.Len() > 0 {
		check(h.Pop())
	}
}

// TestHeapPopClearsSlot: Pop zeroes the slot it vacates, so a popped pointer
// is not kept reachable by the heap's array.
func TestHeapPopClearsSlot(t *testing.T) {
	var h Heap[*item]
	for k := range int64(4) {
		h.Push(k, &item{key: k})
	}
	h.Pop()
	if tail := h.s[:4][3].v; tail != nil {
		t.Fatalf("vacated slot still holds %+v", *tail)
	}
}

// TestHeapDoesNotAllocate: once the slice has grown, Push and Pop allocate
// nothing.
func TestHeapDoesNotAllocate(t *testing.T) {
	var h Heap[item]
	for i := range 64 {
		h.Push(int64(i*7%64), item{})
	}
	k := int64(0)
	if allocs := testing.AllocsPerRun(1000, func() {
		e := h.Pop()
		k += 13
		h.Push(k%97, e)
	}); allocs != 0 {
		t.Fatalf("%.1f allocations per Pop + Push", allocs)
	}
}

// handHeap is the hand-written heap of *item by key that Heap replaced in
// the driver (dueHeap): the baseline for BenchmarkHeap.
type handHeap []*item

func (h *handHeap) push(c *item) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].key <= s[i].key {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *handHeap) pop() *item {
	old := *h
	c := old[0]
	n := len(old) - 1
	old[0] = old[n]
	old[n] = nil
	s := old[:n]
	*h = s
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].key < s[l].key {
			m = r
		}
		if s[i].key <= s[m].key {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	return c
}

// BenchmarkHeap is one Pop and one Push (the next due time, later than
// all) on a heap of n pointers (the driver's open model with n connections
// on a loop), next to the hand-written heap of pointers it replaced, which
// compares through the pointers.
func BenchmarkHeap(b *testing.B) {
	for _, n := range []int{100, 10000} {
		items := make([]*item, n)
		for i := range items {
			items[i] = &item{}
		}
		// Connections are made in one order and fall due in another.
		rand.New(rand.NewPCG(7, 8)).Shuffle(n, func(i, j int) { items[i], items[j] = items[j], items[i] })
		b.Run("generic-"+strconv.Itoa(n), func(b *testing.B) {
			var h Heap[*item]
			for i, it := range items {
				it.key = int64(i)
				h.Push(it.key, it)
			}
			b.ReportAllocs()
			k := int64(n)
			for b.Loop() {
				it := h.Pop()
				k++
				it.key = k
				h.Push(k, it)
			}
		})
		b.Run("hand-written-"+strconv.Itoa(n), func(b *testing.B) {
			var h handHeap
			for i, it := range items {
				it.key = int64(i)
				h.push(it)
			}
			b.ReportAllocs()
			k := int64(n)
			for b.Loop() {
				it := h.pop()
				k++
				it.key = k
				h.push(it)
			}
		})
	}
}
