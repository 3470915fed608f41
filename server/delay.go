package server

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// This file is Config.Delay: how long each reply is held back to model a slow
// backend, as a fixed time or a distribution each message draws from, and the
// syntax of `wsbench serve --delay`.

// DelayDist is the distribution of a Delay.
type DelayDist uint8

// Delay distributions.
const (
	// DelayFixed holds every reply back Mean (the zero value: with a zero
	// Mean, no delay).
	DelayFixed DelayDist = iota
	// DelayUniform draws each delay uniformly from Min to Max, both
	// included (to the nanosecond).
	DelayUniform
	// DelayExp draws each delay from the exponential distribution with
	// mean Mean: most replies come quickly, a few very late.
	DelayExp
	// DelayNormal draws each delay from the normal distribution with mean
	// Mean and standard deviation StdDev; a draw below zero is taken as
	// zero and counted (Stats.DelayClamped).
	DelayNormal
)

// MaxDelay is the largest Delay parameter accepted.
const MaxDelay = time.Hour

// Delay is how long the server holds each reply back (Config.Delay): a fixed
// time, or a distribution from which every message draws its own delay. Only
// the fields of its distribution may be set: Mean for DelayFixed and
// DelayExp, Min and Max for DelayUniform, Mean and StdDev for DelayNormal.
// The zero Delay is no delay. ParseDelay reads the `--delay` syntax;
// String writes it.
type Delay struct {
	Dist   DelayDist
	Mean   time.Duration
	Min    time.Duration
	Max    time.Duration
	StdDev time.Duration
}

// FixedDelay returns the Delay that holds every reply back d.
func FixedDelay(d time.Duration) Delay { return Delay{Mean: d} }

// IsZero reports whether d holds nothing back: every draw is zero.
func (d Delay) IsZero() bool {
	switch d.Dist {
	case DelayUniform:
		return d.Max == 0
	case DelayNormal:
		return d.Mean == 0 && d.StdDev == 0
	default:
		return d.Mean == 0
	}
}

// String returns d in the syntax ParseDelay reads: "5ms", "2ms-20ms",
// "exp:5ms" or "normal:5ms,1ms" ("0s" for no delay).
func (d Delay) String() string {
	switch d.Dist {
	case DelayFixed:
		return d.Mean.String()
	case DelayUniform:
		return d.Min.String() + "-" + d.Max.String()
	case DelayExp:
		return "exp:" + d.Mean.String()
	case DelayNormal:
		return "normal:" + d.Mean.String() + "," + d.StdDev.String()
	}
	return fmt.Sprintf("Delay{Dist: %d}", d.Dist)
}

// delaySyntax is what ParseDelay accepts, for its errors.
const delaySyntax = "want DURATION (5ms), MIN-MAX (2ms-20ms, uniform), exp:MEAN (exp:5ms) or normal:MEAN,STDDEV (normal:5ms,1ms)"

// ParseDelay reads a delay in the syntax of `wsbench serve --delay`:
//
//	5ms              every reply 5ms late (0 = at once)
//	2ms-20ms         each reply uniformly 2ms to 20ms late
//	exp:5ms          exponential, mean 5ms
//	normal:5ms,1ms   normal, mean 5ms, standard deviation 1ms (clamped at 0)
//
// Durations are Go's (time.ParseDuration). Errors name the flag.
func ParseDelay(s string) (Delay, error) {
	d, err := parseDelay(strings.TrimSpace(s))
	if err == nil {
		err = d.check()
	}
	if err != nil {
		return Delay{}, fmt.Errorf("--delay: %w", err)
	}
	return d, nil
}

func parseDelay(s string) (Delay, error) {
	dur := func(what, v string) (time.Duration, error) {
		x, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s %q in %q is not a duration (%s)", what, v, s, delaySyntax)
		}
		return x, nil
	}
	if s == "" {
		return Delay{}, fmt.Errorf("empty value (%s)", delaySyntax)
	}
	if name, rest, ok := strings.Cut(s, ":"); ok {
		switch strings.ToLower(name) {
		case "exp":
			mean, err := dur("mean", rest)
			return Delay{Dist: DelayExp, Mean: mean}, err
		case "normal":
			m, sd, ok := strings.Cut(rest, ",")
			if !ok {
				return Delay{}, fmt.Errorf("%q: normal needs a mean and a standard deviation, normal:MEAN,STDDEV", s)
			}
			mean, err := dur("mean", m)
			if err != nil {
				return Delay{}, err
			}
			dev, err := dur("standard deviation", sd)
			return Delay{Dist: DelayNormal, Mean: mean, StdDev: dev}, err
		}
		return Delay{}, fmt.Errorf("%q: unknown distribution %q (%s)", s, name, delaySyntax)
	}
	// A range MIN-MAX; a leading '-' is a negative duration's sign.
	if i := strings.IndexByte(s[1:], '-'); i >= 0 {
		lo, err := dur("minimum", s[:i+1])
		if err != nil {
			return Delay{}, err
		}
		hi, err := dur("maximum", s[i+2:])
		return Delay{Dist: DelayUniform, Min: lo, Max: hi}, err
	}
	x, err := time.ParseDuration(s)
	if err != nil {
		return Delay{}, fmt.Errorf("%q is not a delay (%s)", s, delaySyntax)
	}
	return FixedDelay(x), nil
}

