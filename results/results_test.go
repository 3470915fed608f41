package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// fixture builds a report from a deterministic snapshot.
func fixture(t *testing.T, mutate func(*scenario.Spec, *metrics.Snapshot)) *Report {
	t.Helper()
	return fixtureWith(t, mutate, nil)
}

// fixtureIn is what fixtureWith builds a report from: what the report says
// of the run, and what the run measured.
type fixtureIn struct {
	About
	*metrics.Measurement
}

// fixtureWith is fixture with what the run says and measured changed by input.
func fixtureWith(t *testing.T, mutate func(*scenario.Spec, *metrics.Snapshot), input func(*fixtureIn)) *Report {
	t.Helper()
	in := fixtureInput(mutate, input)
	r, err := Build(in.About, in.Measurement)
	if err != nil {
		t.Fatal(err)
	}
	r.Environment = Environment{GoVersion: "go", OS: "linux", Arch: "amd64", CPUs: 2, GOMAXPROCS: 2, Hostname: "h"}
	return r
}

// fixtureInput is what fixtureWith builds its report from.
func fixtureInput(mutate func(*scenario.Spec, *metrics.Snapshot), input func(*fixtureIn)) fixtureIn {
	snap := metrics.NewSnapshot()
	for i := 1; i <= 1000; i++ {
		snap.Hist[metrics.RTT].Record(time.Duration(i) * 10 * time.Microsecond)
		snap.Hist[metrics.RTTUncorrected].Record(time.Duration(i) * 9 * time.Microsecond)
	}
	for i := 1; i <= 50; i++ {
		snap.Hist[metrics.Connect].Record(time.Duration(100+i) * time.Microsecond)
		snap.Hist[metrics.Handshake].Record(time.Duration(200+i) * time.Microsecond)
	}
	snap.Counts = metrics.Counts{ConnsAttempted: 50, ConnsOpened: 50, Sent: 1010, Received: 1000, InFlight: 10,
		BytesSent: 1010 * 70, BytesReceived: 1000 * 66}
	spec := scenario.Default()
	if mutate != nil {
		mutate(&spec, snap)
	}
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	in := fixtureIn{
		About: About{ToolVersion: "test", Spec: spec, Target: "ws://127.0.0.1:9999/", Bundled: true, Ended: start.Add(12 * time.Second)},
		Measurement: &metrics.Measurement{
			Started: start, MeasureStart: start.Add(time.Second), MeasureEnd: start.Add(11 * time.Second),
			StopReason: "completed", Snapshot: snap,
			CPU: metrics.Usage{User: 300 * time.Millisecond, System: 200 * time.Millisecond, MaxRSSKiB: 20480, GCPause: 5 * time.Millisecond, GCCycles: 12},
			IO:  "io_uring", Timestamps: "kernel",
			GOMAXPROCS: 2, Dial: 25 * time.Millisecond, SendBufferFull: 3,
			Loops: metrics.LoopStats{Passes: 400, Ready: 1000, ReadyMax: 40, FullReads: 1},
		},
	}
	if input != nil {
		input(&in)
	}
	return in
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestTextGolden(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*scenario.Spec, *metrics.Snapshot)
	}{
		// a clean closed-model run
		{"closed.txt", nil},
		// an open-model run that fell behind: unsent sends and high send lag are warned about
		{"open-behind.txt", func(s *scenario.Spec, snap *metrics.Snapshot) {
			s.Rate, s.MaxInflight, s.Binary = 5000, 1, true
			snap.Counts.Unsent = 42
			for i := 0; i < 100; i++ {
				snap.Hist[metrics.SendLag].Record(50 * time.Millisecond)
			}
			snap.Errors["close_1011"] = 3
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Text(&b, fixture(t, tc.mutate)); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestDescriptionPerKind: the summary's second line says what the run did in
// the words of its kind, and the note under the latency table explains only
// rows that are shown.
func TestDescriptionPerKind(t *testing.T) {
	const tail = "; 10.00s measured after 1s warm-up; stop: completed"
	noRTT := func(snap *metrics.Snapshot) {
		snap.Hist[metrics.RTT].Reset()
		snap.Hist[metrics.RTTUncorrected].Reset()
	}
	cases := []struct {
		name   string
		mutate func(*scenario.Spec, *metrics.Snapshot)
		want   string
		note   string // a line that must follow the latency table ("": no note at all)
	}{
		{"echo closed", nil,
			"closed model (each connection sends when its previous reply arrives); 50 connections; 64-byte text messages" + tail,
			"rtt runs from each send to its echo's arrival, dated by the kernel's receive timestamp."},
		{"echo open, binary", func(s *scenario.Spec, _ *metrics.Snapshot) { s.Rate, s.Binary = 500, true },
			"open model at 500 msg/s; 50 connections; 64-byte binary messages" + tail,
			"rtt runs from each message's intended send time (coordinated omission corrected) to its echo's arrival, dated by the kernel's receive timestamp; rtt_uncorrected from when it was actually sent."},
		{"ping closed", func(s *scenario.Spec, _ *metrics.Snapshot) { s.Kind, s.Size = scenario.KindPing, 32 },
			"ping frames answered by pongs, closed model (each connection pings when its previous pong arrives); 50 connections; 32-byte ping payloads" + tail,
			"rtt runs from each send to its pong's arrival, dated by the kernel's receive timestamp."},
		{"ping open", func(s *scenario.Spec, _ *metrics.Snapshot) { s.Kind, s.Size, s.Rate = scenario.KindPing, 32, 500 },
			"ping frames answered by pongs, open model at 500 pings/s; 50 connections; 32-byte ping payloads" + tail,
			"rtt runs from each message's intended send time (coordinated omission corrected) to its pong's arrival, dated by the kernel's receive timestamp; rtt_uncorrected from when it was actually sent."},
		{"hold idle", func(s *scenario.Spec, snap *metrics.Snapshot) { s.Kind = scenario.KindHold; noRTT(snap) },
			"50 connections held open, idle (no messages)" + tail, ""},
		{"hold at a rate", func(s *scenario.Spec, _ *metrics.Snapshot) {
			s.Kind, s.Rate, s.ConnectRate = scenario.KindHold, 10, 100
		},
			"50 connections held open (opened at 100/s) with light traffic: open model at 10 msg/s; 64-byte text messages" + tail,
			"rtt runs from each message's intended send time"},
		{"connect", func(s *scenario.Spec, _ *metrics.Snapshot) { s.Kind, s.ConnectMessage = scenario.KindConnect, true },
			"connection storm: 50 loops, each opening a connection, sending one 64-byte text message and waiting for its echo, then closing it, and starting over" + tail,
			"rtt runs from each send to its echo's arrival"},
		{"connect without a message", func(s *scenario.Spec, snap *metrics.Snapshot) {
			s.Kind, s.ConnectMessage = scenario.KindConnect, false
			noRTT(snap)
		}, "connection storm: 50 loops, each opening a connection, closing it at once (no message), and starting over" + tail, ""},
		{"broadcast", func(s *scenario.Spec, _ *metrics.Snapshot) {
			s.Kind, s.RoomSize, s.Publishers, s.Rate = scenario.KindBroadcast, 10, 1, 200
		}, "broadcast to rooms of 10, 1 publishing per room, open model at 200 msg/s published in total; 50 connections; 64-byte text messages" + tail,
			"rtt runs from each message's intended send time"},
		{"staged open", func(s *scenario.Spec, _ *metrics.Snapshot) {
			s.Stages = []scenario.Stage{{Duration: scenario.Duration(time.Second), Conns: 50, Rate: 1000}, {Duration: scenario.Duration(time.Second), Conns: 20, Rate: 100}}
			s.Rate = 1000
		}, "2 stages, open model up to 1000 msg/s; up to 50 connections; 64-byte text messages; 10.00s measured; stop: completed",
			"rtt runs from each message's intended send time"},
		{"mix", func(s *scenario.Spec, _ *metrics.Snapshot) {
			s.Groups = []scenario.Group{{Name: "idle", Kind: scenario.KindHold, Conns: 40}, {Name: "chat", Conns: 10, Rate: 100}}
		}, "a mix of 2 groups side by side: idle (hold), chat (echo); 50 connections in all" + tail,
			"rtt runs from each send to its echo's arrival"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Text(&b, fixture(t, tc.mutate)); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(b.String(), "\n")
			if lines[1] != tc.want {
				t.Errorf("description\n got %q\nwant %q", lines[1], tc.want)
			}
			notes := 0
			for _, l := range lines {
				if strings.HasPrefix(l, "rtt runs") {
					notes++
					if tc.note == "" || !strings.HasPrefix(l, tc.note) {
						t.Errorf("note %q, want one starting %q", l, tc.note)
					}
					if strings.Contains(l, "read_lag") {
						t.Errorf("note explains read_lag, which has no row: %q", l)
					}
				}
			}
			if tc.note != "" && notes != 1 {
				t.Errorf("%d notes under the latency table, want 1:\n%s", notes, b.String())
			}
		})
	}
}

// TestJSONContract checks the fields outside tools read, by their JSON names and types.
func TestJSONContract(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, fixture(t, nil)); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schema"] != float64(1) {
		t.Errorf("schema = %v", doc["schema"])
	}
	for _, k := range []string{"tool_version", "target"} {
		if _, ok := doc[k].(string); !ok {
			t.Errorf("%s missing or not a string", k)
		}
	}
	if _, err := time.Parse(time.RFC3339, doc["started_at"].(string)); err != nil {
		t.Errorf("started_at not RFC 3339: %v", err)
	}
	if doc["duration_s"] != float64(10) {
		t.Errorf("duration_s = %v", doc["duration_s"])
	}
	if _, ok := doc["scenario"].(map[string]any)["conns"]; !ok {
		t.Error("scenario lacks its settings")
	}
	want := map[string][]string{
		"connections": {"attempted", "opened", "failed"},
		"messages":    {"sent", "received", "lost", "in_flight"},
		"bytes":       {"sent", "received"},
	}
	for obj, keys := range want {
		m, ok := doc[obj].(map[string]any)
		if !ok {
			t.Fatalf("%s missing", obj)
		}
		for _, k := range keys {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s.%s missing or not a number", obj, k)
			}
		}
	}
	if _, ok := doc["errors"].(map[string]any); !ok {
		t.Error("errors is not an object")
	}
	lat := doc["latency"].(map[string]any)
	for _, m := range []string{"rtt", "rtt_uncorrected", "send_lag", "connect", "handshake"} {
		l, ok := lat[m].(map[string]any)
		if !ok {
			t.Fatalf("latency.%s missing", m)
		}
		for _, k := range []string{"count", "min_us", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"} {
			if _, ok := l[k].(float64); !ok {
				t.Errorf("latency.%s.%s missing", m, k)
			}
		}
		if s, _ := l["hdr"].(string); s == "" {
			t.Errorf("latency.%s.hdr empty", m)
		}
	}
}

