package orchestrate

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/wsbench/wsbench/scenario"
)

// Target is the URL a run or a capacity search of spec aims at: spec's
// Target, or, with none (bundled), the reference server started in this
// process for spec's kind (BundledKind, StartBundled). stop stops that
// server (a no-op for a target of the user's). A kind the bundled server
// cannot serve is a FieldError; a server that does not start, another error.
func Target(spec scenario.Spec) (target string, bundled bool, stop func(), err error) {
	if spec.Target != "" {
		return spec.Target, false, func() {}, nil
	}
	kind, err := BundledKind(spec)
	if err != nil {
		return "", true, nil, err
	}
	for i := range spec.Groups { // stream part: the push server has subscribers only
		if spec.Mixed() && spec.GroupSpec(i).Kind == scenario.KindSubscribe {
			return "", true, nil, fieldErrorf("groups", "the bundled server pushes to subscribers or serves the others, not both: a mix with a %s subscribe group needs a target URL", scenario.Ref("kind"))
		}
	}
	start := StartBundled
	if kind == scenario.KindSubscribe { // stream part
		start = func(scenario.Kind) (string, func(), error) { return StartPush(spec.PushRate, spec.PushCount) }
	}
	url, stop, err := start(kind)
	if err != nil {
		return "", true, nil, fmt.Errorf("start the bundled server: %w", err)
	}
	return url, true, stop, nil
}

// dnsTimeout bounds DNSReason's lookup.
const dnsTimeout = 10 * time.Second

// DNSReason says, when a run's connections failed because the target's host
// name did not resolve (errs counts connect_dns), what the resolver answers
// for it now: "; lookup HOST: no such host". The driver counts failures by
// kind only; the text names the host and no other part of the URL (no
// userinfo, no query). It is "" when no connection failed so.
func DNSReason(target string, errs map[string]int64) string {
	if errs["connect_dns"] == 0 {
		return ""
	}
	u, err := url.Parse(target)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, u.Hostname()); err != nil {
		return "; " + err.Error()
	}
	return "; the host " + u.Hostname() + " resolves now, but did not during the run"
}
