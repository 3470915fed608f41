//go:build e2ekube

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/wsbench/wsbench/results"
)

// The scenario the Jobs run: an open model, so the planned message count is
// exact (rate × duration) and the merged shards must add up to it.
const (
	conns = 30
	rate  = 300
)

func scenario(seconds int) string {
	return fmt.Sprintf("conns: %d\nrate: %d\nduration: %ds\ntick: 1ms\nmax_inflight: 8\nsize: 64\n", conns, rate, seconds)
}

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run this through scripts/e2e-kube.sh (make e2e-kube)", name)
	}
	return v
}

// kubeRun runs `wsbench kube run` and returns its exit code and output.
func kubeRun(t *testing.T, job string, shards, seconds int, startIn time.Duration, out string, during ...func(*os.Process)) (int, string) {
	t.Helper()
	dir := t.TempDir()
	scen := filepath.Join(dir, "scenario.yaml")
	if err := os.WriteFile(scen, []byte(scenario(seconds)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"kube", "run", "--kubeconfig", env(t, "KUBECONFIG"), "-f", scen, "-n", strconv.Itoa(shards),
		"--image", env(t, "WSBENCH_E2E_IMAGE"), "--name", job, "--start-in", startIn.String(),
		"-o", out, "--", env(t, "WSBENCH_E2E_TARGET")}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env(t, "WSBENCH_E2E_BIN"), args...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		for _, f := range during {
			go f(cmd.Process)
		}
		err = cmd.Wait()
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("wsbench kube run: %v", err)
	}
	t.Logf("$ wsbench %s\n(exit %d after %v)\n%s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), b.String())
	return code, b.String()
}

// TestKubeRun: `wsbench kube run` end to end: the Job is created, every
// index runs once (in its own network namespace, loading the server on the
// gateway), the results come back through the apiserver's log proxy and
// merge to exactly the planned run.
func TestKubeRun(t *testing.T) {
	cs := client(t)
	const job, shards = "wsbench-e2e", 3
	out := filepath.Join(t.TempDir(), "merged.json")
	code, output := kubeRun(t, job, shards, 3, 20*time.Second, out)
	if code != 0 {
		t.Fatalf("wsbench kube run exited %d, want 0", code)
	}
	r, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Shards == nil || r.Shards.Count != shards || len(r.Shards.Present) != shards || r.Shards.Partial || len(r.Shards.Missing) != 0 {
		t.Fatalf("merged result's shards: %+v, want all %d present", r.Shards, shards)
	}
	m := r.Messages
	if planned := int64(rate * 3); m.Sent+m.Unsent != planned {
		t.Errorf("sent %d + unsent %d = %d, want the plan's %d (rate × duration)", m.Sent, m.Unsent, m.Sent+m.Unsent, planned)
	}
	if m.Received == 0 || m.Sent != m.Received+m.Lost+m.InFlight+m.TimedOut+m.Failed {
		t.Errorf("messages %+v: want replies and a balance", m)
	}
	if r.Connections.Opened != conns || r.Connections.Failed != 0 {
		t.Errorf("connections %+v: want all %d opened over the shards", r.Connections, conns)
	}
	if !strings.Contains(output, "shards") && !strings.Contains(output, "Shards") {
		t.Logf("summary does not mention shards:\n%s", output)
	}
	j := waitJob(t, cs, job, time.Minute)
	if condition(j, batchv1.JobComplete) == nil || j.Status.Succeeded != shards || j.Status.CompletedIndexes != "0-2" {
		t.Fatalf("job status %+v: want Complete, indexes 0-2", j.Status)
	}
	pods := jobPods(t, cs, job)
	seen := map[string]int{}
	for _, p := range pods {
		seen[p.Labels[batchv1.JobCompletionIndexAnnotation]]++
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s: %s", p.Name, p.Status.Phase)
		}
	}
	if len(pods) != shards || seen["0"] != 1 || seen["1"] != 1 || seen["2"] != 1 {
		t.Fatalf("pods per index %v: want each index run once", seen)
	}
	t.Logf("merged: sent %d received %d, start skew max %v, spread %v", m.Sent, m.Received,
		time.Duration(r.Shards.SkewMaxNs), time.Duration(r.Shards.SpreadNs))
}

