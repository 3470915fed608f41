package main

// kube part: `wsbench kube render` and `wsbench kube run`.

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/wsbench/wsbench/internal/cliflag"
	"github.com/wsbench/wsbench/kube"
	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/results"
	"github.com/wsbench/wsbench/scenario"
)

//go:embed help/kube.txt
var kubeUsage string

func kubeCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, kubeUsage)
		if len(args) == 0 {
			return usagef("want a subcommand: render or run")
		}
		return nil
	}
	switch args[0] {
	case "render":
		return kubeRender(args[1:], stdout)
	case "run":
		return kubeRun(args[1:], stdout, stderr)
	}
	return usagef("unknown subcommand %q: want render or run", args[0])
}

// kubeFlags are the flags render and run share: what the objects are.
type kubeFlags struct {
	o        kube.Options
	file     string
	startIn  time.Duration
	startAt  string
	secEnv   []string
	pull     string
	deadline time.Duration
	spec     scenario.Spec // the scenario with the run flags after --, for the checks
	passArgs []string
}

func newKubeFlags(name string, stdout io.Writer) (*pflag.FlagSet, *kubeFlags) {
	fs := cliflag.NewSet("kube "+name, kubeUsage, stdout)
	k := &kubeFlags{}
	fs.StringVarP(&k.file, "file", "f", "", "the scenario file the shards run (required); it goes into a ConfigMap as written")
	fs.IntVarP(&k.o.Shards, "shards", "n", 0, "shards: the Job's completions and parallelism, one pod each (required)")
	fs.StringVar(&k.o.Image, "image", "", "the image the pods run (required; scripts/build-image.sh builds one)")
	fs.StringVar(&k.pull, "pull-policy", "IfNotPresent", "the container's imagePullPolicy: IfNotPresent, Always or Never")
	fs.StringVar(&k.o.Name, "name", "wsbench", "the Job's name (the ConfigMap is NAME-scenario)")
	fs.StringVar(&k.o.Namespace, "namespace", "", `the namespace of the Job and the ConfigMap (default: run, the kubeconfig context's; render, "default")`)
	fs.DurationVar(&k.startIn, "start-in", 60*time.Second, "the shards start together this long after the manifest is made (render) or applied (run): time to schedule the pods, pull the image and connect")
	fs.StringVar(&k.startAt, "start-at", "", "the shards' common start as an RFC 3339 time instead of --start-in")
	fs.StringVar(&k.o.CPU, "cpu", "1", "each pod's CPU request")
	fs.StringVar(&k.o.Memory, "memory", "1Gi", "each pod's memory request")
	fs.StringVar(&k.o.CPULimit, "cpu-limit", "", "each pod's CPU limit (none by default: a throttled client measures its own delay)")
	fs.StringVar(&k.o.MemoryLimit, "memory-limit", "1Gi", "each pod's memory limit")
	fs.StringArrayVar(&k.o.Sysctls, "sysctl", nil, `a pod sysctl NAME=VALUE (repeatable; default "net.ipv4.ip_local_port_range=1024 65535"); others than Kubernetes' safe ones need the nodes' --allowed-unsafe-sysctls`)
	fs.StringArrayVar(&k.secEnv, "secret-env", nil, "give the pods the environment variable NAME from a Secret's key: NAME=SECRET[:KEY] (repeatable); a scenario's ${NAME} must come from one")
	fs.StringArrayVar(&k.o.SecretEnvFrom, "secret-env-from", nil, "give the pods every key of this Secret as an environment variable (repeatable)")
	fs.StringVar(&k.o.SecretFiles, "secret-files", "", "mount this Secret's keys as files under "+kube.SecretDir+" (a tokens_file, a data_file)")
	fs.DurationVar(&k.deadline, "deadline", 0, "the Job's activeDeadlineSeconds: it fails when not done by then (0 = the time to the start, plus warm-up, duration and grace, plus 5m)")
	fs.StringVar(&k.o.MetricsAddr, "metrics-addr", ":9090", "the shards serve Prometheus metrics here (run --metrics-addr) and the pods get the prometheus.io scrape annotations for its port; \"\" for none")
	return fs, k
}

// kubeRunFlags are the run flags a Job's command line sets itself.
var kubeRunFlags = []string{"shard", "start-at", "file", "out", "json", "result-line", "metrics-addr", "repeat", "procs", "cpuprofile", "quiet", "progress"}

