package results

import (
	"github.com/wsbench/wsbench/scenario"
)

// Redacted replaces a secret in a result.
const Redacted = scenario.Redacted

// Redact returns spec with its secrets replaced by Redacted, as it goes into
// a result (see scenario.Spec.Redact): the target URL's password and secret
// query parameters, the secret parameters of --query and the values of
// secret headers, by the names scenario.SecretParam and
// scenario.SecretHeader find secret plus spec.SecretParams and
// spec.SecretHeaders.
func Redact(spec scenario.Spec) scenario.Spec { return spec.Redact() }
