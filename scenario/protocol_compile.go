package scenario

import (
	"fmt"
	"time"

	"github.com/wsbench/wsbench/internal/flow"
)

// Defaults of the protocol workloads (rpc part).
const (
	// DefaultRequestTimeout gives a request up as timed out (request.timeout).
	DefaultRequestTimeout = 10 * time.Second
	// DefaultOpenTimeout bounds an open step's expect without a timeout of
	// its own.
	DefaultOpenTimeout = 5 * time.Second
	// BundledRequest and BundledKey are a request run's template and key
	// against the bundled server (no target URL), which answers in rpc
	// mode, when the scenario gives none: a JSON-RPC 2.0 call of its echo
	// method, correlated by id.
	BundledRequest = `{"jsonrpc":"2.0","id":{{id}},"method":"echo","params":["wsbench",{{conn}}]}`
	BundledKey     = "$.id"
	// BundledError is the bundled server's error replies: a JSON-RPC
	// error object's code.
	BundledError = "$.error.code"
)

// FillBundled fills in, for a run against the bundled server (no Target),
// what that server needs the Spec to say and the user left out: a request
// run's request (BundledRequest, matched by BundledKey, errors by
// BundledError), unless a preset gives it. Compile does the same without
// changing the Spec; filled in here, the result shows what was sent, and
// the processes of a split run (which see the bundled server's URL) send it
// too.
func (s *Spec) FillBundled() {
	if s.Target != "" || s.Kind != KindRequest || s.Protocol != "" {
		return
	}
	r := RequestSpec{}
	if s.Request != nil {
		r = *s.Request
	}
	if r.Send == "" {
		r.Send = BundledRequest
	}
	if len(r.Key) == 0 {
		r.Key = []string{BundledKey}
	}
	if r.Error == "" {
		r.Error = BundledError
	}
	s.Request = &r
}

// protocolKind reports whether k speaks a Protocol (kinds request,
// subscribe and flow), rather than the stamp workloads.
func protocolKind(k Kind) bool { return k == KindRequest || k == KindSubscribe || k == KindFlow }

// compileProtocol builds c.Protocol from the Spec's protocol parts: the
// preset's (Spec.Protocol) with the Spec's own request, open, rules and
// every on top. Problems are FieldErrors keyed request.send,
// request.key[0], open[1].expect, rules[0].when, every[0].interval.
func (c *Compiled) compileProtocol() []error {
	s := c.Spec
	var errs []error
	bad := func(key, format string, a ...any) { errs = append(errs, fieldErr(key, format, a...)) }
	if !protocolKind(c.Kind) {
		for key, set := range map[string]bool{"protocol": s.Protocol != "", "request": s.Request != nil,
			"open": len(s.Open) > 0, "rules": len(s.Rules) > 0, "every": len(s.Every) > 0} {
			if set {
				bad(key, "applies to the protocol kinds (%s request, subscribe or flow), not %s", Ref("kind"), c.Kind)
			}
		}
		return errs
	}
	if c.Names == nil {
		c.Names = &flow.Names{}
	}
	p, perrs := resolvePreset(s, c.Names)
	if len(perrs) > 0 {
		return append(errs, perrs...)
	}
	if p == nil {
		p = &flow.Protocol{Name: "custom"}
	}
	if s.Binary {
		p.Binary = true
	}
	template := func(key, src string) *flow.Template {
		src, err := expandEnv(src) // script: ${NAME} from the environment
		if err != nil {
			bad(key, "%v", err)
			return nil
		}
		t, err := flow.ParseTemplate(src, c.Names)
		if err != nil {
			bad(key, "%v", err)
		}
		return t
	}
	matcher := func(key, src string) flow.Matcher {
		src, err := expandEnv(src) // script: ${NAME} from the environment
		if err != nil {
			bad(key, "%v", err)
			return flow.Matcher{}
		}
		m, err := flow.ParseMatcher(src)
		if err != nil {
			bad(key, "%v", err)
		}
		return m
	}
	if c.Kind == KindRequest {
		errs = append(errs, c.compileRequest(p, template, matcher)...)
	}
	if len(s.Open) > 0 {
		// The scenario's opening replaces the preset's: send and expect
		// steps (an expect may capture values for later templates), as a
		// flow's steps are written.
		steps, probs := compileSteps(s.Open, "open", c.Names)
		for _, pr := range probs {
			errs = append(errs, pr.fieldError())
		}
		for i, sp := range s.Open {
			if sp.Think != 0 || sp.Sleep != 0 || len(sp.Steps) > 0 || sp.Repeat != 0 || sp.Receive != "" || sp.Ping || sp.Close {
				bad(fmt.Sprintf("open[%d]", i), "an opening step is send: TEMPLATE or expect: MATCHER (with timeout, count, capture); a scripted flow's other steps go in %s", Ref("steps"))
			}
		}
		for i := range steps {
			if st := &steps[i]; st.Kind == flow.StepExpect {
				if st.Timeout == 0 {
					st.Timeout = DefaultOpenTimeout
				}
				st.Count = max(st.Count, 1)
			}
		}
		p.Open = steps
	}
	// The scenario's rules are tried before the preset's.
	var rules []flow.Rule
	for i, r := range s.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		if r.When == "" {
			bad(key+".when", "a rule needs the messages it applies to (a matcher)")
			continue
		}
		rule := flow.Rule{When: matcher(key+".when", r.When)}
		if r.Reply != "" {
			rule.Reply = template(key+".reply", r.Reply)
		}
		rules = append(rules, rule)
	}
	p.Rules = append(rules, p.Rules...)
	for i, e := range s.Every {
		key := fmt.Sprintf("every[%d]", i)
		if e.Interval < Duration(10*time.Millisecond) {
			bad(key+".interval", "must be at least 10ms, got %s", e.Interval)
		}
		if e.Send == "" {
			bad(key+".send", "what to send every %s: a template", e.Interval)
			continue
		}
		p.Every = append(p.Every, flow.Periodic{Every: time.Duration(e.Interval), Send: template(key+".send", e.Send)})
	}
	c.Protocol = p
	return errs
}

