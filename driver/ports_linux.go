//go:build linux

package driver

import (
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
)

// reservedPortsFile lists ports connect(2) must not pick on its own.
const reservedPortsFile = "/proc/sys/net/ipv4/ip_local_reserved_ports"

// portTries is how many ports in turn a dial binds before it leaves the choice
// to the kernel (whose failure then names the real shortage).
const portTries = 8

// portPicker hands out source ports in turn over the ephemeral range, for
// dials that bind their port before they connect.
//
// Why: connect(2) left to pick a port itself searches the range from a
// per-destination offset that it advances by a random skip, so once a few
// thousand connections to one server are open, each new one walks past ports
// in use and checks each against the established-connection table
// (__inet_check_established, __inet_hash_connect): a third of the client's
// CPU in a storm of 15,000 connections to one server. A port bound in turn is
// checked once. SO_REUSEADDR lets the bind share a port with connections to
// other destinations, as the kernel's own choice would; a port in use
// towards the same server fails the connect (EADDRNOTAVAIL) and a port held
// by a listener fails the bind (EADDRINUSE), and the dial takes the next one.
type portPicker struct {
	lo, n uint32
	next  atomic.Uint32
}

// newPortPicker returns a picker over this host's ephemeral range, starting
// at a random place in it (so that the processes of a --procs run seldom
// meet), or nil when the range cannot be read or some of it is reserved:
// then the kernel picks, as it would anyway.
func newPortPicker() *portPicker {
	low, high, err := readPortRange()
	if err != nil {
		return nil
	}
	if b, err := os.ReadFile(reservedPortsFile); err != nil || strings.TrimSpace(string(b)) != "" {
		return nil
	}
	p := &portPicker{lo: uint32(low), n: uint32(high - low + 1)}
	p.next.Store(rand.Uint32N(p.n))
	return p
}

// take returns the next port.
func (p *portPicker) take() int { return int(p.lo + p.next.Add(1)%p.n) }
