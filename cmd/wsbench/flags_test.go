package main

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/orchestrate"
	"github.com/wsbench/wsbench/scenario"
)

// TestWithFlag: an orchestrate.FieldError is named by its flag wherever it
// sits in the message; other errors pass unchanged.
func TestWithFlag(t *testing.T) {
	field := &orchestrate.FieldError{Key: "procs", Err: errors.New("no client process reported a result: x")}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"the field error itself", field, "--procs: no client process reported a result: x"},
		{"wrapped: the text around it stays", fmt.Errorf("h_1, round 2: %w", field), "h_1, round 2: --procs: no client process reported a result: x"},
		{"no field error: unchanged", errors.New("procs: a plain message"), "procs: a plain message"},
		// a refusal orchestrate words in keys, cmd in flags
		{"worded in flags", &orchestrate.FieldError{Key: "threshold", Err: orchestrate.ErrAbortNoIntervals},
			"--threshold: :abort is checked at the end of each --interval; --interval 0 leaves nothing to check it on"},
	} {
		if got := withFlag(tc.err).Error(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if withFlag(nil) != nil {
		t.Error("withFlag(nil) is not nil")
	}
}

// TestFlagValues: the value types parse, refuse naming their flag (shown
// as is, not in pflag's "invalid argument" wrapping), and --stage replaces
// a scenario file's stages with its own, in order.
func TestFlagValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the error, "" for none
	}{
		{[]string{"--io", "syscalls", "--workers", "3", "--stage", "1s:5", "--stage", "2s:9:100:up"}, ""},
		{[]string{"--io", "aio"}, `--io: want auto, io_uring or syscalls, got "aio"`},
		{[]string{"--workers", "-1"}, "--workers: must not be negative, got -1"},
		{[]string{"--repeat", "0"}, "--repeat: must be at least 1, got 0"},
		{[]string{"--workers", "x"}, `invalid argument "x" for "--workers" flag`},
		{[]string{"--stage", "1s"}, `--stage "1s": want DURATION:CONNS[:RATE[:NAME]]`},
	} {
		spec := scenario.Default()
		spec.Stages = []scenario.Stage{{Name: "from the file", Conns: 1}}
		fs, o := runFlags(&spec, io.Discard)
		err := parse(fs, tc.args)
		if tc.want != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
			}
			continue
		}
		if err != nil || o.driver.IO != "syscalls" || o.driver.Workers != 3 || fmt.Sprint(spec.Stages) != "[{ 1s 5 0} {up 2s 9 100}]" {
			t.Errorf("%v: %v, driver %+v, stages %v", tc.args, err, o.driver, spec.Stages)
		}
	}
}

// TestFlagNames: every scenario key names a flag of run (or is one only a
// scenario file sets), so that withFlag never names a flag that does not
// exist; a scenario error comes out naming the flags, all of them.
func TestFlagNames(t *testing.T) {
	spec := scenario.Default()
	fs, _ := runFlags(&spec, io.Discard)
	for _, key := range specKeys() {
		name := flagName(key)
		if fileOnlyKeys[key] {
			if name != key {
				t.Errorf("%s: named %s, want the key", key, name)
			}
			continue
		}
		if !strings.HasPrefix(name, "--") || fs.Lookup(strings.TrimPrefix(name, "--")) == nil {
			t.Errorf("key %s: %s is no flag of run", key, name)
		}
	}
	for key, want := range map[string]string{"groups[1].conns": "groups[1].conns", "stages[0].duration": "stages[0].duration", "stages": "--stage"} {
		if got := flagName(key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
	several := &scenario.FieldError{Err: fmt.Errorf("%s 3 needs more; split with %s 2", scenario.Ref("conns"), scenario.Ref("source_ip"))}
	if got, want := withFlag(several).Error(), "--conns 3 needs more; split with --source-ip 2"; got != want {
		t.Errorf("a FieldError of several settings: %q, want %q", got, want)
	}
	spec.Think, spec.Rate, spec.MaxInflight, spec.Conns = scenario.Duration(time.Millisecond), 10, -1, 0
	err := withFlag(fmt.Errorf("round 2: %w", spec.Validate()))
	for _, want := range []string{"round 2: ", "--think: applies to the closed model only; the open model's pace is --rate",
		"--max-inflight: must not be negative, got -1", "--conns: must be at least 1, got 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

// specKeys are the JSON keys of scenario.Spec.
func specKeys() []string {
	var keys []string
	st := reflect.TypeFor[scenario.Spec]()
	for i := range st.NumField() {
		if name, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}
