package main

import (
	"sync"
	"time"
)

// schedDelay is how late a goroutine sleeping 1 ms at a time woke while a
// test ran: the scheduling delay the machine (other processes, the race
// detector) showed that test. Upper bounds on when things happen scale with
// it, so that a busy machine loosens them instead of failing the test.
type schedDelay struct {
	Max, Mean time.Duration
}

// watchSched starts watching the scheduling delay; stop ends the watch and
// returns what it saw.
func watchSched() (stop func() schedDelay) {
	done := make(chan struct{})
	var (
		wg  sync.WaitGroup
		d   schedDelay
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
	return func() schedDelay {
		close(done)
		wg.Wait()
		if n > 0 {
			d.Mean = sum / time.Duration(n)
		}
		return d
	}
}
