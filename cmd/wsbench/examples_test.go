package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/schedwatch"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// bench part: the protocol examples that name no target run as-is against
// the bundled server (scenario.TestExamples compiles every example; the
// preset ones need their third-party server and are run by hand).

// stalledFor is the scheduling delay past which the offline examples' runs
// (1 s measured) may end with a step still waiting or a latency threshold
// failed: their exact counts are then not asserted.
const stalledFor = 300 * time.Millisecond

// TestOfflineProtocolExamples: each offline example of the protocol kinds
// runs from its file as `wsbench run -f FILE` does (only its duration cut
// to 1 s, and its warm-up to none where it had one) and measures what its
// comments say it does, with counts that must come out exactly (unless the
// machine stalled the test longer than stalledFor).
func TestOfflineProtocolExamples(t *testing.T) {
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, s scenario.Spec, r *results.Report, stalled bool)
	}{
		{"request-jsonrpc.yaml", func(t *testing.T, s scenario.Spec, r *results.Report, stalled bool) {
			// every request answered (the bundled server answers them all):
			// none timed out, failed or unanswered, nothing unsolicited
			m := r.Messages
			if m.Sent == 0 || m.TimedOut != 0 || m.Failed != 0 || m.Unsolicited != 0 {
				t.Errorf("messages %+v: want requests sent, none timed out or failed, nothing unsolicited", m)
			}
			if !stalled && (m.Received != m.Sent || m.Lost != 0) {
				t.Errorf("messages %+v: want every request sent answered", m)
			}
		}},
		{"subscribe-push.yaml", func(t *testing.T, s scenario.Spec, r *results.Report, _ bool) {
			st := r.Stream
			if st == nil {
				t.Fatalf("no stream (failure %q)", r.Failure)
			}
			// each subscriber gets push_rate a second: with 1 s measured,
			// about conns × push_rate messages, and none missed or repeated
			if st.Messages < int64(s.Conns) || st.Gaps != 0 || st.Duplicates != 0 || st.Clocks != results.ClocksSame {
				t.Errorf("stream %+v: want at least one message per subscriber, no gaps or duplicates, one clock", *st)
			}
			if r.Latency["delivery"].Count != st.Messages {
				t.Errorf("delivery latency of %d messages, want one per stream message (%d)", r.Latency["delivery"].Count, st.Messages)
			}
		}},
		{"flow-login.yaml", func(t *testing.T, s scenario.Spec, r *results.Report, stalled bool) {
			steps := map[string]results.Step{}
			for _, st := range r.Steps {
				steps[st.Name] = st
			}
			// every connection logs in once and subscribes once (the file
			// measures from the start: no warm-up), then loops its gets
			for _, name := range []string{"login", "subscribe"} {
				st := steps[name]
				if st.ErrorCount != 0 || st.Latency.Count > int64(s.Conns) || !stalled && st.Latency.Count != int64(s.Conns) {
					t.Errorf("step %s: %d done, %d failed; want %d done (one per connection), none failed", name, st.Latency.Count, st.ErrorCount, s.Conns)
				}
			}
			if st := steps["get"]; st.ErrorCount != 0 || !stalled && st.Latency.Count < int64(s.Conns) {
				t.Errorf("step get: %d done, %d failed; want at least one per connection, none failed", st.Latency.Count, st.ErrorCount)
			}
			if r.Flow == nil || r.Flow.Sessions != int64(s.Conns) || r.Flow.SessionsFailed != 0 {
				t.Errorf("flow %+v: want %d sessions, none failed", r.Flow, s.Conns)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "scenario", "examples", tc.file)
			s, err := scenario.LoadFile(path, scenario.Default())
			if err != nil {
				t.Fatal(err)
			}
			if s.Target != "" {
				t.Fatalf("%s names a target (%s): an offline example runs against the bundled server", tc.file, s.Target)
			}
			args := []string{"run", "-f", path, "-d", "1s", "-q", "--json"}
			if s.Warmup > 0 {
				args = append(args, "--warmup", "0s")
			}
			stop := schedwatch.Watch()
			code, out, errOut := runCLI(args...)
			sched := stop()
			stalled := sched.Max > stalledFor
			if code != exitOK && !(code == exitThresh && stalled) {
				t.Fatalf("exit %d (scheduling delay max %v): %s", code, sched.Max, errOut)
			}
			if stalled {
				t.Logf("the machine stalled the run %v (exit %d): exact counts not asserted", sched.Max, code)
			}
			var r results.Report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			if r.Failure != "" || !r.Bundled || !r.Messages.Balanced {
				t.Errorf("failure %q, bundled %v, messages %+v: want a balanced run against the bundled server", r.Failure, r.Bundled, r.Messages)
			}
			tc.check(t, r.Scenario, &r, stalled)
		})
	}
}
