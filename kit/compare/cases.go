package main

import (
	"fmt"
	"strconv"
)

// A Case is one cell of the matrix: a wsbench run (or, for the knee, a
// capacity search) that every server gets, each time from a fresh process.
type Case struct {
	Name  string
	Title string // the heading in summary.md
	// Args are wsbench's arguments after "run" (or "capacity"), without the
	// URL, the output and --server-pid.
	Args []string
	Path string // the URL path: /echo, or /bcast for broadcast
	// Capacity: the case is `wsbench capacity` (the knee), run once per
	// server (a search, not a sample: it is not repeated).
	Capacity bool
	// Primary ranks the servers; Columns are the figures of its table.
	Primary Figure
	Columns []Figure
}

// A Figure is one number read from a run's result.
type Figure struct {
	Name   string
	Unit   string
	Higher bool // higher is better
	Get    func(r *Result) (float64, bool)
}

var (
	msgRate = Figure{"msg/s", "msg/s", true, func(r *Result) (float64, bool) { return r.Rates.Received, r.Rates.Received > 0 }}
	// perCore is the work done per second of server CPU: messages received
	// back (echo), deliveries (broadcast) or connections opened (storm).
	perCore = Figure{"per server CPU-s", "/CPU-s", true, func(r *Result) (float64, bool) {
		u := r.ServerUsage
		if u == nil || u.CPUSeconds <= 0 {
			return 0, false
		}
		work := float64(r.Messages.Received)
		switch {
		case r.Broadcast != nil:
			work = float64(r.Broadcast.Deliveries)
		case r.Scenario.Kind == "connect":
			work = float64(r.Connections.Opened)
		}
		return work / u.CPUSeconds, work > 0
	}}
	// perMB is the messages (or deliveries) per second per MiB of the
	// server's peak resident memory.
	perMB = Figure{"msg/s per MiB", "/MiB", true, func(r *Result) (float64, bool) {
		u := r.ServerUsage
		if u == nil || u.MaxRSSKiB <= 0 {
			return 0, false
		}
		rate := r.Rates.Received
		if r.Broadcast != nil {
			rate = r.Broadcast.PerSecond
		}
		return rate / (float64(u.MaxRSSKiB) / 1024), rate > 0
	}}
	serverCores = Figure{"server cores", "cores", false, func(r *Result) (float64, bool) {
		if r.ServerUsage == nil {
			return 0, false
		}
		return r.ServerUsage.CPUCores, true
	}}
	serverRSS = Figure{"server MiB", "MiB", false, func(r *Result) (float64, bool) {
		if r.ServerUsage == nil || r.ServerUsage.MaxRSSKiB <= 0 {
			return 0, false
		}
		return float64(r.ServerUsage.MaxRSSKiB) / 1024, true
	}}
	// kibPerConn is the server's memory growth per open connection: peak
	// RSS in the window less RSS before the first connection.
	kibPerConn = Figure{"server KiB/conn", "KiB", false, func(r *Result) (float64, bool) {
		u := r.ServerUsage
		if u == nil || r.Connections.Opened == 0 || u.MaxRSSKiB <= 0 {
			return 0, false
		}
		return float64(u.MaxRSSKiB-u.RSSBeforeKiB) / float64(r.Connections.Opened), true
	}}
	connsPerMB = Figure{"conns per MiB", "/MiB", true, func(r *Result) (float64, bool) {
		u := r.ServerUsage
		if u == nil || u.MaxRSSKiB <= 0 {
			return 0, false
		}
		return float64(r.Connections.Opened) / (float64(u.MaxRSSKiB) / 1024), r.Connections.Opened > 0
	}}
	dialS        = Figure{"open all (s)", "s", false, func(r *Result) (float64, bool) { return r.Connections.DialS, r.Connections.Opened > 0 }}
	handshakes   = Figure{"handshakes/s", "/s", true, func(r *Result) (float64, bool) { return r.Connections.OpenedPerS, r.Connections.OpenedPerS > 0 }}
	failedConns  = Figure{"failed", "", false, func(r *Result) (float64, bool) { return float64(r.Connections.Failed), true }}
	reach        = Figure{"reach", "", true, func(r *Result) (float64, bool) { return bcast(r, func(b *Broadcast) float64 { return b.Reach }) }}
	deliveriesPS = Figure{"deliveries/s", "/s", true, func(r *Result) (float64, bool) {
		return bcast(r, func(b *Broadcast) float64 { return b.PerSecond })
	}}
	kneeRate = Figure{"max msg/s (knee)", "msg/s", true, nil}
)

func latency(metric, stat string, higher bool) Figure {
	return Figure{metric + " " + stat, "µs", higher, func(r *Result) (float64, bool) {
		l, ok := r.Latency[metric]
		if !ok || l.Count == 0 {
			return 0, false
		}
		return map[string]float64{"p50": l.P50Us, "p90": l.P90Us, "p99": l.P99Us, "p99.9": l.P999Us, "max": l.MaxUs}[stat], true
	}}
}

func bcast(r *Result, f func(*Broadcast) float64) (float64, bool) {
	if r.Broadcast == nil {
		return 0, false
	}
	return f(r.Broadcast), true
}

// Scale is how long and how big the cases are: Full is the published
// matrix of issue 17, Quick a tiny one for trying the kit and for tests.
type Scale struct {
	Duration, Warmup string
	EchoConns        []int
	Sizes            []int
	OpenConns        int
	OpenRates        []int
	IdleConns        int
	BcastSubs        []int
	BcastDeliveries  int // deliveries per second a broadcast case asks for
	StormConns       int
	Knee             []string // wsbench capacity's arguments
}

