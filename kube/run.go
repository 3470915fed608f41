package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/wsbench/wsbench/results"
)

// Runner applies a Job of shards, waits for it and collects its shards'
// results. Client is any clientset (client-go's, or its fake in tests).
type Runner struct {
	Client kubernetes.Interface
	// Progress gets one line whenever the Job's counts change (nil: none).
	Progress io.Writer
	// Resync is how often the Job is read again besides the watch, in case
	// a watch missed an event or ended (default 5s).
	Resync time.Duration
	// Cleanup bounds the deletion and the collection after ctx is done
	// (default 30s).
	Cleanup time.Duration
	// Logs opens a container's log, following it to the container's end
	// when follow is set (nil: the pods' log subresource, as kubectl logs
	// reads it; client-go's fake cannot tell pods apart there).
	Logs func(ctx context.Context, namespace, pod, container string, follow bool) (io.ReadCloser, error)

	mu sync.Mutex // Progress's lines
}

// Shard is what became of one index of the Job.
type Shard struct {
	Index int
	Pod   string // the pod whose result was taken ("" if none ran)
	Phase corev1.PodPhase
	// Exit is the wsbench container's exit code; -1 when it did not end.
	Exit int
	// Report is the shard's result from its log; Err why there is none
	// (no pod, still running, no result line, a damaged line).
	Report *results.Report
	Err    error
}

// Outcome is a finished (or interrupted) Job's end and its shards.
type Outcome struct {
	Job    *batchv1.Job
	Shards []Shard // by index, every index 0…N-1
	// Failed is the Job's Failed condition, when it failed: its reason
	// (PodFailurePolicy, BackoffLimitExceeded, FailedIndexes,
	// DeadlineExceeded) and message.
	Failed        bool
	Reason, Cause string
	// Interrupted: ctx ended before the Job did; the Job was deleted.
	Interrupted bool
	Deleted     error // the deletion's error, if it failed
}

// StartAt is the Job's common start (its --start-at).
func (o *Outcome) StartAt() string { return startAt(o.Job) }

// MissedStart lists the indexes whose shard exited with MissedStartExit.
func (o *Outcome) MissedStart() []int {
	var idx []int
	for _, s := range o.Shards {
		if s.Exit == MissedStartExit {
			idx = append(idx, s.Index)
		}
	}
	return idx
}

// Reports are the shards' results found, in index order.
func (o *Outcome) Reports() (reps []*results.Report, idx []int) {
	for _, s := range o.Shards {
		if s.Report != nil {
			reps, idx = append(reps, s.Report), append(idx, s.Index)
		}
	}
	return reps, idx
}

// Merge merges the shards' results (results.MergeShards). A refusal
// (*results.MergeError) names the shard and its pod, not "result N".
func (o *Outcome) Merge(allowPartial bool) (*results.Report, error) {
	reps, idx := o.Reports()
	if len(reps) == 0 {
		return nil, &results.MergeError{Report: -1, Reason: "no shard's result was collected" + o.why(), Missing: allIndexes(len(o.Shards))}
	}
	rep, err := results.MergeShards(reps, allowPartial)
	var me *results.MergeError
	if errors.As(err, &me) {
		c := *me
		if c.Report >= 0 && c.Report < len(idx) {
			s := o.Shards[idx[c.Report]]
			c.Name = fmt.Sprintf("shard %d (pod %s)", s.Index, s.Pod)
		}
		if len(c.Missing) > 0 {
			c.Reason += o.why()
		}
		return nil, &c
	}
	return rep, err
}

// why says, for each index without a result, why: "; shard 2: …".
func (o *Outcome) why() string {
	var b strings.Builder
	for _, s := range o.Shards {
		if s.Report == nil && s.Err != nil {
			fmt.Fprintf(&b, "; shard %d: %v", s.Index, s.Err)
		}
	}
	return b.String()
}

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func (r *Runner) progressf(format string, a ...any) {
	if r.Progress != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		fmt.Fprintf(r.Progress, format+"\n", a...)
	}
}

// lateAfter is how long after the common start watchStart looks for
// shards that are not running.
const lateAfter = 2 * time.Second

