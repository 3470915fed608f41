package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/flow"
)

const flowFile = `kind: flow
data_file: users.csv
steps:
  - name: login
    send: '{"op":"login","user":"{{user}}","pass":"${FLOW_TEST_PASS}","id":{{id}}}'
  - expect: $.op==login_ok
    capture: [session=$.session]
    timeout: 2s
  - steps:
      - name: get
        send: '{"op":"get","session":"{{session}}","id":{{id}}}'
      - name: got
        expect: $.op==got
      - think: 100ms
    repeat: 3
  - steps:
      - receive: $.type==tick
        for: 5s
      - ping: true
        timeout: 1s
  - close: true
`

// flowFiles are the data files of the flow tests.
func flowFiles(t *testing.T) *files {
	f := newFiles(t)
	f.data["users.csv"] = []byte("user,password\nann,pw-ann-1\n\"bo,b\",pw-bob-2\n")
	f.data["users.jsonl"] = []byte("{\"user\":\"ann\",\"n\":1}\n\n{\"user\":\"bob\",\"tags\":[1, 2],\"x\":null}\n")
	return f
}

// TestCompileFlow: a flow file's steps come out as flow.Steps (a repeat
// without a count runs forever, captures and data columns share the
// variables' slots), with ${NAME} filled in while the Spec keeps it.
func TestCompileFlow(t *testing.T) {
	t.Setenv("FLOW_TEST_PASS", "s3cr3t-pass")
	s, err := ParseFile("flow.yaml", []byte(flowFile), Default())
	if err != nil {
		t.Fatal(err)
	}
	c, err := CompileWith(s, flowFiles(t).read)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var walk func([]flow.Step, string)
	walk = func(list []flow.Step, in string) {
		for _, st := range list {
			kinds = append(kinds, in+map[flow.StepKind]string{flow.StepSend: "send", flow.StepExpect: "expect", flow.StepThink: "think",
				flow.StepRepeat: "repeat", flow.StepReceive: "receive", flow.StepPing: "ping", flow.StepClose: "close"}[st.Kind])
			if st.Kind == flow.StepRepeat {
				kinds[len(kinds)-1] += "×" + string(rune('0'+st.Count))
			}
			walk(st.Steps, in+"  ")
		}
	}
	walk(c.Steps, "")
	if got := strings.Join(kinds, ","); got != "send,expect,repeat×3,  send,  expect,  think,repeat×0,  receive,  ping,close" {
		t.Errorf("steps %s", got)
	}
	if c.Steps[1].Timeout != 2*time.Second || c.Steps[2].Steps[2].For != 100*time.Millisecond || c.Steps[3].Steps[0].For != 5*time.Second || c.Steps[3].Steps[1].Timeout != time.Second {
		t.Errorf("durations: %+v", c.Steps)
	}
	if c.Steps[0].Line != 4 || c.Steps[2].Steps[1].Line != 12 {
		t.Errorf("lines %d, %d", c.Steps[0].Line, c.Steps[2].Steps[1].Line)
	}
	if c.Script == nil || strings.Join(c.Script.StepNames, ",") != "login,get,got" {
		t.Fatalf("script %+v", c.Script)
	}
	if !strings.Contains(s.Steps[0].Send, "${FLOW_TEST_PASS}") {
		t.Errorf("the Spec lost ${FLOW_TEST_PASS}: %s", s.Steps[0].Send)
	}
	// Run the first steps for the second connection: its data row, the
	// environment's value, the captured session.
	if len(c.Data) != 2 {
		t.Fatalf("%d data rows", len(c.Data))
	}
	var sess flow.Session
	sess.Init(c.Script, 1, c.Data[1])
	var sent []string
	sends := func(acts []flow.Action) { // (a send's Data lasts until the next call)
		for _, a := range acts {
			if a.Kind == flow.ActSend {
				sent = append(sent, string(a.Data))
			}
		}
	}
	sends(sess.Start(0, 0, nil))
	sends(sess.OnMessage([]byte(`{"op":"login_ok","session":"S9"}`), 1, nil))
	want := []string{`{"op":"login","user":"bo,b","pass":"s3cr3t-pass","id":1}`, `{"op":"get","session":"S9","id":2}`}
	if strings.Join(sent, "|") != strings.Join(want, "|") {
		t.Errorf("sent\n%q\nwant\n%q", sent, want)
	}
}

