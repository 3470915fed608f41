package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// MissedStartExit is the exit code of `wsbench run` when a shard was not
// connected and ready by --start-at; the Job's podFailurePolicy fails the
// whole Job on it.
const MissedStartExit = 5

// Where the pods find their files.
const (
	ScenarioDir  = "/etc/wsbench/scenario" // the ConfigMap, a folder of its own beside SecretDir
	ScenarioKey  = "scenario.yaml"
	SecretDir    = "/etc/wsbench/secret" // --secret-files: a Secret's keys as files (tokens_file: /etc/wsbench/secret/tokens)
	ContainerNm  = "wsbench"
	indexAnnot   = "batch.kubernetes.io/job-completion-index"
	runLabel     = "wsbench.dev/run"
	nameLabel    = "app.kubernetes.io/name"
	defaultRange = "1024 65535"
)

// SafeSysctls are the sysctls Kubernetes allows in a pod without the node's
// --allowed-unsafe-sysctls (as of 1.32); any other, such as
// net.core.somaxconn or net.ipv4.tcp_tw_reuse, needs the kubelet to allow it
// or the pod is rejected (SysctlForbidden).
var SafeSysctls = []string{
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
}

// SecretEnv is one environment variable of the pods taken from a key of a
// Secret (valueFrom.secretKeyRef): --secret-env NAME=SECRET:KEY.
type SecretEnv struct{ Name, Secret, Key string }

// ParseSecretEnv reads NAME=SECRET:KEY (KEY defaults to NAME).
func ParseSecretEnv(v string) (SecretEnv, error) {
	name, ref, ok := strings.Cut(v, "=")
	if !ok || name == "" || ref == "" {
		return SecretEnv{}, fmt.Errorf("%q: want NAME=SECRET[:KEY]", v)
	}
	secret, key, ok := strings.Cut(ref, ":")
	if !ok {
		key = name
	}
	if !envName.MatchString(name) {
		return SecretEnv{}, fmt.Errorf("%q: %s is not an environment variable name", v, name)
	}
	if errs := validation.IsDNS1123Subdomain(secret); len(errs) > 0 {
		return SecretEnv{}, fmt.Errorf("%q: Secret name %q: %s", v, secret, errs[0])
	}
	if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
		return SecretEnv{}, fmt.Errorf("%q: key %q: %s", v, key, errs[0])
	}
	return SecretEnv{name, secret, key}, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Options say what Objects builds. Every field but Scenario, Image and
// Shards has a default.
type Options struct {
	Name      string // the Job's name; the ConfigMap is Name-scenario (default wsbench)
	Namespace string // default "default"
	Image     string
	// PullPolicy is the container's imagePullPolicy (default IfNotPresent).
	PullPolicy corev1.PullPolicy
	Shards     int
	// Scenario is the scenario file as written; it goes into the ConfigMap
	// and each pod runs `wsbench run -f` on it.
	Scenario []byte
	// RunArgs go after the scenario on each pod's command line: run flags
	// (already checked) and the target URL.
	RunArgs []string
	// StartAt is the common start of every shard (--start-at).
	StartAt time.Time
	// Requests and limits (Kubernetes quantities; "" = none).
	CPU, Memory, CPULimit, MemoryLimit string
	// Sysctls set in the pod's securityContext, "name=value"; nil means
	// net.ipv4.ip_local_port_range=1024 65535.
	Sysctls []string
	// SecretEnvFrom are Secrets whose every key becomes an environment
	// variable (envFrom); SecretEnv single variables from a Secret's key.
	SecretEnvFrom []string
	SecretEnv     []SecretEnv
	// SecretFiles is a Secret mounted read-only at SecretDir.
	SecretFiles string
	// MetricsAddr, when set, is passed as --metrics-addr and the pods get
	// the prometheus.io scrape annotations for its port.
	MetricsAddr string
	// Deadline, when set, is the Job's activeDeadlineSeconds (rounded up
	// to a second): a Job whose pods cannot start (an image that is not
	// there, no node with room) fails then, rather than wait for ever.
	Deadline time.Duration
	// EnvRefs are the ${NAME} variables the scenario uses; each must come
	// from SecretEnv or (unchecked: its keys are not known here)
	// SecretEnvFrom.
	EnvRefs []string
}

// OptionError names the option (its flag, in cmd's words) that is wrong.
type OptionError struct {
	Option string // "shards", "image", "cpu", "sysctl" …
	Err    error
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func optErr(opt, format string, a ...any) error {
	return &OptionError{opt, fmt.Errorf(format, a...)}
}

// withDefaults fills the options' defaults.
func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "wsbench"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.PullPolicy == "" {
		o.PullPolicy = corev1.PullIfNotPresent
	}
	if o.Sysctls == nil {
		o.Sysctls = []string{"net.ipv4.ip_local_port_range=" + defaultRange}
	}
	return o
}