// watchStart waits until just after the Job's common start and then says
// which shards' pods are not running yet (an image that cannot be pulled,
// no node with room): they will miss the start, or never run.
func (r *Runner) watchStart(ctx context.Context, job *batchv1.Job) {
	at, err := time.Parse(time.RFC3339, startAt(job))
	if err != nil {
		return
	}
	t := time.NewTimer(time.Until(at.Add(lateAfter)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	pods, err := r.Client.CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: runLabel + "=" + job.Name})
	if err != nil {
		return
	}
	running := map[int]bool{}
	var late []string
	for _, p := range pods.Items {
		idx, err := strconv.Atoi(p.Annotations[indexAnnot])
		if err != nil || job.UID != "" && !metav1.IsControlledBy(&p, job) {
			continue
		}
		if p.Status.Phase != corev1.PodPending {
			running[idx] = true
			continue
		}
		why := string(p.Status.Phase)
		for _, c := range p.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil && w.Reason != "" {
				why += ", " + w.Reason
				if w.Message != "" {
					why += ": " + w.Message
				}
			}
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
				why += ", not scheduled: " + c.Message
			}
		}
		late = append(late, fmt.Sprintf("shard %d (pod %s): %s", idx, p.Name, why))
	}
	for i := range int(ptrOr(job.Spec.Completions)) {
		if !running[i] && !slices.ContainsFunc(late, func(l string) bool { return strings.HasPrefix(l, fmt.Sprintf("shard %d ", i)) }) {
			late = append(late, fmt.Sprintf("shard %d: no pod yet", i))
		}
	}
	slices.Sort(late)
	for _, l := range late {
		r.progressf("not running at the start %s: %s", startAt(job), l)
	}
}

// Run creates the ConfigMap and the Job, waits until the Job completes or
// fails, and collects every shard's result from its pod's log. When ctx
// ends first it collects what finished, then deletes the Job (and with it
// its pods, propagation Background) and the ConfigMap. The error is for
// what kept the Job from being created or watched; a Job that ran and
// failed is an Outcome with Failed set.
func (r *Runner) Run(ctx context.Context, cm *corev1.ConfigMap, job *batchv1.Job) (*Outcome, error) {
	created, err := r.Apply(ctx, cm, job)
	if err != nil {
		return nil, err
	}
	startCtx, stopStart := context.WithCancel(ctx)
	started := make(chan struct{})
	go func() { defer close(started); r.watchStart(startCtx, created) }()
	defer func() { stopStart(); <-started }()
	done, err := r.Wait(ctx, created)
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	if ctx.Err() != nil { // interrupted: follow the running shards, delete, collect
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cleanup())
		defer cancel()
		if done == nil {
			done = created
		}
		// A shard stopped by SIGTERM (its pod deleted) still prints its
		// result for what it measured, as run does on Ctrl-C: follow the
		// running pods' logs to their end, so that it is read before the
		// pod is gone.
		followed := r.followRunning(cctx, done)
		deleted := r.Delete(cctx, done)
		last := map[int]followedLog{}
		for f := range followed {
			last[f.index] = f
		}
		out := r.collect(cctx, done, last)
		out.Interrupted, out.Deleted = true, deleted
		return out, nil
	}
	return r.Collect(ctx, done), nil
}

func (r *Runner) cleanup() time.Duration {
	if r.Cleanup > 0 {
		return r.Cleanup
	}
	return 30 * time.Second
}

// Apply creates the ConfigMap, then the Job, then makes the ConfigMap
// the Job's (an owner reference: deleting the Job deletes it too). A Job of
// that name already there is an error that says so; a Job that cannot be
// made deletes the ConfigMap again.
func (r *Runner) Apply(ctx context.Context, cm *corev1.ConfigMap, job *batchv1.Job) (*batchv1.Job, error) {
	jobs, cms := r.Client.BatchV1().Jobs(job.Namespace), r.Client.CoreV1().ConfigMaps(cm.Namespace)
	if _, err := jobs.Get(ctx, job.Name, metav1.GetOptions{}); err == nil {
		return nil, errJobExists(job)
	}
	made, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) { // left by an earlier run of that name: ours to replace
		made, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("create ConfigMap %s in namespace %s: %w", cm.Name, cm.Namespace, err)
	}
	created, err := jobs.Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		cms.Delete(context.WithoutCancel(ctx), cm.Name, metav1.DeleteOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil, errJobExists(job)
		}
		return nil, fmt.Errorf("create Job %s in namespace %s: %w", job.Name, job.Namespace, err)
	}
	made.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: created.Name, UID: created.UID}}
	if _, err := cms.Update(ctx, made, metav1.UpdateOptions{}); err != nil {
		r.progressf("ConfigMap %s: could not make it the Job's (%v): delete it yourself after the run", cm.Name, err)
	}
	r.progressf("job %s/%s created: %d shards start at %s", created.Namespace, created.Name, ptrOr(created.Spec.Completions), startAt(created))
	return created, nil
}

