package main

// prom part: --metrics-addr on run and serve, end to end through the binary.

import (
	"bufio"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsbench/wsbench/live"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
	"github.com/wsbench/wsbench/server"
)

// TestMetricsFlagsBadInput: the metrics flags' mistakes exit 2 with one
// line naming the flag.
func TestMetricsFlagsBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		// an address without a port
		{"run no port", []string{"run", "--metrics-addr", "localhost"}, "--metrics-addr localhost: address localhost: missing port in address"},
		// a port that is not a number
		{"run bad port", []string{"run", "--metrics-addr", ":http9"}, `--metrics-addr :http9: port "http9" is not a number`},
		// a linger with nothing to linger for
		{"linger alone", []string{"run", "--metrics-linger", "5s"}, "--metrics-linger: only with --metrics-addr"},
		{"negative linger", []string{"run", "--metrics-addr", ":0", "--metrics-linger", "-1s"}, "--metrics-linger: must not be negative"},
		// several runs would mix into one set of series
		{"repeat", []string{"run", "--metrics-addr", ":0", "--repeat", "2", "ws://127.0.0.1:1/"}, "--metrics-addr: exports one run; not with --repeat or several targets"},
		{"serve bad port", []string{"serve", "--metrics-addr", "127.0.0.1:99999"}, `--metrics-addr 127.0.0.1:99999: port "99999" is not a number from 0 to 65535`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(tc.args...)
			first, _, _ := strings.Cut(stderr, "\n")
			if code != exitUsage || !strings.Contains(first, tc.want) {
				t.Errorf("exit %d, first line %q; want exit 2 and %q", code, first, tc.want)
			}
		})
	}
}

// TestMetricsLiveRun: `wsbench run --shard 1/2 --metrics-addr` against
// `wsbench serve --metrics-addr`, both separate processes. Every series
// of the run carries shard="1" and shards="2". While the run measures, a
// scrape sees it live (messages sent, not finished); once it has ended,
// every counter equals the result file's count, each latency histogram's
// count equals the result's count of that metric and its sum the
// result's mean × count (within HDR's precision), the errors by kind are
// the result's; the server's scrape counts at least the messages the
// client had answered.
func TestMetricsLiveRun(t *testing.T) {
	_, lines := serveLines(t, "--metrics-addr", "127.0.0.1:0")
	var url, serverMetrics string
	for url == "" || serverMetrics == "" {
		select {
		case line := <-lines:
			if _, u, ok := strings.Cut(line, "listening on "); ok {
				url, _, _ = strings.Cut(u, " ")
			}
			if u, ok := strings.CutPrefix(line, "wsbench serve: metrics on "); ok {
				serverMetrics = u
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not print its addresses")
		}
	}
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binary, "run", "-c", "4", "-r", "400", "-d", "3s", "--warmup", "0s", "--interval", "200ms",
		"--shard", "1/2", "--metrics-addr", "127.0.0.1:0", "--metrics-linger", "60s", "-o", out, url)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "wsbench run: metrics on "); ok {
				addrs <- u
			}
		}
	}()
	var metricsURL string
	select {
	case metricsURL = <-addrs:
	case <-time.After(20 * time.Second):
		t.Fatal("run did not print its metrics address")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var live, final map[string]*dto.MetricFamily
	for deadline := time.Now().Add(60 * time.Second); final == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run's metrics never said finished")
		}
		fams, err := scrapeText(client, metricsURL)
		if err != nil {
			continue // not up yet, or gone: the deadline decides
		}
		switch {
		case gaugeOf(fams, "wsbench_run_finished") == 1:
			final = fams
		case live == nil && gaugeOf(fams, "wsbench_messages_sent_total") > 0:
			live = fams
		}
	}
	// Lingering for a minute, so that a slow scrape still finds the end;
	// a signal cuts the linger short, the run's exit code unchanged.
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not end on SIGINT while lingering")
	}
	rep, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if live == nil {
		t.Fatal("no scrape saw the run measuring (sent > 0, not finished)")
	}
	for name, f := range final {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["shard"] != "1" || labels["shards"] != "2" {
				t.Errorf("%s%v: not labelled shard 1 of 2", name, labels)
			}
		}
	}
	if l, f := gaugeOf(live, "wsbench_messages_sent_total"), gaugeOf(final, "wsbench_messages_sent_total"); l > f {
		t.Errorf("sent %v live, more than the %v at the end", l, f)
	}
	for name, want := range map[string]int64{
		"wsbench_messages_sent_total":         rep.Messages.Sent,
		"wsbench_messages_received_total":     rep.Messages.Received,
		"wsbench_messages_lost_total":         rep.Messages.Lost,
		"wsbench_messages_unsent_total":       rep.Messages.Unsent,
		"wsbench_messages_in_flight":          rep.Messages.InFlight,
		"wsbench_bytes_sent_total":            rep.Bytes.Sent,
		"wsbench_bytes_received_total":        rep.Bytes.Received,
		"wsbench_connections_attempted_total": rep.Connections.Attempted,
		"wsbench_connections_opened_total":    rep.Connections.Opened,
		"wsbench_connections_failed_total":    rep.Connections.Failed,
		"wsbench_connections_dropped_total":   rep.Connections.Dropped,
	} {
		if got := gaugeOf(final, name); got != float64(want) {
			t.Errorf("%s = %v, result %d", name, got, want)
		}
	}
	if rep.Messages.Received == 0 || rep.Connections.Opened != 2 { // shard 1 of 2: half the connections
		t.Fatalf("the run measured nothing: %+v %+v", rep.Messages, rep.Connections)
	}
	for kind, n := range rep.Errors {
		if got := labelled(final, "wsbench_errors_total", "kind", kind); got == nil || got.GetCounter().GetValue() != float64(n) {
			t.Errorf("errors{kind=%q} = %v, result %d", kind, got, n)
		}
	}
	for name, l := range rep.Latency {
		m := labelled(final, "wsbench_latency_seconds", "metric", name)
		if m == nil {
			t.Errorf("no latency histogram for %s", name)
			continue
		}
		h := m.GetHistogram()
		if int64(h.GetSampleCount()) != l.Count {
			t.Errorf("%s: histogram count %d, result count %d", name, h.GetSampleCount(), l.Count)
		}
		if want := l.MeanUs * float64(l.Count) / 1e6; math.Abs(h.GetSampleSum()-want) > want*0.01+1e-6 {
			t.Errorf("%s: histogram sum %v s, result mean × count %v s", name, h.GetSampleSum(), want)
		}
	}
	if rep.Latency["rtt"].Count != rep.Messages.Received {
		t.Errorf("rtt count %d, received %d", rep.Latency["rtt"].Count, rep.Messages.Received)
	}
	srv, err := scrapeText(client, serverMetrics)
	if err != nil {
		t.Fatal(err)
	}
	if got := gaugeOf(srv, "wsbench_server_messages_received_total"); got < float64(rep.Messages.Received) {
		t.Errorf("server received %v messages, the client had %d answered", got, rep.Messages.Received)
	}
}

