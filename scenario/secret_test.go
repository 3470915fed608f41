package scenario

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretParam(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  bool
	}{
		{"token", nil, true},                // the plainest name of all
		{"TOKEN", nil, true},                // names compare case-insensitively
		{"access_token", nil, true},         // OAuth 2 bearer in a query (RFC 6750 §2.3)
		{"id_token", nil, true},             // OpenID Connect
		{"jwt", nil, true},                  // leaked verbatim before the rule widened
		{"apikey", nil, true},               // leaked verbatim before the rule widened
		{"auth", nil, true},                 // leaked verbatim before the rule widened
		{"key", nil, true},                  // Google-style ?key=
		{"pwd", nil, true},                  // short password names are exact words
		{"sig", nil, true},                  // signed URLs
		{"sid", nil, true},                  // session ids
		{"session", nil, true},              // session ids
		{"X-Amz-Signature", nil, true},      // contains "signature"
		{"X-Amz-Credential", nil, true},     // contains "credential"
		{"x-amz-security-token", nil, true}, // contains "token"
		{"csrf_token", nil, true},           // contains "token"
		{"client_secret", nil, true},        // contains "secret"
		{"user_password", nil, true},        // contains "password"
		{"PHPSESSID", nil, true},            // contains "sessid"
		{"JSESSIONID", nil, true},           // contains "session"
		{"subscription-key", nil, true},     // ends in -key
		{"hmac_sig", nil, true},             // ends in _sig
		{"db.pass", nil, true},              // ends in .pass
		{"room", nil, false},                // an ordinary parameter stays visible
		{"user", nil, false},                // so does a user name
		{"monkey", nil, false},              // "key" at the end without a separator is not a key
		{"author", nil, false},              // "auth" is a whole word only
		{"passage", nil, false},             // "pass" is a whole word only
		{"", nil, false},                    // no name, nothing to hide
		{"room", []string{"Room"}, true},    // a flag adds a name, case-insensitively
		{"token", []string{"sig"}, true},    // and never takes the defaults away
	} {
		if got := SecretParam(tc.name, tc.extra); got != tc.want {
			t.Errorf("SecretParam(%q, %q) = %v, want %v", tc.name, tc.extra, got, tc.want)
		}
	}
}

