package scenario

import (
	"fmt"
	"time"

	"github.com/wsbench/wsbench/internal/flow"
)

// The stream part of the protocol workloads: a server-pushed stream
// (StreamSpec, kind subscribe, and the stream of the other protocol
// kinds), compiled into flow.Stream; and the bundled server's push stream.

// Units of StreamSpec.Unit: what one unit of the Sent field is.
var streamUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
}

// The bundled push server's stream (server.ModePush), and what a
// subscribe run against it reads from each message: {"seq":N,"sent_ns":T}.
const (
	PushMatch = "$.seq"
	PushSeq   = "$.seq"
	PushSent  = "$.sent_ns"
	PushUnit  = "ns"
	// PushSubscribe is the subscribe message a subscribe run sends the
	// bundled server (any first message subscribes).
	PushSubscribe = `{"subscribe":"push"}`
)

// BundledPush fills in, for a subscribe run of s against the bundled push
// server (no target), what s leaves unset: the subscribe message and the
// stream's fields, those of the server's messages. Other runs are
// returned as they are.
func BundledPush(s Spec) Spec {
	if s.Target != "" || s.Kind != KindSubscribe || s.Protocol != "" {
		return s
	}
	if len(s.Open) == 0 {
		s.Open = []StepSpec{{Send: PushSubscribe}}
	}
	st := StreamSpec{}
	if s.Stream != nil {
		st = *s.Stream
	}
	if st.Match == "" {
		st.Match = PushMatch
	}
	if st.Seq == "" {
		st.Seq = PushSeq
		if st.SeqStart == nil {
			one := uint64(1)
			st.SeqStart = &one // each subscriber's stream counts from 1
		}
	}
	if st.Sent == "" {
		st.Sent, st.Unit = PushSent, PushUnit
	}
	s.Stream = &st
	return s
}

// checkPush checks the bundled push server's settings: only for a
// subscribe run against it.
func (s Spec) checkPush() []error {
	var errs []error
	bad := func(key, format string, a ...any) { errs = append(errs, fieldErr(key, format, a...)) }
	for _, k := range []struct {
		key string
		set bool
	}{{"push_rate", s.PushRate != 0}, {"push_count", s.PushCount != 0}} {
		switch key := k.key; {
		case !k.set:
		case s.Kind != KindSubscribe:
			bad(key, "sets the bundled server's push stream, for %s subscribe only", Ref("kind"))
		case s.Target != "":
			bad(key, "sets the bundled server's push stream; the target %s is a server of its own", RedactURL(s.Target, s.SecretParams))
		}
	}
	if !(s.PushRate >= 0 && s.PushRate <= 1e6) {
		bad("push_rate", "want 0 to 1000000 messages a second per subscriber (0: 10), got %v", s.PushRate)
	}
	if s.PushCount < 0 {
		bad("push_count", "must not be negative (0: no end), got %d", s.PushCount)
	}
	return errs
}

// compileStream compiles the Spec's stream (and, for kind subscribe, the
// send steps of open that subscribe, until the protocol session compiles
// them) into c.Protocol. A subscribe run without a stream counts every
// message.
func (c *Compiled) compileStream() []error {
	s := c.Spec
	if s.Stream == nil && c.Kind != KindSubscribe {
		return nil
	}
	var errs []error
	bad := func(key, format string, a ...any) { errs = append(errs, fieldErr(key, format, a...)) }
	if c.Protocol == nil {
		c.Protocol = &flow.Protocol{Name: "custom"}
	}
	p := c.Protocol
	if c.Kind == KindSubscribe && len(p.Open) == 0 {
		for i, st := range s.Open {
			if st.Send == "" {
				continue
			}
			t, err := flow.ParseTemplate(st.Send, nil)
			if err != nil {
				bad(fmt.Sprintf("open[%d].send", i), "%v", err)
				continue
			}
			p.Open = append(p.Open, flow.Step{Kind: flow.StepSend, Send: t, Line: st.Line})
		}
	}
	if s.Stream == nil {
		if p.Stream == nil {
			p.Stream = &flow.Stream{Match: flow.MustMatcher("any")}
		}
		return errs
	}
	st := flow.Stream{Match: flow.MustMatcher("any")}
	if p.Stream != nil {
		st = *p.Stream // a preset's, which the Spec's parts override
	}
	sp := s.Stream
	matcher := func(key, src string) *flow.Matcher {
		m, err := flow.ParseMatcher(src)
		if err != nil {
			bad(key, "%v", err)
			return nil
		}
		return &m
	}
	if sp.Match != "" {
		if m := matcher("stream.match", sp.Match); m != nil {
			st.Match = *m
		}
	}
	if sp.Seq != "" {
		st.Seq = matcher("stream.seq", sp.Seq)
	}
	if sp.Sent != "" {
		st.Sent = matcher("stream.sent", sp.Sent)
	}
	switch u, ok := streamUnits[sp.Unit]; {
	case sp.Unit == "" && sp.Sent != "" && st.Unit == 0:
		bad("stream.unit", "%s is a time: say in what unit (ns, us, ms or s since the Unix epoch)", Ref("stream.sent"))
	case sp.Unit == "":
	case !ok:
		bad("stream.unit", "want ns, us, ms or s, got %q", sp.Unit)
	case sp.Sent == "" && st.Sent == nil:
		bad("stream.unit", "is the unit of %s, which is not set", Ref("stream.sent"))
	default:
		st.Unit = u
	}
	if sp.SeqStart != nil {
		if sp.Seq == "" && st.Seq == nil {
			bad("stream.seq_start", "is where %s starts, which is not set", Ref("stream.seq"))
		}
		st.SeqStart, st.HasSeqStart = *sp.SeqStart, true
	}
	if sp.Stall < 0 {
		bad("stream.stall", "must not be negative, got %s", sp.Stall)
	} else if sp.Stall > 0 {
		st.Stall = time.Duration(sp.Stall)
	}
	p.Stream = &st
	return errs
}
