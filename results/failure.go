package results

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// Stop reasons of a run whose server did not do what the workload needs.
const (
	StopNotEcho      = metrics.StopNotEcho
	StopNotBroadcast = metrics.StopNotBroadcast
)

// Mismatch is what a run saw instead of the replies its workload needs:
// Reason StopNotEcho with the first bytes of a message sent and of what came
// back instead (counted as error Kind), or Reason StopNotBroadcast.
type Mismatch = metrics.Mismatch

// failure is the one plain line that says why a run failed though it ran
// (empty: it did not): the server does not echo, or does not broadcast, or
// nothing at all was measured. An interrupted run is not a failure of this
// kind, nor is one in which no connection opened, nor one a :abort threshold
// stopped (exit 4 says why, even when that came before any reply).
func failure(r *Report, in About, meas *metrics.Measurement) string {
	snap := meas.Snapshot
	if in.Failure != "" {
		return in.Failure
	}
	if m := meas.Mismatch; m != nil && m.Reason == metrics.StopOpenFailed && r.StopReason == metrics.StopNoConnections && !r.Interrupted {
		return openFailure(m, in, snap) // rpc
	}
	if r.Interrupted || r.StopReason == metrics.StopNoConnections || r.StopReason == StopThresholdAbort {
		return "" // stopped by a signal or a :abort threshold, which say why themselves
	}
	if m := meas.Mismatch; m != nil && m.Reason == StopNotEcho {
		return fmt.Sprintf("the server answers, but not with an echo of what was sent: expected the echo of a %d-byte %s message (%s), got the %d-byte %s message %s (%s %d; no reply was an echo)",
			m.SentLen, m.SentOp, excerpt(m.Sent, m.SentLen, in), m.GotLen, m.GotOp, excerpt(m.Got, m.GotLen, in), m.Kind, snap.Errors[m.Kind])
	}
	if m := meas.Mismatch; m != nil && m.Reason == metrics.StopNoReply && snap.Counts.Received+snap.Counts.Failed == 0 {
		return noReply(m, in, snap) // rpc
	}
	if m := meas.Mismatch; m != nil && m.Reason == StopNotBroadcast {
		reach := 0.0
		if b := r.Broadcast; b != nil {
			reach = b.Reach
		}
		return fmt.Sprintf("the server echoes each message to its publisher but does not broadcast it: no member received a message from another member of its room (reach %.2f, the publishers' own echoes only); is %s a broadcast server whose rooms --room-path names?",
			reach, r.Target)
	}
	if line := streamFailure(r, in, meas); line != "" { // stream part
		return line
	}
	s := in.Spec
	if s.Kind == scenario.KindFlow && !s.Mixed() { // flowrun: judged by its steps
		return flowFailure(r, in, meas)
	}
	if s.Mixed() || s.Kind == scenario.KindConnect || s.Kind == scenario.KindHold && s.Rate == 0 {
		return "" // no replies expected, or judged group by group
	}
	if c := snap.Counts; s.Kind == scenario.KindRequest && c.Received == 0 && c.Failed > 0 {
		// rpc: the server answers, with errors only.
		return fmt.Sprintf("every request failed: %d of %d sent were answered with an error reply, none with a result (errors: %s)",
			c.Failed, c.Sent, ErrorCounts(snap.Errors))
	}
	// (An open-model run whose schedule had nothing fall due in the window
	// has nothing to answer.)
	if c := snap.Counts; c.Received == 0 && c.Deliveries == 0 && c.Stream == 0 && (c.Sent > 0 || c.Unsent > 0 || s.Model() == scenario.Closed) {
		return fmt.Sprintf("nothing was measured: %d messages sent in the %.2fs window, no reply received (errors: %s)",
			c.Sent, r.DurationS, ErrorCounts(snap.Errors))
	}
	return ""
}

