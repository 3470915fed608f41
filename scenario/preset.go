package scenario

// Protocol presets (protocol:, protocol_opts:; --protocol, --protocol-opt):
// resolved through package protocols into the flow.Protocol the Spec's own
// request, open, stream, rules and every then change.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/protocols"
)

// resolvePreset is the Protocol the Spec's protocol names, built with its
// protocol_opts (nil: no preset), its templates' variables numbered by
// names. Problems are FieldErrors keyed protocol or protocol_opts, each
// naming its option; a secret option's value is never quoted.
func resolvePreset(s Spec, names *flow.Names) (*flow.Protocol, []error) {
	var errs []error
	bad := func(key, format string, a ...any) { errs = append(errs, fieldErr(key, format, a...)) }
	if s.Protocol == "" {
		if len(s.ProtocolOpts) > 0 {
			bad("protocol_opts", "options of a protocol preset: give the preset, %s", Ref("protocol"))
		}
		return nil, errs
	}
	opts, optErrs := presetOptions(s.Protocol, s.ProtocolOpts)
	errs = append(errs, optErrs...)
	p, err := protocols.PresetWith(s.Protocol, opts, names)
	var unknown *protocols.UnknownError
	switch {
	case errors.As(err, &unknown):
		bad("protocol", "%v", err)
	case err != nil:
		for _, e := range flatten(err) {
			bad("protocol_opts", "%s %v", s.Protocol, e)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// presetOptions reads protocol_opts (KEY=VALUE each) into a map, ${NAME}
// filled in from the environment.
func presetOptions(preset string, list []string) (map[string]string, []error) {
	var errs []error
	opts := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			// Not quoted: it may be a secret given without its key.
			errs = append(errs, fieldErr("protocol_opts", "want KEY=VALUE, such as qos=1 (%s's options: %s)", preset, optionKeys(preset)))
			continue
		case hasKey(opts, k):
			errs = append(errs, fieldErr("protocol_opts", "%s given twice", k))
			continue
		}
		ev, err := expandEnv(v)
		if err != nil {
			errs = append(errs, fieldErr("protocol_opts", "%s: %v", k, err))
			continue
		}
		opts[k] = ev
	}
	return opts, errs
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// optionKeys lists a preset's option keys ("" for an unknown preset).
func optionKeys(preset string) string {
	var keys []string
	for _, o := range protocols.Options(preset) {
		keys = append(keys, o.Key)
	}
	return strings.Join(keys, ", ")
}

// redactProtocolOpts is list with the values of the preset's secret
// options (a STOMP passcode, an MQTT password) replaced by Redacted.
func redactProtocolOpts(preset string, list []string) []string {
	if len(list) == 0 {
		return list
	}
	out := make([]string, len(list))
	for i, kv := range list {
		out[i] = kv
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" && secretOption(preset, strings.TrimSpace(k)) {
			out[i] = fmt.Sprintf("%s=%s", k, Redacted)
		}
	}
	return out
}

// secretOption reports whether option key holds a secret: the preset says
// so, or its name is a secret's (SecretParam).
func secretOption(preset, key string) bool {
	return protocols.Secret(preset, key) || SecretParam(key, nil)
}

// protocolSecrets are the values of the secret options in list.
func protocolSecrets(preset string, list []string) []string {
	var vals []string
	for _, kv := range list {
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" && secretOption(preset, strings.TrimSpace(k)) {
			vals = append(vals, v)
		}
	}
	return vals
}
