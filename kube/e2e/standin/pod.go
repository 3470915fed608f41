//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// podRun is one pod this stand-in runs: its namespace, its containers'
// processes and logs.
type podRun struct {
	s   *standin
	pod *corev1.Pod
	dir string
	ns  string // network namespace name ("" until made)
	ip  netip.Addr

	mu       sync.Mutex
	procs    map[string]*os.Process
	stopped  bool
	stopC    chan struct{}
	done     chan struct{}
	tearOnce sync.Once
}

const volumeRetries = 30

type result struct {
	name     string
	started  time.Time
	finished time.Time
	code     int
	reason   string
	message  string
}

func (r *podRun) key() string { return r.pod.Namespace + "/" + r.pod.Name }

func (r *podRun) logPath(container string) string {
	return filepath.Join(r.dir, "logs", container+".log")
}

// run takes the pod from Pending to Succeeded or Failed.
func (r *podRun) run(ctx context.Context) {
	defer close(r.done)
	p := r.pod
	r.dir = filepath.Join(r.s.cfg.workDir, "pods", string(p.UID))
	started := time.Now()
	specs, err := r.prepare(ctx)
	if err != nil {
		log.Printf("pod %s: %v", r.key(), err)
		r.finish(ctx, started, nil, "StandinError", err.Error())
		return
	}
	if err := r.setStatus(ctx, func(st *corev1.PodStatus) {
		st.Phase = corev1.PodRunning
		st.StartTime = ptrTime(started)
		r.network(st)
		st.Conditions = podConditions(corev1.ConditionTrue, "")
		st.ContainerStatuses = nil
		for _, c := range p.Spec.Containers {
			st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(p, c, corev1.ContainerState{
				Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}, true))
		}
	}); err != nil {
		log.Printf("pod %s: status Running: %v", r.key(), err)
	}
	results := make([]result, len(specs))
	var wg sync.WaitGroup
	for i, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.runContainer(sp)
		}()
	}
	wg.Wait()
	r.finish(ctx, started, results, "", "")
}