// TestDashboardNamesExist: every metric the Grafana dashboard's queries
// name is one that run or serve exports (histograms with their _bucket,
// _count and _sum series), so no panel stays empty for a typo; and the
// dashboard is valid JSON with panels that have queries.
func TestDashboardNamesExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "kube", "grafana", "wsbench-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	addAll := func(fams []*dto.MetricFamily) {
		for _, f := range fams {
			exported[f.GetName()] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, s := range []string{"_bucket", "_count", "_sum"} {
					exported[f.GetName()+s] = true
				}
			}
		}
	}
	c := live.NewClient(live.Shard{Index: 0, Count: 2})
	snap := metrics.NewSnapshot()
	snap.Errors["timeout"] = 1 // so that the labelled family is there
	c.Interval(metrics.Interval{End: time.Second, Snapshot: snap})
	fams, err := c.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	addAll(fams)
	now := time.Now() // and those exported once the run ended
	rep, err := results.Build(results.About{Spec: scenario.Default()},
		&metrics.Measurement{Started: now, MeasureStart: now, MeasureEnd: now.Add(time.Second), Snapshot: snap, GOMAXPROCS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(rep); err != nil {
		t.Fatal(err)
	}
	if fams, err = c.Registry().Gather(); err != nil {
		t.Fatal(err)
	}
	addAll(fams)
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(t.Context())
	fams, err = srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	addAll(fams)

	name := regexp.MustCompile(`\b(?:wsbench|process|go)_[a-z0-9_]+\b`)
	metricLabel := regexp.MustCompile(`\bmetric="([^"]*)"`)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, m := range metricLabel.FindAllStringSubmatch(tg.Expr, -1) {
				if _, err := metrics.ParseMetric(m[1]); err != nil {
					t.Errorf("panel %q: query %q: %v", p.Title, tg.Expr, err)
				}
			}
			names := name.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no wsbench metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !exported[n] {
					t.Errorf("panel %q: query %q names %s, which nothing exports", p.Title, tg.Expr, n)
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries in the dashboard", queries)
	}
}

// scrapeText GETs a /metrics URL in the text format and parses it.
func scrapeText(client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// gaugeOf is the value of a counter or gauge family's one series (NaN: none).
func gaugeOf(fams map[string]*dto.MetricFamily, name string) float64 {
	f := fams[name]
	if f == nil || len(f.GetMetric()) != 1 {
		return math.NaN()
	}
	m := f.GetMetric()[0]
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.GetGauge().GetValue()
}

// labelled is the series of family name whose label key is value.
func labelled(fams map[string]*dto.MetricFamily, name, key, value string) *dto.Metric {
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == key && l.GetValue() == value {
				return m
			}
		}
	}
	return nil
}
