package scenario

// Scripted flows (kind flow): Compile turns the Spec's steps into
// flow.Steps and a flow.Script, reads data_file into per-connection rows,
// and fills in ${NAME} environment variables. The Spec keeps ${NAME} as
// written, so no result holds a value; the values are secrets
// (SecretValues), scrubbed from every line wsbench prints.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wsbench/wsbench/internal/flow"
)

// expandEnv returns s with every ${NAME} replaced by the environment
// variable NAME's value ($${ is a literal ${). A variable that is not set is
// an error naming it.
func expandEnv(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // $${: a literal ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		name, rest, err := envName(s[i:])
		if err != nil {
			return "", err
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("${%s}: the environment variable %s is not set", name, name)
		}
		b.WriteString(v)
		s = rest
	}
}

// envName reads the ${NAME} at the start of s.
func envName(s string) (name, rest string, err error) {
	j := strings.IndexByte(s, '}')
	if j < 0 {
		return "", "", fmt.Errorf("%q: ${ without its closing }", s)
	}
	name = s[2:j]
	if !isEnvName(name) {
		return "", "", fmt.Errorf("${%s}: want ${NAME}, NAME letters, digits and _ (not starting with a digit)", name)
	}
	return name, s[j+1:], nil
}

func isEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// EnvRefs lists the variables ${NAME} in s names (well-formed ones; $${
// is a literal ${), each once, in order.
func EnvRefs(s string) []string {
	var names []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return names
		}
		if i > 0 && s[i-1] == '$' {
			s = s[i+2:]
			continue
		}
		name, rest, err := envName(s[i:])
		if err != nil {
			s = s[i+2:]
			continue
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		s = rest
	}
}

// envSecrets returns the values of the environment variables s refers to
// with ${NAME} anywhere (its JSON form holds every string it has).
func (s Spec) envSecrets() []string {
	b, err := json.Marshal(s)
	if err != nil || !bytes.Contains(b, []byte("${")) {
		return nil
	}
	var vals []string
	for _, name := range EnvRefs(string(b)) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			vals = append(vals, v)
		}
	}
	return vals
}

// dataSecrets returns the values of DataFile's columns with secret names
// (SecretParam, with SecretParams); an unreadable file adds none.
func (s Spec) dataSecrets() []string {
	if s.DataFile == "" {
		return nil
	}
	b, err := os.ReadFile(s.DataFile)
	if err != nil {
		return nil
	}
	var names flow.Names
	cols, rows, err := readData(s.DataFile, b, &names)
	if err != nil {
		return nil
	}
	var vals []string
	for _, col := range cols {
		if !SecretParam(col, s.SecretParams) {
			continue
		}
		slot := names.Lookup(col)
		for _, row := range rows {
			if v := row[slot]; len(v) > 0 {
				vals = append(vals, string(v))
			}
		}
	}
	return vals
}

// stepProblem is what is wrong with one step: its key (steps[2].expect),
// its line in its file (0: unknown).
type stepProblem struct {
	key  string
	line int
	msg  string
}

// fieldError is p as Compile reports it: a FieldError on its key.
func (p stepProblem) fieldError() error {
	msg := p.msg
	if p.line > 0 {
		msg += fmt.Sprintf(" (line %d)", p.line)
	}
	return &FieldError{Key: p.key, Err: errors.New(msg)}
}

// fileError is p as ParseFile reports it: FILE:LINE: key: problem.
func (p stepProblem) fileError(file string) error {
	if p.line > 0 {
		return fmt.Errorf("%s:%d: %s: %s", file, p.line, p.key, p.msg)
	}
	return fmt.Errorf("%s: %s: %s", file, p.key, p.msg)
}

// stepAction names the action keys of a step that are set.
func stepAction(sp *StepSpec) []string {
	var set []string
	for _, a := range []struct {
		key string
		on  bool
	}{
		{"send", sp.Send != ""}, {"expect", sp.Expect != ""}, {"think", sp.Think != 0}, {"sleep", sp.Sleep != 0},
		{"steps", len(sp.Steps) > 0}, {"receive", sp.Receive != ""}, {"ping", sp.Ping}, {"close", sp.Close},
	} {
		if a.on {
			set = append(set, a.key)
		}
	}
	return set
}

