package results

import (
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// TestFailure: each way a run that went ahead can fail gives one plain line
// (and none for a healthy run, an interrupted one, or a kind that expects
// no replies); excerpts show what was expected and what arrived, with
// secrets redacted.
func TestFailure(t *testing.T) {
	notEcho := func(got string) func(*fixtureIn) {
		return func(in *fixtureIn) {
			in.StopReason = StopNotEcho
			in.Snapshot.Errors["echo_mismatch"] = 7
			in.Mismatch = &Mismatch{Reason: StopNotEcho, Kind: "echo_mismatch", Sent: []byte("AAAAabcdef"), SentLen: 64, SentOp: "text",
				Got: []byte(got), GotLen: len(got), GotOp: "text"}
		}
	}
	nothing := func(_ *scenario.Spec, s *metrics.Snapshot) {
		s.Counts.Received, s.Counts.InFlight = 0, s.Counts.Sent
		s.Hist[metrics.RTT].Reset()
		s.Hist[metrics.RTTUncorrected].Reset()
	}
	cases := []struct {
		name   string
		mutate func(*scenario.Spec, *metrics.Snapshot)
		input  func(*fixtureIn)
		want   []string // in the line ("" alone: no failure)
		absent []string // never in the line
	}{
		// a healthy run is no failure
		{"healthy", nil, nil, []string{""}, nil},
		// a server answering {"ok":true}: what was expected and what arrived, the error kind
		{"not echo", nil, notEcho(`{"ok":true}`), []string{
			"the server answers, but not with an echo of what was sent: expected the echo of a 64-byte text message (`AAAAabcdef…`), got the 11-byte text message `{\"ok\":true}` (echo_mismatch 7; no reply was an echo)"}, nil},
		// a reply carrying credentials: their values are redacted
		{"not echo, secrets", func(s *scenario.Spec, _ *metrics.Snapshot) {
			s.Headers = []string{"Authorization: Bearer abc123xyz", "X-Other: visible"}
		}, notEcho(`{"token":"t0ps3cret","session_id":42,"hi":"Bearer zz99yy88","me":"abc123xyz","x":"?password=hunter2&y=1"}`),
			[]string{"`{\"token\":\"REDACTED\",\"session_id\":REDACTED,\"hi\":\"…`"},
			[]string{"t0ps3cret", "zz99yy88", "abc123xyz", "hunter2", ":42"}},
		// a secret cut by the line's length is redacted whole first, never shown in part
		{"not echo, long", func(s *scenario.Spec, _ *metrics.Snapshot) {
			s.Headers = []string{"Authorization: Bearer abc123xyz"}
		}, notEcho(strings.Repeat("x", 44) + "abc123xyz"), []string{"`" + strings.Repeat("x", 44) + "REDA…`"}, []string{"abc1"}},
		// the literal value of a secret header, alone in the reply
		{"not echo, header value", func(s *scenario.Spec, _ *metrics.Snapshot) {
			s.Headers = []string{"Cookie: sid=q1w2e3r4"}
		}, notEcho(`welcome q1w2e3r4`), []string{"`welcome REDACTED`"}, []string{"q1w2e3r4"}},
		// binary or control bytes are shown escaped, never raw
		{"not echo, binary", nil, notEcho("\x00\x01\xffok"), []string{`"\x00\x01\xffok"`}, nil},
		// a broadcast server that only echoes
		{"not broadcast", func(s *scenario.Spec, _ *metrics.Snapshot) {
			s.Kind, s.RoomSize, s.Rate = scenario.KindBroadcast, 10, 100
		}, func(in *fixtureIn) {
			in.StopReason = StopNotBroadcast
			in.Mismatch = &Mismatch{Reason: StopNotBroadcast}
		}, []string{"the server echoes each message to its publisher but does not broadcast it"}, nil},
		// a closed-model run that received nothing
		{"nothing measured", nothing, nil, []string{"nothing was measured: 1010 messages sent in the 10.00s window, no reply received (errors: none)"}, nil},
		// ... unless interrupted (its own exit code), or a kind expecting no replies
		{"nothing measured, interrupted", nothing, func(in *fixtureIn) { in.StopReason = "interrupted" }, []string{""}, nil},
		// ... or stopped by a :abort threshold before any reply came (exit 4, not 1)
		{"nothing measured, threshold abort", nothing, func(in *fixtureIn) { in.StopReason = StopThresholdAbort }, []string{""}, nil},
		// an open-model run with nothing due in its window has nothing to answer
		{"nothing due", func(s *scenario.Spec, snap *metrics.Snapshot) {
			nothing(s, snap)
			s.Rate = 0.5
			snap.Counts.Sent, snap.Counts.InFlight = 0, 0
		}, nil, []string{""}, nil},
		// ... but sends that fell due and were never made are no excuse
		{"nothing sent, unsent", func(s *scenario.Spec, snap *metrics.Snapshot) {
			nothing(s, snap)
			s.Rate = 100
			snap.Counts.Sent, snap.Counts.InFlight, snap.Counts.Unsent = 0, 0, 1000
		}, nil, []string{"nothing was measured: 0 messages sent"}, nil},
		// rpc: a request run whose requests got no reply: the matcher, the request, nothing back
		{"no reply, nothing back", func(s *scenario.Spec, snap *metrics.Snapshot) {
			nothing(s, snap)
			s.Kind = scenario.KindRequest
			snap.Counts.TimedOut, snap.Counts.InFlight = 1000, 10
		}, func(in *fixtureIn) {
			in.Mismatch = &Mismatch{Reason: metrics.StopNoReply, Kind: "request_timeout", Expect: "$.id", Timeout: 5 * time.Second,
				Sent: []byte(`{"id":1,"token":"t0ps3cret"}`), SentLen: 28, SentOp: "text"}
		}, []string{"no request was answered: expected replies whose $.id names a request in flight, within 5.00s of the 28-byte text request `{\"id\":1,\"token\":\"REDACTED\"}`; nothing came back (sent 1010, timed out 1000, in flight 10)"},
			[]string{"t0ps3cret"}},
		// ... one that answers something else: what came instead, redacted
		{"no reply, unsolicited", func(s *scenario.Spec, snap *metrics.Snapshot) {
			nothing(s, snap)
			s.Kind = scenario.KindRequest
			snap.Counts.Unsolicited = 3
		}, func(in *fixtureIn) {
			in.StopReason = metrics.StopNoReply
			in.Mismatch = &Mismatch{Reason: metrics.StopNoReply, Kind: "unsolicited", Expect: "$.id", Timeout: time.Second,
				Sent: []byte(`{"id":1}`), SentLen: 8, SentOp: "text", Got: []byte(`{"session":"abc"}`), GotLen: 17, GotOp: "text"}
		}, []string{"; got the 17-byte text message `{\"session\":\"REDACTED\"}` (unsolicited 3)"}, []string{"abc"}},
		// ... one that answers every request with an error
		{"every request failed", func(s *scenario.Spec, snap *metrics.Snapshot) {
			nothing(s, snap)
			s.Kind = scenario.KindRequest
			snap.Counts.Failed, snap.Counts.InFlight = snap.Counts.Sent, 0
			snap.Errors["error_-32601"] = snap.Counts.Sent
		}, nil, []string{"every request failed: 1010 of 1010 sent were answered with an error reply, none with a result (errors: error_-32601 1010)"}, nil},
		// a protocol's opening that failed on every connection: the line, though no connection opened
		{"open failed", func(s *scenario.Spec, snap *metrics.Snapshot) {
			nothing(s, snap)
			s.Kind = scenario.KindRequest
			snap.Errors["open_mismatch"] = 4
		}, func(in *fixtureIn) {
			in.StopReason = metrics.StopNoConnections
			in.Mismatch = &Mismatch{Reason: metrics.StopOpenFailed, Kind: "open_mismatch", Expect: "$.type==connection_ack", Timeout: 3 * time.Second,
				Sent: []byte(`{"type":"connection_init"}`), SentLen: 26, SentOp: "text", Got: []byte(`{"type":"error"}`), GotLen: 16, GotOp: "text"}
		}, []string{"no connection got through the protocol's opening: expected a message matching $.type==connection_ack within 3.00s after `{\"type\":\"connection_init\"}`, got the 16-byte text message `{\"type\":\"error\"}` (open_mismatch 4)"}, nil},
		{"nothing measured, hold", func(s *scenario.Spec, snap *metrics.Snapshot) {
			nothing(s, snap)
			s.Kind = scenario.KindHold
		}, nil, []string{""}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureWith(t, tc.mutate, tc.input)
			for _, w := range tc.want {
				if w == "" && r.Failure != "" || !strings.Contains(r.Failure, w) {
					t.Errorf("failure %q, want it to contain %q", r.Failure, w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(r.Failure, a) {
					t.Errorf("failure %q shows %q", r.Failure, a)
				}
			}
			if r.Failure != "" && strings.Contains(r.Failure, "\n") {
				t.Errorf("failure is not one line: %q", r.Failure)
			}
			if r.StopReason == StopNotEcho {
				for _, w := range r.Warnings {
					if strings.Contains(w, "--grace") {
						t.Errorf("warning blames --grace: %q", w)
					}
				}
			}
		})
	}
}

// TestRedactText: values that may be credentials are hidden wherever they
// sit in free text; the rest is left alone.
func TestRedactText(t *testing.T) {
	spec := scenario.Default()
	spec.Headers = []string{"Authorization: Bearer abc123xyz", "Cookie: sid=q1w2e3r4; lang=en", "X-Other: visible"}
	in := About{Spec: spec, Target: "ws://u:pa55word@127.0.0.1/?token=tok3n&room=5"}
	cases := []struct{ text, want string }{
		// JSON string and number values of credential-like names
		{`{"token":"t0ps3cret","session_id":42,"ok":true}`, `{"token":"REDACTED","session_id":REDACTED,"ok":true}`},
		// query-style and header-style pairs
		{`?password=hunter2&y=1`, `?password=REDACTED&y=1`},
		{`X-Api-Key: k3y`, `X-Api-Key: REDACTED`},
		// a bearer token that is not the run's own
		{`auth by Bearer zz99yy88 ok`, `auth by Bearer REDACTED ok`},
		// the run's own secrets, wherever they appear: header token, cookie value, URL password and secret parameter
		{`me abc123xyz`, `me REDACTED`},
		{`cookie q1w2e3r4 here`, `cookie REDACTED here`},
		{`pw pa55word, t tok3n`, `pw REDACTED, t REDACTED`},
		// nothing secret: unchanged, including a non-secret header's value and query
		{`{"ok":true,"room":5,"theme":"dark","other":"visible"}`, `{"ok":true,"room":5,"theme":"dark","other":"visible"}`},
	}
	for _, tc := range cases {
		if got := redactText(tc.text, in); got != tc.want {
			t.Errorf("redactText(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestErrorCounts: a failure line lists the most frequent error kind first,
// ties by name, and says "none" for no errors.
func TestErrorCounts(t *testing.T) {
	for _, tc := range []struct {
		errs map[string]int64
		want string
	}{
		{nil, "none"},
		{map[string]int64{"connect_refused": 3}, "connect_refused 3"},
		{map[string]int64{"a_rare": 1, "z_common": 50, "m_tie": 1}, "z_common 50, a_rare 1, m_tie 1"},
	} {
		if got := ErrorCounts(tc.errs); got != tc.want {
			t.Errorf("ErrorCounts(%v) = %q, want %q", tc.errs, got, tc.want)
		}
	}
}
