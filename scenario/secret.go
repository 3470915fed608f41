package scenario

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces a secret wherever wsbench writes a setting: results,
// summaries, reports, error lines.
const Redacted = "REDACTED"

// secretNames are query parameter (and header) names whose values are
// secret, compared case-insensitively.
var secretNames = []string{
	"token", "access_token", "refresh_token", "id_token", "auth_token", "jwt", "bearer",
	"apikey", "api_key", "api-key", "key", "access_key", "secret_key", "private_key", "client_key",
	"secret", "client_secret", "password", "passwd", "pwd", "pass", "auth", "authorization",
	"sig", "signature", "session", "sessionid", "session_id", "sid", "cookie",
	"credential", "credentials", "otp", "ticket",
}

// secretSubstrings make any name that contains one secret.
var secretSubstrings = []string{
	"token", "secret", "password", "passwd", "apikey", "api_key", "api-key", "signature", "session", "sessid", "cookie", "credential",
}

// secretSuffixes make a name secret when it ends with one after a
// separator ("subscription-key", "x_sig", "db.pass").
var secretSuffixes = []string{"key", "sig", "pass", "pwd", "jwt", "sid", "auth"}

// secretHeaderNames are headers whose values are secret besides those the
// parameter rule finds.
var secretHeaderNames = []string{"authorization", "proxy-authorization", "cookie", "set-cookie", "sec-websocket-key"}

// SecretParam reports whether a query parameter named name carries a secret:
// it is one of a wide default set of names (token, access_token, jwt,
// apikey, key, password, sig, session, cookie, …), contains a strong word
// (token, secret, password, signature, session, sessid, cookie, credential,
// api_key …), ends in a separator and key, sig, pass, pwd, jwt, sid or
// auth, or is one of extra (all case-insensitive).
func SecretParam(name string, extra []string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return false
	}
	if slices.Contains(secretNames, n) || slices.ContainsFunc(extra, func(e string) bool { return strings.EqualFold(strings.TrimSpace(e), n) }) {
		return true
	}
	for _, s := range secretSubstrings {
		if strings.Contains(n, s) {
			return true
		}
	}
	for _, s := range secretSuffixes {
		if i := len(n) - len(s) - 1; i >= 0 && strings.HasSuffix(n, s) && strings.ContainsRune("_-.", rune(n[i])) {
			return true
		}
	}
	return false
}

// SecretHeader reports whether the value of the header named name is
// secret: Authorization, Proxy-Authorization, Cookie, Set-Cookie,
// Sec-WebSocket-Key, any X-Auth…, any X-…-Key, X-…-Token or X-…-Secret,
// any name SecretParam finds secret, or one of extra (case-insensitive).
func SecretHeader(name string, extra []string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	if slices.Contains(secretHeaderNames, n) || strings.HasPrefix(n, "x-auth") {
		return true
	}
	if strings.HasPrefix(n, "x-") {
		for _, s := range []string{"-key", "-token", "-secret"} {
			if strings.HasSuffix(n, s) {
				return true
			}
		}
	}
	return SecretParam(n, extra)
}

// RedactURL returns raw with the password of its userinfo and the values of
// its secret query and fragment parameters (SecretParam, with extra)
// replaced by Redacted; everything else, the order of the parameters
// included, stays as written. It works on the text, so a string that is
// not a valid URL is redacted too.
func RedactURL(raw string, extra []string) string {
	rest, frag, hasFrag := strings.Cut(raw, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	if i := strings.Index(rest, "//"); i >= 0 { // "scheme://" or "//": an authority
		i += 2
		auth := rest[i:]
		if j := strings.IndexByte(auth, '/'); j >= 0 {
			auth = auth[:j]
		}
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			if user, _, ok := strings.Cut(auth[:at], ":"); ok {
				rest = rest[:i] + user + ":" + Redacted + rest[i+at:]
			}
		}
	}
	out := rest
	if hasQuery {
		out += "?" + RedactQuery(query, extra)
	}
	if hasFrag {
		out += "#" + RedactQuery(frag, extra)
	}
	return out
}

// RedactQuery returns the query string q ("a=1&token=x") with the values of
// its secret parameters (SecretParam, with extra) replaced by Redacted. A
// value that is only a --query placeholder ({{token}}, {{conn}}) stays: it
// names where a secret goes, not the secret.
func RedactQuery(q string, extra []string) string {
	pairs := strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' })
	if len(pairs) == 0 {
		return q
	}
	var b strings.Builder
	start := 0
	for _, p := range pairs {
		i := strings.Index(q[start:], p) + start
		b.WriteString(q[start:i])
		start = i + len(p)
		name, value, ok := strings.Cut(p, "=")
		if un, err := url.QueryUnescape(name); err == nil {
			name = un
		}
		if ok && value != "" && value != "{{token}}" && value != "{{conn}}" && SecretParam(name, extra) {
			p = p[:len(p)-len(value)] + Redacted
		}
		b.WriteString(p)
	}
	b.WriteString(q[start:])
	return b.String()
}

