package orchestrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

func TestShare(t *testing.T) {
	for _, tc := range []struct{ n, procs int }{{10, 3}, {7, 7}, {1000, 4}, {5, 2}} {
		next := 0
		for i := 0; i < tc.procs; i++ {
			first, count := share(tc.n, tc.procs, i)
			if first != next || count < tc.n/tc.procs || count > tc.n/tc.procs+1 {
				t.Fatalf("share(%d, %d, %d) = %d, %d; want first %d and an even share", tc.n, tc.procs, i, first, count, next)
			}
			next += count
		}
		if next != tc.n {
			t.Errorf("shares of %d over %d cover %d", tc.n, tc.procs, next)
		}
	}
}

// TestChildInputCarriesTheWholeSpec: the settings a --procs parent writes on
// a child's stdin read back into the parent's scenario with the child's
// share of the connections, so no setting is lost on the way.
func TestChildInputCarriesTheWholeSpec(t *testing.T) {
	spec := scenario.Default()
	spec.Target = "ws://127.0.0.1:9/x"
	spec.Conns, spec.Procs = 10, 3
	spec.Duration, spec.Warmup, spec.Grace = scenario.Duration(7*time.Second), scenario.Duration(time.Second/3), scenario.Duration(4*time.Second)
	spec.ConnectTimeout, spec.Tick = scenario.Duration(9*time.Second), scenario.Duration(250*time.Microsecond)
	spec.Rate, spec.MaxInflight, spec.Size, spec.Binary = 1234.5, 3, 300, true
	spec.DialConcurrency = 30
	spec.ConnectRate = 250.5
	spec.Kind, spec.RoomSize, spec.Publishers, spec.RoomPath = scenario.KindPing, 5, 2, "/r/%d"
	spec.SecretHeaders, spec.SecretParams = []string{"X-Custom"}, []string{"room"}
	spec.Thresholds = []string{"rtt.p99<1s"} // checked by the parent only
	spec.Arrival, spec.Seed, spec.Think = scenario.ArrivalPoisson, 99, scenario.Duration(3*time.Millisecond)
	spec.SourceIP = "127.0.0.1-127.0.0.3"
	spec.Subprotocols, spec.RequireSubprotocol = []string{"a", "b"}, true
	spec.Headers, spec.Origin, spec.Fragment = []string{"X-A: 1", "X-B: two, three"}, "http://o.test", 3
	spec.Deflate, spec.CA, spec.Insecure = true, "/etc/ca.pem", true
	spec.Reconnect = scenario.Duration(250 * time.Millisecond)
	spec.SizeMax, spec.Payload, spec.Query, spec.TokensFile = 900, scenario.PayloadRandom, "u={{conn}}&t={{token}}", "/t.txt"
	spec.Template, spec.PayloadFile = `{"s":"{{stamp}}"}`, "/p.bin" // not a valid mix, but each must reach the child
	in, err := childInput(spec, spec.Target, 4, 3, driver.Config{Workers: 2, IO: driver.IOSyscalls, Timestamps: driver.TimestampsRead}, shardOf(1, 3, "sha256:abc"))
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(strings.NewReader(string(in) + "go\n"))
	set, err := readChildSettings(r)
	if err != nil {
		t.Fatal(err)
	}
	want := spec
	want.Conns, want.Procs, want.DialConcurrency, want.Thresholds = 3, 1, 10, nil
	want.ConnectRate = spec.ConnectRate / 3
	if !reflect.DeepEqual(set.Spec, want) {
		t.Errorf("child reads\n%+v\nwant\n%+v", set.Spec, want)
	}
	if set.First != 4 || set.Total != 10 || set.Workers != 2 || set.IO != driver.IOSyscalls || set.Timestamps != driver.TimestampsRead ||
		set.Shard.Index != 1 || set.Shard.Count != 3 || set.Shard.Plan != "sha256:abc" {
		t.Errorf("options: %+v", set)
	}
	// The start signal after the settings is still there to read.
	if line, _ := r.ReadString('\n'); line != "go\n" {
		t.Errorf("after the settings: %q, want the go line", line)
	}
}

