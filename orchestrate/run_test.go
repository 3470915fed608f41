package orchestrate

import (
	"errors"
	"testing"

	"github.com/wsbench/wsbench/scenario"
)

func TestBundledKind(t *testing.T) {
	echo, bcast, hold := scenario.Group{Name: "e", Kind: scenario.KindEcho}, scenario.Group{Name: "b", Kind: scenario.KindBroadcast}, scenario.Group{Name: "h", Kind: scenario.KindHold}
	for _, tc := range []struct {
		name   string
		kind   scenario.Kind // the top level's
		groups []scenario.Group
		want   scenario.Kind // "": a FieldError on groups
	}{
		{"one workload: its own kind", scenario.KindBroadcast, nil, scenario.KindBroadcast},
		{"one workload: echo", scenario.KindEcho, nil, scenario.KindEcho},
		{"a mix with no broadcast group: echo", scenario.KindEcho, []scenario.Group{echo, hold}, scenario.KindEcho},
		{"a mix of broadcast groups only: broadcast", scenario.KindEcho, []scenario.Group{bcast, bcast}, scenario.KindBroadcast},
		{"a group without a kind takes the top level's", scenario.KindBroadcast, []scenario.Group{bcast, {Name: "x"}}, scenario.KindBroadcast},
		{"broadcast beside echo: no bundled server does both", scenario.KindEcho, []scenario.Group{echo, bcast}, ""},
	} {
		spec := scenario.Default()
		spec.Kind, spec.Groups = tc.kind, tc.groups
		got, err := BundledKind(spec)
		var fe *FieldError
		switch {
		case tc.want == "" && (!errors.As(err, &fe) || fe.Key != "groups"):
			t.Errorf("%s: got %q, %v; want a FieldError on groups", tc.name, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestLabel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets []string
		i       int
		want    string
	}{
		{"host, port and path, made safe for a file name", []string{"ws://127.0.0.1:8080/echo/x"}, 0, "127.0.0.1_8080_echo_x"},
		{"no host: a fixed name", []string{"not a url"}, 0, "target"},
		{"the same name twice: each gets its position", []string{"ws://h:1/a?x=1", "ws://h:1/a?x=2"}, 1, "h_1_a-2"},
		{"different names: no position", []string{"ws://h:1/a", "ws://h:2/a"}, 1, "h_2_a"},
	} {
		if got := Label(tc.targets[tc.i], tc.i, tc.targets); got != tc.want {
			t.Errorf("%s: Label(%q) = %q, want %q", tc.name, tc.targets[tc.i], got, tc.want)
		}
	}
}