// prepare makes the pod's folder, volumes, network namespace and each
// container's shim spec.
func (r *podRun) prepare(ctx context.Context) ([]shimSpec, error) {
	p := r.pod
	if len(p.Spec.InitContainers) > 0 {
		return nil, fmt.Errorf("init containers are not supported by the stand-in")
	}
	if err := os.MkdirAll(filepath.Join(r.dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	job, index := p.Labels[batchv1.JobNameLabel], p.Labels[batchv1.JobCompletionIndexAnnotation]
	if d := r.s.cfg.delays[job+"/"+index]; d > 0 {
		log.Printf("pod %s: holding its start %v (--delay-start %s/%s)", r.key(), d, job, index)
		select {
		case <-time.After(d):
		case <-r.stopC:
			return nil, fmt.Errorf("deleted before it started")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// A volume's source may come a little later (a ConfigMap applied after
	// the Job): the kubelet keeps the pod Pending and retries, so do we.
	vols, err := r.volumes(ctx)
	for try := 0; err != nil && try < volumeRetries; try++ {
		log.Printf("pod %s: %v (retrying)", r.key(), err)
		select {
		case <-time.After(time.Second):
		case <-r.stopC:
			return nil, fmt.Errorf("deleted before it started")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		vols, err = r.volumes(ctx)
	}
	if err != nil {
		return nil, err
	}
	var sysctls []string
	if sc := p.Spec.SecurityContext; sc != nil {
		for _, sy := range sc.Sysctls {
			if !strings.HasPrefix(sy.Name, "net.") {
				return nil, fmt.Errorf("sysctl %s: only net.* sysctls (per network namespace) are supported", sy.Name)
			}
			sysctls = append(sysctls, sy.Name+"="+sy.Value)
		}
	}
	if r.ip, err = r.s.allocIP(); err != nil {
		return nil, err
	}
	if r.ns, err = r.s.makeNetns(string(p.UID), r.ip); err != nil {
		return nil, err
	}
	var specs []shimSpec
	for _, c := range p.Spec.Containers {
		env, err := r.env(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
		argv, err := r.argv(c, env)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
		sp := shimSpec{
			Netns: r.ns, Sysctls: sysctls, Argv: argv, WorkDir: c.WorkingDir,
			Stage: filepath.Join(r.dir, "stage-"+c.Name),
		}
		for _, kv := range env {
			sp.Env = append(sp.Env, kv[0]+"="+kv[1])
		}
		securityContext(&sp, p.Spec.SecurityContext, c.SecurityContext)
		for _, m := range c.VolumeMounts {
			src, ok := vols[m.Name]
			if !ok {
				return nil, fmt.Errorf("container %s: volumeMount %s names no volume", c.Name, m.Name)
			}
			if m.SubPath != "" {
				src = filepath.Join(src, m.SubPath)
			}
			sp.Binds = append(sp.Binds, bind{Src: src, Dst: m.MountPath, ReadOnly: m.ReadOnly})
		}
		tmp := c.TerminationMessagePath
		if tmp == "" {
			tmp = corev1.TerminationMessagePathDefault
		}
		term := filepath.Join(r.dir, "termination-"+c.Name)
		if err := os.WriteFile(term, nil, 0o666); err != nil {
			return nil, err
		}
		sp.Binds = append(sp.Binds, bind{Src: term, Dst: tmp, File: true})
		specs = append(specs, sp)
	}
	return specs, nil
}

func (r *podRun) argv(c corev1.Container, env [][2]string) ([]string, error) {
	cmd := c.Command
	if len(cmd) == 0 {
		path, ok := r.s.cfg.images[c.Image]
		if !ok {
			return nil, fmt.Errorf("image %q has no command and no --image %s=PATH", c.Image, c.Image)
		}
		cmd = []string{path}
	}
	vars := map[string]string{}
	for _, kv := range env {
		vars[kv[0]] = kv[1]
	}
	var argv []string
	for _, a := range append(append([]string{}, cmd...), c.Args...) {
		argv = append(argv, expand(a, vars))
	}
	return argv, nil
}

// runContainer starts one container's shim and waits for it.
func (r *podRun) runContainer(sp shimSpec) result {
	name := strings.TrimPrefix(filepath.Base(sp.Stage), "stage-")
	res := result{name: name, started: time.Now()}
	fail := func(err error) result {
		res.finished, res.code, res.reason, res.message = time.Now(), 128, "StartError", err.Error()
		return res
	}
	logf, err := os.OpenFile(r.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail(err)
	}
	defer logf.Close()
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(self, shimArg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{specR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		specR.Close()
		specW.Close()
		res.finished, res.code, res.reason = time.Now(), 137, "ContainerCannotRun"
		return res
	}
	err = cmd.Start()
	if err == nil {
		if r.procs == nil {
			r.procs = map[string]*os.Process{}
		}
		r.procs[name] = cmd.Process
	}
	r.mu.Unlock()
	specR.Close()
	if err != nil {
		specW.Close()
		return fail(err)
	}
	if err := json.NewEncoder(specW).Encode(sp); err != nil {
		log.Printf("pod %s: container %s: spec: %v", r.key(), name, err)
	}
	specW.Close()
	err = cmd.Wait()
	res.finished = time.Now()
	st, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case st.Signaled():
		res.code = 128 + int(st.Signal())
	default:
		res.code = cmd.ProcessState.ExitCode()
	}
	if err != nil && res.code == 0 {
		res.code = 1
	}
	res.reason = "Completed"
	if res.code != 0 {
		res.reason = "Error"
	}
	log.Printf("pod %s: container %s exited %d after %v", r.key(), name, res.code, res.finished.Sub(res.started).Round(time.Millisecond))
	return res
}

// stop ends the pod's containers: SIGTERM, then SIGKILL after the grace
// period (graceful deletion).
func (r *podRun) stop(grace *int64) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.stopped = true
	close(r.stopC)
	procs := make([]*os.Process, 0, len(r.procs))
	for _, p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()
	g := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if grace != nil {
		g = *grace
	}
	if g < 1 {
		g = 1
	}
	for _, p := range procs {
		_ = syscall.Kill(-p.Pid, syscall.SIGTERM)
	}
	go func() {
		select {
		case <-r.done:
		case <-time.After(time.Duration(g) * time.Second):
			for _, p := range procs {
				_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
			}
		}
	}()
}

// finish reports the terminal phase and, for a pod being deleted, releases it.
func (r *podRun) finish(ctx context.Context, started time.Time, results []result, reason, message string) {
	p := r.pod
	phase := corev1.PodSucceeded
	if reason != "" {
		phase = corev1.PodFailed
	}
	statuses := make([]corev1.ContainerStatus, 0, len(p.Spec.Containers))
	for i, c := range p.Spec.Containers {
		t := &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "ContainerCannotRun", Message: message,
			StartedAt: metav1.NewTime(started), FinishedAt: metav1.Now()}
		if results != nil {
			res := results[i]
			t = &corev1.ContainerStateTerminated{ExitCode: int32(res.code), Reason: res.reason,
				Message: r.terminationMessage(c, res), StartedAt: metav1.NewTime(res.started),
				FinishedAt: metav1.NewTime(res.finished), ContainerID: "standin://" + string(p.UID) + "/" + c.Name}
			if res.code != 0 {
				phase = corev1.PodFailed
			}
		}
		statuses = append(statuses, containerStatus(p, c, corev1.ContainerState{Terminated: t}, false))
	}
	r.teardown()
	if err := r.setStatus(ctx, func(st *corev1.PodStatus) {
		st.Phase = phase
		if st.StartTime == nil {
			st.StartTime = ptrTime(started)
		}
		if reason != "" {
			st.Reason, st.Message = reason, message
		}
		r.network(st)
		why := "PodCompleted"
		if phase == corev1.PodFailed {
			why = "PodFailed"
		}
		st.Conditions = podConditions(corev1.ConditionFalse, why)
		st.ContainerStatuses = statuses
	}); err != nil {
		log.Printf("pod %s: status %s: %v", r.key(), phase, err)
	}
	log.Printf("pod %s: %s", r.key(), phase)
	select {
	case <-r.stopC: // deleted while running: the kubelet's last step
		r.s.release(ctx, p, r)
	default:
	}
}

// terminationMessage is what the container wrote to its termination message
// path, or under FallbackToLogsOnError (and a failure) the log's last lines.
func (r *podRun) terminationMessage(c corev1.Container, res result) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "termination-"+res.name))
	if len(b) > 4096 {
		b = b[:4096]
	}
	if len(b) == 0 && res.code != 0 && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		b = tailLog(r.logPath(res.name), 80, 2048)
	}
	return string(b)
}

