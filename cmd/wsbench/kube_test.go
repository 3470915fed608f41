package main

// kube part: `wsbench kube render`'s command line.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

	for _, c := range []struct {
		args   []string
		want   string
		secret string
	}{
		{base(literal), "would hold a secret value", "literal-secret-123"},
		{base(inURL), "would hold a secret value", "url-secret-456"},
		{base(ok, "--secret-env", "TOKEN=auth", "--", "-H", "X-Api-Key: flag-secret-789"), "would hold a secret value", "flag-secret-789"},
		{base(ok), "--secret-env: the scenario uses ${TOKEN}", ""},
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
