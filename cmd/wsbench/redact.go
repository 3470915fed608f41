package main

import (
	"errors"

	"github.com/wsbench/wsbench/scenario"
)

// redactError returns err with spec's secrets scrubbed from its text
// (scenario.Spec.Scrubber), keeping its kind (exitCoder) for the exit code.
// Every error line of run goes through it.
func redactError(err error, spec scenario.Spec) error {
	if err == nil || errors.Is(err, errHelp) {
		return err
	}
	var c exitCoder = failedError{err} // an error of no kind: the run failed
	errors.As(err, &c)
	s := spec.Scrubber()(c.Error())
	switch c.(type) {
	case usageError:
		return usageError{errors.New(s)}
	case failedError:
		return failedError{errors.New(s)}
	}
	return err // the other kinds' texts are made of no input
}
