package driver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// selfSigned makes a self-signed certificate for 127.0.0.1 and localhost,
// and writes it as PEM to a file of the test's.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wsbench test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// startTLSServer is the echo test server behind TLS: its URL is wss://.
func startTLSServer(t *testing.T, cert tls.Certificate) (*testServer, string) {
	t.Helper()
	s := &testServer{sources: map[string]int{}}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	s.l = listenLoopback(t, func(c net.Conn, _ int64) {
		tc := tls.Server(c, cfg)
		defer tc.Close()
		if tc.Handshake() != nil {
			return
		}
		s.serve(tc)
	})
	return s, "wss://" + s.l.ln.Addr().String() + "/"
}

// TestTLS: a wss:// run against a server with a self-signed certificate
// fails every connection with tls_unknown_authority by default, and runs
// cleanly with --ca naming the certificate or with --insecure; echo, open
// model and closed model alike, and the bridges end with the run.
func TestTLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	_, url := startTLSServer(t, cert)

	spec := quickSpec(4, 300*time.Millisecond)
	spec.Target = url
	res, err := Run(context.Background(), Config{Spec: spec, Target: url})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Snapshot.Counts; c.ConnsOpened != 0 || c.ConnsFailed != 4 || res.Snapshot.Errors["tls_unknown_authority"] != 4 {
		t.Errorf("unverified: %+v errors %v", c, res.Snapshot.Errors)
	}

	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name string
		set  func(*scenario.Spec)
	}{
		{"ca", func(s *scenario.Spec) { s.CA = caFile }},
		{"insecure", func(s *scenario.Spec) { s.Insecure = true }},
		{"ca-open-model", func(s *scenario.Spec) { s.CA = caFile; s.Rate = 400 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spec
			s.Target = url
			tc.set(&s)
			res, err := Run(context.Background(), Config{Scenario: mustCompile(t, s), Target: url})
			if err != nil {
				t.Fatal(err)
			}
			checkHealthy(t, res, 4, metrics.RTT, metrics.Handshake)
		})
	}
	// The bridges' goroutines end with their connections.
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after the runs, %d before", n, before)
	}
}

// TestTLSAgainstPlaintext: a wss:// URL whose server speaks plain HTTP fails
// with a TLS error kind, not a hang.
func TestTLSAgainstPlaintext(t *testing.T) {
	srv := startTestServer(t, 0, 0)
	url := strings.Replace(srv.url(), "ws://", "wss://", 1)
	spec := quickSpec(2, 200*time.Millisecond)
	spec.Insecure = true
	spec.ConnectTimeout = scenario.Duration(2 * time.Second)
	res, err := Run(context.Background(), Config{Spec: spec, Target: url})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Snapshot.Counts; c.ConnsOpened != 0 || c.ConnsFailed != 2 {
		t.Fatalf("%+v", c)
	}
	for kind := range res.Snapshot.Errors {
		if !strings.HasPrefix(kind, "tls_") {
			t.Errorf("error kind %q, want tls_*", kind)
		}
	}
}
