package results

import (
	"bytes"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// summaryReports are reports that use every part of the summary: reconnects,
// an open-model schedule, broadcast, compression, stages, errors,
// thresholds, and a mix's groups.
func summaryReports(t *testing.T) map[string]*Report {
	t.Helper()
	out := map[string]*Report{}
	out["reconnect, errors, thresholds"] = fixtureWith(t, func(s *scenario.Spec, snap *metrics.Snapshot) {
		s.Reconnect = scenario.Duration(100 * time.Millisecond)
		snap.Counts.Reconnects, snap.Counts.ConnsDropped = 4, 4
		snap.Errors["close_1011"], snap.Errors["read_timeout"] = 3, 1
	}, nil)
	ths := []Threshold{}
	for _, expr := range []string{"rtt.p99<20ms", "rtt.p50<1ms"} {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	ApplyThresholds(out["reconnect, errors, thresholds"], ths)
	out["open, broadcast, deflate, stages"] = fixtureWith(t, func(s *scenario.Spec, snap *metrics.Snapshot) {
		s.Rate, s.Kind, s.RoomSize, s.Publishers, s.Deflate = 100, scenario.KindBroadcast, 5, 1, true
		snap.Counts.Deliveries, snap.Counts.DeliveriesInGrace = 5000, 7
		snap.Hist[metrics.Delivery].Record(time.Millisecond)
		snap.Counts.DeflateRawSent, snap.Counts.DeflateWireSent = 64000, 16000
	}, func(in *fixtureIn) {
		for i, name := range []string{"ramp", "hold"} {
			snap := metrics.NewSnapshot()
			snap.Hist[metrics.RTT].Record(time.Duration(i+1) * time.Millisecond)
			snap.Counts = metrics.Counts{Sent: 500, Received: 490, Unsent: 3}
			in.Stages = append(in.Stages, metrics.Stage{Name: name, Start: time.Duration(i) * 5 * time.Second, End: time.Duration(i+1) * 5 * time.Second,
				TargetConns: 50 * (i + 1), TargetRate: 100, Snapshot: snap, Open: 50 * (i + 1)})
		}
	})
	idle, chat := fixtureInput(func(s *scenario.Spec, _ *metrics.Snapshot) { s.Kind = scenario.KindHold }, nil), fixtureInput(nil, nil)
	spec := scenario.Default()
	spec.Groups = []scenario.Group{{Name: "idle"}, {Name: "chat"}}
	mix, err := Mix(About{ToolVersion: "test", Spec: spec, Target: "ws://127.0.0.1:9999/"}, []About{idle.About, chat.About},
		[]string{"idle", "chat"}, []*metrics.Measurement{idle.Measurement, chat.Measurement})
	if err != nil {
		t.Fatal(err)
	}
	out["mix"] = mix
	out["flow steps"] = flowFixture(t) // flowrun
	return out
}

// TestTextAndHTMLShowTheSameRows: every row of the summary (its first
// table, latency, stages, groups, errors, thresholds), cell for cell, is in
// the text summary and in the HTML page alike: reconnects and a mix's
// groups included.
func TestTextAndHTMLShowTheSameRows(t *testing.T) {
	for name, r := range summaryReports(t) {
		t.Run(name, func(t *testing.T) {
			var text, page bytes.Buffer
			if err := Text(&text, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteHTML(&page, r); err != nil {
				t.Fatal(err)
			}
			var cells []string
			for _, row := range summaryRows(r) {
				cells = append(append(cells, row.Label, row.Check), row.Cells...)
			}
			for _, table := range []func(*Report) ([]string, [][]string){latencyRows, stageRows, groupRows, stepRows} {
				head, rows := table(r)
				if len(rows) == 0 {
					continue
				}
				cells = append(cells, head...)
				for _, row := range rows {
					cells = append(cells, row...)
				}
			}
			for _, e := range errorRows(r) {
				cells = append(cells, e[0], e[1])
			}
			for _, th := range thresholdRows(r) {
				cells = append(cells, th.Threshold, th.Verdict, th.Measured)
			}
			n := 0
			for _, c := range cells {
				if c == "" {
					continue
				}
				n++
				if !strings.Contains(text.String(), c) {
					t.Errorf("%q is not in the text summary", c)
				}
				if !strings.Contains(strings.ReplaceAll(page.String(), "&#43;", "+"), ">"+html.EscapeString(c)+"<") {
					t.Errorf("%q is not a cell of the HTML page", c)
				}
			}
			if n < 40 {
				t.Errorf("only %d cells checked", n)
			}
		})
	}
	// The cases the two once disagreed on.
	r := summaryReports(t)
	for name, want := range map[string]string{"reconnect, errors, thresholds": "reconnected 4", "mix": "idle"} {
		var page bytes.Buffer
		WriteHTML(&page, r[name])
		if !strings.Contains(page.String(), want) {
			t.Errorf("%s: the HTML page lacks %q", name, want)
		}
	}
}