// compileSteps turns list (at key prefix: "steps", "open", or a repeat's
// "steps[3].steps") into flow.Steps, its templates and matchers parsed with
// names, ${NAME} filled in. It returns every problem.
func compileSteps(list []StepSpec, prefix string, names *flow.Names) ([]flow.Step, []stepProblem) {
	var out []flow.Step
	var probs []stepProblem
	for i := range list {
		sp := &list[i]
		key := fmt.Sprintf("%s[%d]", prefix, i)
		bad := func(field, format string, a ...any) {
			k := key
			if field != "" {
				k += "." + field
			}
			probs = append(probs, stepProblem{key: k, line: sp.Line, msg: fmt.Sprintf(format, a...)})
		}
		st := flow.Step{Name: sp.Name, Line: sp.Line, Timeout: time.Duration(sp.Timeout), Count: sp.Count}
		if sp.Name != "" && !isStepName(sp.Name) {
			bad("name", "%q: a step's name is letters, digits, _ and - (it is used as step.NAME in thresholds)", sp.Name)
		}
		acts := stepAction(sp)
		switch len(acts) {
		case 0:
			if sp.Repeat != 0 {
				bad("repeat", "a repeat needs the steps it repeats (steps: …)")
			} else {
				bad("", "a step needs one action: send, expect, think (or sleep), steps (a repeat), receive, ping or close")
			}
			continue
		case 1:
		default:
			bad(acts[1], "a step has one action, this one has %s", strings.Join(acts, " and "))
			continue
		}
		act := acts[0]
		// The modifiers each action takes.
		allowed := map[string][]string{
			"send": nil, "expect": {"capture", "count", "timeout"}, "think": nil, "sleep": nil,
			"steps": {"repeat"}, "receive": {"for", "count", "timeout"}, "ping": {"timeout"}, "close": nil,
		}[act]
		for _, m := range []struct {
			key string
			on  bool
		}{{"capture", len(sp.Capture) > 0}, {"count", sp.Count != 0}, {"timeout", sp.Timeout != 0}, {"repeat", sp.Repeat != 0}, {"for", sp.For != 0}} {
			if m.on && !slices.Contains(allowed, m.key) {
				bad(m.key, "does not apply to a %s step", act)
			}
		}
		if sp.Timeout < 0 {
			bad("timeout", "must not be negative, got %s", sp.Timeout)
		}
		if sp.Count < 0 {
			bad("count", "must not be negative, got %d", sp.Count)
		}
		matcher := func(field, s string) flow.Matcher {
			s, err := expandEnv(s)
			if err != nil {
				bad(field, "%v", err)
				return flow.Matcher{}
			}
			m, err := flow.ParseMatcher(s)
			if err != nil {
				bad(field, "%v", err)
			}
			return m
		}
		switch act {
		case "send":
			st.Kind = flow.StepSend
			s, err := expandEnv(sp.Send)
			if err != nil {
				bad("send", "%v", err)
				break
			}
			if st.Send, err = flow.ParseTemplate(s, names); err != nil {
				bad("send", "%v", err)
			}
		case "expect":
			st.Kind = flow.StepExpect
			st.Match = matcher("expect", sp.Expect)
			for j, c := range sp.Capture {
				name, m, ok := strings.Cut(c, "=")
				name = strings.TrimSpace(name)
				if !ok || name == "" || strings.HasPrefix(m, "=") {
					bad(fmt.Sprintf("capture[%d]", j), "%q: want NAME=MATCHER (session=$.session)", c)
					continue
				}
				if _, err := flow.ParseTemplate("{{"+name+"}}", &flow.Names{}); err != nil || isBuiltin(name) {
					bad(fmt.Sprintf("capture[%d]", j), "%q: %q cannot name a variable (letters, digits, _ . -; not conn, seq, id, now_ns, now_ms)", c, name)
					continue
				}
				st.Captures = append(st.Captures, flow.Capture{Var: names.Index(name), From: matcher(fmt.Sprintf("capture[%d]", j), strings.TrimSpace(m))})
			}
		case "think", "sleep":
			st.Kind, st.For = flow.StepThink, time.Duration(max(sp.Think, sp.Sleep))
			if sp.Think < 0 || sp.Sleep < 0 {
				bad(act, "must not be negative, got %s", min(sp.Think, sp.Sleep))
			}
		case "steps":
			st.Kind, st.Count = flow.StepRepeat, sp.Repeat
			if sp.Repeat < 0 {
				bad("repeat", "must not be negative (absent: until the run ends), got %d", sp.Repeat)
			}
			var sub []stepProblem
			st.Steps, sub = compileSteps(sp.Steps, key+".steps", names)
			probs = append(probs, sub...)
		case "receive":
			st.Kind, st.For = flow.StepReceive, time.Duration(sp.For)
			st.Match = matcher("receive", sp.Receive)
			if sp.For < 0 {
				bad("for", "must not be negative, got %s", sp.For)
			}
			if sp.For == 0 && sp.Count == 0 {
				bad("receive", "say how long (for: 10s) or how many (count: 100) to receive")
			}
		case "ping":
			st.Kind = flow.StepPing
		case "close":
			st.Kind = flow.StepClose
		}
		out = append(out, st)
	}
	return out, probs
}

