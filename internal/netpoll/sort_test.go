package netpoll

import (
	"slices"
	"testing"
)

type sortConn struct {
	name    string
	waitOut bool
}

func TestSort(t *testing.T) {
	a, b, c := &sortConn{name: "a", waitOut: true}, &sortConn{name: "b"}, &sortConn{name: "c", waitOut: true}
	byFD := []*sortConn{nil, a, b, nil, c}
	evs := []Event{
		{FD: 4, Events: Out},      // c waited: writable only
		{FD: 1, Events: In | Out}, // a: readable and writable
		{FD: 2, Events: Out},      // b did not wait: nothing
		{FD: 3, Events: In},       // gone
		{FD: 9, Events: In},       // out of range
		{FD: -1, Events: In},      // never
		{FD: 2, Events: Hup},      // a hang-up is read to be found out
	}
	ready, writable := Sort(evs, byFD, func(c *sortConn) *bool { return &c.waitOut }, nil, nil)
	names := func(cs []*sortConn) (s []string) {
		for _, c := range cs {
			s = append(s, c.name)
		}
		return s
	}
	if got, want := names(ready), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("ready %v, want %v", got, want)
	}
	if got, want := names(writable), []string{"c", "a"}; !slices.Equal(got, want) {
		t.Errorf("writable %v, want %v", got, want)
	}
	if a.waitOut || c.waitOut {
		t.Error("the waitOut flags of the writable connections were not cleared")
	}
	// A second Out for c no longer makes it writable: it stopped waiting.
	_, writable = Sort([]Event{{FD: 4, Events: Out}}, byFD, func(c *sortConn) *bool { return &c.waitOut }, nil, writable[:0])
	if len(writable) != 0 {
		t.Errorf("writable %v after the flag was cleared", names(writable))
	}
}

func BenchmarkSort(b *testing.B) {
	conns := make([]*sortConn, 64)
	evs := make([]Event, 64)
	for i := range conns {
		conns[i] = &sortConn{}
		evs[i] = Event{FD: i, Events: In}
	}
	ready := make([]*sortConn, 0, 64)
	var writable []*sortConn
	b.ReportAllocs()
	for b.Loop() {
		ready, writable = Sort(evs, conns, func(c *sortConn) *bool { return &c.waitOut }, ready[:0], writable[:0])
	}
}
