package orchestrate

import (
	"testing"
	"time"

	"github.com/wsbench/wsbench/driver"
	"github.com/wsbench/wsbench/metrics"
)

// TestMixLiveIsTheMerge: the live status of a mix shows each interval once
// every group has reported it, and what it shows is the interval of the
// groups' measurements merged by metrics.Merge, the merge the mix's report
// uses: same counts, same histograms, open connections summed.
func TestMixLiveIsTheMerge(t *testing.T) {
	const groups, intervals = 3, 4
	length := 250 * time.Millisecond
	var shown []driver.Interval
	live := &mixIntervals{show: func(iv driver.Interval) { shown = append(shown, iv) }, groups: groups, length: length, pending: map[int]*mixPending{}}
	parts := make([]*metrics.Measurement, groups)
	for g := range parts {
		parts[g] = &metrics.Measurement{Snapshot: metrics.NewSnapshot(), StopReason: driver.StopCompleted}
	}
	// Group g reports interval k with g+k+1 sends and replies of (g+1)*(k+1) ms;
	// the groups report in turn, interval by interval.
	for k := range intervals {
		for g := range groups {
			s := metrics.NewSnapshot()
			s.Counts.Sent, s.Counts.Received = int64(g+k+1), int64(g+k+1)
			for range g + k + 1 {
				s.Hist[metrics.RTT].Record(time.Duration((g+1)*(k+1)) * time.Millisecond)
			}
			c, err := s.Compact()
			if err != nil {
				t.Fatal(err)
			}
			iv := driver.Interval{Start: time.Duration(k) * length, End: time.Duration(k+1) * length, Open: g + 1}
			parts[g].Intervals = append(parts[g].Intervals, driver.Interval{Start: iv.Start, End: iv.End, Data: c, Open: iv.Open})
			iv.Snapshot = s
			live.add(iv)
			s.Hist[metrics.RTT].Reset() // the run reuses its snapshot: the live line must have copied it
			if g < groups-1 && len(shown) != k {
				t.Fatalf("interval %d shown before every group reported it", k)
			}
		}
	}
	whole, err := metrics.Merge(true, parts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != intervals || len(whole.Intervals) != intervals {
		t.Fatalf("%d intervals shown, %d merged; want %d", len(shown), len(whole.Intervals), intervals)
	}
	for k, iv := range shown {
		want, err := whole.Intervals[k].Expanded()
		if err != nil {
			t.Fatal(err)
		}
		if iv.Snapshot.Counts != want.Counts || iv.Snapshot.Hist[metrics.RTT].Summary() != want.Hist[metrics.RTT].Summary() ||
			iv.Open != whole.Intervals[k].Open || iv.Open != 6 || iv.Start != whole.Intervals[k].Start {
			t.Errorf("interval %d: shown %+v %+v open %d, merged %+v %+v open %d", k, iv.Snapshot.Counts, iv.Snapshot.Hist[metrics.RTT].Summary(), iv.Open,
				want.Counts, want.Hist[metrics.RTT].Summary(), whole.Intervals[k].Open)
		}
	}
}
