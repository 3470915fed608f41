package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A scenario file is YAML whose keys are the result document's scenario
// fields (the Spec's JSON names: conns, duration, rate, max_inflight, …),
// so a result's "scenario" block is itself a valid scenario file. Durations
// are strings such as "10s" or "250ms". Every key is checked: an unknown
// key, a wrong type or an impossible value is an error that names the file,
// the line and the field.
//
//	target: ws://127.0.0.1:8080/echo
//	conns: 1000
//	duration: 30s
//	rate: 20000
//	max_inflight: 4

// LoadFile reads the scenario file at path on top of base (usually Default()).
// The result is not validated as a whole (flags may still change it); values
// that are wrong on their own (a negative count, a malformed duration) are
// reported here, with their line.
func LoadFile(path string, base Spec) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return base, err
	}
	return ParseFile(path, b, base)
}

// ParseFile is LoadFile on the file's contents; name is used in errors.
func ParseFile(name string, b []byte, base Spec) (Spec, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, errEOF) {
			return base, fmt.Errorf("%s: empty scenario file", name)
		}
		return base, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return base, fmt.Errorf("%s:%d: a scenario file holds one YAML document", name, extra.Line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return base, fmt.Errorf("%s:%d: want a mapping of settings (conns: 100, duration: 10s, …)", name, root.Line)
	}
	spec := base
	errs := decodeMapping(name, root, reflect.ValueOf(&spec).Elem(), "")
	errs = append(errs, checkFileSteps(name, spec)...) // script: a flow's steps, by line
	if spec.Mixed() {
		spec.ApplyGroups()
	}
	if spec.Staged() && len(errs) == 0 {
		errs = append(errs, checkStaged(name, root, spec)...)
		spec.ApplyStages()
	}
	if spec.SessionRate > 0 && len(errs) == 0 { // flowrun: a connection per session
		errs = append(errs, checkSessionRate(name, root, spec)...)
		spec.ApplySessionRate()
	}
	return spec, errors.Join(errs...)
}

// decodeMapping sets the fields of the struct v from the YAML mapping m,
// each key a field's JSON name; prefix goes before the keys in errors
// ("stages[1].").
func decodeMapping(name string, m *yaml.Node, v reflect.Value, prefix string) []error {
	fields := jsonFields(v.Type())
	seen := map[string]int{}
	var errs []error
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := m.Content[i], m.Content[i+1]
		key := k.Value
		if line, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: %s%s: set twice (first on line %d)", name, k.Line, prefix, key, line))
			continue
		}
		seen[key] = k.Line
		idx, ok := fields[key]
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: %sunknown field %q%s", name, k.Line, prefix, key, suggest(key, fields)))
			continue
		}
		f := v.Field(idx)
		if key == "size" && val.Kind == yaml.MappingNode && v.Type() == reflect.TypeFor[Spec]() {
			errs = append(errs, decodeSizeRange(name, val, v.Addr().Interface().(*Spec))...)
			continue
		}
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct {
			errs = append(errs, decodeList(name, val, f, prefix+key)...)
			continue
		}
		if f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct {
			if val.Kind != yaml.MappingNode {
				errs = append(errs, fmt.Errorf("%s:%d: %s%s: want a mapping, got %s", name, val.Line, prefix, key, describe(val)))
				continue
			}
			p := reflect.New(f.Type().Elem())
			errs = append(errs, decodeMapping(name, val, p.Elem(), prefix+key+".")...)
			f.Set(p)
			continue
		}
		if err := setField(f, val); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s%s: %v", name, val.Line, prefix, key, err))
		}
	}
	return errs
}

// decodeList sets the slice of structs f from the YAML sequence l, each
// item a mapping.
func decodeList(name string, l *yaml.Node, f reflect.Value, key string) []error {
	if l.Kind != yaml.SequenceNode {
		return []error{fmt.Errorf("%s:%d: %s: want a list of mappings, got %s", name, l.Line, key, describe(l))}
	}
	out := reflect.MakeSlice(f.Type(), len(l.Content), len(l.Content))
	var errs []error
	for i, item := range l.Content {
		if item.Kind != yaml.MappingNode {
			errs = append(errs, fmt.Errorf("%s:%d: %s[%d]: want a mapping, got %s", name, item.Line, key, i, describe(item)))
			continue
		}
		errs = append(errs, decodeMapping(name, item, out.Index(i), fmt.Sprintf("%s[%d].", key, i))...)
		// A list item with a Line field (json:"-") learns its line, for
		// the errors of later checks (a flow's steps).
		if lf := out.Index(i).FieldByName("Line"); lf.IsValid() && lf.Kind() == reflect.Int {
			lf.SetInt(int64(item.Line))
		}
	}
	if out.Len() == 0 {
		out = reflect.Zero(f.Type())
	}
	f.Set(out)
	return errs
}

