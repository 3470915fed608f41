package driver

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
)

// TestDialErrorKind: each way a TCP connect fails gets its own kind; a host
// name that does not resolve is connect_dns, not the catch-all connect_error.
func TestDialErrorKind(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		// the resolver found no such host
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, "connect_dns"},
		// the resolver timed out: still a DNS failure, not a connect timeout
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "x.example", IsTimeout: true}}, "connect_dns"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "connect_refused"},
		{context.DeadlineExceeded, "connect_timeout"},
		{errors.New("something else"), "connect_error"},
	}
	for _, c := range cases {
		if got := dialErrorKind(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
}
