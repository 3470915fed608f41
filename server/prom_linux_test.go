package server

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsbench/wsbench/internal/promserve"
)

// TestPromMatchesStatsJSON: after some connections echoed and closed (and
// one handshake failed), every number --stats-addr serves as JSON is
// served by --metrics-addr too, under its own name, with the same value:
// counters exactly (the server is idle between the reads), CPU time and
// uptime between a JSON read before the scrape and one after; every JSON
// number has its metric; the close codes come as a labelled counter.
func TestPromMatchesStatsJSON(t *testing.T) {
	s, addr := startServer(t, Config{StatsAddr: "127.0.0.1:0"})
	ep, err := promserve.Listen("127.0.0.1:0", s.Registry())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	for range 3 {
		c := dialRaw(t, addr)
		c.echoesThenClose(t, 5)
		c.expectEOF(t)
	}
	bad := dialTCP(t, addr)
	bad.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // no upgrade: a handshake failure
	if !waitFor(5*time.Second, func() bool { st := s.Stats(); return st.Open == 0 && st.HandshakeFailures == 1 }) {
		t.Fatalf("server never settled: %+v", s.Stats())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	statsJSON := func() map[string]any {
		resp, err := client.Get("http://" + s.StatsAddr().String() + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := statsJSON()
	families := scrape(t, client, ep.URL())
	after := statsJSON()

	byKey := map[string]promStat{}
	for _, p := range promStats {
		byKey[p.key] = p
	}
	for key, v := range before {
		num, isNum := v.(float64)
		if !isNum {
			continue // io and delay: the info metric's labels; close codes below
		}
		p, ok := byKey[key]
		if !ok {
			t.Errorf("stats JSON %q has no metric", key)
			continue
		}
		name := PromNamespace + "_" + p.name
		got, ok := value(families, name, nil)
		if !ok {
			t.Errorf("%s (stats %q) not scraped", name, key)
			continue
		}
		want := num
		if key == "rss_kib" || key == "max_rss_kib" {
			want *= 1024
		}
		hi := after[key].(float64)
		if key == "rss_kib" || key == "max_rss_kib" {
			hi *= 1024
		}
		switch key {
		case "cpu_user_s", "cpu_sys_s", "uptime_s", "cpu_cores", "rss_kib", "max_rss_kib":
			// Moving figures: between the JSON read before the scrape and
			// the one after (either way for the gauges), with the JSON's
			// rounding to the microsecond.
			lo, up := min(want, hi), max(want, hi)
			if key == "rss_kib" || key == "max_rss_kib" || key == "cpu_cores" {
				lo, up = lo*0.5, up*1.5 // memory and an average move both ways
			}
			if got < lo-1e-6 || got > up+1e-6 {
				t.Errorf("%s = %v, want within [%v, %v] (stats %q)", name, got, lo, up, key)
			}
		default:
			if got != want || want != hi {
				t.Errorf("%s = %v, stats %q = %v then %v", name, got, key, want, hi)
			}
		}
	}
	for _, key := range []string{"accepted", "messages_in", "messages_out", "handshake_failures"} {
		if before[key].(float64) == 0 {
			t.Errorf("stats %q is 0: the load did not reach the server", key)
		}
	}
	codes := before["close_codes_sent"].(map[string]any)
	if len(codes) == 0 {
		t.Fatal("no close code counted")
	}
	for code, n := range codes {
		got, ok := value(families, PromNamespace+"_close_frames_sent_total", map[string]string{"code": code})
		if !ok || got != n.(float64) {
			t.Errorf("close_frames_sent_total{code=%q} = %v (found %v), stats %v", code, got, ok, n)
		}
	}
	if _, ok := value(families, PromNamespace+"_info", map[string]string{"io": before["io"].(string), "delay": before["delay"].(string)}); !ok {
		t.Errorf("no %s_info{io=%q,delay=%q}", PromNamespace, before["io"], before["delay"])
	}
	if _, ok := value(families, "process_cpu_seconds_total", nil); !ok {
		t.Error("no process metrics")
	}
}

// scrape GETs url in the text format and parses it.
func scrape(t *testing.T, client *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// value is the value of the series of family name with exactly labels.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			match = match && labels[l.GetName()] == l.GetValue()
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}
