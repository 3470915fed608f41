package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

// shardReport is shard k of n's result as `wsbench run --shard k/n` writes
// it: sent messages, all answered, each with latency lat.
func shardReport(t *testing.T, k, n int, sent uint64, lat time.Duration, missed bool) *results.Report {
	t.Helper()
	snap := metrics.NewSnapshot()
	for range sent {
		snap.Hist[metrics.RTT].Record(lat)
	}
	snap.Counts.Sent, snap.Counts.Received = int64(sent), int64(sent)
	stop := metrics.StopReason("completed")
	begin, end := start, start.Add(10*time.Second)
	if missed {
		stop, begin, end = "missed_start", start.Add(2*time.Second), start.Add(2*time.Second)
	}
	m := &metrics.Measurement{Started: begin, MeasureStart: begin, MeasureEnd: end, StopReason: stop,
		Snapshot: snap, Processes: 1, GOMAXPROCS: 2, IO: "syscalls", Timestamps: "read"}
	spec := scenario.Default()
	spec.Conns = 10 * n
	r, err := results.Build(results.About{ToolVersion: "test", Spec: spec, Target: "ws://echo:8080/", Ended: end}, m)
	if err != nil {
		t.Fatal(err)
	}
	r.Shard = &results.ShardResult{Shard: results.ShardInfo{Index: k, Count: n, Plan: "plan-1", StartAt: start,
		StartedAt: begin, SkewNs: begin.Sub(start).Nanoseconds(), FirstSlot: 10 * k, Conns: 10, Host: "node-" + strconv.Itoa(k)}, Measurement: m}
	return r
}

func frameOf(t *testing.T, r *results.Report) string {
	t.Helper()
	line, err := FrameLine(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(line)
}

// podEnd is how the fake cluster ends one index's pod.
type podEnd struct {
	phase corev1.PodPhase // "" = no pod for this index
	exit  int32
	log   string
}

// cluster is a fake API server (client-go's fake clientset) with a
// stand-in for the Job controller: once the Job is created and watched it
// creates one pod per index, ended as told, and sets the Job's condition.
type cluster struct {
	cs      *fake.Clientset
	mu      sync.Mutex
	logs    map[string]string
	follows []string // pods whose log was followed
}

func newCluster() *cluster {
	return &cluster{cs: fake.NewClientset(), logs: map[string]string{}}
}

// podLogs is the Runner's Logs: the log the cluster gave each pod.
func (c *cluster) podLogs(_ context.Context, _, pod, container string, follow bool) (io.ReadCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if follow {
		c.follows = append(c.follows, pod)
	}
	log, ok := c.logs[pod]
	if !ok || container != ContainerNm {
		return nil, fmt.Errorf("no log of %s/%s", pod, container)
	}
	return io.NopCloser(strings.NewReader(log)), nil
}

// waitFor polls until cond holds (or fails the test after 10 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return
		}
	}
}

func (c *cluster) watched() bool {
	for _, a := range c.cs.Actions() {
		if a.GetVerb() == "watch" && a.GetResource().Resource == "jobs" {
			return true
		}
	}
	return false
}

// control plays the Job controller for job ns/name: pods as ends says,
// then the condition (Complete, or Failed with reason) once the Runner
// watches.
func (c *cluster) control(t *testing.T, ns, name string, ends []podEnd, cond batchv1.JobConditionType, reason string) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, "the Job", func() bool {
		_, err := c.cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil
	})
	for i, e := range ends {
		if e.phase == "" {
			continue
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d-x%d", name, i, i), Namespace: ns,
			Labels:      map[string]string{runLabel: name, nameLabel: "wsbench"},
			Annotations: map[string]string{indexAnnot: strconv.Itoa(i)}},
			Status: corev1.PodStatus{Phase: e.phase}}
		if e.phase == corev1.PodSucceeded || e.phase == corev1.PodFailed {
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerNm,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: e.exit, Message: "wsbench run: shard " + strconv.Itoa(i) + " ended"}}}}
		}
		c.mu.Lock()
		c.logs[pod.Name] = e.log
		c.mu.Unlock()
		if _, err := c.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}
	if cond == "" {
		return
	}
	waitFor(t, "the Runner to watch the Job", c.watched)
	job, err := c.cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	now := metav1.Now()
	job.Status.StartTime = &now
	job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{Type: cond, Status: corev1.ConditionTrue, Reason: reason, Message: "test"})
	if _, err := c.cs.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Error(err)
	}
}

