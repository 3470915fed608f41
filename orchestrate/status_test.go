package orchestrate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// TestStatus: the live line shows each interval's rate, rtt percentiles,
// open connections and the errors so far (summed over intervals); a spec
// without intervals shows nothing, and a nil Status is safe to call.
func TestStatus(t *testing.T) {
	spec := scenario.Default()
	spec.Duration = scenario.Duration(2 * time.Second)
	var b bytes.Buffer
	st := NewStatus(&b, spec)
	for i, errs := range []int64{2, 3} {
		snap := metrics.NewSnapshot()
		snap.Counts.Received = 500
		snap.Errors["connect_refused"] = errs
		snap.Hist[metrics.RTT].Record(2 * time.Millisecond)
		st.Interval(driver.Interval{Start: time.Duration(i) * time.Second, End: time.Duration(i+1) * time.Second, Snapshot: snap, Open: 12})
	}
	st.Done()
	if got := b.String(); !strings.Contains(got, "500 msg/s  rtt p50 2ms p99 2ms  conns 12  errors 5") {
		t.Errorf("status line %q", got)
	}

	spec.Interval = 0
	var none *Status = NewStatus(&b, spec)
	if none != nil {
		t.Fatal("a status without intervals")
	}
	none.Interval(driver.Interval{})
	none.Tick(time.Second, "x")
	none.Done()
}
