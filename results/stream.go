package results

import (
	"fmt"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// The stream part of the report: what the connections received of the
// server's stream (kind subscribe, or the stream of another protocol
// kind), and whether its one-way delivery latency can be trusted.

// Clock agreement of a stream's one-way latency (Stream.Clocks).
const (
	// ClocksSame: the server is this machine (the bundled server, or a
	// loopback or local address): its send times and the client's arrival
	// times come from one clock.
	ClocksSame = "same_machine"
	// ClocksUnsynchronised: the server is another machine, whose clock may
	// be off from the client's by any amount: the delivery figures are
	// recorded but mean nothing without synchronised clocks.
	ClocksUnsynchronised = "unsynchronised"
)

// Stream is what the connections received of the server's stream.
// Messages are the stream's messages in the measured window, duplicates
// not included (Duplicates counts those); PerSecond is their rate over the
// window in all, PerConnPerSecond per connection opened. Gaps are
// sequence numbers skipped (a late arrival takes its gap back), Late
// arrived after a later one; Stalls are gaps between two messages of a
// connection longer than StallS (0: not counted). Other counts the
// messages of a subscribe run that were not the stream's. The inter-arrival
// gaps are the latency "gap", the one-way delivery latency "delivery"
// (when the messages carry their send time), whose Clocks say whether it
// can be trusted; Early are messages sent after they arrived (clocks apart,
// recorded as 0).
type Stream struct {
	Match            string  `json:"match"`
	Messages         int64   `json:"messages"`
	PerSecond        float64 `json:"messages_per_s"`
	PerConnPerSecond float64 `json:"messages_per_s_per_conn"`
	Gaps             int64   `json:"gaps"`
	Late             int64   `json:"late"`
	Duplicates       int64   `json:"duplicates"`
	Stalls           int64   `json:"stalls"`
	StallS           float64 `json:"stall_s"`
	Other            int64   `json:"other"`
	Early            int64   `json:"early"`
	// Silent counts connections whose stream had been silent for longer
	// than the stall when the window ended (a stream that stopped).
	Silent int64  `json:"silent_at_end"`
	Clocks string `json:"clocks"`
}

// hasStream says whether a run of s measures a server's stream.
func hasStream(s scenario.Spec, c metrics.Counts) bool {
	return s.Kind == scenario.KindSubscribe || s.Stream != nil || c.Stream > 0 || c.StreamDups > 0
}

// streamReport is the Stream of a run of in.Spec that measured c over secs.
func streamReport(in About, c metrics.Counts, secs float64) *Stream {
	s := in.Spec
	if !hasStream(s, c) {
		return nil
	}
	st := &Stream{Match: "any", Messages: c.Stream, Gaps: c.StreamGaps, Late: c.StreamLate, Duplicates: c.StreamDups,
		Stalls: c.StreamStalls, Other: c.StreamOther, Early: c.StreamEarly, Silent: c.StreamSilent, Clocks: ClocksUnsynchronised}
	if s.Protocol != "" {
		st.Match = "the " + s.Protocol + " preset's"
	}
	if s.Stream != nil {
		st.StallS = time.Duration(s.Stream.Stall).Seconds()
		if s.Stream.Match != "" {
			st.Match = s.Stream.Match
		}
	}
	if in.ServerLocal || in.Bundled {
		st.Clocks = ClocksSame
	}
	if secs > 0 {
		st.PerSecond = float64(c.Stream) / secs
		if c.ConnsOpened > 0 {
			st.PerConnPerSecond = st.PerSecond / float64(c.ConnsOpened)
		}
	}
	return st
}

// streamRow is the summary's row of the stream.
func streamRow(st *Stream, gap Latency) []string {
	stalls := fmt.Sprintf("stalls %d", st.Stalls)
	if st.StallS > 0 {
		stalls += fmt.Sprintf(" (> %s)", fmtUs(st.StallS*1e6))
		if st.Silent > 0 {
			stalls += fmt.Sprintf(", %d connections silent at the end", st.Silent)
		}
	} else {
		stalls = "stalls not counted (no --stall)"
	}
	maxGap := "max gap -"
	if gap.Count > 0 {
		maxGap = "max gap " + fmtUs(gap.MaxUs)
	}
	return []string{fmt.Sprintf("received %d", st.Messages),
		fmt.Sprintf("%s msg/s (%s per connection)", fmtNum(st.PerSecond), fmtNum(st.PerConnPerSecond)),
		maxGap + "  " + stalls,
		fmt.Sprintf("seq gaps %d  late %d  duplicates %d  other messages %d", st.Gaps, st.Late, st.Duplicates, st.Other)}
}

// streamFailure is the line of a subscribe run in which no stream message
// arrived (empty: some did, or the run is no subscribe run): what the
// stream's matcher expected, and what came instead.
func streamFailure(r *Report, in About, meas *metrics.Measurement) string {
	st := r.Stream
	if st == nil || in.Spec.Kind != scenario.KindSubscribe || st.Messages > 0 || st.Duplicates > 0 {
		return ""
	}
	want := fmt.Sprintf("expected the server's stream, messages matching %s", st.Match)
	if m := meas.Mismatch; m != nil && m.Reason == metrics.StopNoStream {
		return fmt.Sprintf("no stream message arrived in the %.2fs window: %s, got %d other messages, the first the %d-byte %s message %s",
			r.DurationS, want, st.Other, m.GotLen, m.GotOp, excerpt(m.Got, m.GotLen, in))
	}
	return fmt.Sprintf("no stream message arrived in the %.2fs window: %s, got no message at all (did the subscribe messages reach the server? errors: %s)",
		r.DurationS, want, ErrorCounts(meas.Snapshot.Errors))
}

// streamSubjects are the thresholds on the stream (stream.rate>900, …).
var streamSubjects = map[string]func(*Report) float64{
	"stream.messages":      func(r *Report) float64 { return streamField(r, func(s *Stream) float64 { return float64(s.Messages) }) },
	"stream.rate":          func(r *Report) float64 { return streamField(r, func(s *Stream) float64 { return s.PerSecond }) },
	"stream.rate_per_conn": func(r *Report) float64 { return streamField(r, func(s *Stream) float64 { return s.PerConnPerSecond }) },
	"stream.gaps":          func(r *Report) float64 { return streamField(r, func(s *Stream) float64 { return float64(s.Gaps) }) },
	"stream.late":          func(r *Report) float64 { return streamField(r, func(s *Stream) float64 { return float64(s.Late) }) },
	"stream.duplicates": func(r *Report) float64 {
		return streamField(r, func(s *Stream) float64 { return float64(s.Duplicates) })
	},
	"stream.stalls": func(r *Report) float64 { return streamField(r, func(s *Stream) float64 { return float64(s.Stalls) }) },
	"stream.silent": func(r *Report) float64 { return streamField(r, func(s *Stream) float64 { return float64(s.Silent) }) },
}

func streamField(r *Report, f func(*Stream) float64) float64 {
	if r.Stream == nil {
		return 0
	}
	return f(r.Stream)
}
