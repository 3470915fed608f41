package scenario

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/internal/flow"
)

// TestResolvePreset: protocol and protocol_opts become the preset's
// Protocol, ${NAME} filled in; each problem is a FieldError on protocol or
// protocol_opts naming the option, never quoting a secret.
func TestResolvePreset(t *testing.T) {
	t.Setenv("WSB_PASS", "s3cr3tpass")
	var names flow.Names
	p, errs := resolvePreset(Spec{Protocol: "stomp", ProtocolOpts: []string{"login=guest", "passcode=${WSB_PASS}", "heart-beat=0,0"}}, &names)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	connect := string(p.Open[0].Send.Append(nil, &flow.Values{}))
	if p.Name != "stomp" || !strings.Contains(connect, "\npasscode:s3cr3tpass\n") || len(p.Every) != 0 {
		t.Errorf("stomp preset: %s %q every %v", p.Name, connect, p.Every)
	}
	if p, errs := resolvePreset(Spec{}, &names); p != nil || errs != nil {
		t.Errorf("no protocol: %v %v, want nothing", p, errs)
	}
	for _, c := range []struct {
		name string
		spec Spec
		keys []string
		says []string
	}{
		{"an unknown preset", Spec{Protocol: "amqp"}, []string{"protocol"}, []string{`"amqp"`, "jsonrpc, graphql-ws"}},
		{"options without a preset", Spec{ProtocolOpts: []string{"qos=1"}}, []string{"protocol_opts"}, []string{"\x00protocol\x00"}},
		{"a bad option", Spec{Protocol: "mqtt", ProtocolOpts: []string{"qos=2", "topic=a/+"}}, []string{"protocol_opts", "protocol_opts"}, []string{"mqtt qos: want 0 or 1", "mqtt topic:"}},
		{"an unknown option", Spec{Protocol: "mqtt", ProtocolOpts: []string{"qso=1"}}, []string{"protocol_opts"}, []string{"qso: no such option (mqtt has topic"}},
		{"no =, not quoted (a secret given alone)", Spec{Protocol: "stomp", ProtocolOpts: []string{"hunter22"}}, []string{"protocol_opts"}, []string{"want KEY=VALUE", "passcode"}},
		{"an option twice", Spec{Protocol: "mqtt", ProtocolOpts: []string{"qos=1", "qos=0"}}, []string{"protocol_opts"}, []string{"qos given twice"}},
		{"an unset variable", Spec{Protocol: "stomp", ProtocolOpts: []string{"passcode=${WSB_NOT_SET_ANYWHERE}"}}, []string{"protocol_opts"}, []string{"passcode: ${WSB_NOT_SET_ANYWHERE}"}},
	} {
		p, errs := resolvePreset(c.spec, &names)
		var keys []string
		text := ""
		for _, e := range errs {
			var fe *FieldError
			if !errors.As(e, &fe) {
				t.Errorf("%s: %v is not a FieldError", c.name, e)
				continue
			}
			keys = append(keys, fe.Key)
			text += fe.Err.Error() + "\n"
		}
		if p != nil || !slices.Equal(keys, c.keys) {
			t.Errorf("%s: %v keys %q, want none and keys %q", c.name, p, keys, c.keys)
		}
		for _, s := range c.says {
			if !strings.Contains(text, s) {
				t.Errorf("%s: %q does not say %q", c.name, text, s)
			}
		}
		if strings.Contains(text, "hunter22") {
			t.Errorf("%s: the error quotes a secret: %q", c.name, text)
		}
	}
}

// TestRedactProtocolOpts: secret options are redacted in the Spec a result
// holds and are among the values scrubbed from printed lines.
func TestRedactProtocolOpts(t *testing.T) {
	s := Spec{Protocol: "stomp", ProtocolOpts: []string{"login=guest", "passcode=hunter22", "destination=/topic/x"}}
	r := s.Redact()
	if want := []string{"login=guest", "passcode=" + Redacted, "destination=/topic/x"}; !slices.Equal(r.ProtocolOpts, want) {
		t.Errorf("redacted %q, want %q", r.ProtocolOpts, want)
	}
	if s.ProtocolOpts[1] != "passcode=hunter22" {
		t.Error("Redact changed the Spec it was given")
	}
	if !slices.Contains(s.SecretValues(), "hunter22") || slices.Contains(s.SecretValues(), "guest") {
		t.Errorf("secret values %q: want the passcode, not the login", s.SecretValues())
	}
	// A secret by its name alone (SecretParam), whatever the preset.
	s = Spec{Protocol: "jsonrpc", ProtocolOpts: []string{"api_key=k3y-value"}}
	if r := s.Redact(); r.ProtocolOpts[0] != "api_key="+Redacted {
		t.Errorf("redacted %q", r.ProtocolOpts)
	}
}