func errJobExists(job *batchv1.Job) error {
	return fmt.Errorf("a Job %s is already in namespace %s: delete it (kubectl delete job %s -n %s) or choose another --name", job.Name, job.Namespace, job.Name, job.Namespace)
}

// startAt reads the --start-at of the Job's command line.
func startAt(job *batchv1.Job) string {
	if c := job.Spec.Template.Spec.Containers; len(c) > 0 {
		if i := slices.Index(c[0].Args, "--start-at"); i >= 0 && i+1 < len(c[0].Args) {
			return c[0].Args[i+1]
		}
	}
	return "?"
}

// Finished reports whether job has ended, and whether it failed, with the
// Failed condition's reason and message.
func Finished(job *batchv1.Job) (done, failed bool, reason, message string) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, false, c.Reason, c.Message
		case batchv1.JobFailed:
			return true, true, c.Reason, c.Message
		}
	}
	return false, false, "", ""
}

// Wait watches the Job until it completes or fails (reading it again
// every Resync too) and returns it as it ended. When ctx ends first it
// returns the Job as last seen and ctx's error.
func (r *Runner) Wait(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	jobs := r.Client.BatchV1().Jobs(job.Namespace)
	resync := r.Resync
	if resync <= 0 {
		resync = 5 * time.Second
	}
	last := job
	var lastLine string
	seen := func(j *batchv1.Job) bool {
		last = j
		if line := fmt.Sprintf("job %s: %d ready, %d active, %d succeeded, %d failed", j.Name, ptrOr(j.Status.Ready), j.Status.Active, j.Status.Succeeded, j.Status.Failed); line != lastLine && j.Status.StartTime != nil {
			r.progressf("%s", line)
			lastLine = line
		}
		done, _, _, _ := Finished(j)
		return done
	}
	tick := time.NewTicker(resync)
	defer tick.Stop()
	for {
		j, err := jobs.Get(ctx, job.Name, metav1.GetOptions{})
		switch {
		case ctx.Err() != nil:
			return last, ctx.Err()
		case apierrors.IsNotFound(err):
			return last, fmt.Errorf("job %s/%s was deleted before it ended", job.Namespace, job.Name)
		case err != nil:
			r.progressf("job %s: read: %v (trying again)", job.Name, err)
		case seen(j):
			return j, nil
		}
		rv := ""
		if j != nil {
			rv = j.ResourceVersion
		}
		w, err := jobs.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + job.Name, ResourceVersion: rv})
		if err != nil {
			w = watch.NewEmptyWatch()
		}
		ended, gone := r.follow(ctx, w, job.Name, seen, tick.C)
		w.Stop()
		switch {
		case ended:
			return last, nil
		case gone:
			return last, fmt.Errorf("job %s/%s was deleted before it ended", job.Namespace, job.Name)
		case ctx.Err() != nil:
			return last, ctx.Err()
		}
	}
}

// follow reads w until the Job ends (ended), is deleted (gone), the
// watch closes, ctx ends or tick fires (then the caller reads it again).
func (r *Runner) follow(ctx context.Context, w watch.Interface, name string, seen func(*batchv1.Job) bool, tick <-chan time.Time) (ended, gone bool) {
	for {
		select {
		case <-ctx.Done():
			return false, false
		case <-tick:
			return false, false
		case ev, ok := <-w.ResultChan():
			if !ok {
				// Closed at once (no watch): wait for the tick, not a busy loop.
				select {
				case <-ctx.Done():
				case <-tick:
				}
				return false, false
			}
			j, isJob := ev.Object.(*batchv1.Job)
			if !isJob || j.Name != name {
				continue // an error event ends nothing: the next read tells
			}
			if ev.Type == watch.Deleted {
				return false, true
			}
			if seen(j) {
				return true, false
			}
		}
	}
}

func ptrOr(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// followedLog is what a followed pod's log ended with.
type followedLog struct {
	index int
	pod   string
	rep   *results.Report
	err   error
}

// followRunning follows the logs of the Job's running pods, each to its
// end (or ctx's); the channel gives each pod's result and is closed when
// all have ended.
func (r *Runner) followRunning(ctx context.Context, job *batchv1.Job) <-chan followedLog {
	ch := make(chan followedLog)
	pods, err := r.Client.CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: runLabel + "=" + job.Name})
	var wg sync.WaitGroup
	if err == nil {
		for i := range pods.Items {
			p := &pods.Items[i]
			idx, err := strconv.Atoi(p.Annotations[indexAnnot])
			if err != nil || p.Status.Phase != corev1.PodRunning || job.UID != "" && !metav1.IsControlledBy(p, job) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rep, err := r.readLog(ctx, p, true)
				ch <- followedLog{idx, p.Name, rep, err}
			}()
		}
	}
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// Collect finds each index's pod and reads its result from its log.
func (r *Runner) Collect(ctx context.Context, job *batchv1.Job) *Outcome {
	return r.collect(ctx, job, nil)
}