// ErrorCounts is errors as one line, "kind n, kind n", the most frequent
// kind first (ties by name), or "none": for failure lines, where the kinds
// that matter come first.
func ErrorCounts(errs map[string]int64) string {
	if len(errs) == 0 {
		return "none"
	}
	kinds := make([]string, 0, len(errs))
	for k := range errs {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if errs[kinds[i]] != errs[kinds[j]] {
			return errs[kinds[i]] > errs[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	for i, k := range kinds {
		kinds[i] = fmt.Sprintf("%s %d", k, errs[k])
	}
	return strings.Join(kinds, ", ")
}

// excerptRunes is how much of a message a failure line shows.
const excerptRunes = 48

// excerpt shows the first bytes of a message (of n bytes in all) for a
// failure line: secrets redacted, then at most excerptRunes characters,
// printable text between backquotes, anything else quoted with escapes,
// "…" when cut short.
func excerpt(b []byte, n int, in About) string {
	s := redactText(string(b), in)
	more := ""
	if n > len(b) {
		more = "…"
	}
	if r := []rune(s); len(r) > excerptRunes {
		s, more = string(r[:excerptRunes]), "…"
	}
	if utf8.ValidString(s) && !strings.ContainsRune(s, '`') && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return "`" + s + more + "`"
	}
	return strconv.Quote(s) + more
}

// secretKey matches "name=value", "name: value" and "\"name\":\"value\""
// where the name looks like it holds a credential; bearer matches an
// Authorization header's scheme and token.
var (
	secretKey = regexp.MustCompile(`(?i)("?[\w.-]*(?:token|secret|passw|pwd|key|auth|session|cookie|jwt|sig|credential)[\w.-]*"?\s*[:=]\s*)("[^"]*"?|[^\s&,;"'}]+)`)
	bearer    = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[\w.~+/=-]+`)
)

// redactText hides what may be a secret in text the server sent or the
// client sent: the run's own secret values and the secrets of URLs
// (scenario.Spec.Scrubber), bearer tokens, and the values of names that
// look like credentials.
func redactText(s string, in About) string {
	spec := in.Spec
	if spec.Target == "" {
		spec.Target = in.Target
	}
	s = spec.Scrubber()(s)
	s = bearer.ReplaceAllString(s, "$1 "+Redacted)
	return secretKey.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretKey.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], `"`) {
			return sub[1] + `"` + Redacted + `"`
		}
		return sub[1] + Redacted
	})
}

// noReply is the line of a request run whose requests got no reply their
// key matchers recognise (rpc part): what a reply should carry, the
// request sent, and what came back instead (or nothing).
func noReply(m *Mismatch, in About, snap *metrics.Snapshot) string {
	c := snap.Counts
	got := "nothing came back"
	if m.Got != nil || m.GotLen > 0 {
		got = fmt.Sprintf("got the %d-byte %s message %s (unsolicited %d)", m.GotLen, m.GotOp, excerpt(m.Got, m.GotLen, in), c.Unsolicited)
	}
	return fmt.Sprintf("no request was answered: expected replies whose %s names a request in flight, within %s of the %d-byte %s request %s; %s (sent %d, timed out %d, in flight %d)",
		m.Expect, fmtDur(m.Timeout), m.SentLen, m.SentOp, excerpt(m.Sent, m.SentLen, in), got, c.Sent, c.TimedOut, c.InFlight)
}

// openFailure is the line of a run in which no connection got through the
// protocol's opening (rpc part): the message awaited, what the server sent
// instead, and the failures by kind.
func openFailure(m *Mismatch, in About, snap *metrics.Snapshot) string {
	got := "nothing came"
	if m.Got != nil || m.GotLen > 0 {
		got = fmt.Sprintf("got the %d-byte %s message %s", m.GotLen, m.GotOp, excerpt(m.Got, m.GotLen, in))
	}
	after := ""
	if m.Sent != nil {
		after = fmt.Sprintf(" after %s", excerpt(m.Sent, m.SentLen, in))
	}
	return fmt.Sprintf("no connection got through the protocol's opening: expected a message matching %s within %s%s, %s (%s)",
		m.Expect, fmtDur(m.Timeout), after, got, ErrorCounts(snap.Errors))
}