// TestFlowFileErrors: each bad step is one line naming the file, the
// step's line and its key.
func TestFlowFileErrors(t *testing.T) {
	os.Unsetenv("FLOW_TEST_UNSET")
	for _, c := range []struct{ steps, want string }{
		{"  - send: a\n    expect: $.id\n", "f.yaml:3: steps[0].expect: a step has one action, this one has send and expect"},
		{"  - name: x\n", "f.yaml:3: steps[0]: a step needs one action"},
		{"  - expect: $.a[x]\n", `f.yaml:3: steps[0].expect: "$.a[x]": [x]: want an array index`},
		{"  - send: a\n  - expect: any\n    capture: [nope]\n", `f.yaml:4: steps[1].capture[0]: "nope": want NAME=MATCHER`},
		{"  - expect: any\n    capture: [\"id=$.id\"]\n", `f.yaml:3: steps[0].capture[0]: "id=$.id": "id" cannot name a variable`},
		{"  - send: a\n    timeout: 1s\n", "f.yaml:3: steps[0].timeout: does not apply to a send step"},
		{"  - receive: any\n", "f.yaml:3: steps[0].receive: say how long (for: 10s) or how many (count: 100)"},
		{"  - repeat: 2\n", "f.yaml:3: steps[0].repeat: a repeat needs the steps it repeats"},
		{"  - steps:\n      - send: x\n      - think: 1s\n        count: 2\n", "f.yaml:5: steps[0].steps[1].count: does not apply to a think step"},
		{"  - send: '${FLOW_TEST_UNSET}'\n", "f.yaml:3: steps[0].send: ${FLOW_TEST_UNSET}: the environment variable FLOW_TEST_UNSET is not set"},
		{"  - send: '${1X}'\n", "f.yaml:3: steps[0].send: ${1X}: want ${NAME}"},
		{"  - name: a.b\n    send: x\n", `f.yaml:3: steps[0].name: "a.b": a step's name is letters`},
		{"  - send: a\n  - steps:\n      - send: b\n", "f.yaml:4: steps[1]: a repeat without end must wait somewhere"},
		{"  - send: a\n  - expect: $.id=={{id\n", `f.yaml:4: steps[1]: $.id=={{id: "{{id" opens a field`},
		{"  - send: '{{x'\n", `f.yaml:3: steps[0].send: "{{x" opens a field`},
	} {
		_, err := ParseFile("f.yaml", []byte("kind: flow\nsteps:\n"+c.steps), Default())
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got %v\nwant %s…", c.steps, err, c.want)
		}
	}
}

