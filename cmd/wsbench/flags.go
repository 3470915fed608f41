package main

import (
	"errors"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/internal/cliflag"
	"github.com/wsbench/wsbench/orchestrate"
)

// parse parses args; errHelp means --help was asked for and printed (pflag
// calls fs.Usage itself before returning ErrHelp).
func parse(fs *pflag.FlagSet, args []string) error {
	err := fs.Parse(args)
	var named cliflag.Error
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return errHelp
	case errors.As(err, &named):
		return usageError{named}
	case err != nil:
		return usageError{err}
	}
	return nil
}

var errHelp = errors.New("help shown")

// withFlag rewrites each FieldError in err's text to name the flags that
// set the settings it names: --procs for procs, --max-inflight for
// max_inflight. Only cmd knows flags.
func withFlag(err error) error { return orchestrate.NameFields(err, flagName) }

// flagOfKey names the flags whose names are not their scenario keys with
// dashes for underscores.
var flagOfKey = map[string]string{
	"headers": "header", "subprotocols": "subprotocol", "thresholds": "threshold", "stages": "stage",
	"secret_headers": "secret-header", "secret_params": "secret-param", "size_max": "size",
	"protocol_opts": "protocol-opt", // presets
}

// fileOnlyKeys are the scenario keys no flag sets (the target is the
// argument; groups come from a file).
var fileOnlyKeys = map[string]bool{"target": true, "groups": true,
	"steps": true, "data_file": true, // script: a flow's steps and data come from its file
}

// flagName is how the command line names the setting of a scenario key:
// its flag, or the key itself for one that only a scenario file sets
// (groups, groups[1].name, stages[0].duration).
func flagName(key string) string {
	if f, ok := streamFlagOfKey[key]; ok { // stream part
		return "--" + f
	}
	// rpc: request.key[1] and open[0].expect are set by --match and --open.
	if f, ok := protocolFlagOfKey[key]; ok {
		return "--" + f
	}
	if i := strings.IndexByte(key, '['); i > 0 && protocolFlagOfKey[key[:i]] != "" {
		return "--" + protocolFlagOfKey[key[:i]]
	}
	if fileOnlyKeys[key] || strings.ContainsAny(key, "[.") {
		return key
	}
	if f, ok := flagOfKey[key]; ok {
		return "--" + f
	}
	return "--" + strings.ReplaceAll(key, "_", "-")
}
