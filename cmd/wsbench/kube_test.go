package main

// kube part: `wsbench kube render`'s command line.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wsbench/wsbench/kube"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

func writeScenario(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKubeRender: a scenario whose secret is ${TOKEN} renders, TOKEN coming
// from the Secret named; a secret written into the scenario or the run
// flags is refused without being printed; each bad flag exits 2 naming it.
func TestKubeRender(t *testing.T) {
	t.Setenv("TOKEN", "s3cr3t-token-value") // set here: must not leak into the manifest
	ok := writeScenario(t, "target: ws://echo:8080/echo\nconns: 100\nduration: 10s\nheaders: [\"Authorization: Bearer ${TOKEN}\"]\n")
	literal := writeScenario(t, "target: ws://echo:8080/echo\nconns: 100\nheaders: [\"Authorization: Bearer literal-secret-123\"]\n")
	inURL := writeScenario(t, "target: ws://echo:8080/echo?token=url-secret-456\nconns: 100\n")
	noTarget := writeScenario(t, "conns: 100\n")
	base := func(file string, more ...string) []string {
		return append([]string{"kube", "render", "-f", file, "-n", "3", "--image", "wsbench:dev"}, more...)
	}
	var out, errb bytes.Buffer
	code := wsbench(base(ok, "--secret-env", "TOKEN=auth:token", "--", "--dial-concurrency", "50"), &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"kind: Job", "kind: ConfigMap", "- auto/3", "- --start-at", "- --dial-concurrency", "name: TOKEN", "secretKeyRef:", "Bearer ${TOKEN}"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("manifest lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "s3cr3t") {
		t.Errorf("the manifest holds the environment's secret value")
	}
	// The Job's deadline: the time to the start (60s, rounded up to the
	// second) + warm-up + duration 10s + grace + 5m, or --deadline.
	d := scenario.Default()
	least := int((time.Minute + time.Duration(d.Warmup) + 10*time.Second + time.Duration(d.Grace) + 5*time.Minute) / time.Second)
	var got int
	_, dl, _ := strings.Cut(out.String(), "activeDeadlineSeconds:")
	if _, err := fmt.Sscanf(dl, " %d", &got); err != nil || got < least || got > least+2 {
		t.Errorf("activeDeadlineSeconds %d (%v), want %d to %d", got, err, least, least+2)
	}
	out.Reset()
	if code := wsbench(base(ok, "--secret-env", "TOKEN=auth:token", "--deadline", "90s"), &out, &errb); code != exitOK || !strings.Contains(out.String(), "activeDeadlineSeconds: 90\n") {
		t.Errorf("--deadline 90s: exit %d, %s", code, errb.String())
	}

	for _, c := range []struct {
		args   []string
		want   string
		secret string
	}{
		{base(literal), "would hold a secret value", "literal-secret-123"},
		{base(inURL), "would hold a secret value", "url-secret-456"},
		{base(ok, "--secret-env", "TOKEN=auth", "--", "-H", "X-Api-Key: flag-secret-789"), "would hold a secret value", "flag-secret-789"},
		{base(ok), "--secret-env: the scenario uses the environment variable TOKEN:", ""},
		{base(noTarget), "names no target", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--", "--shard", "1/3"), "--shard", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--", "--json"), "--json is set by the Job", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--", "--conns", "x"), "after --", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--", "ws://a/", "ws://b/"), "one target URL", ""},
		{base(ok, "--secret-env", "TOKEN"), "--secret-env", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--cpu", "lots"), "--cpu", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--start-in", "1s"), "--start-in", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--start-at", "tomorrow"), "--start-at", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--pull-policy", "Sometimes"), "--pull-policy", ""},
		{base(ok, "--secret-env", "TOKEN=auth", "--deadline", "-1s"), "--deadline", ""},
		{[]string{"kube", "render", "-f", ok, "-n", "3"}, "--image is required", ""},
		{[]string{"kube", "render", "-f", ok, "--image", "i"}, "--shards is required", ""},
		{[]string{"kube", "render", "-n", "3", "--image", "i"}, "--file is required", ""},
		{[]string{"kube", "bogus"}, "unknown subcommand", ""},
	} {
		out.Reset()
		errb.Reset()
		code := wsbench(c.args, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", c.args, code, errb.String(), c.want)
		}
		if c.secret != "" && strings.Contains(errb.String()+out.String(), c.secret) {
			t.Errorf("%q: the secret was printed: %s", c.args, errb.String())
		}
	}
}

