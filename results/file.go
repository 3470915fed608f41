package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wsbench/wsbench/scenario"
)

// WriteFile writes the report as JSON to path atomically: a temporary file in
// the same folder, synced, then renamed over path. A reader never sees half a
// file and an existing file is never half-overwritten.
func (r *Report) WriteFile(path string) error {
	b, err := r.MarshalIndent()
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return WriteAtomic(path, b)
}

// WriteAtomic writes b to path so that path never holds part of it: a
// temporary file in the same folder, synced, then renamed over path.
func WriteAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CheckWritable reports, before a run starts, whether a result could be
// written to path: its folder exists and accepts new files, and path is not a folder.
func CheckWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	f, err := os.CreateTemp(dir, ".wsbench-check-*")
	if err != nil {
		return fmt.Errorf("folder %s is not writable: %w", dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// Read loads a result file written by WriteFile (or `wsbench run -o`).
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Parse reads a result document from b.
func Parse(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a wsbench result: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("result schema %d, this wsbench reads schema %d", r.Schema, Schema)
	}
	// A file written before the redaction rule widened shows no more than a
	// new one would.
	r.Scenario = Redact(r.Scenario)
	r.Target = scenario.RedactURL(r.Target, r.Scenario.SecretParams)
	return &r, nil
}