// TestCompileFlowErrors: a Spec's problems (from code or a result, without
// lines) are FieldErrors keyed by the step's field.
func TestCompileFlowErrors(t *testing.T) {
	t.Setenv("FLOW_TEST_TOKEN", "tok")
	os.Unsetenv("FLOW_TEST_UNSET")
	for _, tc := range []struct {
		name string
		set  func(*Spec)
		key  string
	}{
		{"a flow without steps", func(s *Spec) { s.Kind = KindFlow }, "steps"},
		{"steps in an echo run", func(s *Spec) { s.Steps = []StepSpec{{Send: "x"}} }, "steps"},
		{"a nested step's problem", func(s *Spec) {
			s.Kind, s.Steps = KindFlow, []StepSpec{{Send: "x"}, {Steps: []StepSpec{{Expect: "re:("}}, Repeat: 2}}
		}, "steps[1].steps[0].expect"},
		{"a repeat without end that never waits", func(s *Spec) {
			s.Kind, s.Steps = KindFlow, []StepSpec{{Steps: []StepSpec{{Send: "x"}}}}
		}, "steps[0]"},
		{"a variable nothing sets", func(s *Spec) {
			s.Kind, s.Steps = KindFlow, []StepSpec{{Send: "{{who}}"}}
		}, "steps[0].send"},
		{"a matcher's variable nothing sets", func(s *Spec) {
			s.Kind, s.Steps = KindFlow, []StepSpec{{Send: "x"}, {Expect: "$.s=={{who}}"}}
		}, "steps[1].expect"},
		{"a variable nothing sets, in a part of &&", func(s *Spec) {
			s.Kind, s.Steps = KindFlow, []StepSpec{{Send: "x"}, {Receive: "$.t==a && $.s=={{who}}", Count: 1}}
		}, "steps[1].receive"},
		{"a data file that is not there", func(s *Spec) {
			s.Kind, s.Steps, s.DataFile = KindFlow, []StepSpec{{Send: "x"}}, "none.csv"
		}, "data_file"},
		{"a header's missing variable", func(s *Spec) { s.Headers = []string{"Authorization: Bearer ${FLOW_TEST_UNSET}"} }, "headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Default()
			tc.set(&s)
			_, err := CompileWith(s, flowFiles(t).read)
			if keys := keysOf(t, err); len(keys) != 1 || keys[0] != tc.key {
				t.Errorf("%v: keys %q, want [%s]", err, keys, tc.key)
			}
		})
	}
	// A variable set by a capture of open, or by a data column, is set.
	s := Default()
	s.Kind, s.Steps = KindFlow, []StepSpec{{Send: "{{sid}} {{user}} ${FLOW_TEST_TOKEN} $${LIT}"}, {Expect: "any"}}
	s.Open, s.DataFile = []StepSpec{{Expect: "any", Capture: []string{"sid=$.sid"}}}, "users.jsonl"
	c, err := CompileWith(s, flowFiles(t).read)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Steps[0].Send.Src; got != "{{sid}} {{user}} tok ${LIT}" {
		t.Errorf("rendered source %q", got)
	}
}

// TestReadData: CSV with a header and JSON lines give each connection a
// row of values in their variables' slots; a bad file is one line naming
// the file and the line.
func TestReadData(t *testing.T) {
	var names flow.Names
	names.Index("first") // slots already taken stay
	cols, rows, err := readData("u.jsonl", flowFiles(t).data["users.jsonl"], &names)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cols, ",") != "n,user,tags,x" || len(rows) != 2 {
		t.Fatalf("cols %v, %d rows", cols, len(rows))
	}
	got := func(row int, col string) string { return string(rows[row][names.Lookup(col)]) }
	if got(0, "user") != "ann" || got(0, "n") != "1" || got(0, "tags") != "" || got(1, "tags") != "[1,2]" || got(1, "x") != "" || rows[0][0] != nil {
		t.Errorf("rows %q", rows)
	}
	for _, c := range []struct{ name, data, want string }{
		{"a.csv", "user,pass\nann\n", "a.csv:2: wrong number of fields"},
		{"a.csv", "user,pass\n", "a.csv: a header and no rows"},
		{"a.csv", "", "a.csv: empty"},
		{"a.csv", "user,user\nx,y\n", `a.csv:1: column "user" twice`},
		{"a.csv", "user,id\nx,y\n", `a.csv:1: column "id" cannot name a variable`},
		{"a.csv", "us er\nx\n", `a.csv:1: column "us er" cannot name a variable`},
		{"a.csv", "user\n\"x\n", `a.csv:2: extraneous or missing " in quoted-field`},
		{"a.jsonl", "{\"user\":\"a\"}\n[1]\n", "a.jsonl:2: want a JSON object a line"},
		{"a.jsonl", "{\"user\":\"a\"}\n\n{\"user\":\n", "a.jsonl:3: want a JSON object a line"},
	} {
		_, _, err := readData(c.name, []byte(c.data), &flow.Names{})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %s…", c.data, err, c.want)
		}
	}
}