// compileRequest fills p.Request from the Spec's request on top of the
// preset's (or, against the bundled server, BundledRequest and its key).
func (c *Compiled) compileRequest(p *flow.Protocol, template func(key, src string) *flow.Template, matcher func(key, src string) flow.Matcher) []error {
	var errs []error
	bad := func(key, format string, a ...any) { errs = append(errs, fieldErr(key, format, a...)) }
	rs := RequestSpec{}
	if c.Spec.Request != nil {
		rs = *c.Spec.Request
	}
	req := flow.Request{Replies: 1, Timeout: DefaultRequestTimeout}
	if p.Request != nil {
		req = *p.Request
	}
	if p.Request == nil && c.Spec.Target == "" && c.Spec.Protocol == "" {
		// The bundled server answers JSON-RPC: a run that says nothing
		// more works offline.
		if rs.Send == "" {
			rs.Send = BundledRequest
		}
		if len(rs.Key) == 0 {
			rs.Key = []string{BundledKey}
		}
		if rs.Error == "" {
			rs.Error = BundledError
		}
	}
	if rs.Send != "" {
		req.Template = template("request.send", rs.Send)
	}
	if req.Template == nil && rs.Send == "" {
		bad("request.send", "a request run needs the request to send: a template with {{id}}, its correlation id")
	} else if req.Template != nil && !req.Template.Has(flow.ID) && len(rs.Key) > 0 {
		bad("request.send", "%q has no {{id}}: replies could not name the request they answer", rs.Send)
	}
	if len(rs.Key) > 0 {
		req.Keys = nil
		for i, k := range rs.Key {
			req.Keys = append(req.Keys, matcher(fmt.Sprintf("request.key[%d]", i), k))
		}
	}
	if len(req.Keys) == 0 {
		bad("request.key", "a request run needs a matcher that reads a reply's correlation key, such as $.id")
	}
	if rs.Error != "" {
		m := matcher("request.error", rs.Error)
		req.Error = &m
	}
	switch {
	case rs.Replies < 0:
		bad("request.replies", "must be at least 1, got %d", rs.Replies)
	case rs.Replies > 0:
		req.Replies = rs.Replies
	}
	switch {
	case rs.Timeout < 0:
		bad("request.timeout", "must be positive, got %s", rs.Timeout)
	case rs.Timeout > 0:
		req.Timeout = time.Duration(rs.Timeout)
	}
	p.Request = &req
	return errs
}