func TestSecretHeader(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  bool
	}{
		{"Authorization", nil, true},             // the bearer header
		{"proxy-authorization", nil, true},       // its proxy twin
		{"Cookie", nil, true},                    // session cookies
		{"Set-Cookie", nil, true},                // the same, from a server
		{"Sec-WebSocket-Key", nil, true},         // the handshake nonce
		{"X-Api-Key", nil, true},                 // leaked verbatim before the rule widened
		{"X-Auth-Token", nil, true},              // X-Auth…
		{"X-Authorization", nil, true},           // X-Auth…
		{"X-CSRF-Token", nil, true},              // X-…-Token
		{"X-Client-Secret", nil, true},           // X-…-Secret
		{"X-Signing-Key", nil, true},             // X-…-Key
		{"Ocp-Apim-Subscription-Key", nil, true}, // not X-, but ends in -key
		{"Api-Key", nil, true},                   // the parameter rule applies to headers too
		{"Origin", nil, false},                   // ordinary headers stay visible
		{"User-Agent", nil, false},               // so does the client's name
		{"X-Request-Id", nil, false},             // and a trace id
		{"X-Tenant", []string{"x-tenant"}, true}, // a flag adds a header
	} {
		if got := SecretHeader(tc.name, tc.extra); got != tc.want {
			t.Errorf("SecretHeader(%q, %q) = %v, want %v", tc.name, tc.extra, got, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Password and secret parameters go, the rest stays in order.
		{"ws://u:pw@h:1/p?room=a&token=t1&jwt=t2", "ws://u:" + Redacted + "@h:1/p?room=a&token=" + Redacted + "&jwt=" + Redacted},
		// A user name alone is not a secret.
		{"ws://u@h/", "ws://u@h/"},
		// An '@' in the path does not make userinfo.
		{"ws://h/a:b@c", "ws://h/a:b@c"},
		// Escaped names are recognised, values encoded or not.
		{"ws://h/?api%5Fkey=a%2Bb&x=1", "ws://h/?api%5Fkey=" + Redacted + "&x=1"},
		// The fragment carries OAuth implicit-flow tokens.
		{"ws://h/#access_token=t3&state=s", "ws://h/#access_token=" + Redacted + "&state=s"},
		// Not a valid URL (bad escape): redacted all the same.
		{"ws://u:p%zz@h/?token=t4", "ws://u:" + Redacted + "@h/?token=" + Redacted},
		// A parameter without a value has nothing to hide.
		{"ws://h/?token&room=", "ws://h/?token&room="},
		{"", ""},
	} {
		if got := RedactURL(tc.in, nil); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactQueryKeepsPlaceholders(t *testing.T) {
	got := RedactQuery("user={{conn}}&token={{token}}&access_token=s5&sig=abc{{conn}}", nil)
	want := "user={{conn}}&token={{token}}&access_token=" + Redacted + "&sig=" + Redacted
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSpecRedact: every place of a Spec that holds a secret is redacted,
// by the default rule and by the names flags add.
func TestSpecRedact(t *testing.T) {
	s := Default()
	s.Target = "ws://u:s1@127.0.0.1:9/?token=s2&jwt=s3&room=keep1"
	s.Query = "access_token=s4&tenant=s5&n={{conn}}"
	s.Headers = []string{"Authorization: Bearer s6", "X-Api-Key: s7", "X-Tenant: s8", "X-Trace: keep2"}
	s.SecretParams, s.SecretHeaders = []string{"tenant"}, []string{"x-tenant"}
	r := s.Redact()
	doc := strings.Join(append([]string{r.Target, r.Query}, r.Headers...), " ")
	for _, secret := range []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"} {
		if strings.Contains(doc, secret) {
			t.Errorf("%s left in %s", secret, doc)
		}
	}
	for _, keep := range []string{"keep1", "keep2", "n={{conn}}", "Authorization: " + Redacted} {
		if !strings.Contains(doc, keep) {
			t.Errorf("%q lost from %s", keep, doc)
		}
	}
	if s.Headers[0] != "Authorization: Bearer s6" {
		t.Error("Redact changed the Spec it was given")
	}
}

// TestScrubber: a text of unknown shape loses every secret value of the
// Spec, in each form it may be printed in, and the secrets of any URL in it.
func TestScrubber(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("tok-one\n\ntok+two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Default()
	s.Target = "ws://u:p%40ss@127.0.0.1:9/?token=ab%2Fcd"
	s.Headers = []string{"Authorization: Bearer bearer-cred"}
	s.Query, s.TokensFile = "t={{token}}", tokens
	scrub := s.Scrubber()
	for _, tc := range []struct{ in, leak string }{
		{"dial ws://u:p%40ss@127.0.0.1:9/?token=ab%2Fcd: refused", "p%40ss"}, // the URL as written
		{"password p@ss", "p@ss"},               // decoded
		{"token ab/cd and ab%2Fcd", "ab/cd"},    // decoded and encoded
		{"header: bearer-cred", "bearer-cred"},  // the credential after the scheme
		{"conn 3: t=tok%2Btwo", "tok%2Btwo"},    // a token as the query carries it
		{"conn 4: tok-one", "tok-one"},          // a token as the file holds it
		{"see ws://h/?sig=ab&room=r", "sig=ab"}, // a short value in a URL, by its name
	} {
		if got := scrub(tc.in); strings.Contains(got, tc.leak) || !strings.Contains(got, Redacted) {
			t.Errorf("scrub(%q) = %q: %q left", tc.in, got, tc.leak)
		}
	}
	if got := scrub("room r, 12 connections"); got != "room r, 12 connections" {
		t.Errorf("a text without secrets changed: %q", got)
	}
}

// FuzzRedactURL: redacting is idempotent, and whatever net/url reads as a
// password or a secret query parameter in the input, it reads as Redacted
// in the output.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"ws://u:p@h:1/x?token=a&b=c#sig=d", "ws://h/?api%5Fkey=1;x=2", "ws://u:p@x@h/", "wss://h?jwt", "x://a:b@c/d@e?f=g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := RedactURL(raw, nil)
		if again := RedactURL(out, nil); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", raw, out, again)
		}
		in, err := url.Parse(raw)
		if err != nil {
			return
		}
		got, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q parsed, its redaction %q does not: %v", raw, out, err)
		}
		if pw, ok := in.User.Password(); ok && pw != "" {
			if gp, _ := got.User.Password(); gp != Redacted {
				t.Errorf("%q: password %q left as %q in %q", raw, pw, gp, out)
			}
		}
		q, err := url.ParseQuery(got.RawQuery)
		if err != nil {
			return
		}
		for name, vals := range q {
			for _, v := range vals {
				if SecretParam(name, nil) && v != "" && v != Redacted && v != "{{token}}" && v != "{{conn}}" {
					t.Errorf("%q: %s=%q left in %q", raw, name, v, out)
				}
			}
		}
	})
}

func TestRedactSubprotocols(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		// A plain protocol name stays.
		{[]string{"chat", "graphql-ws"}, []string{"chat", "graphql-ws"}},
		// Kubernetes: the token is the last label of a bearer protocol.
		{[]string{"base64url.bearer.authorization.k8s.io.c2VjcmV0", "base64.binary.k8s.io"},
			[]string{"base64url.bearer.authorization.k8s.io." + Redacted, "base64.binary.k8s.io"}},
		// A secret name as one protocol, the credential as the next.
		{[]string{"access_token", "abc.def.ghi", "chat"}, []string{"access_token", Redacted, "chat"}},
		{[]string{"Authorization", "s3cret"}, []string{"Authorization", Redacted}},
		{nil, nil},
	} {
		got := RedactSubprotocols(tc.in, nil)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("RedactSubprotocols(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