// UnsafeSysctls returns those of sysctls (name=value) that are not in
// SafeSysctls: the node must list them in the kubelet's
// --allowed-unsafe-sysctls.
func UnsafeSysctls(sysctls []string) []string {
	var out []string
	for _, s := range sysctls {
		name, _, _ := strings.Cut(s, "=")
		if !slices.Contains(SafeSysctls, name) {
			out = append(out, name)
		}
	}
	return out
}

// Objects builds the ConfigMap and the Indexed Job.
func Objects(o Options) (*corev1.ConfigMap, *batchv1.Job, error) {
	o = o.withDefaults()
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 {
		return nil, nil, optErr("name", "%q: %s", o.Name, errs[0])
	}
	if len(o.Name) > 52 { // pod names add -INDEX-RANDOM to it; 63 is the label limit
		return nil, nil, optErr("name", "%q: at most 52 characters (the pods' names add their index)", o.Name)
	}
	if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
		return nil, nil, optErr("namespace", "%q: %s", o.Namespace, errs[0])
	}
	if o.Image == "" {
		return nil, nil, optErr("image", "the image the pods run is required (scripts/build-image.sh builds one)")
	}
	if o.Shards < 1 || o.Shards > 100000 {
		return nil, nil, optErr("shards", "%d: want 1 to 100000", o.Shards)
	}
	if len(o.Scenario) == 0 {
		return nil, nil, optErr("file", "a scenario file is required")
	}
	if o.StartAt.IsZero() {
		return nil, nil, optErr("start-in", "no start time")
	}
	res, err := resources(o)
	if err != nil {
		return nil, nil, err
	}
	var sysctls []corev1.Sysctl
	for _, s := range o.Sysctls {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" || value == "" {
			return nil, nil, optErr("sysctl", "%q: want NAME=VALUE", s)
		}
		sysctls = append(sysctls, corev1.Sysctl{Name: name, Value: value})
	}
	env, envFrom, err := secretEnv(o)
	if err != nil {
		return nil, nil, err
	}

	labels := map[string]string{nameLabel: "wsbench", runLabel: o.Name}
	cmName := o.Name + "-scenario"
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: cmName, Namespace: o.Namespace, Labels: labels},
		Data:       map[string]string{ScenarioKey: string(o.Scenario)},
	}

	args := []string{"run", "-f", ScenarioDir + "/" + ScenarioKey,
		"--shard", "auto/" + strconv.Itoa(o.Shards),
		"--start-at", o.StartAt.UTC().Format(time.RFC3339),
		"--result-line", "--quiet"}
	annotations := map[string]string{}
	var ports []corev1.ContainerPort
	if o.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(o.MetricsAddr)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil || p < 1 || p > 65535 {
			return nil, nil, optErr("metrics-addr", "%q: want [HOST]:PORT, e.g. :9090", o.MetricsAddr)
		}
		args = append(args, "--metrics-addr", o.MetricsAddr)
		annotations["prometheus.io/scrape"] = "true"
		annotations["prometheus.io/port"] = port
		annotations["prometheus.io/path"] = "/metrics"
		ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(p), Protocol: corev1.ProtocolTCP}}
	}
	args = append(args, o.RunArgs...)

	volumes := []corev1.Volume{
		{Name: "scenario", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: cmName}}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "scenario", MountPath: ScenarioDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	if o.SecretFiles != "" {
		if errs := validation.IsDNS1123Subdomain(o.SecretFiles); len(errs) > 0 {
			return nil, nil, optErr("secret-files", "%q: %s", o.SecretFiles, errs[0])
		}
		volumes = append(volumes, corev1.Volume{Name: "secret", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: o.SecretFiles, DefaultMode: ptr(int32(0o440))}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "secret", MountPath: SecretDir, ReadOnly: true})
	}

	n := int32(o.Shards)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			CompletionMode: ptr(batchv1.IndexedCompletion),
			Completions:    &n,
			Parallelism:    &n,
			// A shard never runs twice: a rerun would start after the
			// common start and measure another run.
			BackoffLimitPerIndex: ptr(int32(0)),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: ptr(ContainerNm),
					Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
					Values:        []int32{MissedStartExit},
				},
			}}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: ptr(int64(10)),
					EnableServiceLinks:            ptr(false),
					AutomountServiceAccountToken:  ptr(false),
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight: 100,
							PodAffinityTerm: corev1.PodAffinityTerm{
								LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{runLabel: o.Name}},
								TopologyKey:   "kubernetes.io/hostname",
							},
						}},
					}},
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr(true),
						RunAsUser:      ptr(int64(65532)),
						RunAsGroup:     ptr(int64(65532)),
						FSGroup:        ptr(int64(65532)),
						Sysctls:        sysctls,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Volumes: volumes,
					Containers: []corev1.Container{{
						Name:                     ContainerNm,
						Image:                    o.Image,
						ImagePullPolicy:          o.PullPolicy,
						Args:                     args,
						Env:                      env,
						EnvFrom:                  envFrom,
						Ports:                    ports,
						Resources:                res,
						VolumeMounts:             mounts,
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr(false),
							ReadOnlyRootFilesystem:   ptr(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
	if len(annotations) == 0 {
		job.Spec.Template.Annotations = nil
	}
	if o.Deadline > 0 {
		job.Spec.ActiveDeadlineSeconds = ptr(int64((o.Deadline + time.Second - 1) / time.Second))
	}
	return cm, job, nil
}

func resources(o Options) (corev1.ResourceRequirements, error) {
	var r corev1.ResourceRequirements
	set := func(list *corev1.ResourceList, name corev1.ResourceName, flag, v string) error {
		if v == "" {
			return nil
		}
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			return optErr(flag, "%q: want a positive Kubernetes quantity (cpu 500m or 2, memory 512Mi or 4Gi)", v)
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q
		return nil
	}
	for _, e := range []error{
		set(&r.Requests, corev1.ResourceCPU, "cpu", o.CPU),
		set(&r.Requests, corev1.ResourceMemory, "memory", o.Memory),
		set(&r.Limits, corev1.ResourceCPU, "cpu-limit", o.CPULimit),
		set(&r.Limits, corev1.ResourceMemory, "memory-limit", o.MemoryLimit),
	} {
		if e != nil {
			return r, e
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := r.Requests[name], r.Limits[name]
		if _, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			return r, optErr(string(name)+"-limit", "%s is below the request %s", lim.String(), req.String())
		}
	}
	return r, nil
}

// secretEnv builds the pods' environment from Secrets, checking that every
// ${NAME} the scenario uses has a source.
func secretEnv(o Options) ([]corev1.EnvVar, []corev1.EnvFromSource, error) {
	var env []corev1.EnvVar
	for _, s := range o.SecretEnv {
		env = append(env, corev1.EnvVar{Name: s.Name, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: s.Secret}, Key: s.Key}}})
	}
	var from []corev1.EnvFromSource
	for _, s := range o.SecretEnvFrom {
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			return nil, nil, optErr("secret-env-from", "%q: %s", s, errs[0])
		}
		from = append(from, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: s}}})
	}
	if len(from) == 0 {
		for _, ref := range o.EnvRefs {
			if !slices.ContainsFunc(o.SecretEnv, func(s SecretEnv) bool { return s.Name == ref }) {
				return nil, nil, optErr("secret-env", "the scenario uses the environment variable %s: give it to the pods from a Secret (--secret-env %s=SECRET:KEY or --secret-env-from SECRET)", ref, ref)
			}
		}
	}
	return env, from, nil
}

