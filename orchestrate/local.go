package orchestrate

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// lookupTimeout bounds the name lookup of OnThisMachine: the answer only
// decides whether a warning about a shared machine applies.
const lookupTimeout = time.Second

// OnThisMachine reports whether target's host is this machine: localhost, a
// loopback or unspecified address, an address of one of its interfaces, or a
// name that resolves to one of those (the machine's own host name, say).
func OnThisMachine(target string) bool {
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		defer cancel()
		if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			return false // unresolvable here: the run's own dial errors say more
		}
	}
	var local []netip.Addr
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				local = append(local, p.Addr().Unmap().WithZone(""))
			}
		}
	}
	for _, ip := range ips {
		ip = ip.Unmap().WithZone("")
		if ip.IsLoopback() || ip.IsUnspecified() {
			return true
		}
		for _, l := range local {
			if l == ip {
				return true
			}
		}
	}
	return false
}
