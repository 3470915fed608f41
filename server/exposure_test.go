package server

import (
	"net"
	"reflect"
	"testing"
)

// TestExposureWarnings: a listener on anything but loopback is reported,
// and an exposed WebSocket listener without an Origin allow-list as well.
func TestExposureWarnings(t *testing.T) {
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	const noOrigins = "no Origin allow-list: a web page on any site can connect through its visitors' browsers"
	cases := []struct {
		name    string
		addr    net.Addr
		stats   net.Addr
		origins []string
		want    []string
	}{
		// Loopback, IPv4 and IPv6, with stats: nothing to say.
		{"loopback", tcp("127.0.0.1", 8080), tcp("127.0.0.1", 9090), nil, nil},
		{"loopback-v6", tcp("::1", 8080), nil, nil, nil},
		// All of 127.0.0.0/8 is loopback.
		{"loopback-127.0.0.2", tcp("127.0.0.2", 8080), nil, nil, nil},
		// All interfaces: reachable, and any page can connect.
		{"unspecified", tcp("0.0.0.0", 8080), nil, nil,
			[]string{"listening on 0.0.0.0, reachable from other machines", noOrigins}},
		{"unspecified-v6", tcp("::", 8080), nil, nil,
			[]string{"listening on ::, reachable from other machines", noOrigins}},
		// A LAN address with an Origin allow-list: only the reach.
		{"lan-with-origins", tcp("192.0.2.10", 8080), nil, []string{"https://example.com"},
			[]string{"listening on 192.0.2.10, reachable from other machines"}},
		// Only the stats endpoint exposed.
		{"stats-exposed", tcp("127.0.0.1", 8080), tcp("0.0.0.0", 9090), nil,
			[]string{"stats on 0.0.0.0, reachable from other machines"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := exposureWarnings(tc.addr, tc.stats, tc.origins); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("exposureWarnings = %q, want %q", got, tc.want)
			}
		})
	}
}
