package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/scenario"
)

// The stream part's flags: kind subscribe's subscribe messages, the
// stream's fields (any protocol kind's stream) and the bundled push
// server's stream.

// streamFlagOfKey names the flags of the stream's keys.
var streamFlagOfKey = map[string]string{
	"stream": "stream-match", "stream.match": "stream-match", "stream.seq": "seq-field", "stream.sent": "sent-field",
	"stream.unit": "sent-unit", "stream.stall": "stall", "stream.seq_start": "seq-start",
}

// streamFlags defines the stream flags on fs; the function it returns,
// called once fs is parsed, puts those given into spec (over a scenario
// file's) and fills in, for a subscribe run against the bundled server,
// what the server's stream needs.
func streamFlags(fs *pflag.FlagSet, spec *scenario.Spec) func() {
	var st scenario.StreamSpec
	var subs []string
	fs.StringArrayVar(&subs, "subscribe", nil, `subscribe: a message each connection sends as it opens, before the clock starts (repeatable; a template with {{conn}}), e.g. '{"jsonrpc":"2.0","method":"rpc.on","params":["tick"],"id":1}'`)
	fs.StringVar(&st.Match, "stream-match", "", `the server's stream: the messages that belong to it, a matcher ($.method==tick, re:REGEX, prefix:TEXT, any; default any)`)
	fs.StringVar(&st.Seq, "seq-field", "", "the server's stream: where a message carries its sequence number ($.params.seq): gaps, late arrivals and duplicates are counted")
	fs.StringVar(&st.Sent, "sent-field", "", "the server's stream: where a message carries the server's send time ($.params.sent_ns, since the Unix epoch in --sent-unit): one-way delivery latency, trusted only when the server is on this machine")
	var seqStart uint64
	fs.Uint64Var(&seqStart, "seq-start", 0, "the server's stream: each connection's sequence starts at this number (a stream per subscription), so messages missed before its first arrival count as gaps; unset: the first arrival starts it")
	fs.StringVar(&st.Unit, "sent-unit", "", "the unit of --sent-field: ns, us, ms or s")
	fs.DurationVar((*time.Duration)(&st.Stall), "stall", 0, "the server's stream: count gaps between two messages of a connection longer than this as stalls (0 = none)")
	fs.Float64Var(&spec.PushRate, "push-rate", spec.PushRate, "subscribe, no URL: the bundled server pushes this many messages a second to each subscriber (default 10)")
	fs.IntVar(&spec.PushCount, "push-count", spec.PushCount, "subscribe, no URL: the bundled server ends each subscriber's stream after this many messages (0 = no end)")
	return func() {
		for _, s := range subs {
			spec.Open = append(spec.Open, scenario.StepSpec{Send: s})
		}
		changed := false
		into := scenario.StreamSpec{}
		if spec.Stream != nil {
			into = *spec.Stream
		}
		for _, f := range []struct {
			name     string
			from, to *string
		}{{"stream-match", &st.Match, &into.Match}, {"seq-field", &st.Seq, &into.Seq}, {"sent-field", &st.Sent, &into.Sent}, {"sent-unit", &st.Unit, &into.Unit}} {
			if fs.Changed(f.name) {
				*f.to, changed = *f.from, true
			}
		}
		if fs.Changed("seq-start") {
			into.SeqStart, changed = &seqStart, true
		}
		if fs.Changed("stall") {
			into.Stall, changed = st.Stall, true
		}
		if changed {
			spec.Stream = &into
		}
		*spec = scenario.BundledPush(*spec)
	}
}