// isStepName reports whether s can name a step's metric (step.NAME.p99).
func isStepName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// isBuiltin reports whether name is a template's own field.
func isBuiltin(name string) bool {
	switch name {
	case "conn", "seq", "id", "now_ns", "now_ms":
		return true
	}
	return false
}

// checkFileSteps is ParseFile's check of a flow's steps: each problem as
// FILE:LINE: key: problem.
func checkFileSteps(file string, s Spec) []error {
	if len(s.Steps) == 0 {
		return nil
	}
	names := &flow.Names{}
	steps, probs := compileSteps(s.Steps, "steps", names)
	if len(probs) == 0 {
		var se *flow.ScriptError
		if _, err := flow.NewScript(steps, names); errors.As(err, &se) {
			probs = append(probs, stepProblem{key: se.Key, line: se.Line, msg: se.Msg})
		}
	}
	var errs []error
	for _, p := range probs {
		errs = append(errs, p.fileError(file))
	}
	return errs
}

// compileFlow fills in c's Steps, Script and Data (the data file is read
// when rd is set), adding to c.Names; it returns every problem.
func (c *Compiled) compileFlow(rd *reader) []error {
	s := c.Spec
	if len(s.Steps) == 0 && s.DataFile == "" {
		return nil
	}
	if c.Names == nil {
		c.Names = &flow.Names{}
	}
	var errs []error
	steps, probs := compileSteps(s.Steps, "steps", c.Names)
	for _, p := range probs {
		errs = append(errs, p.fieldError())
	}
	columns := -1 // unknown: the file is not read
	if s.DataFile != "" {
		if b, ok, err := rd.file(s.DataFile); ok {
			columns = 0
			if err != nil {
				errs = append(errs, &FieldError{Key: "data_file", Err: err})
			} else if cols, rows, err := readData(s.DataFile, b, c.Names); err != nil {
				errs = append(errs, &FieldError{Key: "data_file", Err: err})
			} else {
				c.Data, columns = rows, len(cols)
			}
		}
	} else {
		columns = 0
	}
	if len(errs) > 0 || len(steps) == 0 {
		return errs
	}
	sc, err := flow.NewScript(steps, c.Names)
	if err != nil {
		var se *flow.ScriptError
		if errors.As(err, &se) {
			return append(errs, stepProblem{key: se.Key, line: se.Line, msg: se.Msg}.fieldError())
		}
		return append(errs, &FieldError{Key: "steps", Err: err})
	}
	if columns >= 0 {
		if errs = append(errs, checkVars(sc, c.Names, c.Data, s.Open)...); len(errs) > 0 {
			return errs
		}
	}
	c.Steps, c.Script = steps, sc
	return errs
}

// checkVars finds the {{NAME}}s of sc's sends and matchers no data-file
// column and no capture (of the steps or of open) sets.
func checkVars(sc *flow.Script, names *flow.Names, data [][][]byte, open []StepSpec) []error {
	set := map[int]bool{}
	for _, op := range sc.Ops {
		for _, c := range op.Captures {
			set[c.Var] = true
		}
	}
	for _, sp := range open {
		for _, c := range sp.Capture {
			if name, _, ok := strings.Cut(c, "="); ok {
				if i := names.Lookup(strings.TrimSpace(name)); i >= 0 {
					set[i] = true
				}
			}
		}
	}
	if len(data) > 0 {
		for i, v := range data[0] {
			if v != nil {
				set[i] = true
			}
		}
	}
	var errs []error
	for _, op := range sc.Ops {
		check := func(field string, slots []int) {
			for _, v := range slots {
				if !set[v] {
					set[v] = true // once
					errs = append(errs, stepProblem{key: op.Key + "." + field, line: op.Line,
						msg: fmt.Sprintf("{{%s}}: no data file column and no capture sets it", names.List()[v])}.fieldError())
				}
			}
		}
		if op.Send != nil {
			var slots []int
			for _, p := range op.Send.Parts {
				if p.Field == flow.Var {
					slots = append(slots, p.Var)
				}
			}
			check("send", slots)
		}
		check(map[flow.StepKind]string{flow.StepExpect: "expect", flow.StepReceive: "receive"}[op.Kind], op.MatchVars())
	}
	return errs
}

