package orchestrate

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestTicksAt(t *testing.T) {
	t0 := time.Unix(1000, 0)
	samples := []serverSample{
		{at: t0, ticks: 100},
		{at: t0.Add(time.Second), ticks: 200},
		{at: t0.Add(2 * time.Second), ticks: 200},
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		want float64
	}{
		{"before the first sample: the first", t0.Add(-time.Second), 100},
		{"on a sample: it", t0.Add(time.Second), 200},
		{"a quarter into the first gap", t0.Add(250 * time.Millisecond), 125},
		{"idle second gap stays flat", t0.Add(1500 * time.Millisecond), 200},
		{"after the last sample: the last", t0.Add(time.Hour), 200},
	} {
		if got := ticksAt(samples, tc.at); got != tc.want {
			t.Errorf("%s: ticksAt = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestServerSamplerOwnProcess samples this process while it burns a known
// amount of CPU time (counted by the kernel, not by the wall clock, so a
// busy machine only makes it take longer) and wants that CPU time back.
func TestServerSamplerOwnProcess(t *testing.T) {
	s, err := SampleServer([]int{os.Getpid()}, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const burn = 300 * time.Millisecond
	before := selfCPU(t)
	for x := 0; selfCPU(t)-before < burn; x++ {
		for i := 0; i < 100000; i++ {
			x ^= i * x
		}
	}
	end := time.Now()
	u := s.Window(start, end)
	// All of this process's CPU in the window: about the burn (less what the
	// interpolation at the edges may miss when the sampler was late: a third
	// is far more than that), and no more than every core for the window.
	lo, hi := burn.Seconds()*2/3, end.Sub(start).Seconds()*float64(max(1, numCPU()))+0.03
	if u.CPUSeconds < lo || u.CPUSeconds > hi {
		t.Errorf("CPU in the window %.3f s, want between %.3f and %.3f", u.CPUSeconds, lo, hi)
	}
	if u.RSSBeforeKiB <= 0 || u.MaxRSSKiB <= 0 || u.Samples < 1 || len(u.PIDs) != 1 || u.Exited {
		t.Errorf("usage %+v: want memory before and in the window, samples, one PID, not exited", u)
	}
	s.Stop() // a second stop does nothing
}

func TestSampleServerMissingPID(t *testing.T) {
	_, err := SampleServer([]int{os.Getpid(), 1 << 30}, time.Second)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "server_pid" || !strings.Contains(err.Error(), "1073741824") {
		t.Fatalf("err = %v, want a FieldError on server_pid naming the missing PID", err)
	}
}

func selfCPU(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func numCPU() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return 64
	}
	return set.Count()
}
