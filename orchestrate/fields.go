package orchestrate

import (
	"errors"
	"strings"
)

// NameFields rewrites each FieldError in err's tree (scenario's, and
// orchestrate's, which is the same type) in err's text to name its setting
// as name(key) does: a command names its flags (--max-inflight for
// max_inflight). The rest of err's text stays as it was; err without a
// FieldError is returned as it is.
func NameFields(err error, name func(key string) string) error {
	var fields []*FieldError
	fieldErrors(err, &fields)
	if len(fields) == 0 {
		return err
	}
	text := err.Error()
	for _, fe := range fields {
		text = strings.Replace(text, fe.Error(), fe.Text(name), 1)
	}
	return errors.New(text)
}

// fieldErrors collects the FieldErrors in err's tree, outermost first.
func fieldErrors(err error, into *[]*FieldError) {
	switch e := err.(type) {
	case nil:
	case *FieldError:
		*into = append(*into, e)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			fieldErrors(inner, into)
		}
	case interface{ Unwrap() error }:
		fieldErrors(e.Unwrap(), into)
	}
}
