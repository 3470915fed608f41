package netpoll

// Sort hands out one batch of readiness events for an event loop whose
// connections are found by file descriptor in byFD (a nil entry, or none:
// the descriptor is not the loop's any more). A connection that waited for
// its socket to take bytes again (*waitOut) and may now write has the flag
// cleared and is appended to writable; one with something to read (data, an
// error or a hang-up to find out about) is appended to ready. Both keep the
// events' order. waitOut gives the address of a connection's flag; pass a
// function literal that captures nothing, so the call allocates nothing.
func Sort[C any](evs []Event, byFD []*C, waitOut func(*C) *bool, ready, writable []*C) ([]*C, []*C) {
	for _, ev := range evs {
		if ev.FD < 0 || ev.FD >= len(byFD) {
			continue
		}
		c := byFD[ev.FD]
		if c == nil {
			continue
		}
		if w := waitOut(c); ev.Events&Out != 0 && *w {
			*w = false
			writable = append(writable, c)
		}
		if ev.Events&(In|Err|Hup|RdHup) != 0 {
			ready = append(ready, c)
		}
	}
	return ready, writable
}
