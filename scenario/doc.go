// Package scenario says what a run does: the Spec that command-line flags (and,
// later, scenario files) fill, its validation, and the open-model Schedule.
//
// A Spec is embedded in the result document, so a result always carries the
// full effective settings that produced it, with its secrets redacted
// (Spec.Redact; SecretParam and SecretHeader say which names are secret,
// Spec.Scrubber cleans text of unknown shape). Compile is the one
// validation: it reports every problem at once, each a FieldError naming the
// setting's key (the command line names its flag instead), and returns the
// Compiled values a run uses, parsed once, with the files the Spec names read
// (Validate is its checks without reading files).
//
// The Schedule is a pure function from a message's index to its intended send
// time, measured from the start of the run. It is absolute, so rounding never
// accumulates into drift, and it is what coordinated-omission-corrected latency
// is measured from.
//
//	spec := scenario.Default()
//	spec.Rate = 20000
//	c, err := scenario.Compile(spec)
//	if err != nil { ... }
//	sched := spec.Schedule()
//	due := sched.At(conn, k) // intended offset of connection conn's k-th message
package scenario