// check reports the first thing wrong with d, nil if it is usable. Its
// message names no field or flag: the caller adds which.
func (d Delay) check() error {
	type param struct {
		name string
		x    time.Duration
		used bool // a parameter of d.Dist
	}
	ps := []param{
		{"mean", d.Mean, d.Dist == DelayFixed || d.Dist == DelayExp || d.Dist == DelayNormal},
		{"minimum", d.Min, d.Dist == DelayUniform},
		{"maximum", d.Max, d.Dist == DelayUniform},
		{"standard deviation", d.StdDev, d.Dist == DelayNormal},
	}
	if d.Dist > DelayNormal {
		return fmt.Errorf("unknown distribution %d", d.Dist)
	}
	for _, p := range ps {
		switch {
		case !p.used && p.x != 0:
			return fmt.Errorf("%s: the %s (%v) is not a parameter of this distribution", d, p.name, p.x)
		case p.x < 0:
			return fmt.Errorf("%v is negative", p.x)
		case p.x > MaxDelay:
			return fmt.Errorf("%v is above the largest delay accepted, %v", p.x, MaxDelay)
		}
	}
	switch {
	case d.Dist == DelayUniform && d.Min > d.Max:
		return fmt.Errorf("%s: the minimum is above the maximum", d)
	case d.Dist == DelayExp && d.Mean == 0:
		return fmt.Errorf("%s: the mean must be above 0", d)
	case d.Dist == DelayNormal && d.StdDev == 0:
		return fmt.Errorf("%s: the standard deviation must be above 0 (a fixed delay is just DURATION)", d)
	}
	return nil
}

// draw returns one delay from d, in nanoseconds, and whether it was clamped
// (a normal draw below zero). r is the event loop's own generator: a draw
// allocates nothing.
func (d *Delay) draw(r *rand.Rand) (ns int64, clamped bool) {
	switch d.Dist {
	case DelayUniform:
		if d.Max > d.Min {
			return int64(d.Min) + r.Int64N(int64(d.Max-d.Min)+1), false
		}
		return int64(d.Min), false
	case DelayExp:
		return int64(r.ExpFloat64() * float64(d.Mean)), false
	case DelayNormal:
		v := float64(d.Mean) + r.NormFloat64()*float64(d.StdDev)
		if v < 0 {
			return 0, true
		}
		return int64(v), false
	}
	return int64(d.Mean), false
}

// netns (issue 16): a stall, Config.StallAt and Config.StallFor. Every reply
// (echo, rpc) or delivery (broadcast) of a message received from StallAt to
// StallAt+StallFor is held until that window ends (and its own delay, if
// later): the server keeps reading but answers nothing, as a backend paused
// by a garbage collector or a failover would. A load test sees the stall in
// its coordinated-omission-corrected latency; `wsbench serve --stall` sets it.

// StallSyntax is what ParseStall accepts, for errors and help.
const StallSyntax = "want AFTER:FOR, AFTER a duration after the server starts (2s) or an RFC 3339 time (2026-01-02T15:04:05.5Z), FOR a duration (500ms)"

// ParseStall reads `wsbench serve --stall AFTER:FOR`: the stall starts AFTER
// (a duration) after now, or at the RFC 3339 time AFTER, and lasts FOR. It
// returns the absolute start and the length. Errors name the flag.
func ParseStall(s string, now time.Time) (at time.Time, length time.Duration, err error) {
	s = strings.TrimSpace(s)
	i := strings.LastIndexByte(s, ':') // a time's own colons come first
	if i < 0 {
		return time.Time{}, 0, fmt.Errorf("--stall: %q: %s", s, StallSyntax)
	}
	after, dur := s[:i], s[i+1:]
	length, err = time.ParseDuration(dur)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("--stall: length %q in %q is not a duration (%s)", dur, s, StallSyntax)
	}
	if d, derr := time.ParseDuration(after); derr == nil {
		if d < 0 {
			return time.Time{}, 0, fmt.Errorf("--stall: start %q in %q is negative", after, s)
		}
		at = now.Add(d)
	} else if at, err = time.Parse(time.RFC3339Nano, after); err != nil {
		return time.Time{}, 0, fmt.Errorf("--stall: start %q in %q is neither a duration nor an RFC 3339 time (%s)", after, s, StallSyntax)
	}
	if err := checkStall(at, length); err != nil {
		return time.Time{}, 0, fmt.Errorf("--stall: %w", err)
	}
	return at, length, nil
}

// checkStall reports what is wrong with a stall of length from at (nil: usable
// or none). Its message names no field or flag.
func checkStall(at time.Time, length time.Duration) error {
	switch {
	case length < 0:
		return fmt.Errorf("length %v is negative", length)
	case length > MaxDelay:
		return fmt.Errorf("length %v is above the longest accepted, %v", length, MaxDelay)
	case length > 0 && at.IsZero():
		return fmt.Errorf("a stall of %v needs a start time", length)
	case length == 0 && !at.IsZero():
		return fmt.Errorf("a stall starting at %s needs a length above 0", at.Format(time.RFC3339Nano))
	}
	return nil
}

// stallWindow returns the stall [from, to) in the loop time of a loop that
// started at epoch; from == to when there is none.
func stallWindow(at time.Time, length time.Duration, epoch time.Time) (from, to int64) {
	if length <= 0 || at.IsZero() {
		return 0, 0
	}
	from = int64(at.Sub(epoch))
	return from, from + int64(length)
}