// finish checks the flags and reads the scenario; now is when the start
// time counts from.
func (k *kubeFlags) finish(fs *pflag.FlagSet, now time.Time) error {
	for _, f := range []struct {
		name string
		set  bool
	}{{"file", k.file != ""}, {"shards", k.o.Shards != 0}, {"image", k.o.Image != ""}} {
		if !f.set {
			return usagef("--%s is required", f.name)
		}
	}
	switch k.pull {
	case "IfNotPresent", "Always", "Never":
		k.o.PullPolicy = corev1.PullPolicy(k.pull)
	default:
		return usagef("--pull-policy: want IfNotPresent, Always or Never, got %q", k.pull)
	}
	switch {
	case k.startAt != "" && fs.Changed("start-in"):
		return usagef("--start-at: give it or --start-in, not both")
	case k.startAt != "":
		t, err := time.Parse(time.RFC3339, k.startAt)
		if err != nil {
			return usagef("--start-at: want an RFC 3339 time such as 2026-12-04T01:00:00Z, got %q", k.startAt)
		}
		k.o.StartAt = t
	case k.startIn < 5*time.Second:
		return usagef("--start-in: %s is too soon for pods to be scheduled and connect; at least 5s", k.startIn)
	default: // whole seconds, rounded up, as --start-at prints them
		k.o.StartAt = now.Add(k.startIn + time.Second - 1).Truncate(time.Second)
	}
	for _, v := range k.secEnv {
		se, err := kube.ParseSecretEnv(v)
		if err != nil {
			return usagef("--secret-env: %v", err)
		}
		k.o.SecretEnv = append(k.o.SecretEnv, se)
	}

	b, err := os.ReadFile(k.file)
	if err != nil {
		return usagef("--file: %v", err)
	}
	k.o.Scenario = b
	spec, err := scenario.ParseFile(k.file, b, scenario.Default())
	if err != nil {
		return usageError{err}
	}
	k.spec = spec // for redactError, until the run flags are in
	// The run flags after --, parsed as run parses them, so that a
	// mistake shows here and not in N pods.
	k.passArgs = fs.Args()
	rfs, _ := runFlags(&spec, io.Discard)
	if err := parse(rfs, k.passArgs); err != nil {
		if errors.Is(err, errHelp) {
			return usagef("after --: run's flags, not --help")
		}
		return usagef("after --: %v", err)
	}
	for _, name := range kubeRunFlags {
		if rfs.Changed(name) {
			return usagef("after --: --%s is set by the Job itself; drop it", name)
		}
	}
	switch rfs.NArg() {
	case 0:
	case 1:
		if err := scenario.CheckURL(rfs.Arg(0)); err != nil {
			return usageError{err}
		}
		spec.Target = rfs.Arg(0)
	default:
		return usagef("after --: one target URL, got %d", rfs.NArg())
	}
	if spec.Target == "" {
		return usagef("the scenario names no target (target: in the file, or a URL after --): the pods have no bundled server to measure")
	}
	if err := applyLoadShape(&spec, rfs); err != nil {
		return err
	}
	k.o.RunArgs = k.passArgs
	k.o.EnvRefs = scenario.EnvRefs(string(b) + "\n" + strings.Join(k.passArgs, "\n"))
	if err := validateUnlessEnv(spec, k.o.EnvRefs); err != nil {
		return usageError{withFlag(err)}
	}
	k.spec = spec
	switch {
	case k.deadline < 0:
		return usagef("--deadline: %s is negative", k.deadline)
	case k.deadline > 0:
		k.o.Deadline = k.deadline
	case spec.Duration > 0: // a run with an end: the Job has one too
		k.o.Deadline = max(k.o.StartAt.Sub(now), 0) + time.Duration(spec.Warmup+spec.Duration+spec.Grace) + 5*time.Minute
	}
	return nil
}

