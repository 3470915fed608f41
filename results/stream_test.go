package results

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// streamFixture is a subscribe run of 50 connections that received 1000
// stream messages over the 10 s window, against a server on this machine
// (local) or another.
func streamFixture(t *testing.T, local bool) *Report {
	return fixtureWith(t, func(s *scenario.Spec, snap *metrics.Snapshot) {
		s.Kind = scenario.KindSubscribe
		s.Target = "ws://feed.example:9000/"
		s.Stream = &scenario.StreamSpec{Match: "$.type==tick", Seq: "$.seq", Stall: scenario.Duration(50 * time.Millisecond)}
		*snap = *metrics.NewSnapshot()
		snap.Counts = metrics.Counts{ConnsAttempted: 50, ConnsOpened: 50, Stream: 1000, StreamGaps: 3, StreamLate: 1, StreamDups: 2, StreamStalls: 4, StreamOther: 50}
		for i := 1; i <= 1000; i++ {
			snap.Hist[metrics.Gap].Record(time.Duration(i) * 100 * time.Microsecond)
			snap.Hist[metrics.Delivery].Record(time.Duration(i) * time.Microsecond)
		}
	}, func(in *fixtureIn) {
		in.Bundled, in.ServerLocal, in.Target = false, local, "ws://feed.example:9000/"
	})
}

func TestStreamReport(t *testing.T) {
	r := streamFixture(t, false)
	st := r.Stream
	want := Stream{Match: "$.type==tick", Messages: 1000, PerSecond: 100, PerConnPerSecond: 2, Gaps: 3, Late: 1, Duplicates: 2, Stalls: 4, StallS: 0.05, Other: 50, Clocks: ClocksUnsynchronised}
	if st == nil || *st != want {
		t.Fatalf("stream %+v, want %+v", st, want)
	}
	if r.Failure != "" {
		t.Errorf("failure %q for a run that received its stream", r.Failure)
	}
	var text bytes.Buffer
	if err := Text(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Stream", "received 1000", "100 msg/s (2 per connection)", "max gap 100ms", "stalls 4 (> 50.0ms)",
		"seq gaps 3  late 1  duplicates 2  other messages 50", "delivery (unsynchronised clocks)"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text summary lacks %q:\n%s", s, text.String())
		}
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"received 1000", "delivery (unsynchronised clocks)"} {
		if !strings.Contains(page.String(), s) {
			t.Errorf("HTML page lacks %q", s)
		}
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "unsynchronised clocks") {
		t.Errorf("warnings %q: want the unsynchronised clocks", r.Warnings)
	}
	local := streamFixture(t, true)
	if local.Stream.Clocks != ClocksSame || strings.Contains(strings.Join(local.Warnings, "\n"), "unsynchronised") {
		t.Errorf("clocks %q, warnings %q for a server on this machine", local.Stream.Clocks, local.Warnings)
	}
}

func TestStreamThresholds(t *testing.T) {
	r := streamFixture(t, true)
	for _, tc := range []struct {
		expr string
		pass bool
	}{
		{"stream.rate>=100", true},
		{"stream.rate_per_conn>2", false},
		{"stream.gaps<1", false},
		{"stream.duplicates<=2", true},
		{"stream.late<2", true},
		{"stream.stalls<4", false},
		{"stream.messages>999", true},
		{"gap.max<99ms", false},
		{"gap.max<101ms", true},
		{"delivery.p99<2ms", true},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := th.Check(r); got.Pass != tc.pass {
			t.Errorf("%s: pass %v (measured %v), want %v", tc.expr, got.Pass, got.Actual, tc.pass)
		}
	}
}

// TestStreamFailure: a subscribe run with no stream message says so, with
// the matcher and what came instead; one with nothing at all says that.
func TestStreamFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mismatch *metrics.Mismatch
		want     []string
	}{
		{"other messages", &metrics.Mismatch{Reason: metrics.StopNoStream, Got: []byte(`{"error":"unknown topic","token":"s3cret"}`), GotLen: 42, GotOp: "text"},
			[]string{"no stream message arrived in the 10.00s window: expected the server's stream, messages matching $.type==tick, got 50 other messages, the first the 42-byte text message `{\"error\":\"unknown topic\",\"token\":\"" + Redacted}},
		{"nothing at all", nil, []string{"got no message at all"}},
	} {
		r := fixtureWith(t, func(s *scenario.Spec, snap *metrics.Snapshot) {
			s.Kind = scenario.KindSubscribe
			s.Stream = &scenario.StreamSpec{Match: "$.type==tick"}
			snap.Counts = metrics.Counts{ConnsAttempted: 50, ConnsOpened: 50, StreamOther: 50}
		}, func(in *fixtureIn) { in.Mismatch = tc.mismatch })
		for _, w := range tc.want {
			if !strings.Contains(r.Failure, w) {
				t.Errorf("%s: failure %q lacks %q", tc.name, r.Failure, w)
			}
		}
		if strings.Contains(r.Failure, "s3cret") {
			t.Errorf("%s: failure %q shows a secret", tc.name, r.Failure)
		}
	}
}

// TestStreamCompare: compare has the stream's rows where the runs
// measured a stream, and none where they did not.
func TestStreamCompare(t *testing.T) {
	rowsOf := func(a, b *Report) map[string]Row {
		c, err := Compare([]Side{{Label: "A", Reports: []*Report{a}}, {Label: "B", Reports: []*Report{b}}})
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]Row{}
		for _, r := range c.Rows {
			rows[r.Name] = r
		}
		return rows
	}
	rows := rowsOf(streamFixture(t, true), streamFixture(t, true))
	for _, name := range []string{"stream messages/s", "stream gaps", "stream stalls", "gap p99", "delivery p99"} {
		if _, ok := rows[name]; !ok {
			t.Errorf("no %q row comparing two subscribe runs", name)
		}
	}
	if _, ok := rowsOf(fixture(t, nil), fixture(t, nil))["stream messages/s"]; ok {
		t.Errorf("a stream row comparing two echo runs")
	}
}