func (r *podRun) network(st *corev1.PodStatus) {
	st.HostIP = "127.0.0.1"
	st.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	if r.ip.IsValid() {
		st.PodIP = r.ip.String()
		st.PodIPs = []corev1.PodIP{{IP: r.ip.String()}}
	}
}

func (r *podRun) setStatus(ctx context.Context, change func(*corev1.PodStatus)) error {
	pods := r.s.cs.CoreV1().Pods(r.pod.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pods.Get(ctx, r.pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.UID != r.pod.UID {
			return fmt.Errorf("pod was replaced")
		}
		change(&p.Status)
		_, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
}

// teardown removes the pod's network namespace (its veth goes with it).
func (r *podRun) teardown() {
	r.tearOnce.Do(func() {
		if r.ns != "" {
			r.s.delNetns(r.ns)
		}
	})
}

// removeMountPoints removes the empty mount points the pod's containers had
// to make on the host. Only at the stand-in's end: removing a folder that is
// a mount point in another pod's namespace would unmount it there.
func (r *podRun) removeMountPoints() {
	for _, c := range r.pod.Spec.Containers {
		removeMadeDirs(filepath.Join(r.dir, "stage-"+c.Name, madeDirsFile))
	}
}

// securityContext takes what the stand-in honours of the pod's and the
// container's securityContext (the container's wins): runAsUser,
// runAsGroup, readOnlyRootFilesystem, allowPrivilegeEscalation false.
// Capabilities, seccomp and fsGroup are not applied.
func securityContext(sp *shimSpec, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) {
	if pod != nil {
		sp.UID, sp.GID = pod.RunAsUser, pod.RunAsGroup
	}
	if c == nil {
		return
	}
	if c.RunAsUser != nil {
		sp.UID = c.RunAsUser
	}
	if c.RunAsGroup != nil {
		sp.GID = c.RunAsGroup
	}
	sp.ReadOnlyRoot = c.ReadOnlyRootFilesystem != nil && *c.ReadOnlyRootFilesystem
	sp.NoNewPrivs = c.AllowPrivilegeEscalation != nil && !*c.AllowPrivilegeEscalation
}

func podConditions(st corev1.ConditionStatus, reason string) []corev1.PodCondition {
	now := metav1.Now()
	c := func(t corev1.PodConditionType, s corev1.ConditionStatus, reason string) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now}
	}
	return []corev1.PodCondition{
		c(corev1.PodScheduled, corev1.ConditionTrue, ""),
		c(corev1.PodInitialized, corev1.ConditionTrue, ""),
		c(corev1.ContainersReady, st, reason),
		c(corev1.PodReady, st, reason),
	}
}

func containerStatus(p *corev1.Pod, c corev1.Container, state corev1.ContainerState, running bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, ImageID: "standin://" + c.Image,
		ContainerID: "standin://" + string(p.UID) + "/" + c.Name,
		State:       state, Ready: running, Started: &running,
	}
}

func ptrTime(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

// tailLog returns the last lines (at most maxBytes) of a log file.
func tailLog(path string, lines, maxBytes int) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	b = []byte(strings.TrimRight(string(b), "\n"))
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n++
			if n == lines {
				b = b[i+1:]
				break
			}
		}
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	return b
}

// expand replaces $(VAR) with VAR's value when VAR is defined, and $$(VAR)
// with the literal $(VAR), as the kubelet does for env values, command and args.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
