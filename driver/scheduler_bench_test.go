//go:build linux

package driver

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/netpoll"
)

// The open model's timers, measured both ways (issue 4: "not one time.Timer
// per connection if that costs more than a shared scheduler"). b.N sends at
// 5,000/s over 100 connections, each connection's sends evenly spaced and on
// the 1 ms grid the driver uses; a "send" here is only counted, so what is
// measured is the scheduling alone: process CPU per send (cpu-µs/send) and
// how late each send was made (lag-p50-µs, lag-p99-µs).
//
//   - shared: what the driver does. One loop per P, each with a min-heap of
//     its connections' next sends (dueHeap) and a ticking poller it sleeps on
//     until the earliest is due, making every send that fell due when it wakes.
//   - timer-goroutine: one goroutine and one time.Timer per connection, the
//     usual shape of a goroutine-per-connection client.
//   - afterfunc: one time.AfterFunc per connection, rearmed from its callback
//     (no goroutine kept per connection, a new one per firing).
//
// go test -run '^$' -bench OpenTimers -benchtime 20000x ./driver
func BenchmarkOpenTimers(b *testing.B) {
	const (
		conns = 100
		rate  = 5000
		tick  = int64(time.Millisecond)
	)
	interval := int64(time.Second) * conns / rate
	// due is connection i's k-th intended send time, on the tick grid.
	due := func(i, k int) int64 {
		exact := int64(i)*interval/conns + int64(k)*interval
		return (exact + tick - 1) / tick * tick
	}
	measure := func(b *testing.B, body func(quota int, lags [][]int64)) {
		quota := (b.N + conns - 1) / conns // sends per connection
		lags := make([][]int64, conns)
		for i := range lags {
			lags[i] = make([]int64, 0, quota)
		}
		var u0, u1 unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &u0)
		b.ResetTimer()
		body(quota, lags)
		b.StopTimer()
		unix.Getrusage(unix.RUSAGE_SELF, &u1)
		all := slices.Concat(lags...)
		if len(all) != quota*conns {
			b.Fatalf("%d sends made, want %d", len(all), quota*conns)
		}
		slices.Sort(all)
		cpu := u1.Utime.Nano() + u1.Stime.Nano() - u0.Utime.Nano() - u0.Stime.Nano()
		b.ReportMetric(float64(cpu)/1e3/float64(len(all)), "cpu-µs/send")
		b.ReportMetric(float64(all[len(all)/2])/1e3, "lag-p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100])/1e3, "lag-p99-µs")
	}

	b.Run("shared", func(b *testing.B) {
		measure(b, func(quota int, lags [][]int64) {
			origin := time.Now()
			loops := min(runtime.GOMAXPROCS(0), conns)
			var wg sync.WaitGroup
			for l := range loops {
				wg.Go(func() {
					p, err := netpoll.NewTicking(16)
					if err != nil {
						b.Error(err)
						return
					}
					defer p.Close()
					var h dueHeap
					seq := map[*conn]int{}
					idx := map[*conn]int{}
					for i := l; i < conns; i += loops {
						c := &conn{due: due(i, 0)}
						idx[c] = i
						h.push(c)
					}
					for h.len() > 0 {
						now := int64(time.Since(origin))
						for h.len() > 0 && h.top().due <= now {
							c := h.pop()
							i := idx[c]
							lags[i] = append(lags[i], now-c.due)
							if seq[c]++; seq[c] < quota {
								c.due = due(i, seq[c])
								h.push(c)
							}
						}
						if h.len() > 0 {
							if _, err := p.WaitFor(time.Duration(h.top().due - now)); err != nil {
								b.Error(err)
								return
							}
						}
					}
				})
			}
			wg.Wait()
		})
	})

	b.Run("timer-goroutine", func(b *testing.B) {
		measure(b, func(quota int, lags [][]int64) {
			origin := time.Now()
			var wg sync.WaitGroup
			for i := range conns {
				wg.Go(func() {
					t := time.NewTimer(time.Duration(due(i, 0)))
					for k := range quota {
						<-t.C
						now := int64(time.Since(origin))
						lags[i] = append(lags[i], now-due(i, k))
						if k+1 < quota {
							t.Reset(time.Duration(due(i, k+1) - now))
						}
					}
				})
			}
			wg.Wait()
		})
	})

	b.Run("afterfunc", func(b *testing.B) {
		measure(b, func(quota int, lags [][]int64) {
			origin := time.Now()
			var wg sync.WaitGroup
			wg.Add(conns)
			for i := range conns {
				k := 0
				var t *time.Timer
				// Armed only once t is set: the callback rearms t.
				t = time.AfterFunc(time.Hour, func() {
					now := int64(time.Since(origin))
					lags[i] = append(lags[i], now-due(i, k))
					if k++; k < quota {
						t.Reset(time.Duration(due(i, k) - now))
					} else {
						wg.Done()
					}
				})
				t.Reset(time.Duration(due(i, 0)))
			}
			wg.Wait()
		})
	})
}
