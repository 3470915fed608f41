package protocols

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/internal/flow"
)

// Option is one setting of a preset (--protocol-opt KEY=VALUE,
// protocol_opts: [KEY=VALUE]).
type Option struct {
	Key     string
	Default string // "" : unset
	Doc     string
	// Secret options (credentials) are redacted wherever a setting is
	// written (scenario.Spec.Redact).
	Secret bool
}

// preset is one protocol preset: its options and how it is built from them.
type preset struct {
	name  string
	doc   string
	opts  []Option
	build func(o *options) *flow.Protocol
}

// presets are the built-in presets, in the order Names lists them.
var presets = []*preset{jsonrpcPreset, graphqlWSPreset, socketioPreset, stompPreset, mqttPreset}

// Timeouts the presets give their opening steps (the option open_timeout
// changes it) and requests (a scenario's request.timeout replaces it).
const (
	openTimeout    = 10 * time.Second
	requestTimeout = 10 * time.Second
)

// commonOpts are the options every preset has.
var commonOpts = []Option{
	{Key: "open_timeout", Default: openTimeout.String(), Doc: "how long each reply of the opening (an ack, CONNACK) may take"},
}

// Names lists the presets' names.
func Names() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.name
	}
	return names
}

// Options lists the options of the preset name, with their defaults (nil:
// no such preset).
func Options(name string) []Option {
	if p := find(name); p != nil {
		return p.options()
	}
	return nil
}

// options are p's own options and the common ones.
func (p *preset) options() []Option { return append(slices.Clone(p.opts), commonOpts...) }

// Doc is a one-line description of the preset name ("" : no such preset).
func Doc(name string) string {
	if p := find(name); p != nil {
		return p.doc
	}
	return ""
}

// Secret reports whether option key of the preset name holds a secret
// (a password, an authentication payload).
func Secret(name, key string) bool {
	if p := find(name); p != nil {
		for _, o := range p.options() {
			if o.Key == key {
				return o.Secret
			}
		}
	}
	return false
}

func find(name string) *preset {
	for _, p := range presets {
		if p.name == name {
			return p
		}
	}
	return nil
}

// OptionError is a problem with one option of a preset.
type OptionError struct {
	Preset, Key string
	Err         error
}

func (e *OptionError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

// UnknownError says a preset name is not one of Names.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("%q: no such protocol preset (want %s)", e.Name, strings.Join(Names(), ", "))
}

// Preset returns the protocol preset name with options opts (missing
// options take their defaults, see Options). Its templates may use no
// variables of the run ({{user}}): PresetWith numbers them.
func Preset(name string, opts map[string]string) (*flow.Protocol, error) {
	return PresetWith(name, opts, nil)
}

// PresetWith is Preset with the run's variables: templates in the options
// (a JSON-RPC call's params, GraphQL variables) may name them ({{user}}),
// numbered by names. Every problem is returned at once: an UnknownError,
// or OptionErrors (errors.Join) naming their option.
func PresetWith(name string, opts map[string]string, names *flow.Names) (*flow.Protocol, error) {
	p := find(name)
	if p == nil {
		return nil, &UnknownError{name}
	}
	o := &options{preset: p, set: opts, names: names}
	all := p.options()
	var unknown []string
	for k := range opts {
		if !slices.ContainsFunc(all, func(po Option) bool { return po.Key == k }) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		keys := make([]string, len(all))
		for i, po := range all {
			keys[i] = po.Key
		}
		o.bad(k, "no such option (%s has %s)", name, strings.Join(keys, ", "))
	}
	timeout := o.duration("open_timeout", 0)
	if timeout <= 0 && len(o.errs) == 0 {
		o.bad("open_timeout", "must be positive, got %q", o.str("open_timeout"))
	}
	proto := p.build(o)
	if len(o.errs) > 0 {
		return nil, errors.Join(o.errs...)
	}
	proto.Name = name
	for i := range proto.Open {
		if proto.Open[i].Kind == flow.StepExpect {
			proto.Open[i].Timeout = timeout
		}
	}
	return proto, nil
}

// options reads a preset's options, collecting their problems.
type options struct {
	preset *preset
	set    map[string]string
	names  *flow.Names
	errs   []error
}

func (o *options) bad(key, format string, a ...any) {
	o.errs = append(o.errs, &OptionError{Preset: o.preset.name, Key: key, Err: fmt.Errorf(format, a...)})
}

// str is option key's value, or its default.
func (o *options) str(key string) string {
	if v, ok := o.set[key]; ok {
		return v
	}
	for _, po := range o.preset.options() {
		if po.Key == key {
			return po.Default
		}
	}
	panic("protocols: option " + key + " is not declared by " + o.preset.name)
}