func TestChildInputCarriesStages(t *testing.T) {
	spec := scenario.Default()
	spec.Target = "ws://127.0.0.1:9/x"
	spec.Procs, spec.ConnectRate = 2, 100
	spec.Stages = []scenario.Stage{{Duration: 0, Conns: 4, Rate: 10}, {Name: "up: fast", Duration: scenario.Duration(time.Second), Conns: 8, Rate: 2.5}}
	spec.ApplyStages()
	in, err := childInput(spec, spec.Target, 4, 4, driver.Config{IO: driver.IOAuto, Timestamps: driver.TimestampsKernel}, shardOf(1, 2, "sha256:abc"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := readChildSettings(bufio.NewReader(bytes.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	got := set.Spec
	if !reflect.DeepEqual(got.Stages, spec.Stages) || got.Conns != 4 || got.Rate != 10 || got.Duration != spec.Duration || got.ConnectRate != 100 {
		t.Errorf("child: stages %+v conns %d rate %g duration %s connect rate %g", got.Stages, got.Conns, got.Rate, got.Duration, got.ConnectRate)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the child's share does not validate: %v", err)
	}
}

// TestChildStderrScrubbed: what client processes print reaches the parent's
// stderr without the run's secrets, even split over writes, and each line
// whole.
func TestChildStderrScrubbed(t *testing.T) {
	spec := scenario.Default()
	spec.Target = "ws://u:hunter22@127.0.0.1:9/?token=tok-1234"
	spec.Headers = []string{"Authorization: Bearer cred-5678"}
	var out bytes.Buffer
	w := &scrubWriter{w: &out, scrub: spec.Scrubber()}
	a, b := w.child(), w.child()
	a.Write([]byte("child 0: hunt"))
	b.Write([]byte("child 1: Bearer cred-5678\n"))
	a.Write([]byte("er22 and tok-12"))
	a.Write([]byte("34\nlast line, no newline: hunter22"))
	a.Flush()
	got := out.String()
	for _, s := range []string{"hunter22", "tok-1234", "cred-5678"} {
		if strings.Contains(got, s) {
			t.Errorf("%s printed:\n%s", s, got)
		}
	}
	want := "child 1: REDACTED\nchild 0: REDACTED and REDACTED\nlast line, no newline: REDACTED"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// TestReadShardResult: what a child prints is its shard result (place and
// measurement), read back exactly; nothing, or something else, is an error
// that says so.
func TestReadShardResult(t *testing.T) {
	snap := metrics.NewSnapshot()
	snap.Counts.Sent, snap.Counts.Received = 5, 5
	snap.Hist[metrics.RTT].RecordUs(42)
	info := results.ShardInfo{Index: 1, Count: 2, Plan: "sha256:abc", FirstSlot: 5, Conns: 5, SkewNs: 7,
		StartAt: time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC), StartedAt: time.Date(2026, 12, 3, 23, 0, 0, 7, time.UTC)}
	b, err := json.Marshal(results.ShardResult{Shard: info, Measurement: &metrics.Measurement{StopReason: driver.StopCompleted, Snapshot: snap, Processes: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sr, err := readShardResult(append(b, '\n'))
	if err != nil {
		t.Fatal(err)
	}
	if m := sr.Measurement; m.Snapshot.Counts != snap.Counts || m.Snapshot.Hist[metrics.RTT].Count() != 1 || m.StopReason != driver.StopCompleted || sr.Shard != info {
		t.Errorf("read back %+v, %+v", sr.Shard, sr.Measurement)
	}
	for in, want := range map[string]string{"": "nothing on its standard output", "{}": "no measurement", `{"shard":{},"measurement":{}}`: "no measurement", "not json": "its result"} {
		if _, err := readShardResult([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", in, err, want)
		}
	}
}