// TestWriteReadRoundTrip writes atomically, reads back, and decodes the
// histograms to exactly what was recorded.
func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	rep := fixture(t, nil)
	if err := rep.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Messages != rep.Messages || back.Latency["rtt"].Summary != rep.Latency["rtt"].Summary {
		t.Fatalf("round trip changed the report: %+v vs %+v", back.Messages, rep.Messages)
	}
	h, err := back.Histogram("rtt")
	if err != nil {
		t.Fatal(err)
	}
	if h.Summary() != rep.Latency["rtt"].Summary || h.Count() != 1000 {
		t.Fatalf("decoded histogram %+v, want %+v", h.Summary(), rep.Latency["rtt"].Summary)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// TestWriteFileKeepsOldOnFailure: a failed write leaves an existing file whole.
func TestWriteFileKeepsOldOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	os.WriteFile(path, []byte("old"), 0o644)
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() == 0 {
		t.Skip("root ignores folder permissions")
	}
	if err := fixture(t, nil).WriteFile(path); err == nil {
		t.Fatal("write into a read-only folder succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("existing file changed to %q", b)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, path, want string
	}{
		// a new file in an existing folder is fine
		{"ok", filepath.Join(dir, "a.json"), ""},
		// the folder does not exist
		{"no folder", filepath.Join(dir, "missing", "a.json"), "missing"},
		// the path is a folder
		{"is dir", dir, "is a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWritable(tc.path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content, want string
	}{
		// not JSON at all
		{"garbage", "hello", "not a wsbench result"},
		// a future schema
		{"schema", `{"schema": 2}`, "schema 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			os.WriteFile(p, []byte(tc.content), 0o644)
			if _, err := Read(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestWarnings checks that an imbalance is never silent.
func TestWarnings(t *testing.T) {
	r := fixture(t, func(_ *scenario.Spec, snap *metrics.Snapshot) { snap.Counts.Received-- })
	if r.Messages.Balanced || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "do not add up") {
		t.Fatalf("imbalance not flagged: %+v %v", r.Messages, r.Warnings)
	}
	if clean := fixture(t, nil); len(clean.Warnings) != 0 {
		t.Fatalf("clean run warns: %v", clean.Warnings)
	}
	// A run that never opened a connection (--reconnect against a dead
	// target) says so, not that its figures cover the planned window.
	none := fixtureWith(t, func(_ *scenario.Spec, snap *metrics.Snapshot) {
		for i := range snap.Hist {
			snap.Hist[i].Reset()
		}
		snap.Counts = metrics.Counts{ConnsAttempted: 400, ConnsFailed: 400}
	}, func(in *fixtureIn) { in.StopReason = "no_connections" })
	if got := strings.Join(none.Warnings, "\n"); !strings.Contains(got, "no connection was ever opened") || strings.Contains(got, "figures cover") {
		t.Fatalf("no-connection run warns %q", got)
	}
}

// TestSaturation: each threshold, crossed alone, flags the run with its
// reason; a run under all of them is not flagged.
func TestSaturation(t *testing.T) {
	// lag: 100 sends at 5000 msg/s over 50 connections (each every 10ms,
	// so the lag bound is 10 ticks, 10ms), the first late ones at late, the
	// rest 100µs late; unsent sends more fell due.
	lag := func(late int, d time.Duration, unsent int64, maxInflight int) func(*scenario.Spec, *metrics.Snapshot) {
		return func(s *scenario.Spec, snap *metrics.Snapshot) {
			s.Rate, s.MaxInflight = 5000, maxInflight
			for i := 0; i < 100; i++ {
				v := 100 * time.Microsecond
				if i < late {
					v = d
				}
				snap.Hist[metrics.SendLag].Record(v)
			}
			snap.Counts.Unsent = unsent
		}
	}
	// In a broadcast run only the publishers send: 5 rooms of 10 with one
	// publisher each, at 25 msg/s, send every 200ms each (not every 2s, as
	// 50 connections sharing the rate would): the lag bound is 20ms (not
	// 200ms).
	broadcastLag := func(d time.Duration) func(*scenario.Spec, *metrics.Snapshot) {
		return func(s *scenario.Spec, snap *metrics.Snapshot) {
			s.Kind, s.Conns, s.RoomSize, s.Publishers, s.Rate = scenario.KindBroadcast, 50, 10, 1, 25
			for i := 0; i < 100; i++ {
				snap.Hist[metrics.SendLag].Record(d)
			}
		}
	}
	busy := func(in *fixtureIn) { in.CPU.User = 11 * time.Second } // with 0.2s system: 56% of 2 cores
	cases := []struct {
		name   string
		mutate func(*scenario.Spec, *metrics.Snapshot)
		input  func(*fixtureIn)
		want   string // substring of the one reason; "" = not saturated
	}{
		{"light closed run", nil, nil, ""},
		{"CPU just under 90% of 2 cores", nil, func(in *fixtureIn) { in.CPU.User, in.CPU.System = 17*time.Second, 900*time.Millisecond }, ""},
		{"CPU over 90% of 2 cores", nil, func(in *fixtureIn) { in.CPU.User, in.CPU.System = 17*time.Second, 1400*time.Millisecond }, "CPU 92% of the 2 cores it could use"},
		{"CPU of one core counted against one", nil, func(in *fixtureIn) { in.GOMAXPROCS, in.CPU.User = 1, 9500*time.Millisecond }, "CPU 97% of the 1 core it could use"},
		{"send lag p99 past the bound, CPU low: the scheduler's noise", lag(2, 30*time.Millisecond, 0, 0), nil, ""},
		{"send lag p99 under the bound, CPU busy", lag(2, 9*time.Millisecond, 0, 0), busy, ""},
		{"send lag p99 past the bound, CPU busy", lag(2, 30*time.Millisecond, 0, 0), busy, "send lag p99 30.0ms is over 10.0ms (the longer of 10 ticks and 10% of each connection's send interval) with the CPU at 56% of its cores"},
		{"send lag p50 past the bound", lag(60, 15*time.Millisecond, 0, 0), nil, "send lag p50 15.0ms is over 10.0ms (the longer of 10 ticks and 10% of each connection's send interval): most sends left late"},
		{"unsent within the bound's worth of the schedule", lag(0, 0, 50, 0), nil, ""},
		{"unsent past the bound's worth of the schedule", lag(0, 0, 51, 0), nil, "51 sends fell due but were never made (more than the 50 of 10.0ms of the schedule)"},
		{"unsent past the bound, but --max-inflight held them", lag(0, 0, 500, 4), nil, ""},
		{"broadcast send lag p50 under the publishers' bound", broadcastLag(15 * time.Millisecond), nil, ""},
		{"broadcast send lag p50 over the publishers' bound", broadcastLag(50 * time.Millisecond), nil, "send lag p50 50.0ms is over 20.0ms (the longer of 10 ticks and 10% of each publisher's send interval)"},
		{"GC pauses 1.5% of wall", nil, func(in *fixtureIn) { in.CPU.GCPause = 150 * time.Millisecond }, "GC pauses 1.5% of wall time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureWith(t, tc.mutate, tc.input)
			h := r.Harness
			if tc.want == "" {
				if h.Saturated || len(h.Saturation) != 0 {
					t.Fatalf("flagged: %v", h.Saturation)
				}
				for _, w := range r.Warnings {
					if strings.Contains(w, "saturated") {
						t.Fatalf("warning %q on an unsaturated run", w)
					}
				}
				return
			}
			if !h.Saturated || len(h.Saturation) != 1 || !strings.Contains(h.Saturation[0], tc.want) {
				t.Fatalf("saturated %v, reasons %q, want one containing %q", h.Saturated, h.Saturation, tc.want)
			}
			var warned bool
			for _, w := range r.Warnings {
				warned = warned || strings.Contains(w, "latency figures are limited by the client") && strings.Contains(w, tc.want)
			}
			if !warned {
				t.Errorf("no saturation warning naming the reason: %q", r.Warnings)
			}
			var text bytes.Buffer
			if err := Text(&text, r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "SATURATED") {
				t.Errorf("summary does not say SATURATED:\n%s", text.String())
			}
		})
	}
}

func TestParseThreshold(t *testing.T) {
	good := []struct {
		expr, subject, op string
		value             float64
	}{
		{"rtt.p99<20ms", "rtt.p99", "<", 20000},
		{"rtt_uncorrected.max <= 1.5s", "rtt_uncorrected.max", "<=", 1.5e6},
		{"send_lag.p50<500us", "send_lag.p50", "<", 500},
		{"read_lag.p999<250µs", "read_lag.p999", "<", 250},
		{"errors.rate<0.1%", "errors.rate", "<", 0.001},
		{"errors.rate<=0.002", "errors.rate", "<=", 0.002},
		{"messages.rate>50000", "messages.rate", ">", 50000},
		{"connections.failed>=0", "connections.failed", ">=", 0},
	}
	for _, g := range good {
		th, err := ParseThreshold(g.expr)
		if err != nil || th.Subject != g.subject || th.Op != g.op || math.Abs(th.Value-g.value) > 1e-9 {
			t.Errorf("%q: %+v %v", g.expr, th, err)
		}
	}
	// Percentiles as k6 users write them, and :abort; each row gives the
	// percentile read from the histogram (0 for the summary's own stats).
	k6 := []struct {
		expr       string
		percentile float64
		abort      bool
	}{
		{"rtt.p95<20ms", 95, false},           // any whole percentile
		{"rtt.p99.9<20ms", 99.9, false},       // the summary's column label
		{"rtt.p(95)<20ms", 95, false},         // k6's spelling
		{"rtt.p(99.99) < 20ms", 99.99, false}, // k6's, with decimals and spaces
		{"send_lag.p0<1ms", 0, false},         // p0 is the lowest value
		{"rtt.p100<1s", 100, false},           // p100 is the highest
		{"rtt.p99<20ms", 0, false},            // p99 stays the summary's
		{"rtt.p999<20ms", 0, false},           // p999 stays 99.9, as before
		{"errors.count<1:abort", 0, true},     // a count below a bound can abort
		{"errors.count <= 5 :abort", 0, true},
	}
	for _, k := range k6 {
		th, err := ParseThreshold(k.expr)
		if err != nil || th.Percentile != k.percentile || th.Abort != k.abort {
			t.Errorf("%q: %+v %v, want percentile %v abort %v", k.expr, th, err, k.percentile, k.abort)
		}
	}
	bad := []struct{ expr, want string }{
		{"rtt.p99", `--threshold "rtt.p99": want SUBJECT<VALUE or SUBJECT>VALUE`},
		{"rtt.p99<", `--threshold "rtt.p99<": no value after <`},
		{"rtt.p99<20", `--threshold "rtt.p99<20": rtt.p99 is a latency: want a duration such as 20ms, got "20"`},
		{"rtt.p101<1ms", `--threshold "rtt.p101<1ms": "p101" is no percentile`},
		{"rtt.p(95<1ms", `--threshold "rtt.p(95<1ms": "p(95" is no percentile`},
		{"rtt.p-5<1ms", `--threshold "rtt.p-5<1ms": "p-5" is no percentile`},
		{"rtt.p1e1<1ms", `--threshold "rtt.p1e1<1ms": "p1e1" is no percentile`},
		{"rtt.pNaN<1ms", `--threshold "rtt.pNaN<1ms": "pNaN" is no percentile`},
		{"rtt.p75", `--threshold "rtt.p75": want SUBJECT<VALUE`},
		{"rtt.q75<1ms", `--threshold "rtt.q75<1ms": unknown subject "rtt.q75"`},
		// :abort only where a failure is final
		{"rtt.p99<1ms:abort", `--threshold "rtt.p99<1ms:abort": :abort applies to errors.count with < or <=`},
		{"errors.count>1:abort", `--threshold "errors.count>1:abort": :abort applies to errors.count with < or <=`},
		{"connections.failed<1:abort", `--threshold "connections.failed<1:abort": :abort applies to errors.count`},
		{"errors.rate<1%:abort", `--threshold "errors.rate<1%:abort": :abort applies to`},
		{"errors.count<1:stop", `--threshold "errors.count<1:stop": unknown option "stop" after ':'`},
		{"latency.p99<1ms", `--threshold "latency.p99<1ms": unknown subject "latency.p99"`},
		{"messages.rate>fast", `--threshold "messages.rate>fast": want a number, got "fast"`},
		{"messages.rate>5%", `--threshold "messages.rate>5%": a percentage applies to errors.rate only`},
	}
	for _, b := range bad {
		// The error names the setting by its key, thresholds; the command
		// line (scenario.FieldError.Text) by its flag, as b.want does.
		_, err := ParseThreshold(b.expr)
		var fe *scenario.FieldError
		if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "thresholds"+strings.TrimPrefix(b.want, "--threshold")) {
			t.Errorf("%q: error %v, want a FieldError starting with %q", b.expr, err, b.want)
			continue
		}
		if got := fe.Text(func(string) string { return "--threshold" }); !strings.HasPrefix(got, b.want) {
			t.Errorf("%q: %q as the command line shows it, want it to start with %q", b.expr, got, b.want)
		}
	}
}

// TestThresholds checks thresholds against the fixture (rtt p99 9.90ms,
// 100 msg/s received, 3 errors over 1010 sent + 50 attempted): each passes
// or fails as it should, and the summary lists them.
func TestThresholds(t *testing.T) {
	r := fixture(t, func(s *scenario.Spec, snap *metrics.Snapshot) { snap.Errors["close_1011"] = 3 })
	cases := []struct {
		expr string
		pass bool
	}{
		{"rtt.p99<20ms", true},
		{"rtt.p99<5ms", false},
		{"rtt.max<=10.1ms", true},
		{"messages.rate>=100", true},
		{"messages.rate>150", false},
		{"errors.rate<0.5%", true}, // 3/1060 = 0.28%
		{"errors.rate<0.25%", false},
		{"errors.count<1", false},
		// percentiles from the histogram: rtt is 10µs … 10ms in 10µs steps
		{"rtt.p95<9.6ms", true},
		{"rtt.p95<9.4ms", false},
		{"rtt.p(95)<9.4ms", false},
		{"rtt.p99.9<=10ms", true},
		{"rtt.p99.9<9.98ms", false},
		{"rtt.p(99.9)<9.98ms", false},
		{"rtt.p0<=11us", true},
	}
	var ts []Threshold
	for _, c := range cases {
		th, err := ParseThreshold(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	if ApplyThresholds(r, ts) {
		t.Error("all passed, but some must fail")
	}
	for i, c := range cases {
		if got := r.Thresholds[i]; got.Pass != c.pass || got.Threshold != c.expr {
			t.Errorf("%s: %+v, want pass=%v", c.expr, got, c.pass)
		}
	}
	var b bytes.Buffer
	Text(&b, r)
	if !strings.Contains(b.String(), "✗ FAIL  rtt.p99<5ms") || !strings.Contains(b.String(), "measured 9.90ms") {
		t.Errorf("summary lacks the thresholds:\n%s", b.String())
	}
}

// TestWatch: an :abort threshold fails once the errors of the intervals so
// far reach its bound, and not before; thresholds without :abort are not
// watched at all.
func TestWatch(t *testing.T) {
	if NewWatch([]Threshold{mustThreshold(t, "errors.count<1")}) != nil {
		t.Fatal("a Watch over no :abort threshold")
	}
	w := NewWatch([]Threshold{mustThreshold(t, "rtt.p99<1ms"), mustThreshold(t, "errors.count<=3:abort"), mustThreshold(t, "errors.count<5:abort")})
	steps := []struct {
		errors int64
		failed string // "" while none has failed
	}{
		{1, ""},                      // 1 error
		{0, ""},                      // an interval without errors
		{2, ""},                      // 3 errors: at the bound of <=3, not over
		{1, "errors.count<=3:abort"}, // 4 errors
		{1, "errors.count<=3:abort"}, // 5: both fail, the first listed is named
	}
	for i, st := range steps {
		snap := metrics.NewSnapshot()
		if st.errors > 0 {
			snap.Errors["close_1009"] = st.errors
		}
		snap.Counts.ConnsFailed = 7 // not an error count: ignored
		th, failed := w.Add(snap)
		if failed != (st.failed != "") || th.Expr != st.failed {
			t.Errorf("step %d: failed %v %q, want %q", i, failed, th.Expr, st.failed)
		}
	}
}

func mustThreshold(t *testing.T, expr string) Threshold {
	t.Helper()
	th, err := ParseThreshold(expr)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestMannWhitneyP(t *testing.T) {
	cases := []struct {
		a, b []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 2.0 / 70},     // fully separated, 4 vs 4: the exact minimum
		{[]float64{1, 2, 3}, []float64{4, 5, 6}, 2.0 / 20},           // 3 vs 3 can never go below 0.1
		{[]float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}, 0.6857142857}, // interleaved: U = 6 of 16
		{[]float64{5, 5, 5}, []float64{5, 5, 5}, 1},                  // all tied
		{[]float64{1}, []float64{2, 3}, 1},                           // one value says nothing
		// Ties in small samples are exact too: 0 errors against 100 in
		// each of 3 runs is as separated as 3 vs 3 gets (the normal
		// approximation said 0.047).
		{[]float64{0, 0, 0}, []float64{100, 100, 100}, 2.0 / 20},
		{[]float64{1, 2, 2}, []float64{2, 3, 4}, 0.3}, // 6 of the 20 splits are as extreme
	}
	for _, c := range cases {
		if got := MannWhitneyP(c.a, c.b); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%v vs %v: p = %.6f, want %.6f", c.a, c.b, got, c.want)
		}
	}
	// Large samples with ties use the normal approximation: clearly
	// separated samples give a tiny p, identical ones p near 1.
	var a, b []float64
	for i := 0; i < 30; i++ {
		a, b = append(a, float64(i%10)), append(b, float64(i%10)+20)
	}
	if p := MannWhitneyP(a, b); p > 1e-6 {
		t.Errorf("separated samples of 30: p = %g", p)
	}
	if p := MannWhitneyP(a, a); p < 0.9 {
		t.Errorf("identical samples of 30: p = %g", p)
	}
}

// TestCompare: side B's rtt is twice side A's in every one of 4 runs, its
// rate the same give or take noise: the rtt change is significant, the rate
// change is not, and the table says so.
func TestCompare(t *testing.T) {
	side := func(label string, scale float64, rates []float64) Side {
		s := Side{Label: label}
		for _, rate := range rates {
			r := fixture(t, func(_ *scenario.Spec, snap *metrics.Snapshot) {
				snap.Hist[metrics.RTT] = metrics.NewHistogram()
				for i := 1; i <= 1000; i++ {
					snap.Hist[metrics.RTT].Record(time.Duration(float64(i)*scale) * time.Microsecond)
				}
			})
			r.Rates.Received = rate
			s.Reports = append(s.Reports, r)
		}
		return s
	}
	c, err := Compare([]Side{side("A", 1, []float64{100, 103, 98, 101}), side("B", 2, []float64{99, 104, 100, 97})})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Row{}
	for _, r := range c.Rows {
		rows[r.Name] = r
	}
	p99 := rows["rtt p99"].Cells[1]
	if !p99.Significant || math.Abs(p99.Change-1) > 0.01 {
		t.Errorf("rtt p99 of B: %+v, want +100%% and significant", p99)
	}
	if rate := rows["messages/s received"].Cells[1]; rate.Significant {
		t.Errorf("rate of B: %+v, want not significant", rate)
	}
	var b bytes.Buffer
	if err := CompareText(&b, c); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "+100.0% (p=0.0") || !strings.Contains(out, "~ (p=") || !strings.Contains(out, "A (4 runs)") {
		t.Errorf("table:\n%s", out)
	}
	if _, err := Compare([]Side{side("A", 1, []float64{1})}); err == nil {
		t.Error("one side compared")
	}
}

// TestSecretsStayOutOfResults: secret headers, the URL's password and secret
// query parameters are redacted in the report, its JSON and its summary;
// other values stay.
func TestSecretsStayOutOfResults(t *testing.T) {
	r := fixtureWith(t, func(s *scenario.Spec, _ *metrics.Snapshot) {
		s.Headers = []string{"Authorization: Bearer s3cret-a", "Cookie: sid=s3cret-b", "X-Api-Key: s3cret-c", "X-Trace: visible-1"}
		s.SecretHeaders = []string{"x-api-key"}
	}, func(in *fixtureIn) {
		in.Target = "ws://user:s3cret-d@127.0.0.1:9/chat?token=s3cret-e&room=visible-2&Password=s3cret-f"
		in.Spec.Target = in.Target
	})
	b, err := r.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	Text(&text, r)
	for _, doc := range []string{string(b), text.String()} {
		for _, secret := range []string{"s3cret-a", "s3cret-b", "s3cret-c", "s3cret-d", "s3cret-e", "s3cret-f"} {
			if strings.Contains(doc, secret) {
				t.Errorf("%s leaked into the result", secret)
			}
		}
	}
	for _, keep := range []string{"visible-1", "visible-2", "user:REDACTED@", "Authorization: REDACTED"} {
		if !strings.Contains(string(b), keep) {
			t.Errorf("result lacks %q", keep)
		}
	}
}

// TestParseRedactsOlderFiles: a result written before the redaction rule
// widened (here: secrets put back into it by hand) shows none of them once
// read, so report and compare never print them.
func TestParseRedactsOlderFiles(t *testing.T) {
	r := fixture(t, nil)
	r.Target = "ws://127.0.0.1:9/?jwt=old-secret-1&room=r"
	r.Scenario.Target = r.Target
	r.Scenario.Query = "access_token=old-secret-2"
	r.Scenario.Headers = []string{"X-Api-Key: old-secret-3"}
	b, err := r.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = got.MarshalIndent()
	var text bytes.Buffer
	Text(&text, got)
	for _, doc := range []string{string(b), text.String()} {
		for _, s := range []string{"old-secret-1", "old-secret-2", "old-secret-3"} {
			if strings.Contains(doc, s) {
				t.Errorf("%s shown after Parse", s)
			}
		}
	}
	if got.Target != "ws://127.0.0.1:9/?jwt=REDACTED&room=r" {
		t.Errorf("target %q", got.Target)
	}
}

// FuzzParseThreshold: no expression panics the parser, and an accepted one
// parses the same again from its own text.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"rtt.p99<20ms", "errors.rate<0.1%", "messages.rate>=5e4", "read_lag.max<=1.5s", "x<", "<1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			return
		}
		again, err := ParseThreshold(th.Expr)
		if err != nil || again != th {
			t.Fatalf("%q: %+v, then %+v %v", s, th, again, err)
		}
		if th.Value != th.Value || math.IsInf(th.Value, 0) {
			t.Fatalf("%q: value %v", s, th.Value)
		}
	})
}

