package results

import (
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// TestMixReport: a mix reports each group from its own measurement and the
// whole from their merge: counts summed and balanced, the process's CPU
// once (not per group), and a group's failure named as the whole's.
func TestMixReport(t *testing.T) {
	echo := fixtureInput(nil, nil)
	silent := fixtureInput(func(_ *scenario.Spec, s *metrics.Snapshot) {
		s.Counts.Received, s.Counts.InFlight = 0, s.Counts.Sent
		s.Hist[metrics.RTT].Reset()
		s.Hist[metrics.RTTUncorrected].Reset()
	}, func(in *fixtureIn) {
		in.StopReason = StopNotEcho
		in.Mismatch = &Mismatch{Reason: StopNotEcho, Kind: "echo_mismatch", Sent: []byte("x"), SentLen: 1, SentOp: "text", Got: []byte("y"), GotLen: 1, GotOp: "text"}
	})
	spec := scenario.Default()
	spec.Groups = []scenario.Group{{Name: "chat"}, {Name: "quiet"}}
	whole := About{ToolVersion: "test", Spec: spec, Target: "ws://127.0.0.1:9999/", Ended: time.Now()}
	rep, err := Mix(whole, []About{echo.About, silent.About}, []string{"chat", "quiet"}, []*metrics.Measurement{echo.Measurement, silent.Measurement})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Groups) != 2 || rep.Groups[0].Group != "chat" || rep.Groups[1].Group != "quiet" {
		t.Fatalf("groups %+v", rep.Groups)
	}
	g0, g1 := rep.Groups[0], rep.Groups[1]
	if rep.Messages.Sent != g0.Messages.Sent+g1.Messages.Sent || rep.Messages.Received != g0.Messages.Received || !rep.Messages.Balanced ||
		rep.Connections.Opened != g0.Connections.Opened+g1.Connections.Opened || rep.Latency["rtt"].Count != g0.Latency["rtt"].Count {
		t.Errorf("whole %+v %+v, groups %+v %+v", rep.Messages, rep.Connections, g0.Messages, g1.Messages)
	}
	if rep.Harness.CPUUserS != g0.Harness.CPUUserS || rep.Harness.Cores != g0.Harness.Cores {
		t.Errorf("harness CPU %.2fs on %d cores, want one process's %.2fs on %d", rep.Harness.CPUUserS, rep.Harness.Cores, g0.Harness.CPUUserS, g0.Harness.Cores)
	}
	if g1.Failure == "" || rep.Failure != `group "quiet": `+g1.Failure || g0.Failure != "" {
		t.Errorf("failures: whole %q, groups %q and %q", rep.Failure, g0.Failure, g1.Failure)
	}
	if rep.StopReason != StopNotEcho {
		t.Errorf("stop %q", rep.StopReason)
	}
}

// TestCompareEveryMetric: compare has a row for every metric the runs
// recorded, broadcast delivery and spread and a storm's close included,
// and none for a metric no run recorded.
func TestCompareEveryMetric(t *testing.T) {
	side := func(label string) Side {
		r := fixture(t, func(_ *scenario.Spec, snap *metrics.Snapshot) {
			for _, m := range []metrics.Metric{metrics.Delivery, metrics.Close, metrics.Spread, metrics.Gap} {
				snap.Hist[m].Record(time.Millisecond)
			}
		})
		return Side{Label: label, Reports: []*Report{r}}
	}
	c, err := Compare([]Side{side("A"), side("B")})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, r := range c.Rows {
		rows[r.Name] = true
	}
	for _, m := range metrics.Metrics() {
		recorded := m != metrics.SendLag && m != metrics.ReadLag // the fixture records no lag
		if rows[m.String()+" p99"] != recorded {
			t.Errorf("%s p99: row %v, want %v", m, rows[m.String()+" p99"], recorded)
		}
	}
}
