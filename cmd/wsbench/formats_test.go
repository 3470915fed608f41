package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/results"
)

// TestReportFormatsAreTheRegistry: every format `report --help` lists has
// an encoder, every encoder is listed, and --format's own help and error
// name them all.
func TestReportFormatsAreTheRegistry(t *testing.T) {
	code, help, _ := runCLI("report", "--help")
	if code != exitOK {
		t.Fatalf("report --help: exit %d", code)
	}
	// The list under "in another format:", one "  NAME  what" line each.
	_, list, _ := strings.Cut(help, "in another format:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+)  `).FindAllStringSubmatch(list, -1) {
		listed = append(listed, m[1])
	}
	var registered []string
	for name := range results.Encoders {
		registered = append(registered, name)
	}
	slices.Sort(listed)
	slices.Sort(registered)
	if len(listed) == 0 || !slices.Equal(listed, registered) {
		t.Errorf("report --help lists %v; the encoders are %v", listed, registered)
	}
	formats := slices.Sorted(slices.Values(results.Formats))
	if !slices.Equal(formats, registered) {
		t.Errorf("results.Formats %v, encoders %v", results.Formats, registered)
	}
	file := filepath.Join(t.TempDir(), "r.json")
	b, err := (&results.Report{Schema: results.Schema, Latency: map[string]results.Latency{}}).MarshalIndent()
	if err != nil || os.WriteFile(file, b, 0o644) != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("report", "--format", "nope", file)
	for _, f := range results.Formats {
		if code != exitUsage || !strings.Contains(errOut, f) || !strings.Contains(help, f+",") && !strings.Contains(help, f+" ") {
			t.Errorf("format %s: --format nope says %q (exit %d)", f, errOut, code)
		}
	}
}
