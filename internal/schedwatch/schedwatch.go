// Package schedwatch measures the scheduling delay a machine shows while a
// test runs, so that the test's upper bounds on when things happen can scale
// with it: a busy machine loosens them instead of failing the test.
//
//	stop := schedwatch.Watch()
//	// … run what the test measures …
//	d := stop()
//	if took > want+4*d.Max { t.Errorf(…) }
package schedwatch

import (
	"sync"
	"time"
)

// Delay is how late a goroutine sleeping 1 ms at a time woke while a test
// ran: the scheduling delay the machine (other processes, the race detector)
// showed that test.
type Delay struct {
	Max, Mean time.Duration
}

// Watch starts watching the scheduling delay; stop ends the watch and
// returns what it saw.
func Watch() (stop func() Delay) {
	done := make(chan struct{})
	var (
		wg  sync.WaitGroup
		d   Delay
		sum time.Duration
		n   int
	)
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			t := time.Now()
			time.Sleep(time.Millisecond)
			late := max(time.Since(t)-time.Millisecond, 0)
			d.Max = max(d.Max, late)
			sum += late
			n++
		}
	})
	return func() Delay {
		close(done)
		wg.Wait()
		if n > 0 {
			d.Mean = sum / time.Duration(n)
		}
		return d
	}
}