func ptr[T any](v T) *T { return &v }

// Render writes the objects as one YAML stream, a comment first saying
// what it is and which sysctls need the nodes' permission.
func Render(w io.Writer, o Options, objs ...any) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# wsbench: %d shards of one run, starting together at %s.\n", o.Shards, o.StartAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# Apply with `kubectl apply -f`, or let `wsbench kube run` apply it and merge the shards' results.\n")
	if unsafe := UnsafeSysctls(o.withDefaults().Sysctls); len(unsafe) > 0 {
		fmt.Fprintf(&b, "# Unsafe sysctls (%s): each node's kubelet must allow them (--allowed-unsafe-sysctls), or the pods are rejected.\n", strings.Join(unsafe, ", "))
	}
	for _, obj := range objs {
		y, err := Marshal(obj)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Marshal is obj as YAML, without what a manifest leaves to the server
// (status, a null creationTimestamp).
func Marshal(obj any) ([]byte, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	prune(m)
	return yaml.Marshal(m)
}

// prune drops status and null or empty creationTimestamp/resources maps
// throughout m.
func prune(m map[string]any) {
	delete(m, "status")
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(v)
			if len(v) == 0 && (k == "resources" || k == "metadata") {
				delete(m, k)
			}
		case []any:
			for _, e := range v {
				if e, ok := e.(map[string]any); ok {
					prune(e)
				}
			}
		}
	}
}
