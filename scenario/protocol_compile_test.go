package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/flow"
)

// requestSpec is a valid request run against a target.
func requestSpec() Spec {
	s := Default()
	s.Target = "ws://127.0.0.1:1/"
	s.Kind = KindRequest
	s.Request = &RequestSpec{Send: `{"id":{{id}},"m":"{{user}}"}`, Key: []string{"$.id", "re:^43(\\d+)"}, Error: "$.error.code", Replies: 2, Timeout: Duration(3 * time.Second)}
	s.Open = []StepSpec{{Send: `{"type":"init"}`}, {Expect: "$.type==ack", Timeout: Duration(time.Second)}, {Expect: "is:ok"}}
	s.Rules = []RuleSpec{{When: "is:2", Reply: "3"}, {When: "$.type==ping"}}
	s.Every = []EverySpec{{Interval: Duration(25 * time.Second), Send: `{"type":"ping"}`}}
	return s
}

// TestCompileRequest: a request run's parts compile into one
// flow.Protocol, with the defaults filled in.
func TestCompileRequest(t *testing.T) {
	c, err := Compile(requestSpec())
	if err != nil {
		t.Fatal(err)
	}
	p := c.Protocol
	if p == nil || p.Request == nil {
		t.Fatalf("protocol %+v", p)
	}
	r := p.Request
	if r.Template.Src != `{"id":{{id}},"m":"{{user}}"}` || len(r.Keys) != 2 || r.Keys[1].Src != `re:^43(\d+)` || r.Error == nil ||
		r.Replies != 2 || r.Timeout != 3*time.Second {
		t.Errorf("request %+v", r)
	}
	if c.Names.Lookup("user") < 0 {
		t.Errorf("names %v: the template's variable is not numbered", c.Names.List())
	}
	if len(p.Open) != 3 || p.Open[0].Kind != flow.StepSend || p.Open[1].Kind != flow.StepExpect || p.Open[1].Timeout != time.Second ||
		p.Open[2].Timeout != DefaultOpenTimeout || p.Open[2].Match.Src != "is:ok" {
		t.Errorf("open %+v", p.Open)
	}
	if len(p.Rules) != 2 || p.Rules[0].Reply == nil || p.Rules[1].Reply != nil || len(p.Every) != 1 || p.Every[0].Every != 25*time.Second {
		t.Errorf("rules %+v every %+v", p.Rules, p.Every)
	}
	// Defaults: one reply, the default timeout.
	s := requestSpec()
	s.Request.Replies, s.Request.Timeout = 0, 0
	if c, err := Compile(s); err != nil || c.Protocol.Request.Replies != 1 || c.Protocol.Request.Timeout != DefaultRequestTimeout {
		t.Errorf("defaults: %v %+v", err, c.Protocol.Request)
	}
}

// TestCompileRequestBundled: with no target (the bundled server, in rpc
// mode) a request run needs nothing more; with a target it needs its
// request and key.
func TestCompileRequestBundled(t *testing.T) {
	s := Default()
	s.Kind = KindRequest
	c, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Protocol.Request; r.Template.Src != BundledRequest || r.Keys[0].Src != BundledKey || r.Error.Src != BundledError {
		t.Errorf("request %+v", r)
	}
	s.Target = "ws://127.0.0.1:1/"
	err = s.Validate()
	for _, key := range []string{"request.send", "request.key"} {
		if !hasErrKey(err, key) {
			t.Errorf("%s: not reported in %v", key, err)
		}
	}
}

// TestCompileRequestErrors: every bad part is reported at once, keyed by
// where it is.
func TestCompileRequestErrors(t *testing.T) {
	s := requestSpec()
	s.Request.Key = []string{"$.id", "nope"}
	s.Request.Send = `{"x":{{bad thing}}}`
	s.Request.Replies = -1
	s.Request.Error = "re:("
	s.Open = []StepSpec{{Send: "a"}, {Expect: "$..x"}, {Send: "a", Expect: "$.a"}, {Think: Duration(time.Second)}, {Expect: "$.a", Capture: []string{"x=$.y"}}}
	s.Rules = []RuleSpec{{Reply: "x"}, {When: "bytes:9"}}
	s.Every = []EverySpec{{Interval: Duration(time.Millisecond), Send: "x"}, {Interval: Duration(time.Second)}}
	err := s.Validate()
	for _, key := range []string{"request.key[1]", "request.send", "request.replies", "request.error", "open[1].expect", "open[2].expect", "open[3]",
		"rules[0].when", "rules[1].when", "every[0].interval", "every[1].send"} {
		if !hasErrKey(err, key) {
			t.Errorf("%s: not reported in %v", key, err)
		}
	}
	if hasErrKey(err, "open[0]") || hasErrKey(err, "open[4]") || hasErrKey(err, "request.key[0]") {
		t.Errorf("a good part reported: %v", err)
	}
	// Protocol parts on a stamp workload.
	e := Default()
	e.Open = []StepSpec{{Send: "x"}}
	if err := e.Validate(); !hasErrKey(err, "open") || !strings.Contains(err.Error(), "applies to the protocol kinds") {
		t.Errorf("open on echo: %v", err)
	}
}

// hasKey reports whether err holds a FieldError keyed key.
func hasErrKey(err error, key string) bool {
	for _, e := range flatten(err) {
		var fe *FieldError
		if errors.As(e, &fe) && fe.Key == key {
			return true
		}
	}
	return false
}
