package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestServerPIDBadInput: --server-pid with several runs, or naming no
// process, exits 2 with one line naming the flag.
func TestServerPIDBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		// one run's server: not with --repeat
		{"repeat", []string{"run", "--server-pid", "1", "--repeat", "2", "ws://127.0.0.1:1/"}, "--server-pid: samples one run's server"},
		// a PID with no process is caught before the run
		{"no such process", []string{"run", "--server-pid", "1073741824", "ws://127.0.0.1:1/"}, "--server-pid: process 1073741824"},
		// not a number
		{"not a pid", []string{"run", "--server-pid", "nginx", "ws://127.0.0.1:1/"}, "--server-pid"},
	} {
		code, _, stderr := runCLI(tc.args...)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != exitUsage || !strings.Contains(first, tc.want) {
			t.Errorf("%s: exit %d, first line %q; want exit %d and %q", tc.name, code, first, exitUsage, tc.want)
		}
	}
}

// TestServerPID: a run against `wsbench serve` in its own process, sampled
// by its PID, carries the server's usage in the result and a Server line
// under the summary.
func TestServerPID(t *testing.T) {
	cmd, url, _ := startServe(t)
	pid := strconv.Itoa(cmd.Process.Pid)
	code, stdout, stderr := runCLI("run", "-q", "-c", "4", "-d", "500ms", "--warmup", "0s", "--json", "--server-pid", pid, url)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		ServerUsage *struct {
			PIDs         []int   `json:"pids"`
			CPUSeconds   float64 `json:"cpu_s"`
			RSSBeforeKiB int64   `json:"rss_before_kib"`
			MaxRSSKiB    int64   `json:"max_rss_kib"`
			Samples      int     `json:"samples"`
			Exited       bool    `json:"exited"`
		} `json:"server_usage"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	u := doc.ServerUsage
	if u == nil || len(u.PIDs) != 1 || strconv.Itoa(u.PIDs[0]) != pid || u.RSSBeforeKiB <= 0 || u.MaxRSSKiB <= 0 ||
		u.Samples < 1 || u.CPUSeconds < 0 || u.Exited {
		t.Fatalf("server_usage %+v: want pid %s sampled in the window, still running", u, pid)
	}
	code, stdout, stderr = runCLI("run", "-q", "-c", "2", "-d", "200ms", "--warmup", "0s", "--server-pid", pid, url)
	if code != exitOK || !strings.Contains(stdout, "Server (--server-pid ["+pid+"]): ") {
		t.Errorf("exit %d, summary without the Server line:\n%s%s", code, stdout, stderr)
	}
}
