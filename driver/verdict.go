package driver

import (
	"github.com/wsbench/wsbench/metrics"
	"sync/atomic"
	"time"
)

// verdictAfter is how long a run waits, after the first reply that is not an
// echo (or the first echo of a broadcast run), for evidence that the server
// does what the workload needs, before it stops and says it does not.
const verdictAfter = time.Second

// excerptLen bounds the excerpts a Mismatch keeps of what was sent and what
// came back: more than a failure line shows, so that a secret is redacted
// whole before the line cuts it short.
const excerptLen = 256

// Mismatch says the server does not do what the workload needs, with what
// showed it: a server that answers with something other than an echo
// (Reason StopNotEcho; its replies are counted as Kind), or one that echoes
// a broadcast to its publisher but to no other member of the room (Reason
// StopNotBroadcast). Sent and Got are the first bytes of a message sent and
// of what came back instead (at most excerptLen each, not redacted).
type Mismatch = metrics.Mismatch

// verdict is what the event loops tell Run about the replies so far, so
// that a run against a server that does not echo (or does not broadcast)
// stops within verdictAfter instead of measuring nothing.
type verdict struct {
	// echoes and relays count event loops that have seen a matched echo,
	// or a broadcast delivery from another member (each loop adds once).
	echoes, relays atomic.Int64
	first          atomic.Pointer[Mismatch] // the first reply that was not an echo
	// firstMismatch and firstEcho are signalled (once) when the first
	// non-echo reply, or the first matched echo, arrives.
	firstMismatch, firstEcho chan struct{}
	// cut ends the run's sending and its grace period at once: the verdict
	// is in, waiting for replies would only add to the time it takes.
	cut atomic.Bool

	// rpc: noMatch is the stop reason of a server whose replies match
	// nothing: StopNotEcho, or StopNoReply in a request run, whose
	// noReply is set (by the first send) to say what was asked when no
	// message at all came back.
	noMatch metrics.StopReason
	noReply atomic.Pointer[Mismatch]
	// after is how long a match may take to come after the first message
	// that was none: verdictAfter, or a request run's request timeout when
	// longer (a slow method's reply may come after a notification).
	after time.Duration
}

// init makes the signals' channels (until then signals go nowhere).
func (v *verdict) init() {
	v.firstMismatch, v.firstEcho = make(chan struct{}, 1), make(chan struct{}, 1)
	v.noMatch = StopNotEcho
	v.after = verdictAfter
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// watch returns a channel that yields a stop reason (StopNotEcho or
// StopNotBroadcast) once the replies show the server does not do what the
// workload needs: no echo at all within verdictAfter of the first reply that
// was not one, or in a broadcast run with rooms of several members, no
// delivery to a member other than the publisher within verdictAfter of the
// first echo (relay: see relayable). It gives up when stop is closed.
func (v *verdict) watch(relay bool, stop <-chan struct{}) <-chan metrics.StopReason {
	out := make(chan metrics.StopReason, 1)
	go func() {
		mismatch, echo := v.firstMismatch, v.firstEcho
		var notEcho, notBroadcast <-chan time.Time
		for {
			select {
			case <-stop:
				return
			case <-mismatch:
				mismatch = nil
				notEcho = time.After(v.after)
			case <-echo:
				echo = nil
				if relay {
					notBroadcast = time.After(verdictAfter)
				}
			case <-notEcho:
				notEcho = nil
				if v.echoes.Load() == 0 && v.relays.Load() == 0 {
					out <- v.noMatch
					return
				}
			case <-notBroadcast:
				notBroadcast = nil
				if v.relays.Load() == 0 {
					out <- StopNotBroadcast
					return
				}
			}
		}
	}()
	return out
}

// relayable says whether a broadcast can reach, inside this process, a
// member other than its publisher: some room has a publisher and another
// member among the connections that opened here (a room may span the
// processes of a split run).
func relayable(conns []dialed, first int, rm rooms) bool {
	if rm.size < 2 {
		return false
	}
	type seen struct{ pub, members int }
	byRoom := map[int]*seen{}
	for _, d := range conns {
		slot := first + d.index
		s := byRoom[slot/rm.size]
		if s == nil {
			s = &seen{}
			byRoom[slot/rm.size] = s
		}
		s.members++
		if slot%rm.size < rm.publishers {
			s.pub++
		}
		if s.pub > 0 && s.members >= 2 {
			return true
		}
	}
	return false
}

// result is the Mismatch of a finished run (nil: the server did what the
// workload needs): the one that stopped it (reason), or, when the run went
// to its end, no echo ever matched while other replies came, or a broadcast
// run's echoes reached no other member.
func (v *verdict) result(reason metrics.StopReason, relay bool) *Mismatch {
	first := v.first.Load()
	switch {
	case reason == StopNotBroadcast,
		reason != StopNotEcho && relay && v.echoes.Load() > 0 && v.relays.Load() == 0:
		return &Mismatch{Reason: StopNotBroadcast}
	case first != nil && (reason == v.noMatch || v.echoes.Load() == 0 && v.relays.Load() == 0):
		m := *first
		m.Reason = v.noMatch
		return &m
	case v.noReply.Load() != nil && v.echoes.Load() == 0:
		m := *v.noReply.Load() // rpc: requests sent, no message back at all
		m.Reason = v.noMatch
		return &m
	}
	return nil
}
