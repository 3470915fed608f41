//go:build linux

package driver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"

	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/scenario"
)

// wss:// targets. The event loops work on plain sockets (epoll, io_uring),
// so a TLS connection reaches them through a bridge: crypto/tls runs on the
// TCP socket in two goroutines that copy plaintext to and from one end of a
// Unix socket pair, and the loop owns the other end. Each wss connection
// thus costs two goroutines, their buffers and three descriptors instead of
// one; its latency includes the decryption and one copy through the pair
// (a few µs on loopback). ws:// connections are untouched by any of this.

// tlsConfig is the client TLS configuration of c: the system's roots plus
// the certificates of Spec.CA (c.CA, read by scenario.Compile), or no
// verification at all with Spec.Insecure.
func tlsConfig(c *scenario.Compiled, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if c.Spec.Insecure {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	if c.CA == nil {
		return cfg, nil // the system's roots
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(c.CA) {
		return nil, &scenario.FieldError{Key: "ca", Err: fmt.Errorf("%s: no valid certificate in it", c.Spec.CA)}
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// targetTLS is the TLS configuration for a wss:// target u (nil for ws://).
func targetTLS(c *scenario.Compiled, u *url.URL) (*tls.Config, error) {
	if u.Scheme != "wss" {
		return nil, nil
	}
	return tlsConfig(c, u.Hostname())
}

// tlsHandshake runs the TLS handshake on nc within ctx.
func tlsHandshake(ctx context.Context, nc net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// tlsErrorKind names a failed TLS handshake.
func tlsErrorKind(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var alert tls.AlertError
	var rec tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.As(err, &unknown):
		return "tls_unknown_authority"
	case errors.As(err, &host):
		return "tls_bad_hostname"
	case errors.As(err, &invalid), errors.As(err, &verify):
		return "tls_bad_certificate"
	case errors.As(err, &rec):
		return "tls_not_tls" // the server answered in plaintext
	case errors.As(err, &alert):
		return "tls_alert"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "tls_timeout"
	case errors.Is(err, io.EOF), errors.Is(err, unix.ECONNRESET):
		return "tls_reset"
	default:
		return "tls_error"
	}
}

// bridgeTLS hands tc to two copying goroutines and returns the socket the
// event loop uses in its place, non-blocking. Closing that socket ends the
// bridge and the TLS connection (with a close_notify); the server ending the
// TLS connection shuts the socket's read side, as a TCP close would.
func bridgeTLS(tc *tls.Conn) (int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socketpair: %w", err)
	}
	f := os.NewFile(uintptr(fds[1]), "wss-bridge")
	pc, err := net.FileConn(f) // duplicates the descriptor
	f.Close()
	if err != nil {
		unix.Close(fds[0])
		return -1, fmt.Errorf("bridge: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		pc.Close()
		return -1, err
	}
	uc := pc.(*net.UnixConn)
	go func() { // server → loop
		io.Copy(uc, tc)
		uc.CloseWrite() // the loop sees the end of the stream
	}()
	go func() { // loop → server
		io.Copy(tc, uc)
		tc.Close() // close_notify, then the TCP socket
		uc.Close()
	}()
	return fds[0], nil
}
