package results

import (
	"net/url"
	"slices"
	"strings"

	"github.com/wsbench/wsbench/scenario"
)

// Redacted replaces a secret in a result.
const Redacted = "REDACTED"

// alwaysSecretHeaders are redacted whatever --secret-header says.
var alwaysSecretHeaders = []string{"authorization", "proxy-authorization", "cookie", "sec-websocket-key"}

// Redact returns spec with its secrets replaced by Redacted, as it goes into
// a result: the values of secret headers (Authorization, Cookie,
// Sec-WebSocket-Key and spec.SecretHeaders), the password of the target
// URL's userinfo, and the values of its query parameters named in
// spec.SecretParams.
func Redact(spec scenario.Spec) scenario.Spec {
	spec.Target = RedactURL(spec.Target, spec.SecretParams)
	if len(spec.Headers) > 0 {
		hs := make([]string, len(spec.Headers))
		for i, h := range spec.Headers {
			name, _, ok := strings.Cut(h, ":")
			n := strings.ToLower(strings.TrimSpace(name))
			if ok && (slices.Contains(alwaysSecretHeaders, n) || slices.ContainsFunc(spec.SecretHeaders, func(s string) bool { return strings.EqualFold(s, n) })) {
				h = strings.TrimSpace(name) + ": " + Redacted
			}
			hs[i] = h
		}
		spec.Headers = hs
	}
	return spec
}

// RedactURL hides a URL's userinfo password and the values of the named
// query parameters. A string that does not parse as a URL is returned as is.
func RedactURL(raw string, secretParams []string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return raw
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Redacted)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if slices.ContainsFunc(secretParams, func(s string) bool { return strings.EqualFold(s, k) }) {
				for i := range q[k] {
					q[k][i] = Redacted
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}
