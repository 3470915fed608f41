package server

import (
	"fmt"
	"net"
)

// exposureWarnings returns a warning for each listener bound to an address
// that other machines can reach (anything but loopback, the unspecified
// 0.0.0.0 and :: included): addr, the WebSocket listener, and statsAddr, the
// stats endpoint (nil: none). An exposed WebSocket listener without an
// Origin allow-list gets a second warning: any web page can then make its
// visitors' browsers connect.
func exposureWarnings(addr, statsAddr net.Addr, allowedOrigins []string) []string {
	var warns []string
	if ip, ok := exposedIP(addr); ok {
		warns = append(warns, fmt.Sprintf("listening on %s, reachable from other machines", ip))
		if len(allowedOrigins) == 0 {
			warns = append(warns, "no Origin allow-list: a web page on any site can connect through its visitors' browsers")
		}
	}
	if ip, ok := exposedIP(statsAddr); ok {
		warns = append(warns, fmt.Sprintf("stats on %s, reachable from other machines", ip))
	}
	return warns
}

// exposedIP returns the host of a, and whether it is reachable from other
// machines: not a loopback address. A nil a is not.
func exposedIP(a net.Addr) (string, bool) {
	if a == nil {
		return "", false
	}
	host := a.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	return host, ip == nil || !ip.IsLoopback()
}
