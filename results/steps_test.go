package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// flowFixture is a flow's report: step login done 100 times (1..100 ms),
// request 400 times (5 ms each) with 3 timeouts and 1 closed, and ping
// named but never done.
func flowFixture(t *testing.T) *Report {
	t.Helper()
	return fixtureWith(t, func(s *scenario.Spec, snap *metrics.Snapshot) {
		s.Kind = scenario.KindFlow
		sh := metrics.NewRecorder().NewShard()
		login, req, _ := sh.Step("login"), sh.Step("request"), sh.Step("ping")
		for i := 1; i <= 100; i++ {
			sh.RecordStep(login, time.Duration(i)*time.Millisecond)
		}
		for range 400 {
			sh.RecordStep(req, 5*time.Millisecond)
		}
		for range 3 {
			sh.StepError(req, "timeout")
		}
		sh.StepError(req, "closed")
		if err := snap.AddShard(sh); err != nil {
			t.Fatal(err)
		}
	}, nil)
}

// TestStepsReport: a flow's steps reach the report in the scenario's
// order with their counts, failures and exact histograms, print as a
// table in the text summary, and survive the JSON document.
func TestStepsReport(t *testing.T) {
	r := flowFixture(t)
	if len(r.Steps) != 3 || r.Steps[0].Name != "login" || r.Steps[1].Name != "request" || r.Steps[2].Name != "ping" {
		t.Fatalf("steps %+v, want login, request, ping", r.Steps)
	}
	login, req, ping := r.Steps[0], r.Steps[1], r.Steps[2]
	if login.Latency.Count != 100 || login.ErrorCount != 0 || login.Latency.MaxUs < 100_000 || login.Latency.MinUs > 1000 {
		t.Errorf("login: %+v", login)
	}
	if req.Latency.Count != 400 || req.ErrorCount != 4 || req.Errors["timeout"] != 3 || req.Errors["closed"] != 1 {
		t.Errorf("request: %+v", req)
	}
	if ping.Latency.Count != 0 || ping.ErrorCount != 0 {
		t.Errorf("ping: %+v", ping)
	}
	var text bytes.Buffer
	if err := Text(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Step", "login", "4 (closed 1, timeout 3)", "5ms"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	b, err := r.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	h, err := back.StepHistogram("login")
	if err != nil {
		t.Fatal(err)
	}
	if h.Count() != 100 || h.Percentile(50) < 50*time.Millisecond || h.Percentile(50) > 51*time.Millisecond {
		t.Errorf("login histogram after JSON: count %d p50 %v, want 100 and 50ms", h.Count(), h.Percentile(50))
	}
}

// TestStepThresholds: step.NAME.STAT thresholds parse, judge the named
// step's figures, fail for a step the report lacks, and a threshold on a
// step the flow does not have is refused before the run, naming it.
func TestStepThresholds(t *testing.T) {
	r := flowFixture(t)
	for _, tc := range []struct {
		expr string
		pass bool
	}{
		{"step.login.p99<150ms", true},           // 99 ms
		{"step.login.p99<50ms", false},           // 99 ms
		{"step.login.p50>=50ms", true},           // 50 ms
		{"step.login.p(99.9)<100ms", false},      // 100 ms
		{"step.login.max<=101ms", true},          // 100 ms at 3 digits
		{"step.request.errors<1", false},         // 4
		{"step.request.errors<5", true},          // 4
		{"step.request.errors.timeout<=3", true}, // 3
		{"step.request.errors.closed<1", false},  // 1
		{"step.login.errors<1", true},            // none
		{"step.request.count>=400", true},        // 400
		{"step.ping.count>0", false},             // never done
		{"step.nosuch.p99<1s", false},            // no such step in the report: fails
	} {
		th := mustThreshold(t, tc.expr)
		res := th.Check(r)
		if res.Pass != tc.pass {
			t.Errorf("%s: pass %v (measured %v), want %v", tc.expr, res.Pass, res.Actual, tc.pass)
		}
	}
	for _, bad := range []string{"step.login", "step..p99<1ms", "step.login.p99<5", "step.login.errors<1ms", "step.login.p101<1ms", "step.login.errors<1:abort", "step.login.bogus<1"} {
		if _, err := ParseThreshold(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	ths := []Threshold{mustThreshold(t, "rtt.p99<1s"), mustThreshold(t, "step.login.p99<50ms"), mustThreshold(t, "step.logn.errors<1")}
	err := CheckSteps(ths, []string{"login", "request"})
	var fe *scenario.FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `"step.logn.errors<1"`) || !strings.Contains(err.Error(), "login, request") {
		t.Errorf("CheckSteps: %v, want a FieldError naming step.logn.errors<1 and the steps there are", err)
	}
	if err := CheckSteps(ths[:2], []string{"login"}); err != nil {
		t.Errorf("CheckSteps of known steps: %v", err)
	}
	ApplyThresholds(r, ths[1:2])
	if rows := thresholdRows(r); rows[0].Measured != "99.0ms" || rows[0].Pass {
		t.Errorf("threshold row %+v, want a failure measured 99.0ms", rows[0])
	}
	if f := mustThreshold(t, "step.request.errors<1").Check(r); formatActual("step.request.errors", f.Actual) != "4" {
		t.Errorf("errors measured prints %q, want 4", formatActual("step.request.errors", f.Actual))
	}
	if v, ok := mustThreshold(t, "step.nosuch.p99<1s").checkStep(r); ok || !math.IsNaN(v) {
		t.Errorf("a missing step measured %v", v)
	}
}

// TestCompareSteps: compare has a row per step figure both sides have.
func TestCompareSteps(t *testing.T) {
	a, b := flowFixture(t), flowFixture(t)
	b.Steps[0].Latency.P99Us *= 2
	c, err := Compare([]Side{{Label: "a", Reports: []*Report{a}}, {Label: "b", Reports: []*Report{b}}})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]Row{}
	for _, row := range c.Rows {
		found[row.Name] = row
	}
	if row, ok := found["step login p99"]; !ok || row.Cells[1].Change != 1 {
		t.Errorf("step login p99: %+v, want a row with +100%%", row)
	}
	if row, ok := found["step request failed"]; !ok || row.Cells[0].Median != 4 {
		t.Errorf("step request failed: %+v", row)
	}
	if _, ok := found["step ping p99"]; ok {
		t.Errorf("a step never done has a latency row")
	}
}
