//go:build linux

package driver

import "golang.org/x/sys/unix"

func closeDialed(ds []dialed) {
	for _, d := range ds {
		unix.Close(d.fd)
	}
}
