package kube

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite kube/testdata/*.golden.yaml from the current output")

var start = time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)

const scenarioText = "target: ws://echo.bench.svc:8080/echo\nconns: 30000\nduration: 60s\nrate: 30000\nheaders:\n  - \"Authorization: Bearer ${TOKEN}\"\n"

// TestRenderGolden pins the manifests render prints, one golden file per
// case: the defaults, and every option set.
func TestRenderGolden(t *testing.T) {
	cases := []struct {
		name string
		o    Options
	}{
		{"minimal", Options{Image: "wsbench:dev", Shards: 3, Scenario: []byte("conns: 100\nduration: 10s\n"), StartAt: start}},
		{"full", Options{
			Name: "ws-30k", Namespace: "bench", Image: "registry.example:5000/wsbench:v1", PullPolicy: corev1.PullAlways,
			Shards: 4, Scenario: []byte(scenarioText), RunArgs: []string{"--dial-concurrency", "200", "ws://echo.bench.svc:8080/echo"},
			StartAt: start, CPU: "2", Memory: "2Gi", CPULimit: "2", MemoryLimit: "3Gi",
			Sysctls:   []string{"net.ipv4.ip_local_port_range=1024 65535", "net.ipv4.tcp_tw_reuse=1"},
			SecretEnv: []SecretEnv{{"TOKEN", "bench-auth", "token"}}, SecretEnvFrom: []string{"bench-env"}, SecretFiles: "bench-files",
			MetricsAddr: ":9090", EnvRefs: []string{"TOKEN"}, Deadline: 6*time.Minute + 500*time.Millisecond,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cm, job, err := Objects(c.o)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := Render(&b, c.o, cm, job); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./kube -run TestRenderGolden -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("render differs from %s (rerun with -update if the change is meant):\n%s", path, b.String())
			}
		})
	}
}

// TestRenderedJob decodes the rendered YAML back into typed objects and
// checks what the run depends on, independent of the golden text.
func TestRenderedJob(t *testing.T) {
	o := Options{Name: "r", Image: "wsbench:dev", Shards: 5, Scenario: []byte(scenarioText), StartAt: start,
		SecretEnv: []SecretEnv{{"TOKEN", "auth", "token"}}, EnvRefs: []string{"TOKEN"}, MetricsAddr: ":9090"}
	cm, job, err := Objects(o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Render(&b, o, cm, job); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(b.String(), "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("want a comment, a ConfigMap and a Job, got %d documents", len(docs))
	}
	var gotCM corev1.ConfigMap
	var got batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &gotCM); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[2]), &got); err != nil {
		t.Fatal(err)
	}
	if gotCM.Data[ScenarioKey] != scenarioText || gotCM.Name != "r-scenario" {
		t.Errorf("ConfigMap %s holds %q", gotCM.Name, gotCM.Data[ScenarioKey])
	}
	s := got.Spec
	if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 5 || *s.Parallelism != 5 || *s.BackoffLimitPerIndex != 0 {
		t.Errorf("job spec: mode %v completions %d parallelism %d backoffLimitPerIndex %d", *s.CompletionMode, *s.Completions, *s.Parallelism, *s.BackoffLimitPerIndex)
	}
	r := s.PodFailurePolicy.Rules
	if len(r) != 1 || r[0].Action != batchv1.PodFailurePolicyActionFailJob || r[0].OnExitCodes.Values[0] != MissedStartExit {
		t.Errorf("podFailurePolicy %+v", r)
	}
	c := s.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	if !strings.Contains(args, "run -f /etc/wsbench/scenario/scenario.yaml --shard auto/5 --start-at 2026-12-04T01:00:00Z --result-line") {
		t.Errorf("args %q", args)
	}
	if c.Env[0].ValueFrom.SecretKeyRef.Name != "auth" || c.Env[0].Value != "" {
		t.Errorf("TOKEN should come from the Secret: %+v", c.Env[0])
	}
	if a := s.Template.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9090" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v", a)
	}
	aff := s.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	if len(aff) != 1 || aff[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" || aff[0].PodAffinityTerm.LabelSelector.MatchLabels[runLabel] != "r" {
		t.Errorf("anti-affinity %+v", aff)
	}
	if sc := s.Template.Spec.SecurityContext.Sysctls; len(sc) != 1 || sc[0].Name != "net.ipv4.ip_local_port_range" {
		t.Errorf("sysctls %+v", sc)
	}
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s (podFailurePolicy needs Never)", s.Template.Spec.RestartPolicy)
	}
}

// TestObjectsRefuse: each bad option is refused naming its option.
func TestObjectsRefuse(t *testing.T) {
	ok := Options{Image: "i", Shards: 2, Scenario: []byte("conns: 1\n"), StartAt: start}
	cases := []struct {
		opt    string
		change func(*Options)
		want   string
	}{
		{"name", func(o *Options) { o.Name = "Bad_Name" }, "RFC 1123"},
		{"name", func(o *Options) { o.Name = strings.Repeat("a", 53) }, "at most 52"},
		{"namespace", func(o *Options) { o.Namespace = "a.b" }, "dots"},
		{"image", func(o *Options) { o.Image = "" }, "required"},
		{"shards", func(o *Options) { o.Shards = 0 }, "want 1 to"},
		{"file", func(o *Options) { o.Scenario = nil }, "required"},
		{"cpu", func(o *Options) { o.CPU = "lots" }, "quantity"},
		{"memory-limit", func(o *Options) { o.Memory, o.MemoryLimit = "2Gi", "1Gi" }, "below the request"},
		{"sysctl", func(o *Options) { o.Sysctls = []string{"net.core.somaxconn"} }, "NAME=VALUE"},
		{"metrics-addr", func(o *Options) { o.MetricsAddr = "9090" }, "[HOST]:PORT"},
		{"secret-env", func(o *Options) { o.EnvRefs = []string{"TOKEN"} }, "environment variable TOKEN:"},
		{"secret-files", func(o *Options) { o.SecretFiles = "Not/A/Name" }, "RFC 1123"},
	}
	for _, c := range cases {
		o := ok
		c.change(&o)
		_, _, err := Objects(o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.opt || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error of option %s containing %q", c.opt, err, c.opt, c.want)
		}
	}
	if _, _, err := Objects(ok); err != nil {
		t.Errorf("the base options: %v", err)
	}
}

func TestParseSecretEnv(t *testing.T) {
	for in, want := range map[string]SecretEnv{
		"TOKEN=auth:token": {"TOKEN", "auth", "token"},
		"TOKEN=auth":       {"TOKEN", "auth", "TOKEN"},
	} {
		if got, err := ParseSecretEnv(in); err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"TOKEN", "=a:b", "1X=a:b", "T=Bad_Secret:k", "T=s:bad key"} {
		if _, err := ParseSecretEnv(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestUnsafeSysctls(t *testing.T) {
	got := UnsafeSysctls([]string{"net.ipv4.ip_local_port_range=1 2", "net.core.somaxconn=4096", "net.ipv4.tcp_tw_reuse=1"})
	if strings.Join(got, ",") != "net.core.somaxconn,net.ipv4.tcp_tw_reuse" {
		t.Errorf("UnsafeSysctls = %v", got)
	}
}
