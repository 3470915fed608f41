package results

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// ViewFormats are the formats of a comparison and of a capacity search.
var ViewFormats = []string{"text", "json", "html"}

// ReadSides reads the result files and groups them into sides: labels[i]
// starts a side whose files are files[first[i]:], up to the next label's;
// with no labels, each file is a side named after it (its base name
// without .json). A file before the first label is an error. A folder is
// one result: its shards' results merged (ReadResult).
func ReadSides(files, labels []string, first []int) ([]Side, error) {
	var sides []Side
	for _, l := range labels {
		sides = append(sides, Side{Label: l})
	}
	for i, f := range files {
		rep, err := ReadResult(f)
		if err != nil {
			return nil, err
		}
		side := sort.SearchInts(first, i+1) - 1 // the last label before it
		switch {
		case labels == nil:
			sides, side = append(sides, Side{Label: strings.TrimSuffix(filepath.Base(f), ".json")}), len(sides)
		case side < 0:
			return nil, &UnlabelledError{File: f}
		}
		sides[side].Reports = append(sides[side].Reports, rep)
	}
	return sides, nil
}

// ComparisonAs writes c in format ("" is text), one of ViewFormats; html
// draws the sides' latency spectra too.
func ComparisonAs(w io.Writer, format string, c *Comparison, sides []Side) error {
	switch format {
	case "json":
		j, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(j, '\n'))
		return err
	case "html":
		return CompareHTML(w, c, sides)
	}
	return CompareText(w, c)
}

// CapacityAs writes c in format, one of ViewFormats; html's page footer
// names version.
func CapacityAs(w io.Writer, format string, c *Capacity, version string) error {
	switch format {
	case "json":
		return CapacityJSON(w, c)
	case "html":
		return CapacityHTML(w, c, version)
	}
	return CapacityText(w, c)
}

// Show prints r as a run prints it: its JSON, or its text summary followed
// by a line on the server's usage when it was sampled (--server-pid).
func Show(w io.Writer, r *Report, asJSON bool) error {
	if asJSON {
		return Encoders["json"](w, r, Options{})
	}
	if err := Encoders["text"](w, r, Options{}); err != nil {
		return err
	}
	if u := r.ServerUsage; u != nil {
		fmt.Fprintf(w, "Server (--server-pid %v): %.2f CPU-s in the window (%.2f cores), RSS %.1f MiB before connecting, %.1f MiB peak\n",
			u.PIDs, u.CPUSeconds, u.CPUCores, float64(u.RSSBeforeKiB)/1024, float64(u.MaxRSSKiB)/1024)
	}
	return nil
}

// UnlabelledError is ReadSides' refusal of a file that comes before the
// first label when there are labels: it belongs to no side.
type UnlabelledError struct{ File string }

func (e *UnlabelledError) Error() string {
	return e.File + ": before the first label, so on no side (each side's files follow its label)"
}