// kubeShard is shard k of n's result as a Job's pod logs it.
func kubeShard(t *testing.T, k, n int, sent int64, missed bool) *results.Report {
	t.Helper()
	start := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
	snap := metrics.NewSnapshot()
	for range sent {
		snap.Hist[metrics.RTT].Record(time.Millisecond)
	}
	snap.Counts.Sent, snap.Counts.Received = sent, sent
	stop, begin, end := metrics.StopReason("completed"), start, start.Add(10*time.Second)
	if missed {
		stop, begin, end = "missed_start", start.Add(time.Second), start.Add(time.Second)
	}
	m := &metrics.Measurement{Started: begin, MeasureStart: begin, MeasureEnd: end, StopReason: stop, Snapshot: snap, Processes: 1, GOMAXPROCS: 2}
	spec := scenario.Default()
	spec.Conns = 10 * n
	r, err := results.Build(results.About{ToolVersion: "test", Spec: spec, Target: "ws://echo:8080/", Ended: end}, m)
	if err != nil {
		t.Fatal(err)
	}
	r.Shard = &results.ShardResult{Shard: results.ShardInfo{Index: k, Count: n, Plan: "p", StartAt: start, StartedAt: begin,
		SkewNs: begin.Sub(start).Nanoseconds(), FirstSlot: 10 * k, Conns: 10}, Measurement: m}
	return r
}

// TestKubeFinish: the exit code and output of `kube run` for each way a
// Job ends: all merged (0), a shard that missed the start (5), shards
// missing (6, or 1 with --allow-partial as the Job failed), interrupted
// (130, what was collected still written).
func TestKubeFinish(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Args: []string{"run", "--start-at", "2026-12-04T01:00:00Z"}}}}}}}
	shards := func(ends ...int) []kube.Shard { // per index: -1 no result, else the exit code
		var s []kube.Shard
		for k, e := range ends {
			sh := kube.Shard{Index: k, Pod: fmt.Sprintf("bench-%d", k), Exit: e}
			switch e {
			case 0:
				sh.Report = kubeShard(t, k, len(ends), int64(100*(k+1)), false)
			case 5:
				sh.Report = kubeShard(t, k, len(ends), 0, true)
			default:
				sh.Err = errors.New("pod exited 1: no result line")
			}
			s = append(s, sh)
		}
		return s
	}
	for _, c := range []struct {
		name    string
		o       kube.Outcome
		partial bool
		code    int
		stdout  string
		stderr  string
		written bool
	}{
		{"complete", kube.Outcome{Job: job, Shards: shards(0, 0, 0)}, false, exitOK, "600", "", true},
		{"missed start", kube.Outcome{Job: job, Shards: shards(0, 5), Failed: true, Reason: "PodFailurePolicy"}, false, 5, "", "shard(s) 1 not connected and ready by the start time 2026-12-04T01:00:00Z", false},
		{"index failed", kube.Outcome{Job: job, Shards: shards(0, 1, 0), Failed: true, Reason: "FailedIndexes"}, false, exitMergeRefused, "", "shard 1: pod exited 1", false},
		{"index failed, partial", kube.Outcome{Job: job, Shards: shards(0, 1, 0), Failed: true, Reason: "FailedIndexes", Cause: "1 failed"}, true, exitFailed, "partial", "job bench failed: FailedIndexes", true},
		{"interrupted", kube.Outcome{Job: job, Shards: shards(0, 1), Interrupted: true}, false, exitInterrupted, "partial", "interrupted", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "merged.json")
			var stdout, stderr bytes.Buffer
			err := kubeFinish(&c.o, c.partial, out, "text", &stdout, &stderr)
			code := exitOK
			var ec exitCoder
			if errors.As(err, &ec) {
				code = ec.exitCode()
				stderr.WriteString(err.Error())
			}
			if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, c.code, stdout.String(), c.stdout, stderr.String(), c.stderr)
			}
			_, statErr := os.Stat(out)
			if (statErr == nil) != c.written {
				t.Errorf("-o written %v, want %v", statErr == nil, c.written)
			}
		})
	}
}

// TestResultLine: run --result-line prints the result as the last line of
// stdout, framed, and it reads back as the -o file's result.
func TestResultLine(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	if code := wsbench([]string{"run", "-q", "-c", "2", "-d", "300ms", "-o", out, "--result-line"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	got, err := kube.ParseFrame(lines[len(lines)-1])
	if err != nil {
		t.Fatalf("last line: %v", err)
	}
	want, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Messages != want.Messages || got.Messages.Sent == 0 {
		t.Errorf("framed result's messages %+v, the file's %+v", got.Messages, want.Messages)
	}
}

// TestKubeRunNoCluster: with no cluster to talk to, kube run says so
// (exit 1) after checking its flags (those first: exit 2).
func TestKubeRunNoCluster(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	f := writeScenario(t, "target: ws://echo:8080/\nconns: 10\n")
	var stdout, stderr bytes.Buffer
	if code := wsbench([]string{"kube", "run", "-f", f, "-n", "2", "--image", "i"}, &stdout, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "no cluster to talk to") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := wsbench([]string{"kube", "run", "-f", f, "-n", "2"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--image is required") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}

// TestKubeMissedStartCode: the podFailurePolicy's exit code is run's.
func TestKubeMissedStartCode(t *testing.T) {
	if kube.MissedStartExit != exitMissedStart {
		t.Errorf("the Job fails on exit %d, run exits %d on a missed start", kube.MissedStartExit, exitMissedStart)
	}
}
