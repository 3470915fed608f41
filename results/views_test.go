package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSidesGroupsByLabel(t *testing.T) {
	open, procs := filepath.Join("testdata", "saved-open.json"), filepath.Join("testdata", "saved-procs.json")
	sides, err := ReadSides([]string{open, procs, open}, []string{"A", "B"}, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(sides) != 2 || sides[0].Label != "A" || len(sides[0].Reports) != 2 || sides[1].Label != "B" || len(sides[1].Reports) != 1 {
		t.Fatalf("sides: %+v", sides)
	}
	sides, err = ReadSides([]string{open, procs}, nil, nil)
	if err != nil || len(sides) != 2 || sides[0].Label != "saved-open" || sides[1].Label != "saved-procs" {
		t.Fatalf("unlabelled: %v, %+v", err, sides)
	}
	if _, err := ReadSides([]string{open, procs}, []string{"B"}, []int{1}); !errors.As(err, new(*UnlabelledError)) || !strings.HasPrefix(err.Error(), open+": ") {
		t.Errorf("file before the first label: %v", err)
	}
	if _, err := ReadSides([]string{"testdata/none.json"}, nil, nil); err == nil {
		t.Error("a missing file reads")
	}
}

func TestViewsInEachFormat(t *testing.T) {
	sides, err := ReadSides([]string{filepath.Join("testdata", "saved-open.json"), filepath.Join("testdata", "saved-procs.json")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compare(sides)
	if err != nil {
		t.Fatal(err)
	}
	var text, def bytes.Buffer
	CompareText(&text, c)
	if err := ComparisonAs(&def, "", c, sides); err != nil || def.String() != text.String() || text.Len() == 0 {
		t.Errorf("\"\" is not text: %v", err)
	}
	var j bytes.Buffer
	if err := ComparisonAs(&j, "json", c, sides); err != nil || !json.Valid(j.Bytes()) || !bytes.HasSuffix(j.Bytes(), []byte("}\n")) {
		t.Errorf("json: %v %q", err, j.String())
	}
	var h bytes.Buffer
	if err := ComparisonAs(&h, "html", c, sides); err != nil || !strings.Contains(h.String(), "<html") {
		t.Errorf("html: %v", err)
	}
	capa := &Capacity{Dimension: DimensionRate, SLOs: []string{"rtt.p99<10ms"}}
	for _, f := range ViewFormats {
		var got, want bytes.Buffer
		if err := CapacityAs(&got, f, capa, "v9"); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch f {
		case "text":
			CapacityText(&want, capa)
		case "json":
			CapacityJSON(&want, capa)
		case "html":
			CapacityHTML(&want, capa, "v9")
		}
		if got.String() != want.String() {
			t.Errorf("capacity %s differs from its encoder", f)
		}
	}
}

func TestFailedThresholds(t *testing.T) {
	r := &Report{Thresholds: []ThresholdResult{{Pass: true}, {Pass: false}, {Pass: false}}}
	if n := r.FailedThresholds(); n != 2 {
		t.Errorf("got %d, want 2", n)
	}
}

func TestShow(t *testing.T) {
	r, err := Read(filepath.Join("testdata", "saved-open.json"))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	Encoders["text"](&text, r, Options{})
	r.ServerUsage = &ServerUsage{PIDs: []int{42}, CPUSeconds: 1.5, CPUCores: 0.75, RSSBeforeKiB: 2048, MaxRSSKiB: 4096}
	var got bytes.Buffer
	if err := Show(&got, r, false); err != nil {
		t.Fatal(err)
	}
	line := "Server (--server-pid [42]): 1.50 CPU-s in the window (0.75 cores), RSS 2.0 MiB before connecting, 4.0 MiB peak\n"
	if !strings.HasPrefix(got.String(), text.String()) || !strings.HasSuffix(got.String(), line) {
		t.Errorf("text: %q", got.String())
	}
	got.Reset()
	if err := Show(&got, r, true); err != nil || strings.Contains(got.String(), "Server (") || !json.Valid(got.Bytes()) {
		t.Errorf("json: %v %q", err, got.String())
	}
}
