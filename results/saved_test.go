package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSavedResultsStillRead: results saved by the version before the one
// measurement type (an open-model run with reconnects and intervals, a mix,
// a run split over two processes) still read, write back byte for byte,
// and render in every format.
func TestSavedResultsStillRead(t *testing.T) {
	for _, tc := range []struct {
		file   string
		groups int
		procs  int
	}{
		{"saved-open.json", 0, 0},
		{"saved-mix.json", 2, 0},
		{"saved-procs.json", 0, 2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			r, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			back, err := r.MarshalIndent()
			if err != nil || !bytes.Equal(back, orig) {
				t.Errorf("written back, it differs from the saved file (%v)", err)
			}
			if !r.Messages.Balanced || r.Connections.Opened == 0 || len(r.Groups) != tc.groups || len(r.Processes) != tc.procs {
				t.Errorf("messages %+v, connections %+v, %d groups, %d processes", r.Messages, r.Connections, len(r.Groups), len(r.Processes))
			}
			for _, name := range Formats {
				if name == "csv" && len(r.Intervals) == 0 {
					continue
				}
				var b bytes.Buffer
				if err := Encoders[name](&b, r, Options{}); err != nil || b.Len() == 0 {
					t.Errorf("%s: %v (%d bytes)", name, err, b.Len())
				}
			}
			var text, page bytes.Buffer
			Text(&text, r)
			WriteHTML(&page, r)
			for _, g := range r.Groups {
				if !strings.Contains(text.String(), g.Group) || !strings.Contains(page.String(), ">"+g.Group+"<") {
					t.Errorf("group %q missing from the text or the HTML", g.Group)
				}
			}
		})
	}
}
