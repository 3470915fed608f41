package orchestrate

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestOnThisMachine(t *testing.T) {
	for target, want := range map[string]bool{
		"ws://localhost:8080/":      true,
		"ws://LOCALHOST/":           true,
		"ws://a.localhost/":         true,
		"ws://127.0.0.1:1/":         true,
		"ws://127.3.4.5/":           true,
		"ws://[::1]:80/":            true,
		"ws://0.0.0.0:80/":          true,
		"wss://[::ffff:127.0.0.1]/": true,
		"ws://192.0.2.1/":           false, // TEST-NET-1: documentation only
		"ws://[2001:db8::1]/":       false,
		"not a url\x7f":             false,
	} {
		if got := OnThisMachine(target); got != want {
			t.Errorf("OnThisMachine(%q) = %v, want %v", target, got, want)
		}
	}
	// This machine's own name, where /etc/hosts gives it a loopback or
	// interface address (no DNS query needed to answer).
	if h, err := os.Hostname(); err == nil && hostsGivesLocal(t, h) {
		if u := "ws://" + h + ":8080/"; !OnThisMachine(u) {
			t.Errorf("OnThisMachine(%q) = false for this machine's host name", u)
		}
	}
	// An address of one of this machine's interfaces.
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil || p.Addr().IsLoopback() || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		u := "ws://" + netip.AddrPortFrom(p.Addr(), 80).String() + "/"
		if !OnThisMachine(u) {
			t.Errorf("OnThisMachine(%q) = false for an interface address", u)
		}
	}
}

// hostsGivesLocal reports whether /etc/hosts maps name to a loopback address
// or an address of one of this machine's interfaces.
func hostsGivesLocal(t *testing.T, name string) bool {
	b, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Logf("no /etc/hosts: %v", err)
		return false
	}
	addrs, _ := net.InterfaceAddrs()
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.SplitN(line, "#", 2)[0])
		if len(f) < 2 || !slices.Contains(f[1:], name) {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		if ip.IsLoopback() {
			return true
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == ip {
				return true
			}
		}
	}
	t.Logf("/etc/hosts gives %q no local address; name case skipped", name)
	return false
}
