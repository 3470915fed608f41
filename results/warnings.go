package results

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// warnings says, in plain words, everything that makes the figures less than
// trustworthy or less than what was asked for.
// saturation lists why the client may have been the bottleneck of the run.
func saturation(r *Report, snap *metrics.Snapshot) []string {
	reasons := []string{}
	h := r.Harness
	if h.Cores > 0 && h.CPUUtilization > SaturatedCPU {
		unit := "cores"
		if h.Cores == 1 {
			unit = "core"
		}
		reasons = append(reasons, fmt.Sprintf("CPU %.0f%% of the %d %s it could use", 100*h.CPUUtilization, h.Cores, unit))
	}
	if r.Scenario.Rate > 0 {
		interval, sender := sendInterval(r)
		if lag := snap.Hist[metrics.SendLag]; lag.Count() > 0 && lag.Percentile(99) > time.Duration(SaturatedSendLag*float64(interval)) {
			reasons = append(reasons, fmt.Sprintf("send lag p99 %s is over %.0f%% of each %s's send interval (%s): sends left late",
				fmtDur(lag.Percentile(99)), 100*SaturatedSendLag, sender, fmtDur(interval)))
		}
	}
	if h.GCPauseFraction > SaturatedGCPauses {
		reasons = append(reasons, fmt.Sprintf("GC pauses %.1f%% of wall time", 100*h.GCPauseFraction))
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
		sched.Conns = sc.Conns / sc.RoomSize * sc.Publishers
		return sched.Interval(), "publisher"
	}
	if r.Connections.Opened > 0 {
		sched.Conns = int(r.Connections.Opened)
	}
	return sched.Interval(), "connection"
}

func warnings(r *Report, snap *metrics.Snapshot) []string {
	var w []string
	c := snap.Counts
	if !c.Balanced() {
		w = append(w, fmt.Sprintf("counts do not add up: sent %d != received %d + lost %d + in flight %d (a wsbench bug: please report it)",
			c.Sent, c.Received, c.Lost, c.InFlight))
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
	if c.InFlight > 0 && c.Sent > 0 && float64(c.InFlight) > 0.01*float64(c.Sent) {
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
	if r.StopReason != "completed" {
		w = append(w, fmt.Sprintf("the run did not complete (%s): figures cover %.2fs of the planned %s", r.StopReason, r.DurationS, r.Scenario.Duration))
	}
	return w
}
