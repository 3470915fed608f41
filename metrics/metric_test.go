package metrics

import (
	"fmt"
	"strings"
	"testing"
)

func TestMetricNames(t *testing.T) {
	tests := []struct {
		m    Metric
		name string
	}{
		// Each metric's stable name, which output formats depend on.
		{RTT, "rtt"},
		{RTTUncorrected, "rtt_uncorrected"},
		{SendLag, "send_lag"},
		{Connect, "connect"},
		{Handshake, "handshake"},
		{ReadLag, "read_lag"},
		{Delivery, "delivery"},
		{Close, "close"},
		{Spread, "spread"},
		{Gap, "gap"},
	}
	if len(tests) != int(NumMetrics) {
		t.Fatalf("table covers %d metrics, there are %d", len(tests), NumMetrics)
	}
	for _, tt := range tests {
		// String gives the name.
		if got := tt.m.String(); got != tt.name {
			t.Errorf("%d.String() = %q, want %q", tt.m, got, tt.name)
		}
		// ParseMetric inverts String.
		if got, err := ParseMetric(tt.name); err != nil || got != tt.m {
			t.Errorf("ParseMetric(%q) = %v, %v, want %v", tt.name, got, err, tt.m)
		}
	}
}

func TestParseMetricErrors(t *testing.T) {
	tests := []string{
		// Empty.
		"",
		// Case matters: names are exact.
		"RTT",
		// Near miss.
		"rtt-uncorrected",
		// Not a metric: NumMetrics has no name.
		"NumMetrics",
	}
	for _, in := range tests {
		_, err := ParseMetric(in)
		if err == nil {
			t.Errorf("ParseMetric(%q) succeeded", in)
			continue
		}
		// The error names the bad value and lists the valid names.
		msg := err.Error()
		if !strings.Contains(msg, `"`+in+`"`) {
			t.Errorf("error %q does not quote %q", msg, in)
		}
		for _, m := range Metrics() {
			if !strings.Contains(msg, m.String()) {
				t.Errorf("error %q does not list %q", msg, m)
			}
		}
	}
}

func TestMetricOutOfRange(t *testing.T) {
	// A value past the last metric prints its number, not a name.
	if got, want := NumMetrics.String(), fmt.Sprintf("Metric(%d)", int(NumMetrics)); got != want {
		t.Errorf("NumMetrics.String() = %q, want %s", got, want)
	}
	if got := Metric(200).String(); got != "Metric(200)" {
		t.Errorf("Metric(200).String() = %q", got)
	}
}

func TestMetrics(t *testing.T) {
	ms := Metrics()
	// All metrics, in order.
	if len(ms) != int(NumMetrics) {
		t.Fatalf("len(Metrics()) = %d, want %d", len(ms), NumMetrics)
	}
	for i, m := range ms {
		if m != Metric(i) {
			t.Errorf("Metrics()[%d] = %v", i, m)
		}
	}
	// Each call returns a fresh slice.
	ms[0] = Handshake
	if Metrics()[0] != RTT {
		t.Errorf("Metrics() shares its slice between calls")
	}
}