// collect is Collect, taking the result of a pod that did not finish (or
// is gone) from followed, the logs followed to their end, by index.
func (r *Runner) collect(ctx context.Context, job *batchv1.Job, followed map[int]followedLog) *Outcome {
	n := int(ptrOr(job.Spec.Completions))
	out := &Outcome{Job: job, Shards: make([]Shard, n)}
	_, out.Failed, out.Reason, out.Cause = Finished(job)
	none := errors.New("no pod ran it")
	if out.Failed { // the Job controller deletes the pods still running when a Job fails
		none = errors.New("no pod of it is left (a Job that fails deletes its running pods)")
	}
	for i := range out.Shards {
		out.Shards[i] = Shard{Index: i, Exit: -1, Err: none}
	}
	pods, err := r.Client.CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: runLabel + "=" + job.Name})
	if err != nil {
		for i := range out.Shards {
			out.Shards[i].Err = fmt.Errorf("list the Job's pods: %w", err)
		}
		return out
	}
	// One pod per index (backoffLimitPerIndex 0); should there be more,
	// a finished one before one that is not, a succeeded one first.
	rank := func(p *corev1.Pod) int {
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			return 3
		case corev1.PodFailed:
			return 2
		}
		return 1
	}
	chosen := map[int]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if job.UID != "" && !metav1.IsControlledBy(p, job) {
			continue // a pod of an earlier Job of that name
		}
		idx, err := strconv.Atoi(p.Annotations[indexAnnot])
		if err != nil || idx < 0 || idx >= n {
			continue
		}
		if c := chosen[idx]; c == nil || rank(p) > rank(c) {
			chosen[idx] = p
		}
	}
	for idx, p := range chosen {
		s := &out.Shards[idx]
		s.Pod, s.Phase, s.Err = p.Name, p.Status.Phase, nil
		term := terminated(p)
		if term != nil {
			s.Exit = int(term.ExitCode)
		}
		if term == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			s.Err = fmt.Errorf("pod %s did not finish (%s)", p.Name, p.Status.Phase)
			continue
		}
		s.Report, s.Err = r.readLog(ctx, p, false)
		if s.Err != nil && term != nil && term.ExitCode != 0 {
			s.Err = fmt.Errorf("pod %s exited %d%s; %w", p.Name, term.ExitCode, lastLine(term.Message), s.Err)
		}
	}
	for idx, f := range followed { // interrupted: what the stopped shards printed
		if s := &out.Shards[idx]; s.Report == nil && f.rep != nil {
			s.Pod, s.Report, s.Err = f.pod, f.rep, nil
		} else if s.Report == nil && f.err != nil && s.Pod == "" {
			s.Pod, s.Err = f.pod, f.err
		}
	}
	return out
}

// terminated is the wsbench container's end, if it ended.
func terminated(p *corev1.Pod) *corev1.ContainerStateTerminated {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == ContainerNm {
			return c.State.Terminated
		}
	}
	return nil
}

// lastLine is ": " and the last line of a termination message (its
// error line, with FallbackToLogsOnError), or "".
func lastLine(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	if msg == "" || strings.HasPrefix(msg, framePrefix) {
		return ""
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return ": " + msg
}

// readLog reads p's result from its log, following the log to the
// container's end when follow is set.
func (r *Runner) readLog(ctx context.Context, p *corev1.Pod, follow bool) (*results.Report, error) {
	logs := r.Logs
	if logs == nil {
		logs = func(ctx context.Context, ns, pod, container string, follow bool) (io.ReadCloser, error) {
			return r.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: follow}).Stream(ctx)
		}
	}
	rc, err := logs(ctx, p.Namespace, p.Name, ContainerNm, follow)
	if err != nil {
		return nil, fmt.Errorf("read the log of pod %s: %w", p.Name, err)
	}
	defer rc.Close()
	rep, err := ReadFrame(rc)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", p.Name, err)
	}
	return rep, nil
}

// Delete deletes the Job and, through it, its pods and ConfigMap
// (propagation Background: it returns at once). A Job already gone is no
// error.
func (r *Runner) Delete(ctx context.Context, job *batchv1.Job) error {
	err := r.Client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationBackground)})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete Job %s/%s: %w", job.Namespace, job.Name, err)
	}
	r.progressf("job %s/%s deleted (its pods with it)", job.Namespace, job.Name)
	return nil
}
