//go:build !linux

// The wsbench client drives its connections with epoll, io_uring and Linux
// socket options (SO_TIMESTAMPNS, IP_BIND_ADDRESS_NO_PORT), so it builds for
// Linux only. This file makes a build for any other GOOS stop here, on one
// line that says so, instead of on a list of undefined names in the driver.

package uring

var _ int = "wsbench builds for Linux only (epoll, io_uring): see README"
