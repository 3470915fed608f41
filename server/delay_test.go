package server

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestParseDelay(t *testing.T) {
	cases := []struct {
		in   string
		want Delay
		str  string // String(); "" = in
	}{
		// A plain duration is a fixed delay; 0 is none.
		{"5ms", FixedDelay(5 * ms), ""},
		{"0", Delay{}, "0s"},
		{" 1.5s ", FixedDelay(1500 * ms), "1.5s"},
		// MIN-MAX is uniform, both ends included; equal ends are allowed.
		{"2ms-20ms", Delay{Dist: DelayUniform, Min: 2 * ms, Max: 20 * ms}, ""},
		{"0s-1ms", Delay{Dist: DelayUniform, Max: ms}, ""},
		{"3ms-3ms", Delay{Dist: DelayUniform, Min: 3 * ms, Max: 3 * ms}, ""},
		// exp:MEAN, the distribution name in any case.
		{"exp:5ms", Delay{Dist: DelayExp, Mean: 5 * ms}, ""},
		{"EXP:250us", Delay{Dist: DelayExp, Mean: 250 * time.Microsecond}, "exp:250µs"},
		// normal:MEAN,STDDEV.
		{"normal:5ms,1ms", Delay{Dist: DelayNormal, Mean: 5 * ms, StdDev: ms}, ""},
		{"normal:0s,1ms", Delay{Dist: DelayNormal, StdDev: ms}, ""},
	}
	for _, tc := range cases {
		got, err := ParseDelay(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDelay(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		str := tc.str
		if str == "" {
			str = tc.in
		}
		if got.String() != str {
			t.Errorf("ParseDelay(%q).String() = %q, want %q", tc.in, got.String(), str)
		}
		if back, err := ParseDelay(got.String()); err != nil || back != got {
			t.Errorf("ParseDelay(%q) = %+v, %v: String does not round-trip", got.String(), back, err)
		}
	}
}

func TestParseDelayErrors(t *testing.T) {
	cases := []struct {
		in   string
		want string // in the error, after "--delay: "
	}{
		{"-1s", "-1s is negative"},                                       // negative fixed
		{"abc", `"abc" is not a delay (want DURATION`},                   // not a duration
		{"5", `"5" is not a delay`},                                      // no unit
		{"", "empty value"},                                              // nothing
		{"20ms-2ms", "20ms-2ms: the minimum is above the maximum"},       // inverted range
		{"2ms-x", `maximum "x" in "2ms-x" is not a duration`},            // bad range end
		{"1s--2s", "-2s is negative"},                                    // negative range end
		{"exp:", `mean "" in "exp:" is not a duration`},                  // no mean
		{"exp:0s", "exp:0s: the mean must be above 0"},                   // zero mean
		{"normal:5ms", "normal needs a mean and a standard deviation"},   // no deviation
		{"normal:5ms,0s", "the standard deviation must be above 0"},      // zero deviation
		{"normal:5ms,-1ms", "-1ms is negative"},                          // negative deviation
		{"pareto:5ms", `unknown distribution "pareto" (want DURATION`},   // unknown name
		{"2h", "2h0m0s is above the largest delay accepted, 1h0m0s"},     // too long
		{"exp:90m", "1h30m0s is above the largest delay accepted"},       // mean too long
		{"0s-61m", "1h1m0s is above the largest delay accepted, 1h0m0s"}, // range too long
	}
	for _, tc := range cases {
		d, err := ParseDelay(tc.in)
		if err == nil {
			t.Errorf("ParseDelay(%q) = %v, want an error", tc.in, d)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "--delay: ") || !strings.Contains(msg, tc.want) {
			t.Errorf("ParseDelay(%q): %q, want --delay: ...%s...", tc.in, msg, tc.want)
		}
	}
}

// TestDelayDraw checks each distribution's draws over many samples: bounds,
// mean, spread, the share clamped at zero; and that a draw allocates
// nothing.
func TestDelayDraw(t *testing.T) {
	const n = 200000
	cases := []struct {
		d          Delay
		mean, sd   float64 // expected, in ms
		min, max   float64 // bounds of every draw, in ms (max < 0: none)
		clampShare float64 // expected share of draws clamped at 0
	}{
		// Fixed: always the same.
		{FixedDelay(5 * ms), 5, 0, 5, 5, 0},
		// Uniform 2-20ms: mean 11, sd 18/sqrt(12).
		{Delay{Dist: DelayUniform, Min: 2 * ms, Max: 20 * ms}, 11, 18 / math.Sqrt(12), 2, 20, 0},
		// Exponential: sd equals the mean; no upper bound.
		{Delay{Dist: DelayExp, Mean: 5 * ms}, 5, 5, 0, -1, 0},
		// Normal far from 0: no clamping.
		{Delay{Dist: DelayNormal, Mean: 10 * ms, StdDev: ms}, 10, 1, 0, -1, 0},
		// Normal with mean = sd: P(Z < -1) = 15.87% clamped at 0.
		{Delay{Dist: DelayNormal, Mean: ms, StdDev: ms}, -1, -1, 0, -1, 0.1587},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		var sum, sum2 float64
		lo, hi := math.Inf(1), math.Inf(-1)
		clamped := 0
		for range n {
			v, c := tc.d.draw(r)
			if c {
				clamped++
			}
			x := float64(v) / 1e6
			sum += x
			sum2 += x * x
			lo, hi = min(lo, x), max(hi, x)
		}
		mean := sum / n
		sd := math.Sqrt(sum2/n - mean*mean)
		if tc.mean >= 0 && math.Abs(mean-tc.mean) > 0.01*tc.mean+3*tc.sd/math.Sqrt(n) {
			t.Errorf("%v: mean %.4fms, want %.4fms", tc.d, mean, tc.mean)
		}
		if tc.sd >= 0 && math.Abs(sd-tc.sd) > 0.02*tc.sd+1e-9 {
			t.Errorf("%v: sd %.4fms, want %.4fms", tc.d, sd, tc.sd)
		}
		if lo < tc.min || (tc.max >= 0 && hi > tc.max) {
			t.Errorf("%v: draws in [%.4f, %.4f]ms, want within [%v, %v]", tc.d, lo, hi, tc.min, tc.max)
		}
		if share := float64(clamped) / n; math.Abs(share-tc.clampShare) > 0.005 {
			t.Errorf("%v: %.4f of draws clamped, want %.4f", tc.d, share, tc.clampShare)
		}
		if allocs := testing.AllocsPerRun(100, func() { tc.d.draw(r) }); allocs != 0 {
			t.Errorf("%v: draw allocates %v times", tc.d, allocs)
		}
	}
}

// TestDelayQOrder: the delay queue gives entries back by due time, and
// entries due at the same time in the order they were pushed.
func TestDelayQOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var q delayQ
	type key struct{ due, seq int64 }
	pushed := 0
	var last key
	check := func(e delayed) {
		k := key{e.due, int64(e.n)}
		if k.due < last.due || (k.due == last.due && k.seq < last.seq) {
			t.Fatalf("popped due %d push #%d after due %d push #%d", k.due, k.seq, last.due, last.seq)
		}
		last = k
	}
	for range 50 {
		for range r.IntN(40) {
			// Few distinct due times, so that ties are common; never
			// before what was popped already.
			q.push(delayed{due: last.due + int64(r.IntN(5)), n: pushed})
			pushed++
		}
		for range r.IntN(40) {
			if q.len() == 0 {
				break
			}
			if f := q.front(); f.due != q.h.TopKey() {
				t.Fatal("front is not the heap's root")
			}
			check(q.pop())
		}
	}
	for q.len() > 0 {
		check(q.pop())
	}
}