// TestFlowSecrets: the values of ${NAME}s and of a data file's secret
// columns are secrets: scrubbed from any line, never in the Spec.
func TestFlowSecrets(t *testing.T) {
	t.Setenv("FLOW_TEST_TOKEN", "tok-123456")
	t.Setenv("FLOW_TEST_UNUSED", "unused-value")
	dir := t.TempDir()
	data := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(data, []byte("user,password\nann-public,pw-ann-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Default()
	s.Kind, s.DataFile = KindFlow, data
	s.Steps = []StepSpec{{Send: `{"auth":"${FLOW_TEST_TOKEN}","u":"{{user}}","p":"{{password}}"}`}, {Expect: "any"}}
	s.Headers = []string{"X-Plain: ${FLOW_TEST_TOKEN}"}
	c, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if c.Headers[0].Value != "tok-123456" {
		t.Errorf("header %q", c.Headers[0].Value)
	}
	line := "sent {\"auth\":\"tok-123456\",\"u\":\"ann-public\",\"p\":\"pw-ann-1\"}, unused-value"
	got := s.Scrubber()(line)
	want := "sent {\"auth\":\"REDACTED\",\"u\":\"ann-public\",\"p\":\"REDACTED\"}, unused-value"
	if got != want {
		t.Errorf("scrubbed\n%s\nwant\n%s", got, want)
	}
	if r := s.Redact(); strings.Contains(r.Steps[0].Send, "tok-123456") || strings.Contains(r.Headers[0], "tok-123456") {
		t.Errorf("the redacted Spec holds the value: %+v", r)
	}
}

// withoutLines is s with its steps' lines (which are not part of a
// result's JSON) zeroed.
func withoutLines(s Spec) Spec {
	var clear func([]StepSpec) []StepSpec
	clear = func(list []StepSpec) []StepSpec {
		if list == nil {
			return nil
		}
		out := make([]StepSpec, len(list))
		for i, st := range list {
			st.Line, st.Steps = 0, clear(st.Steps)
			out[i] = st
		}
		return out
	}
	s.Steps, s.Open = clear(s.Steps), clear(s.Open)
	return s
}

// TestProtocolEnv: ${NAME} is filled in in a protocol's request, rules
// and every too, and a missing one is named by the field's key.
func TestProtocolEnv(t *testing.T) {
	t.Setenv("FLOW_TEST_TOKEN", "tok-77")
	os.Unsetenv("FLOW_TEST_UNSET")
	s := Default()
	s.Kind, s.Target = KindRequest, "ws://127.0.0.1:1/"
	s.Request = &RequestSpec{Send: `{"id":{{id}},"auth":"${FLOW_TEST_TOKEN}"}`, Key: []string{"$.id"}}
	s.Rules = []RuleSpec{{When: "$.op==${FLOW_TEST_TOKEN}", Reply: "pong ${FLOW_TEST_TOKEN}"}}
	c, err := CompileWith(s, flowFiles(t).read)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Protocol.Request.Template.Src; got != `{"id":{{id}},"auth":"tok-77"}` {
		t.Errorf("request %s", got)
	}
	if r := c.Protocol.Rules[0]; r.Reply.Src != "pong tok-77" || !r.When.Matches([]byte(`{"op":"tok-77"}`)) {
		t.Errorf("rule %+v", r)
	}
	s.Request.Send = `{"id":{{id}},"auth":"${FLOW_TEST_UNSET}"}`
	_, err = CompileWith(s, flowFiles(t).read)
	if keys := keysOf(t, err); len(keys) != 1 || keys[0] != "request.send" || !strings.Contains(err.Error(), "FLOW_TEST_UNSET is not set") {
		t.Errorf("%v: keys %q", err, keys)
	}
}

// TestEnvRefs: the variables a text names, each once, in order; $${ is
// a literal ${ and a malformed name is none (kube render gives the pods
// each from a Secret).
func TestEnvRefs(t *testing.T) {
	got := EnvRefs("a: ${TOKEN}\nb: $${NOT}\nc: ${TOKEN} ${USER_2} ${1BAD}")
	if strings.Join(got, ",") != "TOKEN,USER_2" {
		t.Errorf("EnvRefs = %v", got)
	}
}
