//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// serveLogs serves the kubelet endpoint the apiserver proxies pod logs to:
// GET /containerLogs/{namespace}/{pod}/{container}?follow=&tailLines=&limitBytes=
// over HTTPS with a certificate made here (the apiserver is started without
// --kubelet-certificate-authority, so it does not check it).
func (s *standin) serveLogs(ctx context.Context) (io.Closer, error) {
	cert, err := selfSigned()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.listen)
	if err != nil {
		return nil, fmt.Errorf("kubelet endpoint: %w", err)
	}
	s.port = int32(ln.Addr().(*net.TCPAddr).Port)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:   &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("kubelet endpoint: %v", err)
		}
	}()
	return srv, nil
}

func (s *standin) containerLogs(w http.ResponseWriter, req *http.Request) {
	ns, name, container := req.PathValue("namespace"), req.PathValue("pod"), req.PathValue("container")
	q := req.URL.Query()
	if q.Get("previous") == "true" {
		http.Error(w, "the stand-in never restarts a container: there is no previous one", http.StatusBadRequest)
		return
	}
	var run *podRun
	s.mu.Lock()
	for _, r := range s.pods {
		if r.pod.Namespace == ns && r.pod.Name == name && (run == nil || r.pod.CreationTimestamp.After(run.pod.CreationTimestamp.Time)) {
			run = r
		}
	}
	s.mu.Unlock()
	if run == nil {
		http.Error(w, fmt.Sprintf("pod %s/%s is not on this node", ns, name), http.StatusNotFound)
		return
	}
	f, err := os.Open(run.logPath(container))
	if err != nil {
		http.Error(w, fmt.Sprintf("container %s of pod %s/%s has no log yet", container, ns, name), http.StatusNotFound)
		return
	}
	defer f.Close()
	limit := int64(-1)
	if v := q.Get("limitBytes"); v != "" {
		if limit, err = strconv.ParseInt(v, 10, 64); err != nil || limit < 1 {
			http.Error(w, "limitBytes: want a positive integer", http.StatusBadRequest)
			return
		}
	}
	var out io.Writer = w
	if limit > 0 {
		out = &limitWriter{w: w, n: limit}
	}
	w.Header().Set("Content-Type", "text/plain")
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "tailLines: want a number", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(f)
		if n == 0 {
			b = nil
		} else if lines := bytes.SplitAfter(b, []byte("\n")); len(lines) > 0 {
			if len(lines[len(lines)-1]) == 0 {
				lines = lines[:len(lines)-1]
			}
			if len(lines) > n {
				lines = lines[len(lines)-n:]
			}
			b = bytes.Join(lines, nil)
		}
		if _, err := out.Write(b); err != nil {
			return
		}
	} else if _, err := io.Copy(out, f); err != nil {
		return
	}
	if q.Get("follow") != "true" || strings.EqualFold(q.Get("follow"), "false") {
		return
	}
	fl, _ := w.(http.Flusher)
	for {
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-req.Context().Done():
			return
		case <-run.done:
			_, _ = io.Copy(out, f)
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := io.Copy(out, f); err != nil {
			return
		}
	}
}

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "wsbench-standin"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
