package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/protocols"
	"github.com/wsbench/wsbench/scenario"
)

// The protocol presets' flags (presets part): --protocol NAME and
// --protocol-opt KEY=VALUE fill the Spec's protocol and protocol_opts, as
// a scenario file's keys do; --protocol-opt given on the command line
// replaces the file's list.

// presetFlags defines --protocol and --protocol-opt on fs, filling spec.
func presetFlags(fs *pflag.FlagSet, spec *scenario.Spec) {
	var names []string
	for _, n := range protocols.Names() {
		names = append(names, n+" ("+protocols.Doc(n)+")")
	}
	fs.StringVar(&spec.Protocol, "protocol", spec.Protocol,
		"a protocol preset for the request, subscribe and flow kinds, filling in its handshake, opening, requests, heartbeats and stream: "+strings.Join(names, "; ")+
			". Its options: --protocol-opt; --send, --match, --open, --rule, --every change its parts")
	set := false
	fs.Var(setFunc(func(v string) error {
		if !set {
			set, spec.ProtocolOpts = true, nil
		}
		spec.ProtocolOpts = append(spec.ProtocolOpts, v)
		return nil
	}), "protocol-opt", "an option of the --protocol preset, KEY=VALUE (repeatable): "+presetOptionsHelp())
}

// presetOptionsHelp lists each preset's options and their defaults.
func presetOptionsHelp() string {
	var b strings.Builder
	for i, n := range protocols.Names() {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(n + ": ")
		for j, o := range protocols.Options(n) {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(o.Key)
			if o.Default != "" {
				fmt.Fprintf(&b, "=%s", o.Default)
			}
		}
	}
	return b.String()
}
