package promserve

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestListenServesPathUntilClose: the registry is served at Path (and only
// there: anything else is 404), and nothing is served once Close returns.
func TestListenServesPathUntilClose(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "promserve_test_total", Help: "a test counter"})
	reg.MustRegister(c)
	c.Add(7)
	ep, err := Listen("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(ep.URL()); code != http.StatusOK || !strings.Contains(body, "promserve_test_total 7") {
		t.Errorf("GET %s: %d %q", ep.URL(), code, body)
	}
	if code, _ := get("http://" + ep.Addr().String() + "/other"); code != http.StatusNotFound {
		t.Errorf("GET /other: %d, want 404", code)
	}
	if err := ep.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get(ep.URL()); err == nil {
		t.Error("still served after Close")
	}
}

// TestCheckAddr: listen addresses are host:port with a numeric port.
func TestCheckAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		":9090": true, "127.0.0.1:0": true, "[::1]:9090": true, // the usual forms
		"9090": false, "host": false, ":http": false, ":70000": false, ":-1": false, // no port, a named or out-of-range one
	} {
		if err := CheckAddr(addr); (err == nil) != ok {
			t.Errorf("CheckAddr(%q) = %v, want ok %v", addr, err, ok)
		}
	}
}
