//go:build e2ekube

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func client(t *testing.T) kubernetes.Interface {
	t.Helper()
	kc := os.Getenv("KUBECONFIG")
	if kc == "" {
		t.Fatal("KUBECONFIG is not set: run this through scripts/e2e-kube.sh (make e2e-kube)")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// waitJob waits for the Job's Complete or Failed condition.
func waitJob(t *testing.T, cs kubernetes.Interface, name string, limit time.Duration) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, limit, true, func(ctx context.Context) (bool, error) {
		j, err := cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		job = j
		for _, c := range j.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("job %s did not end within %v: %v; status %+v", name, limit, err, job.Status)
	}
	return job
}

func condition(j *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
	for i, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func jobPods(t *testing.T, cs kubernetes.Interface, job string) []corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

func podLog(t *testing.T, cs kubernetes.Interface, pod string) string {
	t.Helper()
	b, err := cs.CoreV1().Pods("default").GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("logs of %s: %v", pod, err)
	}
	return string(b)
}

// TestPlainIndexedJob checks the control plane and the stand-in without
// wsbench: an Indexed Job of shell pods runs every index once, each with its
// JOB_COMPLETION_INDEX, in its own network namespace, and its log and
// termination message come back through the apiserver.
func TestPlainIndexedJob(t *testing.T) {
	cs := client(t)
	const name, n = "e2e-plain", 3
	ctx := context.Background()
	one, zero, never := int32(n), int32(0), corev1.RestartPolicyNever
	indexed := batchv1.IndexedCompletion
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: &one, Parallelism: &one, CompletionMode: &indexed, BackoffLimitPerIndex: &zero,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: never,
				Containers: []corev1.Container{{
					Name: "sh", Image: "busybox",
					Command: []string{"sh", "-c", `echo "index=$JOB_COMPLETION_INDEX pod=$HOSTNAME"; ip -4 -o addr show dev eth0; echo "done $JOB_COMPLETION_INDEX" > /dev/termination-log`},
				}},
			}},
		},
	}
	start := time.Now()
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, cs, name, 2*time.Minute)
	t.Logf("job %s ended in %v: succeeded %d failed %d completedIndexes %q", name, time.Since(start).Round(time.Millisecond),
		j.Status.Succeeded, j.Status.Failed, j.Status.CompletedIndexes)
	if condition(j, batchv1.JobComplete) == nil || j.Status.Succeeded != n || j.Status.Failed != 0 || j.Status.CompletedIndexes != "0-2" {
		t.Fatalf("want Complete with %d succeeded, indexes 0-2; got %+v", n, j.Status)
	}
	pods := jobPods(t, cs, name)
	if len(pods) != n {
		t.Fatalf("want %d pods (every index once), got %d", n, len(pods))
	}
	seen := map[string]bool{}
	ips := map[string]bool{}
	gw := netip.MustParsePrefix("198.19.0.0/16")
	for _, p := range pods {
		idx := p.Labels[batchv1.JobCompletionIndexAnnotation]
		if seen[idx] {
			t.Errorf("index %s ran twice", idx)
		}
		seen[idx] = true
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !gw.Contains(ip) || ips[p.Status.PodIP] {
			t.Errorf("pod %s: podIP %q: want a distinct address in %s", p.Name, p.Status.PodIP, gw)
		}
		ips[p.Status.PodIP] = true
		if p.Status.Phase != corev1.PodSucceeded || len(p.Status.ContainerStatuses) != 1 {
			t.Fatalf("pod %s: phase %s, %d container statuses", p.Name, p.Status.Phase, len(p.Status.ContainerStatuses))
		}
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 0 || term.Message != "done "+idx+"\n" {
			t.Errorf("pod %s: terminated %+v, want exit 0 and message %q", p.Name, term, "done "+idx+"\n")
		}
		log := podLog(t, cs, p.Name)
		if !strings.Contains(log, fmt.Sprintf("index=%s pod=%s\n", idx, p.Name)) || !strings.Contains(log, "inet "+p.Status.PodIP+"/32") {
			t.Errorf("pod %s: log %q: want its index, name and address %s on eth0", p.Name, log, p.Status.PodIP)
		}
	}
	// A failing index: exit 3 is reported with the log's tail as the
	// termination message (FallbackToLogsOnError), and the index fails.
	name2 := "e2e-plain-fail"
	job.Name = name2
	single := int32(1)
	job.Spec.Completions, job.Spec.Parallelism = &single, &single
	job.Spec.Template.Spec.Containers[0].Command = []string{"sh", "-c", "echo something went wrong >&2; exit 3"}
	job.Spec.Template.Spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, cs, name2, 2*time.Minute)
	if condition(j, batchv1.JobFailed) == nil || j.Status.Failed != 1 || j.Status.FailedIndexes == nil || *j.Status.FailedIndexes != "0" {
		t.Fatalf("want Failed with index 0 failed; got %+v", j.Status)
	}
	pods = jobPods(t, cs, name2)
	if len(pods) != 1 || pods[0].Status.Phase != corev1.PodFailed {
		t.Fatalf("want 1 failed pod, got %d", len(pods))
	}
	term := pods[0].Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 3 || term.Message != "something went wrong" {
		t.Fatalf("terminated %+v: want exit 3 and the log's tail as message", term)
	}

	// The pod's securityContext as kube render writes it: the container
	// runs as user 65532 on a read-only root, /tmp an emptyDir it may write.
	name3 := "e2e-plain-user"
	job.Name = name3
	job.Spec.Template.Spec.Containers[0].Command = []string{"sh", "-c",
		`echo "uid=$(id -u) gid=$(id -g)"; touch /wsbench-e2e-probe 2>/dev/null && echo root-writable; echo x > /tmp/probe && echo tmp-writable`}
	job.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	job.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	user, yes, no := int64(65532), true, false
	job.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &user, RunAsGroup: &user}
	job.Spec.Template.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no}
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, cs, name3, 2*time.Minute)
	pods = jobPods(t, cs, name3)
	if condition(j, batchv1.JobComplete) == nil || len(pods) != 1 {
		t.Fatalf("want Complete with 1 pod; got %+v", j.Status)
	}
	if log := podLog(t, cs, pods[0].Name); log != "uid=65532 gid=65532\ntmp-writable\n" {
		t.Errorf("log %q: want uid and gid 65532, the root read-only and /tmp writable", log)
	}
}
