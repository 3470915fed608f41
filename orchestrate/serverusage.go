package orchestrate

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/wsbench/wsbench/results"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ServerSampler samples server processes (a server, or a proxy and the
// server behind it) by PID from /proc while a run goes on: their CPU time
// (/proc/PID/stat) and resident memory (/proc/PID/status), summed over the
// PIDs, every period. Window then gives what they used in the run's
// measured window. It reads only /proc: the server needs no stats endpoint.
type ServerSampler struct {
	pids  []int
	every time.Duration
	stop  chan struct{}
	done  chan struct{}

	stopOnce sync.Once
	mu       sync.Mutex
	samples  []serverSample
	exited   bool
}

type serverSample struct {
	at     time.Time
	ticks  uint64 // user + system CPU of all PIDs, clock ticks
	rssKiB int64
}

// SampleServer takes a first sample of pids at once (an error, a FieldError
// on server_pid, names a PID that is not there) and then one every period
// until Window is called.
func SampleServer(pids []int, every time.Duration) (*ServerSampler, error) {
	if len(pids) == 0 {
		return nil, fieldErrorf("server_pid", "no PID")
	}
	first, err := sampleServer(pids)
	if err != nil {
		return nil, &FieldError{Key: "server_pid", Err: err}
	}
	s := &ServerSampler{pids: pids, every: every, stop: make(chan struct{}), done: make(chan struct{}),
		samples: []serverSample{first}}
	go s.loop()
	return s, nil
}

func (s *ServerSampler) loop() {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if !s.sample() {
				return
			}
		}
	}
}

// sample appends one sample; false once a process has gone.
func (s *ServerSampler) sample() bool {
	x, err := sampleServer(s.pids)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.exited = true
		return false
	}
	s.samples = append(s.samples, x)
	return true
}

// Window stops sampling (taking a last sample) and returns the usage over
// [start, end]: CPU time interpolated between the samples around each edge,
// the highest resident memory sampled inside it (or at its closest sample),
// and the memory of the first sample, taken before the run connected.
func (s *ServerSampler) Window(start, end time.Time) *results.ServerUsage {
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &results.ServerUsage{PIDs: s.pids, RSSBeforeKiB: s.samples[0].rssKiB, Exited: s.exited,
		SampleEveryMS: float64(s.every) / float64(time.Millisecond)}
	cpu := ticksAt(s.samples, end) - ticksAt(s.samples, start)
	u.CPUSeconds = max(cpu, 0) / clockTicks
	if secs := end.Sub(start).Seconds(); secs > 0 {
		u.CPUCores = u.CPUSeconds / secs
	}
	closest, gap := s.samples[0], time.Duration(1<<62)
	for _, x := range s.samples {
		if !x.at.Before(start) && !x.at.After(end) {
			u.Samples++
			u.MaxRSSKiB = max(u.MaxRSSKiB, x.rssKiB)
		}
		if d := max(x.at.Sub(end), end.Sub(x.at)); d < gap {
			closest, gap = x, d
		}
	}
	if u.Samples == 0 {
		u.MaxRSSKiB = closest.rssKiB
	}
	return u
}

// Stop ends the sampling, taking a last sample; it may be called more than
// once, and on a nil sampler.
func (s *ServerSampler) Stop() {
	if s == nil {
		return
	}
	s.stopOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.sample()
	})
}

// ticksAt is the CPU time at t, interpolated linearly between the samples
// on either side of it (samples are in time order); before the first or
// after the last sample it is that sample's.
func ticksAt(samples []serverSample, t time.Time) float64 {
	for i, x := range samples {
		if x.at.Before(t) {
			continue
		}
		if i == 0 {
			return float64(x.ticks)
		}
		prev := samples[i-1]
		span := x.at.Sub(prev.at)
		if span <= 0 {
			return float64(x.ticks)
		}
		f := float64(t.Sub(prev.at)) / float64(span)
		return float64(prev.ticks) + f*(float64(x.ticks)-float64(prev.ticks))
	}
	return float64(samples[len(samples)-1].ticks)
}

func sampleServer(pids []int) (serverSample, error) {
	x := serverSample{at: time.Now()}
	for _, pid := range pids {
		ticks, rss, err := readProc(pid)
		if err != nil {
			return x, err
		}
		x.ticks += ticks
		x.rssKiB += rss
	}
	return x, nil
}

// readProc reads a process's user + system CPU time in clock ticks (fields
// 14 and 15 of /proc/PID/stat, counted after the parenthesised command name,
// which may hold spaces) and its VmRSS in KiB. A zombie has no VmRSS: it
// counts as gone.
func readProc(pid int) (ticks uint64, rssKiB int64, err error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("process %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("process %d: /proc/%d/stat: no command name", pid, pid)
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("process %d: /proc/%d/stat: %d fields", pid, pid, len(f)+2)
	}
	for _, v := range f[11:13] { // fields 14 and 15: utime, stime
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("process %d: /proc/%d/stat: %w", pid, pid, err)
		}
		ticks += n
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("process %d: %w", pid, err)
	}
	_, rest, found := bytes.Cut(status, []byte("\nVmRSS:"))
	if !found {
		return 0, 0, fmt.Errorf("process %d: no VmRSS (exited)", pid)
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kib, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(" kB"))), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("process %d: VmRSS %q: %w", pid, line, err)
	}
	return ticks, kib, nil
}

// ServerWindow is the measured window of rep as the wall clock saw it: it
// starts after the warm-up from the moment load began, and lasts the
// measured duration (DurationS).
func ServerWindow(rep *results.Report) (start, end time.Time) {
	start = rep.StartedAt.Add(time.Duration(rep.Scenario.Warmup))
	return start, start.Add(time.Duration(rep.DurationS * float64(time.Second)))
}