// FuzzParseResult: no document panics the result reader, and an accepted
// one writes back to a document that reads the same.
func FuzzParseResult(f *testing.F) {
	b, _ := fixture(&testing.T{}, nil).MarshalIndent()
	f.Add(b)
	f.Add([]byte(`{"schema":1}`))
	f.Add([]byte(`{"schema":1,"latency":{"rtt":{"hdr":"not base64"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		for name := range r.Latency {
			r.Histogram(name) // may fail on bad histograms, must not panic
		}
		out, err := r.MarshalIndent()
		if err != nil {
			return // e.g. NaN figures cannot be written as JSON
		}
		r2, err := Parse(out)
		if err != nil {
			t.Fatalf("written back, it does not read: %v", err)
		}
		out2, _ := r2.MarshalIndent()
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// TestSharedMachine: with the server on this machine but not in the
// client's process, a machine busier than SaturatedCPU is warned about and
// its figure shown; not below it, and not for the in-process server (whose
// CPU the harness figures already include).
func TestSharedMachine(t *testing.T) {
	const warn = "the server runs on this machine too"
	for _, tc := range []struct {
		name       string
		bundled    bool
		local      bool
		machine    float64
		wantWarn   bool
		wantInLine bool
	}{
		{"separate local server, busy", false, true, 0.97, true, true},
		{"separate local server, idle enough", false, true, 0.5, false, true},
		{"remote server, busy", false, false, 0.97, false, false},
		{"in-process server, busy", true, true, 0.97, false, false},
		{"unknown", false, true, -1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureWith(t, nil, func(in *fixtureIn) {
				in.Bundled, in.ServerLocal, in.CPU.Machine = tc.bundled, tc.local, tc.machine
			})
			warned := false
			for _, w := range r.Warnings {
				warned = warned || strings.Contains(w, warn)
			}
			if warned != tc.wantWarn {
				t.Errorf("warned %v, want %v: %q", warned, tc.wantWarn, r.Warnings)
			}
			var buf bytes.Buffer
			if err := Text(&buf, r); err != nil {
				t.Fatal(err)
			}
			text := buf.String()
			if inLine := strings.Contains(text, "% busy (the server runs on it too)"); inLine != tc.wantInLine {
				t.Errorf("summary shows the machine: %v, want %v\n%s", inLine, tc.wantInLine, text)
			}
			if tc.wantInLine && !strings.Contains(text, fmt.Sprintf("machine CPU %.0f%% busy", 100*tc.machine)) {
				t.Errorf("summary does not show %.0f%%:\n%s", 100*tc.machine, text)
			}
		})
	}
}

// TestBroadcastInGrace: the deliveries that arrived in the grace period are
// in the summary, the HTML page and the JSON document, and survive the
// round trip through a saved file that report and --procs rely on.
func TestBroadcastInGrace(t *testing.T) {
	r := fixture(t, func(s *scenario.Spec, snap *metrics.Snapshot) {
		s.Kind, s.Conns, s.RoomSize, s.Publishers = scenario.KindBroadcast, 50, 10, 1
		snap.Counts.Deliveries, snap.Counts.DeliveriesInGrace = 10100, 37
	})
	var text, page bytes.Buffer
	if err := Text(&text, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"summary": text.String(), "HTML": page.String()} {
		if !strings.Contains(out, "in grace 37") {
			t.Errorf("%s does not say how many deliveries arrived in the grace period:\n%s", name, out)
		}
	}
	b, err := r.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Broadcast map[string]any `json:"broadcast"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Broadcast["in_grace"] != float64(37) {
		t.Errorf("broadcast.in_grace = %v (%v)", doc.Broadcast["in_grace"], err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Broadcast == nil || back.Broadcast.InGrace != 37 {
		t.Errorf("read back: broadcast %+v, want 37 deliveries in grace", back.Broadcast)
	}
}

// TestTextInterruptedInWarmup: a run stopped during its warm-up says so in
// its description and prints no latency table header over no rows.
func TestTextInterruptedInWarmup(t *testing.T) {
	r := fixtureWith(t, func(_ *scenario.Spec, snap *metrics.Snapshot) {
		for i := range snap.Hist {
			snap.Hist[i].Reset()
		}
		snap.Counts = metrics.Counts{ConnsAttempted: 50, ConnsOpened: 50}
	}, func(in *fixtureIn) {
		in.StopReason = "interrupted"
		in.MeasureEnd = in.MeasureStart
	})
	var b bytes.Buffer
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if want := "interrupted during the 1s warm-up, nothing measured; stop: interrupted"; !strings.Contains(out, want) {
		t.Errorf("summary lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "measured after") {
		t.Errorf("summary claims a measured window after a warm-up that was cut short:\n%s", out)
	}
	if strings.Contains(out, "Latency  ") || !strings.Contains(out, "Latency: nothing recorded") {
		t.Errorf("want no latency header, and a line saying nothing was recorded:\n%s", out)
	}
}