// validateUnlessEnv is spec.Validate, but a ${NAME} not set here is no
// error: the pods get it from a Secret.
func validateUnlessEnv(spec scenario.Spec, refs []string) error {
	err := spec.Validate()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var keep []error
	for _, e := range errs {
		unset := false
		for _, r := range refs {
			unset = unset || strings.Contains(e.Error(), "${"+r+"}: the environment variable "+r+" is not set")
		}
		if !unset {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

// objects builds the manifests and refuses them if one holds a secret of
// the scenario (a literal token in a header, a password in the target's
// URL): those go in a Secret and the scenario names them as ${NAME}.
func (k *kubeFlags) objects() (manifest []byte, objs []any, err error) {
	cm, job, err := kube.Objects(k.o)
	var oe *kube.OptionError
	if errors.As(err, &oe) {
		return nil, nil, usagef("--%s", err)
	} else if err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	if err := kube.Render(&b, k.o, cm, job); err != nil {
		return nil, nil, err
	}
	for _, v := range k.spec.SecretValues() {
		if strings.Contains(v, "${") || strings.Contains(v, "%7B") || strings.Contains(v, "%24") {
			continue // a reference, not a value
		}
		if strings.Contains(b.String(), v) {
			return nil, nil, usagef("the manifest would hold a secret value of the scenario (a secret header, query parameter or URL password): write it as ${NAME} and give NAME to the pods from a Secret (--secret-env NAME=SECRET:KEY)")
		}
	}
	return []byte(b.String()), []any{cm, job}, nil
}

func kubeRender(args []string, stdout io.Writer) (err error) {
	fs, k := newKubeFlags("render", stdout)
	defer func() { err = redactError(err, k.spec) }() // every error line scrubbed of the scenario's secrets
	out := fs.StringP("out", "o", "", "write the manifests to this file instead of stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := k.finish(fs, time.Now()); err != nil {
		return err
	}
	manifest, _, err := k.objects()
	if err != nil {
		return err
	}
	if *out != "" {
		if err := results.WriteAtomic(*out, manifest); err != nil {
			return failedError{fmt.Errorf("--out: %w", err)}
		}
		return nil
	}
	_, err = stdout.Write(manifest)
	return err
}

// kubeMissedStartError: a shard of `kube run` was not connected and ready
// by the common start (its pod exited 5); the Job failed on it.
type kubeMissedStartError struct{ msg string }

func (e kubeMissedStartError) Error() string { return e.msg }
func (kubeMissedStartError) exitCode() int   { return kube.MissedStartExit }

func kubeRun(args []string, stdout, stderr io.Writer) (err error) {
	fs, k := newKubeFlags("run", stdout)
	defer func() { err = redactError(err, k.spec) }() // every error line scrubbed of the scenario's secrets
	kubeconfig := fs.String("kubeconfig", "", "the kubeconfig file (default $KUBECONFIG, then ~/.kube/config, then the pod's service account)")
	kubeContext := fs.String("context", "", "the kubeconfig context (default its current one)")
	out := fs.StringP("out", "o", "", "write the merged result (JSON) to this file")
	format := "text"
	fs.Var(cliflag.Choice[string]{P: &format, Name: "format", Choices: []string{"text", "json", "html"}}, "format", "the summary on stdout: text, json or html")
	allowPartial := fs.Bool("allow-partial", false, "merge the shards that finished even when some did not (the summary says which are missing and that totals are partial)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOut(*out, false); err != nil {
		return err
	}
	if err := k.finish(fs, time.Now()); err != nil {
		return err
	}
	client, ns, err := kube.Client(*kubeconfig, *kubeContext)
	if err != nil {
		return failedError{err}
	}
	if k.o.Namespace == "" {
		k.o.Namespace = ns
	}
	_, objs, err := k.objects()
	if err != nil {
		return err
	}
	ctx, _, stop := orchestrate.Signals(stderr)
	defer stop()
	r := &kube.Runner{Client: client, Progress: stderr}
	o, err := r.Run(ctx, objs[0].(*corev1.ConfigMap), objs[1].(*batchv1.Job))
	if err != nil {
		return failedError{err}
	}
	return kubeFinish(o, *allowPartial, *out, format, stdout, stderr)
}

// kubeFinish merges what a Job's shards gave, writes and prints it, and
// picks the exit code: 130 interrupted, 5 a shard missed the start, 6 the
// merge refused (shards missing), 1 the Job failed, 3 a threshold failed.
func kubeFinish(o *kube.Outcome, allowPartial bool, out, format string, stdout, stderr io.Writer) error {
	for _, s := range o.Shards {
		if s.Report == nil {
			fmt.Fprintf(stderr, "shard %d: no result: %v\n", s.Index, s.Err)
		}
	}
	rep, mergeErr := o.Merge(allowPartial || o.Interrupted)
	passed := true
	if rep != nil {
		var err error
		if passed, err = finishMerged(rep, nil, out, format, stdout); err != nil {
			return err
		}
	}
	missed := o.MissedStart()
	switch {
	case o.Interrupted:
		if o.Deleted != nil {
			fmt.Fprintf(stderr, "wsbench kube: %v\n", o.Deleted)
		}
		return interruptedError{nothingMeasured: rep == nil}
	case len(missed) > 0:
		return kubeMissedStartError{fmt.Sprintf("shard(s) %s not connected and ready by the start time %s: the Job failed (%s)", intList(missed), o.StartAt(), o.Reason)}
	case mergeErr != nil:
		return asMergeRefused(mergeErr)
	case o.Failed:
		return failedError{fmt.Errorf("job %s failed: %s: %s", o.Job.Name, o.Reason, o.Cause)}
	case !passed:
		return thresholdError{rep.FailedThresholds()}
	}
	return nil
}

func intList(idx []int) string {
	s := make([]string, len(idx))
	for i, v := range idx {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}