// checkStaged rejects a file that sets both stages and the run-wide values
// the stages decide, unless they agree (as in a result's scenario block).
func checkStaged(name string, root *yaml.Node, spec Spec) []error {
	want := spec
	want.ApplyStages()
	differs := map[string]bool{
		"conns": want.Conns != spec.Conns, "duration": want.Duration != spec.Duration,
		"rate": want.Rate != spec.Rate, "warmup": want.Warmup != spec.Warmup,
	}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if differs[k.Value] {
			errs = append(errs, fmt.Errorf("%s:%d: %s: a staged run takes it from its stages; remove it", name, k.Line, k.Value))
		}
	}
	return errs
}

// errEOF is what the YAML decoder returns for an empty document.
var errEOF = func() error {
	var n yaml.Node
	return yaml.NewDecoder(strings.NewReader("")).Decode(&n)
}()

// specFields maps each scenario file key (a Spec JSON name) to its field index.
func specFields() map[string]int { return jsonFields(reflect.TypeFor[Spec]()) }

// jsonFields maps each JSON name of the struct type t to its field index.
func jsonFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			m[tag] = i
		}
	}
	return m
}

// suggest names the known key closest to key, or lists them all.
func suggest(key string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// setField decodes the YAML value v into the Spec field f, with errors that
// say what was wanted.
func setField(f reflect.Value, v *yaml.Node) error {
	if f.Type() == reflect.TypeFor[Duration]() {
		var s string
		if v.Kind != yaml.ScalarNode || v.Decode(&s) != nil {
			return fmt.Errorf("want a duration such as \"10s\", got %s", describe(v))
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as \"10s\", got %q", s)
		}
		if d < 0 {
			return fmt.Errorf("must not be negative, got %s", s)
		}
		f.Set(reflect.ValueOf(Duration(d)))
		return nil
	}
	want := map[reflect.Kind]string{
		reflect.Int: "an integer", reflect.Uint64: "a non-negative integer", reflect.Float64: "a number", reflect.Bool: "true or false",
		reflect.String: "a string", reflect.Slice: "a list of strings",
	}[f.Kind()]
	if f.Kind() == reflect.Slice && v.Kind != yaml.SequenceNode {
		return fmt.Errorf("want %s, got %s", want, describe(v))
	}
	if f.Kind() != reflect.Slice && v.Kind != yaml.ScalarNode {
		return fmt.Errorf("want %s, got %s", want, describe(v))
	}
	if f.Kind() == reflect.String && v.Tag != "!!str" {
		return fmt.Errorf("want a string, got %s (quote it)", describe(v))
	}
	p := reflect.New(f.Type())
	if err := v.Decode(p.Interface()); err != nil {
		return fmt.Errorf("want %s, got %s", want, describe(v))
	}
	if f.Kind() == reflect.Int && p.Elem().Int() < 0 {
		return fmt.Errorf("must not be negative, got %d", p.Elem().Int())
	}
	if f.Kind() == reflect.Float64 && p.Elem().Float() < 0 {
		return fmt.Errorf("must not be negative, got %v", p.Elem().Float())
	}
	if f.Kind() == reflect.Slice && p.Elem().Len() == 0 {
		f.Set(reflect.Zero(f.Type())) // "[]" is no list, as in a result document
		return nil
	}
	f.Set(p.Elem())
	return nil
}

// describe names a YAML value for an error message.
func describe(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", v.Value)
}

// decodeSizeRange reads "size: {min: 16, max: 4096}": sizes drawn per message.
func decodeSizeRange(name string, m *yaml.Node, spec *Spec) []error {
	var r struct {
		Min int `json:"min"`
		Max int `json:"max"`
	}
	errs := decodeMapping(name, m, reflect.ValueOf(&r).Elem(), "size.")
	if len(errs) > 0 {
		return errs
	}
	if r.Min <= 0 || r.Max < r.Min {
		return []error{fmt.Errorf("%s:%d: size: want {min: N, max: M} with 0 < N <= M, got min %d max %d", name, m.Line, r.Min, r.Max)}
	}
	spec.Size, spec.SizeMax = r.Min, r.Max
	return nil
}
