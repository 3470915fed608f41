package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSaturationFlag runs the real binary twice against the in-process
// server: starved (one core for client and server, a rate far past what it
// can send) the result says the harness was saturated and why; light, it
// does not.
func TestSaturationFlag(t *testing.T) {
	run := func(t *testing.T, gomaxprocs string, args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"run", "--json", "-d", "1s", "--warmup", "200ms"}, args...)...)
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+gomaxprocs)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run %v: %v\n%s", args, err, out)
		}
		var rep struct {
			Harness map[string]any `json:"harness"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("result: %v\n%s", err, out)
		}
		return rep.Harness
	}
	t.Run("starved", func(t *testing.T) {
		h := run(t, "1", "-c", "50", "-r", "2000000")
		reasons, _ := h["saturation"].([]any)
		if h["saturated"] != true || len(reasons) == 0 {
			t.Fatalf("not flagged: %v", h)
		}
		joined := ""
		for _, r := range reasons {
			joined += r.(string) + "; "
		}
		if !strings.Contains(joined, "send lag") && !strings.Contains(joined, "CPU") {
			t.Errorf("reasons %q name neither CPU nor send lag", joined)
		}
		if h["cores"] != 1.0 {
			t.Errorf("cores %v, want 1 under GOMAXPROCS=1", h["cores"])
		}
	})
	t.Run("light", func(t *testing.T) {
		// Each connection sends once a second: a send lag of 100 ms would be
		// needed to flag it, far more than a busy test machine adds.
		h := run(t, "2", "-c", "5", "-r", "5")
		if h["saturated"] != false {
			t.Fatalf("a light run was flagged: %v", h["saturation"])
		}
	})
}
