package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/results"
)

// Env is env.json: what the figures depend on besides the servers.
type Env struct {
	Date       string            `json:"date"`
	Machine    string            `json:"machine"`
	Command    string            `json:"command"`
	Quick      bool              `json:"quick"`
	Trials     int               `json:"trials"`
	Servers    []string          `json:"servers"`
	Cases      []string          `json:"cases"`
	Kernel     string            `json:"kernel"`
	CPUModel   string            `json:"cpu_model"`
	CPUsOnline int               `json:"cpus_online"`
	ServerCPUs string            `json:"server_cpus"`
	ClientCPUs string            `json:"client_cpus"`
	Sysctls    map[string]string `json:"sysctls"`
	Limits     map[string]string `json:"limits"`
	Versions   map[string]string `json:"versions"`
	LockFiles  map[string]string `json:"lock_files_sha256"`
}

// splitCPUs gives the server the first half of this process's CPUs and
// wsbench the rest; with one CPU both get it (and env.json says so).
func splitCPUs() (server, client string, err error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return "", "", fmt.Errorf("CPU affinity: %w", err)
	}
	var cpus []string
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	if len(cpus) == 1 {
		return cpus[0], cpus[0], nil
	}
	half := len(cpus) / 2
	return strings.Join(cpus[:half], ","), strings.Join(cpus[half:], ","), nil
}

func environment(o *options, start time.Time, cases []Case) Env {
	e := Env{Date: start.Format(time.RFC3339), Machine: o.machine, Command: o.command, Quick: o.quick, Trials: o.trials,
		Servers: o.servers, Kernel: readTrim("/proc/sys/kernel/osrelease"), CPUsOnline: runtime.NumCPU(),
		ServerCPUs: o.serverCPUs, ClientCPUs: o.clientCPUs,
		Sysctls: map[string]string{}, Limits: map[string]string{}, Versions: map[string]string{}, LockFiles: map[string]string{}}
	for _, c := range cases {
		e.Cases = append(e.Cases, c.Name)
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(command("nproc", "--all"))); err == nil {
		e.CPUsOnline = n
	}
	for _, k := range []string{"net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.ip_local_port_range",
		"net.ipv4.tcp_tw_reuse", "net.core.rmem_max", "net.core.wmem_max", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
		"net.core.netdev_max_backlog", "fs.file-max", "fs.nr_open", "vm.overcommit_memory", "kernel.pid_max"} {
		e.Sysctls[k] = strings.Join(strings.Fields(readTrim("/proc/sys/"+strings.ReplaceAll(k, ".", "/"))), " ")
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		e.Limits["nofile_soft"], e.Limits["nofile_hard"] = strconv.FormatUint(lim.Cur, 10), strconv.FormatUint(lim.Max, 10)
	}
	e.Versions["go"] = command("go", "version")
	e.Versions["node"] = command("node", "--version")
	e.Versions["bun"] = command(filepath.Join(o.nodeDir, "node_modules", ".bin", "bun"), "--version")
	e.Versions["wsbench"] = strings.TrimPrefix(command(o.wsbench, "version"), "wsbench ")
	e.Versions["nginx"] = command("dpkg-query", "-W", "-f", "${Version}", "nginx")
	e.Versions["haproxy"] = command("dpkg-query", "-W", "-f", "${Version}", "haproxy")
	e.Versions["git_commit"] = command("git", "-C", o.root, "rev-parse", "HEAD")
	if strings.TrimSpace(command("git", "-C", o.root, "status", "--porcelain", "--untracked-files=no")) != "" {
		e.Versions["git_commit"] += " (with uncommitted changes)"
	}
	for _, f := range []string{"go.sum", "kit/servers/go.mod", "kit/servers/go.sum", "kit/servers/node/package-lock.json"} {
		if b, err := os.ReadFile(filepath.Join(o.root, f)); err == nil {
			sum := sha256.Sum256(b)
			e.LockFiles[f] = hex.EncodeToString(sum[:])
		}
	}
	return e
}

// command runs a short command and returns its output's first line (both
// streams: nginx -v prints on stderr), or "" when it fails.
func command(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteAtomic(path, append(b, '\n'))
}

func headerLines(o *options, e Env, start time.Time) []string {
	lines := []string{
		fmt.Sprintf("Run %s on `%s` (%s, %d CPUs, kernel %s); server on CPUs %s, wsbench on CPUs %s (taskset)",
			start.Format("2006-01-02 15:04 UTC"), e.Machine, e.CPUModel, e.CPUsOnline, e.Kernel, e.ServerCPUs, e.ClientCPUs),
		fmt.Sprintf("%d trials per case and server, each against a fresh server process, cases interleaved across servers; the knee: one search per server", o.trials),
		fmt.Sprintf("wsbench %s, commit %s; versions and lock-file hashes in env.json", e.Versions["wsbench"], e.Versions["git_commit"]),
		"Reproduce: `" + o.command + "`",
	}
	if e.ServerCPUs == e.ClientCPUs {
		lines = append(lines, "**One CPU only: server and wsbench shared it**, so every figure shows both")
	}
	if o.quick {
		lines = append(lines, "**--quick**: tiny cases to try the kit; these figures are not a comparison")
	}
	return lines
}
