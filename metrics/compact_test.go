package metrics

import (
	"testing"
	"time"
)

func TestCompactRoundTrip(t *testing.T) {
	s := NewSnapshot()
	s.Counts.Sent, s.Counts.Received = 7, 5
	s.Errors["close_1001"] = 2
	for i := range 1000 {
		s.Hist[RTT].Record(time.Duration(i) * time.Microsecond)
	}
	s.Hist[Delivery].Record(90 * time.Second) // clamped at the top
	c, err := s.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if c.Hist[SendLag] != "" || c.Hist[RTT] == "" || len(c.Hist[RTT]) > 8<<10 {
		t.Errorf("encodings: send_lag %q, rtt %d bytes", c.Hist[SendLag], len(c.Hist[RTT]))
	}
	back, err := c.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if back.Counts != s.Counts || back.Errors["close_1001"] != 2 {
		t.Errorf("counts %+v errors %v", back.Counts, back.Errors)
	}
	for m := range NumMetrics {
		if back.Hist[m].Summary() != s.Hist[m].Summary() || back.Hist[m].Clamped() != s.Hist[m].Clamped() {
			t.Errorf("%v: %+v, want %+v", m, back.Hist[m].Summary(), s.Hist[m].Summary())
		}
	}
	if sum, err := c.Summary(RTT); err != nil || sum != s.Hist[RTT].Summary() {
		t.Errorf("summary %+v %v", sum, err)
	}
}