func testObjects(t *testing.T, n int) (*corev1.ConfigMap, *batchv1.Job) {
	t.Helper()
	cm, job, err := Objects(Options{Name: "bench", Namespace: "load", Image: "wsbench:test", Shards: n, Scenario: []byte("conns: 30\n"), StartAt: start})
	if err != nil {
		t.Fatal(err)
	}
	return cm, job
}

// runJob runs a Job of len(ends) shards on a fake cluster that ends it
// as told; the Runner must learn of the end through its watch (Resync is
// longer than the test).
func runJob(t *testing.T, ends []podEnd, cond batchv1.JobConditionType, reason string) (*cluster, *Outcome) {
	t.Helper()
	c := newCluster()
	cm, job := testObjects(t, len(ends))
	var progress bytes.Buffer
	r := &Runner{Client: c.cs, Progress: &progress, Resync: time.Hour, Logs: c.podLogs}
	done := make(chan struct{})
	go func() { defer close(done); c.control(t, "load", "bench", ends, cond, reason) }()
	out, err := r.Run(context.Background(), cm, job)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "job load/bench created: "+strconv.Itoa(len(ends))+" shards start at 2026-12-04T01:00:00Z") {
		t.Errorf("progress: %q", progress.String())
	}
	return c, out
}

// TestRunMerges: every shard succeeds; Run applies the ConfigMap (owned by
// the Job) and the Job, learns of the end by its watch, reads each pod's
// log (other output around the result line) and the merge is the sum.
func TestRunMerges(t *testing.T) {
	sent := []uint64{100, 200, 300}
	var ends []podEnd
	for k, s := range sent {
		ends = append(ends, podEnd{corev1.PodSucceeded, 0, "summary line\n" + frameOf(t, shardReport(t, k, 3, s, time.Duration(k+1)*time.Millisecond, false)) + "after\n"})
	}
	c, out := runJob(t, ends, batchv1.JobComplete, "CompletionsReached")
	if out.Failed || out.Interrupted {
		t.Fatalf("outcome failed %v interrupted %v", out.Failed, out.Interrupted)
	}
	for _, s := range out.Shards {
		if s.Report == nil || s.Err != nil || s.Exit != 0 {
			t.Errorf("shard %d: report %v err %v exit %d", s.Index, s.Report != nil, s.Err, s.Exit)
		}
	}
	rep, err := out.Merge(false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages.Sent != 600 || rep.Shards == nil || rep.Shards.Count != 3 || rep.Shards.Partial {
		t.Errorf("merged: sent %d, shards %+v", rep.Messages.Sent, rep.Shards)
	}
	cm, err := c.cs.CoreV1().ConfigMaps("load").Get(context.Background(), "bench-scenario", metav1.GetOptions{})
	if err != nil || len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].Kind != "Job" || cm.OwnerReferences[0].Name != "bench" {
		t.Errorf("ConfigMap: %v, owners %+v", err, cm)
	}
	if _, err := c.cs.BatchV1().Jobs("load").Get(context.Background(), "bench", metav1.GetOptions{}); err != nil {
		t.Errorf("a Job that ended is kept (its logs stay readable): %v", err)
	}
}

// TestRunFailedIndex: one index fails without a result; the Job fails.
// The merge refuses naming the missing shard and why, unless partial.
func TestRunFailedIndex(t *testing.T) {
	ends := []podEnd{
		{corev1.PodSucceeded, 0, frameOf(t, shardReport(t, 0, 3, 100, time.Millisecond, false))},
		{corev1.PodFailed, 1, "wsbench run: no connection to ws://echo:8080/ could be opened\n"},
		{corev1.PodSucceeded, 0, frameOf(t, shardReport(t, 2, 3, 300, time.Millisecond, false))},
	}
	_, out := runJob(t, ends, batchv1.JobFailed, "FailedIndexes")
	if !out.Failed || out.Reason != "FailedIndexes" || len(out.MissedStart()) != 0 {
		t.Errorf("outcome failed %v reason %q missed %v", out.Failed, out.Reason, out.MissedStart())
	}
	if s := out.Shards[1]; s.Report != nil || s.Exit != 1 || !strings.Contains(fmt.Sprint(s.Err), "exited 1: wsbench run: shard 1 ended; pod bench-1-x1: no result line") {
		t.Errorf("shard 1: exit %d err %v", s.Exit, s.Err)
	}
	_, err := out.Merge(false)
	var me *results.MergeError
	if !errors.As(err, &me) || fmt.Sprint(me.Missing) != "[1]" || !strings.Contains(err.Error(), "shard 1: pod bench-1-x1 exited 1") {
		t.Errorf("merge without partial: %v", err)
	}
	rep, err := out.Merge(true)
	if err != nil || !rep.Shards.Partial || rep.Messages.Sent != 400 {
		t.Errorf("partial merge: %v", err)
	}
}

