package results

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// saturation lists why the client was the bottleneck of the run: the
// evidence of the run handed to clientSaturation, the one rule.
func saturation(r *Report, snap *metrics.Snapshot) []string {
	h := r.Harness
	e := clientEvidence{Cores: h.Cores, CPU: h.CPUUtilization, GC: h.GCPauseFraction}
	if r.Scenario.Rate > 0 {
		e.Interval, e.Sender = sendInterval(r)
		e.Rate, e.Tick = r.Scenario.Rate, time.Duration(r.Scenario.Tick)
		if lag := snap.Hist[metrics.SendLag]; lag.Count() > 0 {
			e.LagP50, e.LagP99 = lag.Percentile(50), lag.Percentile(99)
		}
		e.Unsent = snap.Counts.Unsent
		// Unsent sends have other causes than a slow client: a capped
		// connection waiting for its replies, a connection that died or
		// never opened, a stage with no connection planned.
		e.UnsentNotOwn = r.Scenario.MaxInflight > 0 || snap.Counts.ConnsDropped > 0 || r.Connections.Failed > 0 || len(r.Scenario.Stages) > 0
	}
	return clientSaturation(e)
}

// clientEvidence is what a run's client knows of its own ability to keep
// the schedule.
type clientEvidence struct {
	Cores int     // the cores it could use
	CPU   float64 // its CPU time over those cores' time
	GC    float64 // GC pause time over wall time
	// The open model (Rate > 0): each sender's send interval (Sender names
	// a sender: connection, or publisher), the schedule's tick, how late
	// sends left (send lag) and how many fell due but were never made.
	Rate           float64
	Interval, Tick time.Duration
	Sender         string
	LagP50, LagP99 time.Duration
	Unsent         int64
	// UnsentNotOwn says unsent sends may have another cause than the
	// client (--max-inflight, lost connections, stages): they then prove
	// nothing about it.
	UnsentNotOwn bool
}

// lagBound is the send lag past which a send left too late to be the
// scheduler's noise: SaturatedLagTicks ticks (of 1ms without a tick) or
// SaturatedSendLag of each connection's send interval, whichever is longer.
func (e clientEvidence) lagBound() time.Duration {
	tick := max(e.Tick, time.Millisecond)
	return max(SaturatedLagTicks*tick, time.Duration(SaturatedSendLag*float64(e.Interval)))
}

// boundWhy says what the lag bound is.
func (e clientEvidence) boundWhy() string {
	sender := e.Sender
	if sender == "" {
		sender = "connection"
	}
	return fmt.Sprintf("the longer of %d ticks and %.0f%% of each %s's send interval", SaturatedLagTicks, 100*SaturatedSendLag, sender)
}

// clientSaturation is the rule that says the client could not keep the
// schedule, and why; no reason: it kept it. One piece of evidence suffices:
//   - its CPU over SaturatedCPU of the cores it could use;
//   - GC pauses over SaturatedGCPauses of wall time;
//   - most sends late: send-lag p50 over the lag bound (the client ran
//     behind the schedule, not only through a scheduler hiccup);
//   - late sends while busy: send-lag p99 over the lag bound while its CPU
//     was over SaturatedBusyCPU of its cores (its own work made them late);
//   - sends that fell due and were never made, more than the lag bound's
//     worth of the schedule (a hiccup at the stop leaves fewer), when
//     nothing else explains them.
//
// A send-lag p99 over the bound with the CPU low is the machine's
// scheduler, not the client's capacity: it shows in the figures (latency is
// measured from the intended send time) but does not make the run saturated.
func clientSaturation(e clientEvidence) []string {
	reasons := []string{}
	if e.Cores > 0 && e.CPU > SaturatedCPU {
		unit := "cores"
		if e.Cores == 1 {
			unit = "core"
		}
		reasons = append(reasons, fmt.Sprintf("CPU %.0f%% of the %d %s it could use", 100*e.CPU, e.Cores, unit))
	}
	if e.Rate > 0 {
		bound := e.lagBound()
		switch {
		case e.LagP50 > bound:
			reasons = append(reasons, fmt.Sprintf("send lag p50 %s is over %s (%s): most sends left late, the client ran behind the schedule",
				fmtDur(e.LagP50), fmtDur(bound), e.boundWhy()))
		case e.LagP99 > bound && e.Cores > 0 && e.CPU > SaturatedBusyCPU:
			reasons = append(reasons, fmt.Sprintf("send lag p99 %s is over %s (%s) with the CPU at %.0f%% of its cores: sends left late",
				fmtDur(e.LagP99), fmtDur(bound), e.boundWhy(), 100*e.CPU))
		}
		if limit := int64(e.Rate * bound.Seconds()); e.Unsent > limit && !e.UnsentNotOwn {
			reasons = append(reasons, fmt.Sprintf("%d sends fell due but were never made (more than the %d of %s of the schedule): the client fell behind",
				e.Unsent, limit, fmtDur(bound)))
		}
	}
	if e.GC > SaturatedGCPauses {
		reasons = append(reasons, fmt.Sprintf("GC pauses %.1f%% of wall time", 100*e.GC))
	}
	return reasons
}

