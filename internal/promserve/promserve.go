// Package promserve serves a Prometheus registry over HTTP at /metrics: the
// one listener both sides use for --metrics-addr (live for `wsbench run`,
// server for `wsbench serve`), so neither writes its own HTTP plumbing.
//
//	reg := prometheus.NewRegistry()
//	ep, err := promserve.Listen("127.0.0.1:0", reg)
//	if err != nil {
//		return err
//	}
//	defer ep.Close()
//	fmt.Println("scrape http://" + ep.Addr().String() + promserve.Path)
package promserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the exposition is served.
const Path = "/metrics"

// Endpoint is a listening /metrics endpoint; Close stops it.
type Endpoint struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// Listen listens on addr (host:port; port 0 picks a free one, see
// Endpoint.Addr) and serves g at Path in the text format, OpenMetrics or
// Prometheus' protobuf format (which carries native histograms), as the
// scraper asks, until Close. Anything but Path is 404.
func Listen(addr string, g prometheus.Gatherer) (*Endpoint, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError, // what could be gathered is still served
		EnableOpenMetrics: true,
	}))
	e := &Endpoint{ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(e.done)
		e.srv.Serve(ln) // returns ErrServerClosed on Close
	}()
	return e, nil
}

// Addr is the address the endpoint listens on.
func (e *Endpoint) Addr() net.Addr { return e.ln.Addr() }

// URL is the endpoint's http:// URL, Path included.
func (e *Endpoint) URL() string { return "http://" + e.ln.Addr().String() + Path }

// Close stops the endpoint, letting a scrape under way finish for up to a
// second.
func (e *Endpoint) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	<-e.done
	if errors.Is(err, context.DeadlineExceeded) {
		err = e.srv.Close()
	}
	return err
}

// CheckAddr says whether addr is a listen address (host:port, host
// optional, port a number 0-65535), before anything listens on it.
func CheckAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}