// readData reads a data file: CSV with a header line (encoding/csv), or
// JSON lines, one object a line (encoding/json). Each column (key) is a
// variable ({{column}}); every row holds its values in their Names slots.
// Errors name the file and the line.
func readData(file string, b []byte, names *flow.Names) (cols []string, rows [][][]byte, err error) {
	if t := bytes.TrimLeft(b, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		return readJSONLines(file, b, names)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("%s: empty (want a CSV header line naming the columns, then a row per connection, or JSON lines)", file)
	}
	if err != nil {
		return nil, nil, csvError(file, err)
	}
	slots := make([]int, len(header))
	for _, h := range header {
		h = strings.TrimSpace(h)
		if err := column(file, 1, h, cols); err != nil {
			return nil, nil, err
		}
		cols = append(cols, h)
	}
	for i := range slots {
		slots[i] = names.Index(cols[i])
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, csvError(file, err)
		}
		row := make([][]byte, len(names.List()))
		for i, v := range rec {
			row[slots[i]] = []byte(v)
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%s: a header and no rows (want a row per connection)", file)
	}
	return cols, rows, nil
}

// column checks a column's name h (on line) and that it is new.
func column(file string, line int, h string, cols []string) error {
	if _, err := flow.ParseTemplate("{{"+h+"}}", &flow.Names{}); err != nil || isBuiltin(h) || h == "" {
		return fmt.Errorf("%s:%d: column %q cannot name a variable (letters, digits, _ . -; not conn, seq, id, now_ns, now_ms)", file, line, h)
	}
	if slices.Contains(cols, h) {
		return fmt.Errorf("%s:%d: column %q twice", file, line, h)
	}
	return nil
}

func csvError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %v", file, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %v", file, err)
}

// readJSONLines reads one JSON object a line; a string value is its text,
// any other its JSON, null nothing. Every key of any line is a column.
func readJSONLines(file string, b []byte, names *flow.Names) (cols []string, rows [][][]byte, err error) {
	type obj = map[string]json.RawMessage
	var objs []obj
	var lines []int
	for n, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\ufeff")))
		if len(line) == 0 {
			continue
		}
		var o obj
		if err := json.Unmarshal(line, &o); err != nil || o == nil {
			if err == nil {
				err = errors.New("null")
			}
			return nil, nil, fmt.Errorf("%s:%d: want a JSON object a line: %v", file, n+1, err)
		}
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !slices.Contains(cols, k) {
				if err := column(file, n+1, k, cols); err != nil {
					return nil, nil, err
				}
				cols = append(cols, k)
			}
		}
		objs, lines = append(objs, o), append(lines, n+1)
	}
	if len(objs) == 0 {
		return nil, nil, fmt.Errorf("%s: empty (want a row per connection)", file)
	}
	slots := make(map[string]int, len(cols))
	for _, k := range cols {
		slots[k] = names.Index(k)
	}
	for i, o := range objs {
		row := make([][]byte, len(names.List()))
		for k, raw := range o {
			var v []byte
			switch {
			case bytes.Equal(raw, []byte("null")):
				v = []byte{}
			case raw[0] == '"':
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, nil, fmt.Errorf("%s:%d: %s: %v", file, lines[i], k, err)
				}
				v = []byte(s)
			default:
				var buf bytes.Buffer
				if err := json.Compact(&buf, raw); err != nil {
					return nil, nil, fmt.Errorf("%s:%d: %s: %v", file, lines[i], k, err)
				}
				v = buf.Bytes()
			}
			row[slots[k]] = v
		}
		for _, k := range cols { // a key a line lacks is empty, not unset
			if row[slots[k]] == nil {
				row[slots[k]] = []byte{}
			}
		}
		rows = append(rows, row)
	}
	return cols, rows, nil
}