// TestRunMissedStart: a shard that was not ready by the start exits 5
// (and still logs its result, marked missed); the Job fails by its
// podFailurePolicy; the outcome says which shard, and the merge counts it
// missing.
func TestRunMissedStart(t *testing.T) {
	ends := []podEnd{
		{corev1.PodSucceeded, 0, frameOf(t, shardReport(t, 0, 3, 100, time.Millisecond, false))},
		{corev1.PodFailed, MissedStartExit, "wsbench run: not ready by the start\n" + frameOf(t, shardReport(t, 1, 3, 0, 0, true))},
		{}, // deleted by the Job controller when the Job failed
	}
	_, out := runJob(t, ends, batchv1.JobFailed, "PodFailurePolicy")
	if fmt.Sprint(out.MissedStart()) != "[1]" || out.Reason != "PodFailurePolicy" || out.StartAt() != "2026-12-04T01:00:00Z" {
		t.Errorf("missed %v reason %q start %s", out.MissedStart(), out.Reason, out.StartAt())
	}
	if out.Shards[1].Report == nil {
		t.Errorf("the missed shard's own result was not read: %v", out.Shards[1].Err)
	}
	// Index 2's pod was deleted when the Job failed (never created here).
	if s := out.Shards[2]; s.Report != nil || !strings.Contains(fmt.Sprint(s.Err), "no pod of it is left (a Job that fails deletes its running pods)") {
		t.Errorf("shard 2: %v", s.Err)
	}
	if _, err := out.Merge(false); err == nil {
		t.Errorf("a missed shard merged as if it had measured")
	}
}

// TestRunInterrupted: ctx ends while shards still run: the running
// shards' logs are followed to their end (a shard stopped by SIGTERM prints
// its result for what it measured), the Job is deleted with propagation
// Background, and what finished or was printed is collected.
func TestRunInterrupted(t *testing.T) {
	c := newCluster()
	cm, job := testObjects(t, 3)
	r := &Runner{Client: c.cs, Resync: time.Hour, Logs: c.podLogs}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c.control(t, "load", "bench", []podEnd{
			{corev1.PodSucceeded, 0, frameOf(t, shardReport(t, 0, 3, 100, time.Millisecond, false))},
			{corev1.PodRunning, 0, "stopping\n" + frameOf(t, shardReport(t, 1, 3, 40, time.Millisecond, false))}, // what it prints on SIGTERM
			{corev1.PodRunning, 0, "killed before it printed\n"},
		}, "", "")
		waitFor(t, "the watch", c.watched)
		cancel() // Ctrl-C
	}()
	out, err := r.Run(ctx, cm, job)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Interrupted || out.Deleted != nil || out.Shards[0].Report == nil || out.Shards[1].Report == nil || out.Shards[2].Report != nil || !strings.Contains(fmt.Sprint(out.Shards[2].Err), "did not finish (Running)") {
		t.Errorf("outcome interrupted %v deleted %v shard0 %v shard1 %v shard2 %v", out.Interrupted, out.Deleted, out.Shards[0].Err, out.Shards[1].Err, out.Shards[2].Err)
	}
	c.mu.Lock()
	slices.Sort(c.follows)
	if fmt.Sprint(c.follows) != "[bench-1-x1 bench-2-x2]" {
		t.Errorf("followed the logs of %v, want the running pods'", c.follows)
	}
	c.mu.Unlock()
	var del k8stesting.DeleteAction
	for _, a := range c.cs.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "jobs" {
			del = d
		}
	}
	if del == nil || del.GetName() != "bench" || del.GetDeleteOptions().PropagationPolicy == nil || *del.GetDeleteOptions().PropagationPolicy != metav1.DeletePropagationBackground {
		t.Errorf("the Job was not deleted with propagation Background: %+v", del)
	}
	if _, err := c.cs.BatchV1().Jobs("load").Get(context.Background(), "bench", metav1.GetOptions{}); err == nil {
		t.Errorf("the Job is still there")
	}
	rep, err := out.Merge(true)
	if err != nil || !rep.Shards.Partial || rep.Messages.Sent != 140 || fmt.Sprint(rep.Shards.Missing) != "[2]" {
		t.Errorf("partial merge of what was collected: %v", err)
	}
}

