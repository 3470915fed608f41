//go:build linux

package driver

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
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

// bindControl returns a net.Dialer Control that binds the new socket to src
// (the zero Addr: any address) and the picker's ports in turn, with
// SO_REUSEADDR, stepping past ports a listener holds (EADDRINUSE) on the same
// socket: a socket, a setsockopt and a close fewer per port taken than a
// dial per port. *tries counts the ports taken; once it reaches portTries the
// socket is left to the kernel's choice at connect (bound to src with
// IP_BIND_ADDRESS_NO_PORT if src is set).
func (p *portPicker) bindControl(src netip.Addr, tries *int) func(network, address string, c syscall.RawConn) error {
	return func(network, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = p.bind(int(fd), network, src, tries)
		})
		if err != nil {
			return err
		}
		return serr
	}
}

func (p *portPicker) bind(fd int, network string, src netip.Addr, tries *int) error {
	v6 := network == "tcp6"
	if src.IsValid() && src.Unmap().Is4() == v6 {
		return errors.New("source address " + src.String() + " is not of the " + network + " family")
	}
	sockaddr := func(port int) unix.Sockaddr {
		if v6 {
			return &unix.SockaddrInet6{Port: port, Addr: src.As16()}
		}
		sa := &unix.SockaddrInet4{Port: port}
		if src.IsValid() {
			sa.Addr = src.Unmap().As4()
		}
		return sa
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	for *tries < portTries {
		*tries++
		err := unix.Bind(fd, sockaddr(p.take()))
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			return err
		}
	}
	if !src.IsValid() {
		return nil // unbound: connect picks a port
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
		return err
	}
	return unix.Bind(fd, sockaddr(0))
}