// TestKubeRunMissedStart: the stand-in holds index 1 of this Job 15 s
// (--delay-start, as a slow image pull would), past the common start 8 s
// out: that shard exits 5 while the others still run their 20 s, the
// podFailurePolicy fails the Job at once (the others' pods are deleted),
// and kube run says so.
func TestKubeRunMissedStart(t *testing.T) {
	cs := client(t)
	const job, shards = "wsbench-e2e-missed", 3
	out := filepath.Join(t.TempDir(), "merged.json")
	start := time.Now()
	code, output := kubeRun(t, job, shards, 20, 8*time.Second, out)
	if code != 5 {
		t.Fatalf("wsbench kube run exited %d on a Job whose shard missed its start, want 5", code)
	}
	if !regexp.MustCompile(`shard(\(s\))? 1\b.*start`).MatchString(output) {
		t.Errorf("kube run's output does not name shard 1, the one that missed the start")
	}
	j := waitJob(t, cs, job, time.Minute)
	failed := condition(j, batchv1.JobFailed)
	if failed == nil || failed.Reason != batchv1.JobReasonPodFailurePolicy {
		t.Fatalf("job conditions %+v: want Failed by the PodFailurePolicy", j.Status.Conditions)
	}
	t.Logf("job failed %v after kube run started: %s", failed.LastTransitionTime.Sub(start).Round(time.Millisecond), failed.Message)
	var missed *corev1.Pod
	for _, p := range jobPods(t, cs, job) {
		if p.Labels[batchv1.JobCompletionIndexAnnotation] == "1" {
			missed = &p
		}
	}
	if missed == nil || len(missed.Status.ContainerStatuses) != 1 || missed.Status.ContainerStatuses[0].State.Terminated == nil ||
		missed.Status.ContainerStatuses[0].State.Terminated.ExitCode != 5 {
		t.Fatalf("index 1's pod %+v: want it terminated with exit code 5", missed)
	}
	t.Logf("index 1's termination message: %q", missed.Status.ContainerStatuses[0].State.Terminated.Message)
	// The other shards were still running their 20 s when the Job failed:
	// the Job controller deletes their pods and the stand-in stops them.
	for _, p := range jobPods(t, cs, job) {
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != "1" && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			t.Errorf("pod %s still running after the Job failed", p.Name)
		}
	}
}

// TestKubeRunInterrupt: Ctrl-C while the shards measure: kube run exits 130
// and deletes the Job; the garbage collector takes its pods and the
// stand-in stops their processes (graceful deletion), so nothing is left.
func TestKubeRunInterrupt(t *testing.T) {
	cs := client(t)
	const job, shards = "wsbench-e2e-interrupt", 3
	out := filepath.Join(t.TempDir(), "merged.json")
	launched := time.Now()
	code, _ := kubeRun(t, job, shards, 30, 8*time.Second, out, func(p *os.Process) {
		// Once every shard is running and past the common start.
		_ = wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			j, err := cs.BatchV1().Jobs("default").Get(ctx, job, metav1.GetOptions{})
			return err == nil && j.Status.Ready != nil && *j.Status.Ready == shards, nil
		})
		time.Sleep(time.Until(launched.Add(11 * time.Second)))
		_ = p.Signal(os.Interrupt)
	})
	if code != 130 {
		t.Fatalf("wsbench kube run exited %d after Ctrl-C, want 130", code)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.BatchV1().Jobs("default").Get(ctx, job, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, nil
		}
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
		return err == nil && len(pods.Items) == 0, nil
	})
	if err != nil {
		t.Fatalf("the Job or its pods still there a minute after Ctrl-C: %v", err)
	}
	t.Logf("Job and pods gone %v after the launch", time.Since(launched).Round(time.Millisecond))
}
