package metrics_test

import (
	"fmt"
	"sync"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

func Example() {
	rec := metrics.NewRecorder()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		shard := rec.NewShard() // one per goroutine, never shared
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 250; i++ {
				shard.Counts.Sent++
				shard.Counts.Received++
				shard.Record(metrics.RTT, time.Duration(i)*time.Millisecond/100)
			}
			shard.Record(metrics.RTT, 2*time.Minute) // beyond 60 s: clamped
			shard.Error("timeout")
		}()
	}
	wg.Wait() // every shard owner has stopped before Snapshot

	snap, err := rec.Snapshot()
	if err != nil {
		fmt.Println(err)
		return
	}
	rtt := snap.Hist[metrics.RTT]
	s := rtt.Summary()
	fmt.Println("sent", snap.Counts.Sent, "balanced", snap.Counts.Balanced())
	fmt.Println("errors", snap.Errors)
	fmt.Println("rtt count", s.Count, "clamped", rtt.Clamped())
	fmt.Println("rtt p50", rtt.Percentile(50), "p99", rtt.Percentile(99))
	// Output:
	// sent 1000 balanced true
	// errors map[timeout:4]
	// rtt count 1004 clamped 4
	// rtt p50 1.26ms p99 2.491ms
}
