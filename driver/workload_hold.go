//go:build linux

package driver

// hold is --kind hold: connections are opened and kept open. Without a
// rate (run.hold) they send nothing and only answer the server's pings;
// with --rate they send light traffic on the open model's schedule, echoed
// as in the echo workload.
type hold struct{ *echo }

func newHold(w *worker) workload { return hold{&echo{w: w}} }

func (h hold) sends(*conn) bool { return !h.w.run.hold }