// TestApplyExisting: a Job of the name already there is refused, and
// nothing of it is touched.
func TestApplyExisting(t *testing.T) {
	c := newCluster()
	cm, job := testObjects(t, 2)
	if _, err := c.cs.BatchV1().Jobs("load").Create(context.Background(), job.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Client: c.cs}
	if _, err := r.Apply(context.Background(), cm, job); err == nil || !strings.Contains(err.Error(), "already in namespace load") {
		t.Errorf("got %v", err)
	}
	if _, err := c.cs.CoreV1().ConfigMaps("load").Get(context.Background(), "bench-scenario", metav1.GetOptions{}); err == nil {
		t.Errorf("a ConfigMap was made for a Job that was refused")
	}
}

// TestWaitDeleted: a Job deleted under the Runner (by someone else) ends
// the wait with an error saying so.
func TestWaitDeleted(t *testing.T) {
	c := newCluster()
	cm, job := testObjects(t, 1)
	r := &Runner{Client: c.cs, Resync: time.Hour}
	created, err := r.Apply(context.Background(), cm, job)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		waitFor(t, "the watch", c.watched)
		c.cs.BatchV1().Jobs("load").Delete(context.Background(), "bench", metav1.DeleteOptions{})
	}()
	if _, err := r.Wait(context.Background(), created); err == nil || !strings.Contains(err.Error(), "deleted before it ended") {
		t.Errorf("got %v", err)
	}
}

// TestLogsSubresource: without Logs, the result is read from the pod's log
// subresource, the wsbench container's (client-go's fake answers every
// pod's log with the same text: here one that holds no result line).
func TestLogsSubresource(t *testing.T) {
	c := newCluster()
	var asked []string
	c.cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "log" {
			return false, nil, nil
		}
		asked = append(asked, a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions).Container)
		return true, &runtime.Unknown{Raw: []byte("wsbench run: something\n")}, nil
	})
	_, job := testObjects(t, 1)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bench-0-a", Namespace: "load", Labels: map[string]string{runLabel: "bench"},
		Annotations: map[string]string{indexAnnot: "0"}}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	if _, err := c.cs.CoreV1().Pods("load").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := (&Runner{Client: c.cs}).Collect(context.Background(), job)
	if fmt.Sprint(asked) != "[wsbench]" || !errors.Is(out.Shards[0].Err, ErrNoFrame) {
		t.Errorf("asked for the logs of %v; shard 0: %v", asked, out.Shards[0].Err)
	}
}

// TestWatchStart: just after the common start, the shards whose pods are
// not running are named, with why (the container's waiting reason, no pod).
func TestWatchStart(t *testing.T) {
	c := newCluster()
	_, job, err := Objects(Options{Name: "bench", Namespace: "load", Image: "i", Shards: 3, Scenario: []byte("conns: 3\n"), StartAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []corev1.PodStatus{
		{Phase: corev1.PodRunning},
		{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerNm,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "pull i: not found"}}}}},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i), Namespace: "load",
			Labels: map[string]string{runLabel: "bench"}, Annotations: map[string]string{indexAnnot: strconv.Itoa(i)}}, Status: st}
		if _, err := c.cs.CoreV1().Pods("load").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var progress bytes.Buffer
	(&Runner{Client: c.cs, Progress: &progress}).watchStart(context.Background(), job)
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "shard 1 (pod bench-1): Pending, ImagePullBackOff: pull i: not found") || !strings.HasSuffix(lines[1], "shard 2: no pod yet") {
		t.Errorf("progress:\n%s", progress.String())
	}
}