var (
	// Full is the matrix of issue 17.
	Full = Scale{
		Duration: "10s", Warmup: "2s",
		EchoConns: []int{100, 1000, 5000}, Sizes: []int{32, 1024},
		OpenConns: 1000, OpenRates: []int{10000, 40000},
		IdleConns: 10000,
		BcastSubs: []int{100, 1000}, BcastDeliveries: 20000,
		StormConns: 64,
		Knee: []string{"--slo", "rtt.p99<5ms", "-c", "100", "--start", "5000", "--max", "640000",
			"--step", "3s", "--warmup", "1s"},
	}
	// Quick finishes in about a minute on two servers.
	Quick = Scale{
		Duration: "1s", Warmup: "200ms",
		EchoConns: []int{20}, Sizes: []int{32},
		OpenConns: 20, OpenRates: []int{2000},
		IdleConns: 200,
		BcastSubs: []int{20}, BcastDeliveries: 400,
		StormConns: 8,
		Knee: []string{"--slo", "rtt.p99<50ms", "-c", "20", "--start", "1000", "--max", "4000",
			"--step", "300ms", "--warmup", "0s"},
	}
)

// Cases builds the matrix at a scale, in the order summary.md lists it.
func Cases(s Scale) []Case {
	common := []string{"-d", s.Duration, "--warmup", s.Warmup, "--grace", "1s"}
	var cs []Case
	for _, n := range s.EchoConns {
		for _, size := range s.Sizes {
			cs = append(cs, Case{
				Name:  fmt.Sprintf("echo-%dc-%s", n, sizeName(size)),
				Title: fmt.Sprintf("Closed-loop echo, %d connections, %s messages", n, sizeName(size)),
				Args:  append([]string{"--kind", "echo", "-c", strconv.Itoa(n), "-s", strconv.Itoa(size)}, common...),
				Path:  "/echo", Primary: msgRate,
				Columns: []Figure{msgRate, latency("rtt", "p50", false), latency("rtt", "p99", false),
					serverCores, perCore, serverRSS, perMB},
			})
		}
	}
	for _, rate := range s.OpenRates {
		cs = append(cs, Case{
			Name:  fmt.Sprintf("open-%dc-%d", s.OpenConns, rate),
			Title: fmt.Sprintf("Open loop, %d msg/s over %d connections: latency from the intended send (CO-corrected) and from the actual send", rate, s.OpenConns),
			Args:  append([]string{"--kind", "echo", "-c", strconv.Itoa(s.OpenConns), "-r", strconv.Itoa(rate), "-s", "64"}, common...),
			Path:  "/echo", Primary: latency("rtt", "p99", false),
			Columns: []Figure{msgRate, latency("rtt", "p50", false), latency("rtt_uncorrected", "p50", false),
				latency("rtt", "p99", false), latency("rtt_uncorrected", "p99", false),
				latency("rtt", "p99.9", false), latency("rtt_uncorrected", "p99.9", false), serverCores, perCore},
		})
	}
	cs = append(cs, Case{
		Name: "knee", Title: "Knee: the highest rate whose rtt p99 meets the SLO (wsbench capacity, one search per server)",
		Args: s.Knee, Path: "/echo", Capacity: true, Primary: kneeRate, Columns: []Figure{kneeRate},
	})
	cs = append(cs, Case{
		Name:  fmt.Sprintf("idle-%dc", s.IdleConns),
		Title: fmt.Sprintf("%d idle connections: server memory per connection and connect time", s.IdleConns),
		Args:  append([]string{"--kind", "hold", "-c", strconv.Itoa(s.IdleConns)}, common...),
		Path:  "/echo", Primary: kibPerConn,
		Columns: []Figure{kibPerConn, connsPerMB, serverRSS, dialS, latency("connect", "p99", false),
			latency("handshake", "p50", false), latency("handshake", "p99", false), failedConns},
	})
	for _, subs := range s.BcastSubs {
		rate := max(1, s.BcastDeliveries/subs)
		cs = append(cs, Case{
			Name:  fmt.Sprintf("bcast-%d", subs),
			Title: fmt.Sprintf("Broadcast fan-out: one publisher at %d msg/s, %d subscribers (the publisher among them)", rate, subs),
			Args: append([]string{"--kind", "broadcast", "-c", strconv.Itoa(subs), "--room-size", strconv.Itoa(subs),
				"--publishers", "1", "-r", strconv.Itoa(rate), "--room-path", "/bcast/%d", "-s", "64"}, common...),
			Path: "/", Primary: latency("delivery", "p99", false),
			Columns: []Figure{latency("delivery", "p50", false), latency("delivery", "p99", false),
				latency("spread", "p99", false), reach, deliveriesPS, serverCores, perCore},
		})
	}
	cs = append(cs, Case{
		Name:  "storm",
		Title: fmt.Sprintf("Connection storm: %d loops of open, one echo, close", s.StormConns),
		Args:  append([]string{"--kind", "connect", "-c", strconv.Itoa(s.StormConns)}, common...),
		Path:  "/echo", Primary: handshakes,
		Columns: []Figure{handshakes, latency("handshake", "p50", false), latency("handshake", "p99", false),
			failedConns, serverCores, perCore},
	})
	return cs
}

func sizeName(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}
