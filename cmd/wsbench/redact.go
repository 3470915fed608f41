package main

import (
	"errors"

	"github.com/wsbench/wsbench/scenario"
)

// redactError returns err with spec's secrets scrubbed from its text
// (scenario.Spec.Scrubber), keeping its kind (usage, failed, threshold) for
// the exit code. Every error line of run goes through it.
func redactError(err error, spec scenario.Spec) error {
	if err == nil || errors.Is(err, errHelp) {
		return err
	}
	scrub := spec.Scrubber()
	var ue usageError
	var fe failedError
	var te thresholdError
	switch {
	case errors.As(err, &te):
		return err
	case errors.As(err, &ue):
		if s := scrub(ue.err.Error()); s != ue.err.Error() {
			return usageError{errors.New(s)}
		}
	case errors.As(err, &fe):
		if s := scrub(fe.err.Error()); s != fe.err.Error() {
			return failedError{errors.New(s)}
		}
	default:
		if s := scrub(err.Error()); s != err.Error() {
			return errors.New(s)
		}
	}
	return err
}
