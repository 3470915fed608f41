package scenario

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidateNamesEachKey(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Spec)
		want   []string // substrings that must all appear
	}{
		// the defaults are valid
		{"defaults", func(*Spec) {}, nil},
		// a negative rate is refused by name
		{"negative rate", func(s *Spec) { s.Rate = -5 }, []string{"rate: "}},
		// zero connections
		{"no conns", func(s *Spec) { s.Conns = 0 }, []string{"conns: "}},
		// size below what the payload header needs, text and binary
		{"tiny text", func(s *Spec) { s.Size = 8 }, []string{"size: ", "at least 32"}},
		{"tiny binary", func(s *Spec) { s.Size = 8; s.Binary = true }, []string{"size: ", "at least 24"}},
		// max-inflight without a rate
		{"inflight closed", func(s *Spec) { s.MaxInflight = 1 }, []string{"max_inflight: "}},
		// several problems are all reported at once
		{"many", func(s *Spec) { s.Conns = -1; s.Duration = 0; s.Warmup = -1 }, []string{"conns: ", "duration: ", "warmup: "}},
		// non-WebSocket scheme
		{"http url", func(s *Spec) { s.Target = "http://127.0.0.1:1/" }, []string{"scheme \"http\""}},
		// malformed URL
		{"bad url", func(s *Spec) { s.Target = "ws://[::1" }, []string{"target URL"}},
		// no host
		{"no host", func(s *Spec) { s.Target = "ws:///path" }, []string{"missing host"}},
		// handshake options: valid ones pass
		{"good handshake options", func(s *Spec) {
			s.Subprotocols, s.RequireSubprotocol = []string{"chat", "v2.json"}, true
			s.Headers, s.Origin = []string{"Authorization: Bearer x", "X-Trace:1"}, "http://example.test"
		}, nil},
		// a subprotocol that is not an HTTP token
		{"bad subprotocol", func(s *Spec) { s.Subprotocols = []string{"a b"} }, []string{"subprotocols: ", `"a b"`}},
		// requiring a subprotocol without offering one
		{"require without offer", func(s *Spec) { s.RequireSubprotocol = true }, []string{"require_subprotocol: "}},
		// a header without a colon, with a bad name, and one the handshake owns
		{"header no colon", func(s *Spec) { s.Headers = []string{"Authorization"} }, []string{"headers: ", `"Authorization"`, "Name: value"}},
		{"header bad name", func(s *Spec) { s.Headers = []string{"X Y: 1"} }, []string{"headers: ", `"X Y"`}},
		{"header reserved", func(s *Spec) { s.Headers = []string{"Sec-WebSocket-Key: x"} }, []string{"headers: ", "set by the handshake"}},
		// fragments: negative, and more frames than payload bytes
		{"fragment negative", func(s *Spec) { s.Fragment = -1 }, []string{"fragment: "}},
		{"fragment too many", func(s *Spec) { s.Fragment = 65 }, []string{"fragment: ", "65 frames for 64-byte"}},
		// think time belongs to the closed model
		{"think with rate", func(s *Spec) { s.Think = Duration(time.Millisecond); s.Rate = 10 }, []string{"think: ", "closed model only"}},
		{"think negative", func(s *Spec) { s.Think = -1 }, []string{"think: "}},
		// an unknown arrival process, and poisson without a rate
		{"arrival unknown", func(s *Spec) { s.Arrival = "bursty"; s.Rate = 10 }, []string{"arrival: ", `"bursty"`}},
		{"poisson closed", func(s *Spec) { s.Arrival = ArrivalPoisson }, []string{"arrival: ", "open model only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Default()
			tc.mutate(&s)
			err := s.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestScheduleAt(t *testing.T) {
	cases := []struct {
		name string
		s    Schedule
		conn int
		k    uint64
		want time.Duration
	}{
		// the first message of the first connection is due at once
		{"origin", Schedule{Rate: 1000, Conns: 10}, 0, 0, 0},
		// connections are offset by 1/Rate
		{"offset", Schedule{Rate: 1000, Conns: 10}, 3, 0, 3 * time.Millisecond},
		// each connection sends every Conns/Rate
		{"interval", Schedule{Rate: 1000, Conns: 10}, 3, 2, 23 * time.Millisecond},
		// a rate that is not a divisor of 1e9 still lands on the rounded absolute time
		{"no drift", Schedule{Rate: 3, Conns: 1}, 0, 3_000_000, 1_000_000 * time.Second},
		// saturates rather than overflowing
		{"saturate", Schedule{Rate: 1e-9, Conns: 1}, 0, math.MaxUint64, math.MaxInt64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.At(tc.conn, tc.k); got != tc.want {
				t.Fatalf("At(%d, %d) = %v, want %v", tc.conn, tc.k, got, tc.want)
			}
		})
	}
}

// FuzzScheduleIndex checks that Index is the inverse of At: every message
// before Index(t) is due before t and the one at Index(t) is not.
func FuzzScheduleIndex(f *testing.F) {
	f.Add(1000.0, 10, 3, int64(time.Second))
	f.Add(20000.0, 1000, 999, int64(1234567))
	f.Add(0.5, 1, 0, int64(0))
	f.Fuzz(func(t *testing.T, rate float64, conns, conn int, tns int64) {
		if !(rate >= 0.01 && rate <= 1e7) || conns < 1 || conns > 1e6 || conn < 0 || conn >= conns || tns < 0 || tns > int64(24*time.Hour) {
			t.Skip()
		}
		s := Schedule{Rate: rate, Conns: conns}
		at := time.Duration(tns)
		k := s.Index(conn, at)
		if s.At(conn, k) < at {
			t.Fatalf("At(%d,%d)=%v before t=%v", conn, k, s.At(conn, k), at)
		}
		if k > 0 && s.At(conn, k-1) >= at {
			t.Fatalf("At(%d,%d)=%v not before t=%v", conn, k-1, s.At(conn, k-1), at)
		}
	})
}

// TestQuantizedSchedule: with a tick, every send falls due on the first tick
// at or after its exact time, the rate over a window is unchanged, and Index
// agrees with At.
func TestQuantizedSchedule(t *testing.T) {
	exact := Schedule{Rate: 5000, Conns: 100}
	q := Schedule{Rate: 5000, Conns: 100, Tick: time.Millisecond}
	cases := []struct {
		conn int
		k    uint64
		want time.Duration
	}{
		{0, 0, 0},                      // exactly on a tick stays there
		{1, 0, time.Millisecond},       // 200µs rounds up to the next tick
		{5, 0, time.Millisecond},       // 1ms exactly
		{6, 0, 2 * time.Millisecond},   // 1.2ms
		{99, 0, 20 * time.Millisecond}, // 19.8ms
		{0, 1, 20 * time.Millisecond},  // each connection every 20ms
		{7, 3, 62 * time.Millisecond},  // 61.4ms
	}
	for _, tc := range cases {
		if got := q.At(tc.conn, tc.k); got != tc.want {
			t.Errorf("At(%d, %d) = %v, want %v (exact %v)", tc.conn, tc.k, got, tc.want, exact.At(tc.conn, tc.k))
		}
	}
	// Over one second both plans send the same number of messages, give or
	// take the sends whose tick falls past the window's edge.
	var nq, ne uint64
	for conn := 0; conn < 100; conn++ {
		nq += q.Index(conn, time.Second)
		ne += exact.Index(conn, time.Second)
	}
	if ne != 5000 || nq < 4995 || nq > 5000 {
		t.Errorf("sends in 1s: exact %d, quantized %d; want 5000 and 5000 minus at most a tick's worth", ne, nq)
	}
}

func FuzzQuantizedScheduleIndex(f *testing.F) {
	f.Add(5000.0, 100, 7, int64(time.Millisecond), int64(61400*time.Microsecond))
	f.Add(3.0, 7, 6, int64(333*time.Microsecond), int64(time.Second))
	f.Fuzz(func(t *testing.T, rate float64, conns, conn int, tick, tns int64) {
		if !(rate >= 0.01 && rate <= 1e7) || conns < 1 || conns > 1e6 || conn < 0 || conn >= conns ||
			tns < 0 || tns > int64(24*time.Hour) || tick < 1 || tick > int64(time.Second) {
			t.Skip()
		}
		s := Schedule{Rate: rate, Conns: conns, Tick: time.Duration(tick)}
		at := time.Duration(tns)
		k := s.Index(conn, at)
		if got := s.At(conn, k); got < at || got%s.Tick != 0 {
			t.Fatalf("At(%d,%d)=%v before t=%v or off the tick grid", conn, k, got, at)
		}
		if k > 0 && s.At(conn, k-1) >= at {
			t.Fatalf("At(%d,%d)=%v not before t=%v", conn, k-1, s.At(conn, k-1), at)
		}
	})
}

// TestPoissonSchedule: gaps are exponential with the mean interval (their
// coefficient of variation is 1, where a uniform schedule's is 0), the rate
// holds over a window, the same seed gives the same schedule and another
// seed a different one, and Index agrees with At.
func TestPoissonSchedule(t *testing.T) {
	s := Schedule{Rate: 5000, Conns: 100, Poisson: true, Seed: 42}
	mean := float64(s.Conns) / s.Rate * 1e9 // 20ms
	var sum, sq float64
	const n = 20000
	for k := uint64(0); k < n; k++ {
		g := s.Gap(int(k%100), k/100)
		sum += g
		sq += g * g
	}
	m := sum / n
	cv := math.Sqrt(sq/n-m*m) / m
	if math.Abs(m-mean)/mean > 0.03 || math.Abs(cv-1) > 0.05 {
		t.Errorf("gaps: mean %.0fns (want %.0f), coefficient of variation %.3f (want 1)", m, mean, cv)
	}
	var sent uint64
	for conn := 0; conn < 100; conn++ {
		sent += s.Index(conn, 10*time.Second)
	}
	if sent < 49000 || sent > 51000 { // 50,000 ± 4.5 standard deviations
		t.Errorf("%d sends in 10s at 5000/s", sent)
	}
	if s.At(7, 3) != (Schedule{Rate: 5000, Conns: 100, Poisson: true, Seed: 42}).At(7, 3) {
		t.Error("the same seed gave another schedule")
	}
	if s.At(7, 3) == (Schedule{Rate: 5000, Conns: 100, Poisson: true, Seed: 43}).At(7, 3) {
		t.Error("another seed gave the same schedule")
	}
	q := s
	q.Tick = time.Millisecond
	for conn := 0; conn < 5; conn++ {
		for _, at := range []time.Duration{0, time.Millisecond, 77 * time.Millisecond, time.Second} {
			for _, sc := range []Schedule{s, q} {
				k := sc.Index(conn, at)
				if sc.At(conn, k) < at || (k > 0 && sc.At(conn, k-1) >= at) {
					t.Fatalf("tick %v conn %d t %v: Index %d disagrees with At (%v, %v)", sc.Tick, conn, at, k, sc.At(conn, k), sc.At(conn, max(k, 1)-1))
				}
			}
		}
	}
}

// TestSenders: every connection sends, except in a broadcast run, where only
// each room's publishers do.
func TestSenders(t *testing.T) {
	s := Default()
	if got := s.Senders(50); got != 50 {
		t.Errorf("echo: %d senders of 50, want 50", got)
	}
	s.Kind, s.RoomSize, s.Publishers = KindBroadcast, 10, 2
	if got := s.Senders(50); got != 10 {
		t.Errorf("broadcast, rooms of 10 with 2 publishers: %d senders of 50, want 10", got)
	}
}
