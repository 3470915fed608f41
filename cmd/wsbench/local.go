package main

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// onThisMachine reports whether target's host is this machine: localhost, a
// loopback or unspecified address, or an address of one of its interfaces.
// Other names are not looked up (the driver resolves the target when it
// dials); they count as elsewhere.
func onThisMachine(target string) bool {
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap().WithZone("") == ip {
			return true
		}
	}
	return false
}
