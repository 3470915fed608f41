package server

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestInterval: the interval's figures are the differences over its
// measured length, rounded to microseconds; an interval of no length has
// none; the JSON keeps the server's own fields beside them.
func TestInterval(t *testing.T) {
	prev := Stats{UptimeSeconds: 10, CPUUserSeconds: 1, CPUSysSeconds: 0.5, MessagesIn: 1000}
	cur := Stats{UptimeSeconds: 12, CPUUserSeconds: 2.2, CPUSysSeconds: 0.9, MessagesIn: 7000}
	for _, tc := range []struct {
		name             string
		prev, cur        Stats
		secs, cores, mps float64
	}{
		{"two seconds", prev, cur, 2, 0.8, 3000},
		{"no time passed", cur, cur, 0, 0, 0},
		{"from the start", Stats{}, Stats{UptimeSeconds: 3, CPUUserSeconds: 1, MessagesIn: 1}, 3, 0.333333, 0.333333},
	} {
		st := Interval(tc.prev, tc.cur)
		if st.IntervalSeconds != tc.secs || st.IntervalCPUCores != tc.cores || st.IntervalMessagesInPerSecond != tc.mps || !reflect.DeepEqual(st.Stats, tc.cur) {
			t.Errorf("%s: %+v", tc.name, st)
		}
	}
	b, err := json.Marshal(Interval(prev, cur))
	if err != nil || !strings.Contains(string(b), `"interval_cpu_cores":0.8`) || !strings.Contains(string(b), `"messages_in":7000`) {
		t.Errorf("json %s, %v", b, err)
	}
}

// TestIntervals: a line per interval until the context ends, each with the
// interval's own length; none without an interval.
func TestIntervals(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	var got []IntervalStats
	srv.Intervals(ctx, 5*time.Millisecond, func(st IntervalStats) {
		if got = append(got, st); len(got) == 3 {
			cancel()
		}
	})
	for i, st := range got {
		if st.IntervalSeconds <= 0 || st.UptimeSeconds <= 0 {
			t.Errorf("interval %d: %+v", i, st)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d intervals, want 3", len(got))
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	srv.Intervals(done, 0, func(IntervalStats) { t.Error("an interval without --stats-interval") })
}

// TestSettings: serve's announcement names the mode, the I/O mode in use,
// whether deflate is accepted and, only when set, the delay.
func TestSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, "mode echo, I/O %s, permessage-deflate on"},
		{"broadcast, no deflate, a delay", func(c *Config) {
			c.Mode, c.DisableDeflate = ModeBroadcast, true
			d, err := ParseDelay("exp:5ms")
			if err != nil {
				t.Fatal(err)
			}
			c.Delay = d
		}, "mode broadcast, I/O %s, permessage-deflate off, delay exp:5ms"},
	} {
		cfg := DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		tc.set(&cfg)
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := srv.Settings(), fmt.Sprintf(tc.want, srv.Stats().IO); got != want {
			t.Errorf("%s: %q, want %q", tc.name, got, want)
		}
		srv.Shutdown(context.Background())
	}
}
