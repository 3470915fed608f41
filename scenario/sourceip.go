package scenario

import (
	"math/big"
	"net/netip"
	"strings"
)

// MaxSourceRange is the largest number of addresses one range of --source-ip
// may expand to.
const MaxSourceRange = 65536

// ParseSourceIPs parses the value of --source-ip: a comma-separated list whose
// items are single addresses ("127.0.0.2", "::1") or inclusive ranges "A-B" of
// one family ("127.0.0.1-127.0.0.16", "fd00::1-fd00::20"). Whitespace around
// items and around the two ends of a range is ignored. An empty value gives
// nil and no error.
//
// The addresses come back in the order given, each range expanded in
// ascending order. IPv4-mapped IPv6 addresses are unmapped (::ffff:127.0.0.1
// is 127.0.0.1). The error, one line naming the offending item, reports: an
// empty item, a malformed address, a zone (fe80::1%eth0; not supported), a
// range whose start is after its end or that mixes IPv4 and IPv6, a range of
// more than MaxSourceRange addresses, and an address listed twice (also
// through overlapping ranges).
func ParseSourceIPs(s string) ([]netip.Addr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Addr
	seen := make(map[netip.Addr]string) // address → the item that listed it first
	add := func(a netip.Addr, item string) error {
		if first, dup := seen[a]; dup {
			return fieldErr("source_ip", "%s is listed twice: by %q and again by %q", a, first, item)
		}
		seen[a] = item
		out = append(out, a)
		return nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fieldErr("source_ip", "empty item in %q", s)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		first, err := parseSourceAddr(strings.TrimSpace(lo), item)
		if err != nil {
			return nil, err
		}
		if !isRange {
			if err := add(first, item); err != nil {
				return nil, err
			}
			continue
		}
		last, err := parseSourceAddr(strings.TrimSpace(hi), item)
		if err != nil {
			return nil, err
		}
		if first.Is4() != last.Is4() {
			return nil, fieldErr("source_ip", "range %q mixes IPv4 and IPv6", item)
		}
		if first.Compare(last) > 0 {
			return nil, fieldErr("source_ip", "range %q starts after it ends", item)
		}
		// Expand into a block first, so that an oversized range is refused
		// after at most MaxSourceRange steps, before anything is added.
		var block []netip.Addr
		for a := first; ; a = a.Next() {
			if len(block) == MaxSourceRange {
				return nil, fieldErr("source_ip", "range %q has %s addresses, more than the %d allowed in one range",
					item, rangeSize(first, last), MaxSourceRange)
			}
			block = append(block, a)
			if a == last {
				break
			}
		}
		for _, a := range block {
			if err := add(a, item); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// parseSourceAddr parses one address of item, unmapping IPv4-mapped IPv6.
func parseSourceAddr(s, item string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fieldErr("source_ip", "%q: not an IP address: %v", item, err)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fieldErr("source_ip", "%q: zones (%%%s) are not supported", item, a.Zone())
	}
	return a.Unmap(), nil
}

// rangeSize is the number of addresses from a to b inclusive, a ≤ b, same family.
func rangeSize(a, b netip.Addr) *big.Int {
	n := new(big.Int).SetBytes(b.AsSlice())
	n.Sub(n, new(big.Int).SetBytes(a.AsSlice()))
	return n.Add(n, big.NewInt(1))
}