// secret reports whether key is a secret option.
func (o *options) secret(key string) bool {
	for _, po := range o.preset.opts {
		if po.Key == key {
			return po.Secret
		}
	}
	return false
}

// isSet reports whether key was given.
func (o *options) isSet(key string) bool { _, ok := o.set[key]; return ok }

// json is option key as a template that renders valid JSON (of kind
// "array" or "object" when want says so; "" : any JSON value).
func (o *options) json(key, want string) *flow.Template {
	s := strings.TrimSpace(o.str(key))
	if s == "" {
		return nil
	}
	t, err := flow.ParseTemplate(s, o.names)
	if err != nil {
		o.bad(key, "%v", err)
		return nil
	}
	// Render with every field a 0: a field stands for a number or sits
	// inside a string, so the result is valid JSON whatever it takes.
	v := flow.Values{}
	if o.names != nil {
		for range o.names.List() {
			v.Vars = append(v.Vars, []byte("0"))
		}
	}
	b := t.Append(nil, &v)
	shown := strconv.Quote(s)
	if o.secret(key) {
		shown = "its value" // not quoted: a secret
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		o.bad(key, "%s is not JSON: %v", shown, err)
		return nil
	}
	switch want {
	case "array":
		if _, ok := x.([]any); !ok {
			o.bad(key, "%s: want a JSON array, such as [1,\"a\"]", shown)
			return nil
		}
	case "object":
		if _, ok := x.(map[string]any); !ok {
			o.bad(key, "%s: want a JSON object, such as {\"a\":1}", shown)
			return nil
		}
	}
	return t
}

// template is option key as a template (its fields rendered per message).
func (o *options) template(key string) *flow.Template {
	t, err := flow.ParseTemplate(o.str(key), o.names)
	if err != nil {
		o.bad(key, "%v", err)
		return nil
	}
	return t
}

// duration is option key as a Go duration (or, with unit, a bare number
// of unit).
func (o *options) duration(key string, unit time.Duration) time.Duration {
	s := strings.TrimSpace(o.str(key))
	if n, err := strconv.ParseUint(s, 10, 32); err == nil && unit != 0 {
		return time.Duration(n) * unit
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		o.bad(key, "want a duration such as 30s, got %q", s)
		return 0
	}
	return d
}

// builder puts a template together from literals (never parsed: a "{{" in
// a user's string stays a literal) and fields.
type builder struct {
	src   strings.Builder
	parts []flow.Part
}

func (b *builder) lit(s string) *builder {
	if s == "" {
		return b
	}
	b.src.WriteString(s)
	if n := len(b.parts); n > 0 && b.parts[n-1].Field == flow.Lit {
		b.parts[n-1].Lit = append(b.parts[n-1].Lit, s...)
		return b
	}
	b.parts = append(b.parts, flow.Part{Lit: []byte(s)})
	return b
}

// quoted adds s as a JSON string.
func (b *builder) quoted(s string) *builder {
	q, _ := json.Marshal(s)
	return b.lit(string(q))
}

// tmpl adds t's parts (nil: nothing).
func (b *builder) tmpl(t *flow.Template) *builder {
	if t == nil {
		return b
	}
	b.src.WriteString(t.Src)
	for _, p := range t.Parts {
		if p.Field == flow.Lit {
			b.lit(string(p.Lit))
			continue
		}
		b.parts = append(b.parts, p)
	}
	return b
}

// field adds a field: {{id}}, {{conn:dec8}}, {{id:be16}}.
func (b *builder) field(src string) *builder {
	t := flow.MustTemplate(src)
	b.src.WriteString(src)
	b.parts = append(b.parts, t.Parts...)
	return b
}

// done is the template; src, when given, is how it is shown (binary
// templates are shown described, not as their bytes).
func (b *builder) done(src ...string) *flow.Template {
	t := &flow.Template{Src: b.src.String(), Parts: b.parts}
	if len(src) > 0 {
		t.Src = src[0]
	}
	return t
}

// sendStep and expectStep are opening steps.
func sendStep(t *flow.Template) flow.Step { return flow.Step{Kind: flow.StepSend, Send: t} }

func expectStep(m flow.Matcher, shown string) flow.Step {
	if shown != "" {
		m.Src = shown
	}
	return flow.Step{Kind: flow.StepExpect, Match: m, Count: 1, Timeout: openTimeout}
}

// matcher is flow.MustMatcher shown as shown.
func matcher(s, shown string) flow.Matcher {
	m := flow.MustMatcher(s)
	if shown != "" {
		m.Src = shown
	}
	return m
}

// matcher parses a matcher built from option key's value.
func (o *options) matcher(key, s string) flow.Matcher {
	m, err := flow.ParseMatcher(s)
	if err != nil {
		o.bad(key, "%v", err)
	}
	return m
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
