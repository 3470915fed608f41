package scenario

import (
	"math"
	"time"
)

// Schedule is the open model's send plan: Rate messages per second in total,
// spread evenly over Conns connections. Message n of the whole run (n = 0, 1, …)
// is due at n/Rate seconds and belongs to connection n mod Conns, so every
// connection sends every Conns/Rate seconds, offset by its index.
//
// With Tick > 0 the plan is quantized: each send is due at the first multiple
// of Tick at or after its exact time, so the sends of one tick go out
// together and the client wakes once per tick instead of once per message.
// The rate is unchanged; arrivals are even at the scale of a tick and come in
// bursts of Rate × Tick within it. Latency is measured from these due times,
// so the quantization never shows as client lag.
//
// With Poisson, each connection's sends form a Poisson process of rate
// Rate/Conns instead: exponential gaps (mean Conns/Rate) drawn from a
// generator keyed by Seed, connection and message index, so a schedule is
// the same every time it is computed, in one process or split over several.
type Schedule struct {
	Rate    float64
	Conns   int
	Tick    time.Duration
	Poisson bool
	Seed    uint64
}

// Arrival names the open model's arrival process; the empty Arrival is
// ArrivalUniform.
type Arrival string

// Arrival processes of the open model.
const (
	ArrivalUniform Arrival = "uniform"
	ArrivalPoisson Arrival = "poisson"
)

// Schedule returns the open-model schedule of s (zero Schedule for the closed model).
func (s Spec) Schedule() Schedule {
	return Schedule{Rate: s.Rate, Conns: s.Conns, Tick: time.Duration(s.Tick), Poisson: s.Arrival == ArrivalPoisson, Seed: s.Seed}
}

// Senders is how many of conns connections send on the schedule: all of
// them, or in a broadcast run the publishers of each room (the rate is
// theirs, and each publisher's send interval is Rate / Senders).
func (s Spec) Senders(conns int) int {
	if s.Kind == KindBroadcast && s.RoomSize > 0 {
		return conns / s.RoomSize * s.Publishers
	}
	return conns
}

// Gap is a Poisson schedule's exponential wait, in nanoseconds, before
// connection conn's message k (after message k-1, or the start for k = 0).
func (s Schedule) Gap(conn int, k uint64) float64 {
	return s.Exp(conn, k) * float64(s.Conns) / s.Rate * 1e9
}

// Exp is the unit-mean exponential that Gap scales: a pure function of
// (Seed, conn, k).
func (s Schedule) Exp(conn int, k uint64) float64 {
	// splitmix64 of (seed, conn, k): independent uniforms, no state.
	x := s.Seed ^ uint64(conn)*0x9e3779b97f4a7c15 ^ k*0xbf58476d1ce4e5b9
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	u := (float64(x>>11) + 0.5) / (1 << 53) // in (0, 1)
	return -math.Log(u)
}

// Quantize is the due time of a send whose exact time is t (ns): the first
// multiple of Tick at or after it, saturating at math.MaxInt64.
func (s Schedule) Quantize(t float64) time.Duration {
	if t >= math.MaxInt64 {
		return math.MaxInt64
	}
	d := time.Duration(math.Round(t))
	if s.Tick <= 0 {
		return d
	}
	q := (d + s.Tick - 1) / s.Tick
	if q > math.MaxInt64/s.Tick {
		return math.MaxInt64
	}
	return q * s.Tick
}

// Interval is the time between two sends of one connection.
func (s Schedule) Interval() time.Duration {
	return time.Duration(math.Round(float64(s.Conns) / s.Rate * 1e9))
}

// At returns when connection conn's k-th message (k = 0, 1, …) is due, as an
// offset from the start of the schedule. It is computed from the absolute
// index, never by adding intervals, so it does not drift; past the largest
// representable offset it saturates at math.MaxInt64.
func (s Schedule) At(conn int, k uint64) time.Duration {
	if s.Poisson {
		var t float64
		for j := uint64(0); j <= k; j++ {
			t += s.Gap(conn, j)
		}
		return s.Quantize(t)
	}
	t := s.exact(conn, k)
	if s.Tick <= 0 || t == math.MaxInt64 {
		return t
	}
	q := (t + s.Tick - 1) / s.Tick
	if q > math.MaxInt64/s.Tick {
		return math.MaxInt64
	}
	return q * s.Tick
}

// exact is At without the quantization.
func (s Schedule) exact(conn int, k uint64) time.Duration {
	n := float64(k)*float64(s.Conns) + float64(conn)
	ns := math.Round(n / s.Rate * 1e9)
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// Index returns the first k whose At(conn, k) is at or after offset t: how many
// of connection conn's messages fall before t.
func (s Schedule) Index(conn int, t time.Duration) uint64 {
	if t <= 0 {
		return 0
	}
	if s.Poisson {
		// Walk the connection's gaps: O(messages before t).
		var k uint64
		for exact := s.Gap(conn, 0); s.Quantize(exact) < t; exact += s.Gap(conn, k) {
			k++
		}
		return k
	}
	if s.Tick > 0 {
		// A quantized send is due before t exactly when its exact time is at
		// or before the last multiple of Tick below t.
		return Schedule{Rate: s.Rate, Conns: s.Conns}.Index(conn, (t-1)/s.Tick*s.Tick+1)
	}
	n := math.Ceil(t.Seconds()*s.Rate - float64(conn))
	if n <= 0 {
		return 0
	}
	k := uint64(math.Ceil(n / float64(s.Conns)))
	for k > 0 && s.At(conn, k-1) >= t {
		k--
	}
	for s.At(conn, k) < t {
		k++
	}
	return k
}
