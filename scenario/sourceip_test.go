package scenario

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// addrs parses each of ss, for expected values.
func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// seq is n consecutive addresses from first.
func seq(first string, n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	for a := netip.MustParseAddr(first); len(out) < n; a = a.Next() {
		out = append(out, a)
	}
	return out
}

func TestParseSourceIPs(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []netip.Addr // when wantErr is empty
		// wantErr: substrings the error must all contain; it must also
		// start with "source_ip: " and be one line.
		wantErr []string
	}{
		// an empty flag means no source addresses, and is no error
		{"empty", "", nil, nil},
		// so does a value of blanks only
		{"blank", "  \t ", nil, nil},
		// one IPv4 address
		{"single v4", "127.0.0.2", addrs("127.0.0.2"), nil},
		// one IPv6 address
		{"single v6", "::1", addrs("::1"), nil},
		// several singles keep the order given, not sorted
		{"singles in order", "127.0.0.3,127.0.0.1,127.0.0.2", addrs("127.0.0.3", "127.0.0.1", "127.0.0.2"), nil},
		// an IPv4 range of 16, both ends included, ascending
		{"v4 range of 16", "127.0.0.1-127.0.0.16", seq("127.0.0.1", 16), nil},
		// a range carries over octet boundaries
		{"v4 range across octet", "10.0.0.254-10.0.1.1", addrs("10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"), nil},
		// an IPv6 range
		{"v6 range", "fd00::1-fd00::20", seq("fd00::1", 32), nil},
		// a range of one address
		{"range of one", "127.0.0.5-127.0.0.5", addrs("127.0.0.5"), nil},
		// singles and ranges of both families mixed in one list, in the order given
		{"mixed list", "::1,127.0.0.1-127.0.0.3,fd00::a-fd00::b,10.1.2.3",
			addrs("::1", "127.0.0.1", "127.0.0.2", "127.0.0.3", "fd00::a", "fd00::b", "10.1.2.3"), nil},
		// whitespace around items and around the ends of a range is ignored
		{"whitespace", " 127.0.0.1 ,\t::1 , 10.0.0.1 - 10.0.0.2 ", addrs("127.0.0.1", "::1", "10.0.0.1", "10.0.0.2"), nil},
		// an IPv4-mapped IPv6 address is unmapped
		{"mapped single", "::ffff:127.0.0.1", addrs("127.0.0.1"), nil},
		// so are the ends of a range, which then is an IPv4 range, even with one end unmapped already
		{"mapped range", "::ffff:127.0.0.1-127.0.0.3", addrs("127.0.0.1", "127.0.0.2", "127.0.0.3"), nil},
		// exactly 65,536 addresses in one IPv4 range is allowed
		{"v4 cap boundary", "10.0.0.0-10.0.255.255", seq("10.0.0.0", 65536), nil},
		// and in one IPv6 range
		{"v6 cap boundary", "fd00::-fd00::ffff", seq("fd00::", 65536), nil},

		// a malformed address names the item
		{"malformed", "127.0.0.1,127.0.0.300", nil, []string{`"127.0.0.300"`, "not an IP address"}},
		// a host name is not an address
		{"host name", "localhost", nil, []string{`"localhost"`, "not an IP address"}},
		// a malformed end of a range names the whole range
		{"malformed range end", "10.0.0.1-10.0.0.x", nil, []string{`"10.0.0.1-10.0.0.x"`, "not an IP address"}},
		// a range with a missing end
		{"open range", "10.0.0.1-", nil, []string{`"10.0.0.1-"`, "not an IP address"}},
		// a range of three ends
		{"three ends", "10.0.0.1-10.0.0.2-10.0.0.3", nil, []string{`"10.0.0.1-10.0.0.2-10.0.0.3"`, "not an IP address"}},
		// a CIDR prefix is not supported
		{"cidr", "10.0.0.0/24", nil, []string{`"10.0.0.0/24"`, "not an IP address"}},
		// an empty item, as from a doubled or trailing comma
		{"empty item", "127.0.0.1,,127.0.0.2", nil, []string{"empty item"}},
		{"trailing comma", "127.0.0.1,", nil, []string{"empty item"}},
		// a range whose start is after its end
		{"reversed range", "127.0.0.16-127.0.0.1", nil, []string{`"127.0.0.16-127.0.0.1"`, "starts after it ends"}},
		// a range mixing IPv4 and IPv6
		{"mixed families", "127.0.0.1-::1", nil, []string{`"127.0.0.1-::1"`, "mixes IPv4 and IPv6"}},
		// 65,537 addresses in one IPv4 range is one too many
		{"v4 over cap", "10.0.0.0-10.1.0.0", nil, []string{`"10.0.0.0-10.1.0.0"`, "65537 addresses", "65536"}},
		// and in one IPv6 range
		{"v6 over cap", "fd00::-fd00::1:0", nil, []string{`"fd00::-fd00::1:0"`, "65537 addresses"}},
		// a huge IPv6 range is refused without expanding it, with its exact size
		{"v6 huge", "fd00::-fd00::ffff:ffff:ffff:ffff", nil, []string{"18446744073709551616 addresses"}},
		// the same address twice
		{"duplicate single", "127.0.0.1, 127.0.0.1", nil, []string{"127.0.0.1 is listed twice"}},
		// the same address twice, once mapped
		{"duplicate after unmap", "127.0.0.1,::ffff:127.0.0.1", nil, []string{"127.0.0.1 is listed twice", `"::ffff:127.0.0.1"`}},
		// a single address inside an earlier range
		{"single inside range", "127.0.0.1-127.0.0.8,127.0.0.4", nil, []string{"127.0.0.4 is listed twice", `"127.0.0.1-127.0.0.8"`}},
		// overlapping ranges name the first shared address and both items
		{"overlapping ranges", "127.0.0.1-127.0.0.8,127.0.0.6-127.0.0.10", nil,
			[]string{"127.0.0.6 is listed twice", `"127.0.0.1-127.0.0.8"`, `"127.0.0.6-127.0.0.10"`}},
		// IPv6 addresses written differently are still the same
		{"duplicate v6 spelling", "fd00::1,fd00:0:0::0001", nil, []string{"fd00::1 is listed twice"}},
		// a zone is not supported
		{"zone", "fe80::1%eth0", nil, []string{`"fe80::1%eth0"`, "zones", "not supported"}},
		// nor in a range
		{"zone in range", "fe80::1-fe80::2%eth0", nil, []string{`"fe80::1-fe80::2%eth0"`, "zones"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSourceIPs(tc.in)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseSourceIPs(%q) = %d addresses, want an error", tc.in, len(got))
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "source_ip: ") || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line starting with \"source_ip: \"", msg)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not mention %q", msg, w)
					}
				}
				if got != nil {
					t.Errorf("got %d addresses along with the error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSourceIPs(%q): %v", tc.in, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ParseSourceIPs(%q) = %s, want %s", tc.in, short(got), short(tc.want))
			}
			for _, a := range got {
				if a.Is4In6() || a.Zone() != "" {
					t.Errorf("%s: want unmapped, without a zone", a)
				}
			}
		})
	}
}

// short formats a list of addresses, abbreviating long ones.
func short(as []netip.Addr) string {
	if len(as) <= 8 {
		return fmt.Sprint(as)
	}
	return fmt.Sprintf("%v … %v (%d)", as[:4], as[len(as)-4:], len(as))
}
