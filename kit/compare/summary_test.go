package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/results"
)

// fake writes a result file as wsbench would, with the fields the kit reads.
func fake(t *testing.T, dir, rel, body string) {
	t.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func echoResult(rate float64, p99 float64, saturated bool) string {
	return fmt.Sprintf(`{"stop_reason":"completed","scenario":{"kind":"echo"},
		"connections":{"attempted":10,"opened":10},
		"messages":{"sent":%[1]d,"received":%[1]d,"balanced":true},
		"rates":{"received_msgs_per_s":%[2]g},
		"errors":{},
		"latency":{"rtt":{"count":%[1]d,"p50_us":50,"p99_us":%[3]g}},
		"harness":{"saturated":%[4]v,"saturation":["CPU 97%% of 1 core"]},
		"server_usage":{"pids":[1],"cpu_s":2,"cpu_cores":0.5,"rss_before_kib":1024,"max_rss_kib":3072}}`,
		int64(rate*4), rate, p99, saturated)
}

// TestMergeTrials: four servers' trials merged into summary.md: medians,
// ranks by the case's figure (saturated and failed servers marked, not
// ranked), Mann-Whitney against rank 1, rows in the given server order.
func TestMergeTrials(t *testing.T) {
	dir := t.TempDir()
	echo := Case{Name: "echo", Title: "Echo", Path: "/echo", Primary: msgRate,
		Columns: []Figure{msgRate, latency("rtt", "p99", false), perCore, serverRSS, perMB}}
	servers := []string{"slow", "fast", "busy", "broken", "short"}
	var trials []Trial
	add := func(server string, n int, body string) {
		rel := fmt.Sprintf("raw/echo/%s-%d.json", server, n)
		fake(t, dir, rel, body)
		trials = append(trials, Trial{Case: "echo", Server: server, N: n, File: rel})
	}
	for i, rate := range []float64{100, 130, 110, 120} { // median 115
		add("slow", i+1, echoResult(rate, 900, false))
	}
	for i, rate := range []float64{200, 210, 190, 205} { // median 202.5
		add("fast", i+1, echoResult(rate, 500, false))
	}
	for i, rate := range []float64{900, 900, 900, 900} { // the best figure, but wsbench was saturated once
		add("busy", i+1, echoResult(rate, 100, i == 2))
	}
	add("broken", 1, echoResult(150, 100, false))
	add("broken", 2, `{"stop_reason":"no_connections","failure":"no connection could be opened","connections":{"attempted":10,"failed":10}}`)
	trials = append(trials, Trial{Case: "echo", Server: "broken", N: 3, Err: "broken: no \"listening on\" line within 20s"})
	add("short", 1, strings.Replace(echoResult(1000, 100, false), `"attempted":10,"opened":10`, `"attempted":10,"opened":9,"failed":1`, 1))

	tables := Merge(dir, []Case{echo}, servers, trials)
	if len(tables) != 1 || len(tables[0].Rows) != 5 {
		t.Fatalf("tables %+v: want one table of 5 rows", tables)
	}
	rows := map[string]*Row{}
	for i, r := range tables[0].Rows {
		if r.Server != servers[i] {
			t.Errorf("row %d is %s, want %s: rows keep the given server order", i, r.Server, servers[i])
		}
		rows[r.Server] = r
	}
	for _, tc := range []struct {
		server          string
		rank, trials    int
		median          float64
		saturated, fail int
	}{
		{"slow", 2, 4, 115, 0, 0},
		{"fast", 1, 4, 202.5, 0, 0},
		{"busy", 0, 4, 900, 1, 0},   // not ranked: saturated in one trial
		{"broken", 0, 1, 150, 0, 2}, // not ranked: one run failed, one server did not start
	} {
		r := rows[tc.server]
		if r.Rank != tc.rank || r.Trials != tc.trials || median(r.Values["msg/s"]) != tc.median ||
			len(r.Saturated) != tc.saturated || len(r.Failed) != tc.fail {
			t.Errorf("%s: rank %d, %d trials, median %v, saturated %d, failed %d; want rank %d, %d trials, median %v, saturated %d, failed %d",
				tc.server, r.Rank, r.Trials, median(r.Values["msg/s"]), len(r.Saturated), len(r.Failed),
				tc.rank, tc.trials, tc.median, tc.saturated, tc.fail)
		}
	}
	// Every one of fast's trials beats every one of slow's: with 4 against 4
	// that is p = 2/70 = 0.029, as wsbench compare computes it.
	if p, want := rows["slow"].P, results.MannWhitneyP([]float64{200, 210, 190, 205}, []float64{100, 130, 110, 120}); math.Abs(p-want) > 1e-9 || p >= results.Alpha {
		t.Errorf("slow vs fast: p = %v, want %v (< %v)", p, want, results.Alpha)
	}
	if got := median(rows["fast"].Values["per server CPU-s"]); got != 202.5*4/2 {
		t.Errorf("fast: %v messages per server CPU-second, want %v (received / cpu_s)", got, 202.5*4/2)
	}
	if got := median(rows["fast"].Values["msg/s per MiB"]); got != 202.5/3 {
		t.Errorf("fast: %v msg/s per MiB, want %v (rate / peak RSS in MiB)", got, 202.5/3)
	}

	var md bytes.Buffer
	if err := WriteSummary(&md, Header{Title: "test"}, tables); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{
		"Ranked by msg/s (higher is better).",
		"| rank | server | trials | msg/s | ± | rtt p99 |",
		"| 2 | slow | 4 | 115 | ±13% | 900µs |",
		"| 1 | fast | 4 | 202 | ±5% | 500µs |",
		"| p=0.029 |",
		"| – | busy | 4 | 900 |",
		"**SATURATED** (wsbench was the limit) in 1 of 4 trials: client saturated: CPU 97% of 1 core",
		"| – | broken | 1 | 150 |",
		"**FAILED** 2 of 3 trials: no connection could be opened",
		"| – | short | 1 | 1000 |", // the best rate, but one connection never opened
		"**INCOMPLETE** in 1 of 1 trials: 1 of 10 connections failed to open",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "| slow |") > strings.Index(out, "| fast |") {
		t.Errorf("summary.md: slow's row after fast's, want the given server order:\n%s", out)
	}
}

// TestMergeLowerIsBetter: a latency case ranks the lowest first, equal
// medians share a rank, and with fewer than 4 trials there is no p.
func TestMergeLowerIsBetter(t *testing.T) {
	dir := t.TempDir()
	c := Case{Name: "open", Primary: latency("rtt", "p99", false), Columns: []Figure{latency("rtt", "p99", false)}}
	var trials []Trial
	for s, p99s := range map[string][]float64{"a": {300, 310}, "b": {100, 120}, "c": {110, 110}} {
		for i, v := range p99s {
			rel := fmt.Sprintf("raw/open/%s-%d.json", s, i+1)
			fake(t, dir, rel, echoResult(1000, v, false))
			trials = append(trials, Trial{Case: "open", Server: s, N: i + 1, File: rel})
		}
	}
	rows := Merge(dir, []Case{c}, []string{"a", "b", "c"}, trials)[0].Rows
	if rows[0].Rank != 3 || rows[1].Rank != 1 || rows[2].Rank != 1 {
		t.Errorf("ranks a %d, b %d, c %d; want 3, 1, 1 (b and c both have median 110 µs)", rows[0].Rank, rows[1].Rank, rows[2].Rank)
	}
	if !math.IsNaN(rows[0].P) {
		t.Errorf("a: p = %v with 2 trials each, want none", rows[0].P)
	}
}

// TestMergeKnee: the knee case reads wsbench capacity's JSON; a search that
// stopped client-limited is marked and not ranked.
func TestMergeKnee(t *testing.T) {
	dir := t.TempDir()
	knee := Cases(Quick)[2]
	if !knee.Capacity {
		t.Fatalf("case %s is not the knee", knee.Name)
	}
	fake(t, dir, "raw/knee/a-1.json", `{"max_sustainable_rate":4000,"steps":[{"offered_rate":1000},{"offered_rate":2000}]}`)
	fake(t, dir, "raw/knee/b-1.json", `{"max_sustainable_rate":8000,"stopped_client_saturated":true,"client_limited_at":16000,"steps":[{"offered_rate":8000}]}`)
	fake(t, dir, "raw/knee/c-1.json", `{"max_sustainable_rate":2000,"steps":[{"offered_rate":2000}]}`)
	trials := []Trial{{Case: knee.Name, Server: "a", N: 1, File: "raw/knee/a-1.json"},
		{Case: knee.Name, Server: "b", N: 1, File: "raw/knee/b-1.json"},
		{Case: knee.Name, Server: "c", N: 1, File: "raw/knee/c-1.json"}}
	rows := Merge(dir, []Case{knee}, []string{"a", "b", "c"}, trials)[0].Rows
	if rows[0].Rank != 1 || rows[1].Rank != 0 || rows[2].Rank != 2 {
		t.Errorf("ranks a %d, b %d, c %d; want 1, unranked (client-limited), 2", rows[0].Rank, rows[1].Rank, rows[2].Rank)
	}
	if !strings.Contains(note(rows[1]), "client-limited at 16000 msg/s") {
		t.Errorf("b's note %q: want it to say where the client was the limit", note(rows[1]))
	}
}
