//go:build linux

package driver

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func closeDialed(ds []dialed) {
	for _, d := range ds {
		unix.Close(d.fd)
	}
}

// bindAddressNoPort sets IP_BIND_ADDRESS_NO_PORT on a socket about to be
// bound to a source address: the kernel then picks the port at connect, per
// destination, instead of at bind, where one port would be held for the
// address whatever the destination.
var bindAddressNoPort = setBeforeBind(unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT)

// reuseAddr sets SO_REUSEADDR on a socket about to be bound to a port chosen
// by portPicker.
var reuseAddr = setBeforeBind(unix.SOL_SOCKET, unix.SO_REUSEADDR)

// setBeforeBind returns a net.Dialer Control that sets the integer socket
// option level/opt to 1 before the dialer binds and connects.
func setBeforeBind(level, opt int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), level, opt, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}
}
