package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/internal/cliflag"
	"github.com/wsbench/wsbench/scenario"
)

// The flags of the protocol workloads' request and session layer (rpc
// part): each fills the Spec's request, open, rules or every, as a
// scenario file's keys do; a repeatable flag given on the command line
// replaces the file's list.

// protocolFlagOfKey names the flags of the protocol keys (see flagName).
var protocolFlagOfKey = map[string]string{
	"request": "send", "request.send": "send", "request.key": "match", "request.error": "error-match", "request.replies": "replies",
	"request.timeout": "timeout", "open": "open", "rules": "rule", "every": "every",
}

// protocolFlags defines the rpc part's flags on fs, filling spec.
func protocolFlags(fs *pflag.FlagSet, spec *scenario.Spec) {
	req := func() *scenario.RequestSpec {
		if spec.Request == nil {
			spec.Request = &scenario.RequestSpec{}
		}
		return spec.Request
	}
	fs.Var(setFunc(func(v string) error { req().Send = v; return nil }), "send",
		`request: the request to send, with {{id}} its correlation id (and {{conn}}, {{seq}}, {{now_ms}}, {{now_ns}}), e.g. '{"jsonrpc":"2.0","id":{{id}},"method":"ping"}'`)
	var keys, open, rules, every bool // set on the command line: replaces the file's
	fs.Var(setFunc(func(v string) error {
		if !keys {
			keys, req().Key = true, nil
		}
		req().Key = append(req().Key, v)
		return nil
	}), "match", "request: where a reply names the request it answers (repeatable; the first that reads one wins): a JSON path ($.id, $.payload.ref), re:REGEX (its first group), bytes:OFFSET:LENGTH")
	fs.Var(setFunc(func(v string) error { req().Error = v; return nil }), "error-match",
		"request: a reply this matches is an error reply: the request failed, counted by the matcher's value ($.error.code: error_-32001)")
	fs.Var(setFunc(func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return cliflag.Errorf("replies", "want a number of replies, at least 1, got %q", v)
		}
		req().Replies = n
		return nil
	}), "replies", "request: replies that complete a request (default 1; 2: an ack, then the result)")
	fs.Var(setFunc(func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return cliflag.Errorf("timeout", "want a positive duration such as 5s, got %q", v)
		}
		req().Timeout = scenario.Duration(d)
		return nil
	}), "timeout", fmt.Sprintf("request: a request without its replies this long after it was sent is timed out (default %s)", scenario.DefaultRequestTimeout))
	fs.Var(setFunc(func(v string) error {
		if !open {
			open, spec.Open = true, nil
		}
		st, err := parseOpenStep(v)
		if err != nil {
			return err
		}
		spec.Open = append(spec.Open, st)
		return nil
	}), "open", fmt.Sprintf("said on each connection as it opens, in order (repeatable): 'send:TEMPLATE', or 'expect:MATCHER' (wait up to %s for a message it matches; 'expect:2s:MATCHER' sets the wait); a connection whose opening fails fails", scenario.DefaultOpenTimeout))
	fs.Var(setFunc(func(v string) error {
		if !rules {
			rules, spec.Rules = true, nil
		}
		when, reply, _ := strings.Cut(v, " => ")
		spec.Rules = append(spec.Rules, scenario.RuleSpec{When: strings.TrimSpace(when), Reply: reply})
		return nil
	}), "rule", `answer what the server says on its own (repeatable): 'MATCHER => REPLY' (a heartbeat: 'is:2 => 3'), or 'MATCHER' to ignore such messages`)
	fs.Var(setFunc(func(v string) error {
		if !every {
			every, spec.Every = true, nil
		}
		ds, send, ok := strings.Cut(v, ":")
		d, err := time.ParseDuration(ds)
		if !ok || err != nil {
			return cliflag.Errorf("every", "want DURATION:TEMPLATE, such as '25s:{\"type\":\"ping\"}', got %q", v)
		}
		spec.Every = append(spec.Every, scenario.EverySpec{Interval: scenario.Duration(d), Send: send})
		return nil
	}), "every", "send a message on every connection periodically (repeatable): 'DURATION:TEMPLATE', e.g. '25s:{\"type\":\"ping\"}'")
}

// parseOpenStep reads an --open step: send:TEMPLATE, expect:MATCHER or
// expect:DURATION:MATCHER.
func parseOpenStep(v string) (scenario.StepSpec, error) {
	kind, rest, ok := strings.Cut(v, ":")
	switch {
	case ok && kind == "send":
		return scenario.StepSpec{Send: rest}, nil
	case ok && kind == "expect":
		st := scenario.StepSpec{Expect: rest}
		if ds, m, ok := strings.Cut(rest, ":"); ok {
			if d, err := time.ParseDuration(ds); err == nil {
				if d <= 0 {
					return st, cliflag.Errorf("open", "%q: the wait must be positive", v)
				}
				st.Expect, st.Timeout = m, scenario.Duration(d)
			}
		}
		return st, nil
	}
	return scenario.StepSpec{}, cliflag.Errorf("open", "want send:TEMPLATE or expect:MATCHER (expect:2s:MATCHER), got %q", v)
}

// setFunc is a string flag whose value goes where set puts it.
type setFunc func(string) error

func (f setFunc) String() string     { return "" }
func (f setFunc) Type() string       { return "string" }
func (f setFunc) Set(v string) error { return f(v) }