// RedactSubprotocols returns protos with the credentials that ride in
// Sec-WebSocket-Protocol (browsers cannot set Authorization) replaced by
// Redacted: the protocol after one that is a secret name ("access_token",
// "<token>"), and the last dot-separated label of one with a secret name
// among its others ("base64url.bearer.authorization.k8s.io.<token>").
func RedactSubprotocols(protos, extra []string) []string {
	if len(protos) == 0 {
		return protos
	}
	out := make([]string, len(protos))
	for i, p := range protos {
		out[i] = p
		if i > 0 && SecretParam(protos[i-1], extra) {
			out[i] = Redacted
			continue
		}
		labels := strings.Split(p, ".")
		if len(labels) > 1 && slices.ContainsFunc(labels[:len(labels)-1], func(l string) bool { return SecretParam(l, extra) }) {
			labels[len(labels)-1] = Redacted
			out[i] = strings.Join(labels, ".")
		}
	}
	return out
}

// Redact returns s with its secrets replaced by Redacted, as it goes into a
// result or a report: the target URL's password and secret query
// parameters, the secret parameters of Query, the values of secret headers
// (SecretHeader, with SecretHeaders), credentials among the
// subprotocols (RedactSubprotocols) and secret protocol options (a STOMP
// passcode).
func (s Spec) Redact() Spec {
	s.Target = RedactURL(s.Target, s.SecretParams)
	s.Query = RedactQuery(s.Query, s.SecretParams)
	s.Subprotocols = RedactSubprotocols(s.Subprotocols, s.SecretParams)
	s.ProtocolOpts = redactProtocolOpts(s.Protocol, s.ProtocolOpts) // presets: a passcode, a password
	if len(s.Headers) > 0 {
		hs := make([]string, len(s.Headers))
		for i, h := range s.Headers {
			name, _, ok := strings.Cut(h, ":")
			if ok && SecretHeader(name, s.SecretHeaders) {
				h = strings.TrimSpace(name) + ": " + Redacted
			}
			hs[i] = h
		}
		s.Headers = hs
	}
	return s
}

// SecretValues returns every secret value s holds, in the forms it may be
// printed in (as written, URL-decoded, URL-encoded): the target's password
// and secret query values, those of Query, secret header values (and the
// credentials after a scheme such as "Bearer", a cookie's values), secret
// subprotocols (RedactSubprotocols), the tokens of
// TokensFile (an unreadable file adds none), the values of the environment
// variables the scenario names (${NAME}, however named), and the values of
// DataFile's columns with secret names (SecretParam: token, password, …). A printed line can be
// scrubbed of them when its structure is unknown, such as a child
// process's stderr. Values shorter than 4 bytes are left out: replacing
// them everywhere would garble unrelated text.
func (s Spec) SecretValues() []string {
	var vals []string
	add := func(v string) {
		for _, f := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if len(f) >= 4 && !slices.Contains(vals, f) {
				vals = append(vals, f)
			}
		}
		if un, err := url.QueryUnescape(v); err == nil && un != v && len(un) >= 4 && !slices.Contains(vals, un) {
			vals = append(vals, un)
		}
	}
	query := func(q string) {
		for _, p := range strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' }) {
			name, value, ok := strings.Cut(p, "=")
			if un, err := url.QueryUnescape(name); err == nil {
				name = un
			}
			if ok && SecretParam(name, s.SecretParams) && value != "{{token}}" && value != "{{conn}}" {
				add(value)
			}
		}
	}
	if u, err := url.Parse(s.Target); err == nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
		query(u.RawQuery)
		query(u.Fragment)
	} else {
		rest, frag, _ := strings.Cut(s.Target, "#")
		_, q, _ := strings.Cut(rest, "?")
		query(q)
		query(frag)
	}
	query(s.Query)
	for _, h := range s.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || !SecretHeader(name, s.SecretHeaders) {
			continue
		}
		value = strings.TrimSpace(value)
		add(value)
		if _, cred, ok := strings.Cut(value, " "); ok {
			add(strings.TrimSpace(cred))
		}
		for _, c := range strings.Split(value, ";") { // a cookie's pairs
			if _, v, ok := strings.Cut(c, "="); ok {
				add(strings.TrimSpace(v))
			}
		}
	}
	for i, p := range s.Subprotocols {
		if r := RedactSubprotocols(s.Subprotocols, s.SecretParams)[i]; r != p {
			add(p)
			add(p[strings.LastIndexByte(p, '.')+1:])
		}
	}
	if s.TokensFile != "" {
		if b, err := os.ReadFile(s.TokensFile); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					add(line)
				}
			}
		}
	}
	// script: the values of the environment variables the scenario uses
	// (${NAME}), and of the data file's columns with secret names.
	for _, v := range s.envSecrets() {
		add(v)
	}
	for _, v := range s.dataSecrets() {
		add(v)
	}
	// presets: the secret options of the protocol preset.
	for _, v := range protocolSecrets(s.Protocol, s.ProtocolOpts) {
		add(v)
	}
	// Longest first, so that a value containing another is replaced whole.
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	return vals
}

// urlInText finds URLs in a line of text.
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// Scrubber returns a function that redacts a text whose structure is not
// known (an error line, a child process's stderr): every one of s's secret
// values (SecretValues) in it, and the secrets of every URL in it
// (RedactURL, whatever their length).
func (s Spec) Scrubber() func(string) string {
	vals := s.SecretValues()
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range vals {
		pairs = append(pairs, v, Redacted)
	}
	r := strings.NewReplacer(pairs...)
	return func(text string) string {
		text = urlInText.ReplaceAllStringFunc(text, func(u string) string { return RedactURL(u, s.SecretParams) })
		return r.Replace(text)
	}
}