// sendInterval is the open model's interval between two sends of one
// sender, and what a sender is: the driver spreads the rate over the
// connections that opened, or in a broadcast run over the rooms'
// publishers (the other members send nothing).
func sendInterval(r *Report) (time.Duration, string) {
	sched := r.Scenario.Schedule()
	if sc := r.Scenario; sc.Kind == scenario.KindBroadcast && sc.RoomSize > 0 {
		sched.Conns = sc.Senders(sc.Conns)
		return sched.Interval(), "publisher"
	}
	if r.Connections.Opened > 0 {
		sched.Conns = int(r.Connections.Opened)
	}
	return sched.Interval(), "connection"
}

// warnings says, in plain words, everything that makes the figures less than
// trustworthy or less than what was asked for.
func warnings(r *Report, snap *metrics.Snapshot) []string {
	var w []string
	c := snap.Counts
	if !c.Balanced() {
		w = append(w, fmt.Sprintf("counts do not add up: sent %d != received %d + timed out %d + failed %d + lost %d + in flight %d (a wsbench bug: please report it)",
			c.Sent, c.Received, c.TimedOut, c.Failed, c.Lost, c.InFlight))
	}
	// rpc
	if c.TimedOut > 0 {
		w = append(w, fmt.Sprintf("%d requests timed out: no reply within %s", c.TimedOut, "the request timeout"))
	}
	if c.Unsolicited > 0 {
		w = append(w, fmt.Sprintf("%d messages answered no request in flight and no rule or stream took them (unsolicited)", c.Unsolicited))
	}
	if r.Scenario.Insecure {
		w = append(w, "TLS certificate verification was off (--insecure): the server's identity was not checked")
	}
	if r.Connections.Failed > 0 {
		w = append(w, fmt.Sprintf("%d of %d connections failed to open (see errors)", r.Connections.Failed, r.Connections.Attempted))
	}
	if c.ConnsDropped > 0 {
		w = append(w, fmt.Sprintf("%d connections were dropped during the run: closed or reset by the server, or closed for a protocol violation (see errors)", c.ConnsDropped))
	}
	if c.Lost > 0 {
		w = append(w, fmt.Sprintf("%d messages were lost: their connection closed or the server skipped them", c.Lost))
	}
	notEcho := r.StopReason == StopNotEcho || r.StopReason == StopNotBroadcast // the failure says why replies are missing
	if c.InFlight > 0 && c.Sent > 0 && float64(c.InFlight) > 0.01*float64(c.Sent) && !notEcho {
		w = append(w, fmt.Sprintf("%d messages (%.1f%%) were still unanswered when the grace period ended: raise --grace or the server is saturated",
			c.InFlight, 100*float64(c.InFlight)/float64(c.Sent)))
	}
	if r.Scenario.Rate > 0 {
		if c.Unsent > 0 {
			w = append(w, fmt.Sprintf("%d sends fell due but were never made (--max-inflight reached, dead connections, or the client fell behind): the offered rate was lower than --rate", c.Unsent))
		}
	}
	var clamped []string
	for _, m := range metrics.Metrics() {
		if n := snap.Hist[m].Clamped(); n > 0 {
			clamped = append(clamped, fmt.Sprintf("%s: %d", m, n))
		}
	}
	if len(clamped) > 0 {
		sort.Strings(clamped)
		w = append(w, fmt.Sprintf("values outside the histogram range (1µs..60s) were recorded at its edge: %v", clamped))
	}
	if h := r.Harness; h.Saturated {
		who := "client"
		if h.InProcessServer {
			who = "client and in-process server"
		}
		w = append(w, fmt.Sprintf("the %s process was saturated (%s): latency figures are limited by the client, not only the server",
			who, strings.Join(h.Saturation, "; ")))
	}
	if h := r.Harness; h.ServerOnThisMachine && h.MachineCPUUtilization > SaturatedCPU {
		w = append(w, fmt.Sprintf("this machine's CPUs were %.0f%% busy in the window, and the server runs on this machine too: client and server competed for the cores, so the figures show both, not the server alone (give each its own cores or machine)",
			100*h.MachineCPUUtilization))
	}
	if b := r.Broadcast; b != nil && b.Expected > 0 && (b.Reach < 0.999 || b.Gaps > 0) {
		w = append(w, fmt.Sprintf("broadcast reach %.4f: %d of %d deliveries arrived, %d missed in gaps", b.Reach, b.Deliveries, b.Expected, b.Gaps))
	}
	// stream part: what a stream's figures cannot say.
	if st := r.Stream; st != nil {
		if st.Clocks == ClocksUnsynchronised && r.Latency[metrics.Delivery.String()].Count > 0 {
			w = append(w, "stream delivery latency compares the server's clock with this machine's, and the server is another machine: unsynchronised clocks, the figures are off by their difference")
		}
		if st.Early > 0 {
			w = append(w, fmt.Sprintf("%d stream messages carried a send time after their arrival (recorded as 0 delivery latency): the server's clock is ahead of this machine's", st.Early))
		}
		if st.Gaps > 0 || st.Duplicates > 0 {
			w = append(w, fmt.Sprintf("the stream skipped %d sequence numbers and repeated %d messages", st.Gaps, st.Duplicates))
		}
	}
	switch {
	case r.StopReason == metrics.StopCompleted:
	case r.Connections.Opened == 0:
		w = append(w, fmt.Sprintf("the run did not complete (%s): no connection was ever opened, so nothing was measured", r.StopReason))
	default:
		w = append(w, fmt.Sprintf("the run did not complete (%s): figures cover %.2fs of the planned %s", r.StopReason, r.DurationS, r.Scenario.Duration))
	}
	return w
}
