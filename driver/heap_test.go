package driver

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// TestDueHeapOrders pushes random due times and checks they pop in order.
func TestDueHeapOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h dueHeap
	want := make([]int64, 500)
	for i := range want {
		want[i] = r.Int64N(1000)
		h.push(&conn{due: want[i]})
	}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	for i, w := range want {
		if got := h.pop().due; got != w {
			t.Fatalf("pop %d = %d, want %d", i, got, w)
		}
	}
	if h.len() != 0 {
		t.Fatalf("heap not empty: %d", h.len())
	}
}
