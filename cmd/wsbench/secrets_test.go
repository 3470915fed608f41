package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// secretsIn are the secrets TestSecretsNeverPrinted gives a --procs run.
var secretsIn = []string{"SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5", "SECRET6", "SECRET7", "SECRET8"}

// secretURL is base (a ws:// URL) with a password and secret parameters:
// token and jwt by the default rule, room by --secret-param.
func secretURL(t *testing.T, base string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("user", "SECRET6")
	u.RawQuery = "token=SECRET1&jwt=SECRET2&room=SECRET7&visible=yes"
	return u.String()
}

// childCmdlines records the command lines of the processes whose parent is
// pid, by their pids. A child caught between fork and exec still shows its
// parent's command line (the user's own, not a child's): it is skipped.
func childCmdlines(pid int, seen map[int]string) {
	own, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after its ')'.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		if cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline")); err == nil && len(cmdline) > 0 && !bytes.Equal(cmdline, own) {
			seen[child] = strings.ReplaceAll(string(cmdline), "\x00", " ")
		}
	}
}

// TestSecretsNeverPrinted runs --procs 2 with secrets in the target URL
// (password, ?token=, ?jwt=, a --secret-param), in -H (Authorization,
// X-Api-Key), in --query (access_token) and in a subprotocol, against a loopback port where
// nothing listens and against a working server, and looks for them
// everywhere: the children's command lines while they run, the parent's
// stdout and stderr (the children's stderr included), the JSON result and
// its text, HTML and CSV reports.
func TestSecretsNeverPrinted(t *testing.T) {
	_, working, _ := startServe(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "ws://" + l.Addr().String() + "/"
	l.Close() // nothing listens there now: connections are refused
	for _, tc := range []struct {
		name     string
		target   string
		exit     int
		children bool // the children live long enough to be seen for sure
	}{
		{"unreachable", secretURL(t, closed), 1, false},
		{"working", secretURL(t, working), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "r.json")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "run", "--procs", "2", "-c", "2", "-r", "20", "-d", "1500ms", "--warmup", "0s",
				"--interval", "500ms", "--connect-timeout", "2s",
				"-H", "Authorization: Bearer SECRET3", "-H", "X-Api-Key: SECRET4", "--query", "access_token=SECRET5",
				"--subprotocol", "base64url.bearer.authorization.k8s.io.SECRET8", "--secret-param", "room", "-o", out, tc.target)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			kids := map[int]string{}
			var runErr error
		watch:
			for {
				childCmdlines(cmd.Process.Pid, kids)
				select {
				case runErr = <-done:
					break watch
				case <-time.After(10 * time.Millisecond):
				}
			}
			code := 0
			if ee, ok := runErr.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if runErr != nil {
				t.Fatal(runErr)
			}
			if code != tc.exit {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.exit, &stderr)
			}
			if tc.children && len(kids) < 2 {
				t.Errorf("saw %d client processes while the run lasted, want 2", len(kids))
			}
			docs := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
			for pid, cmdline := range kids {
				docs["command line of child "+strconv.Itoa(pid)] = cmdline
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("no result written: %v\nstderr: %s", err, &stderr)
			}
			docs["result"] = string(b)
			for _, format := range []string{"text", "html", "csv", "json"} {
				if format == "csv" && !tc.children {
					continue // no connection, no intervals: no CSV
				}
				var rep, rerr bytes.Buffer
				c := exec.CommandContext(ctx, binary, "report", "--format", format, out)
				c.Stdout, c.Stderr = &rep, &rerr
				if err := c.Run(); err != nil {
					t.Errorf("report --format %s: %v\n%s", format, err, &rerr)
				}
				docs["report --format "+format] = rep.String() + rerr.String()
			}
			for name, doc := range docs {
				for _, s := range secretsIn {
					if strings.Contains(doc, s) {
						i := strings.Index(doc, s)
						t.Errorf("%s shows %s: …%s…", name, s, doc[max(0, i-80):min(len(doc), i+40)])
					}
				}
			}
			// Redacted, not dropped: the settings still say where secrets went.
			for _, want := range []string{"access_token=REDACTED", "Authorization: REDACTED", "X-Api-Key: REDACTED", "user:REDACTED@", "token=REDACTED", "room=REDACTED", "visible=yes", "k8s.io.REDACTED"} {
				if !strings.Contains(docs["result"], want) {
					t.Errorf("result lacks %q", want)
				}
			}
			if tc.exit == 1 && !strings.Contains(stderr.String(), "no connection to ws://user:REDACTED@") {
				t.Errorf("stderr does not name the unreachable target, redacted:\n%s", &stderr)
			}
		})
	}
}
