//go:build linux

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// browserPage is the page whose JavaScript WebSocket client the test runs.
const browserPage = "testdata/browser/conformance.html"

// browserResult is what the page posts to /result.
type browserResult struct {
	Pass      bool
	Error     string
	UserAgent string
	Runs      []struct {
		URL        string
		Error      string
		Protocol   string
		Extensions string
		Echoes     []struct {
			Kind string
			Size int
			OK   bool
		}
		Close struct {
			Code     int
			Reason   string
			WasClean bool
		}
	}
}

// TestBrowserConformance runs a real browser's WebSocket client (headless
// Chromium) against the server. An httptest server on 127.0.0.1 serves
// testdata/browser/conformance.html; the page connects to two bundled
// servers, one with permessage-deflate (the default) and one without
// (DisableDeflate), both speaking the subprotocol "chat" and allowing only
// the page's Origin. On each it echoes text and binary messages from 0 B to
// 100 KiB (7-, 16- and 64-bit lengths), closes with 4000 and a reason, and
// posts what it saw to /result. The test asserts every step: the
// subprotocol, the extension negotiated (or not), every echo intact, the
// close echoed cleanly; and, on the server side, the upgrade, the messages,
// the compressed ones, and the 4000 it echoed.
func TestBrowserConformance(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skipf("chromium not on PATH (%v): this test runs a real browser's WebSocket client against the server", err)
	}
	page, err := os.ReadFile(browserPage)
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan []byte, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case results <- b:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})
	web := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(web.Close)

	cfg := Config{Subprotocols: []string{"wsbench.echo", "chat"}, AllowedOrigins: []string{web.URL}}
	deflateSrv, deflateAddr := startServer(t, cfg)
	cfg.DisableDeflate = true
	plainSrv, plainAddr := startServer(t, cfg)
	q := url.Values{"ws": {"ws://" + deflateAddr + "/", "ws://" + plainAddr + "/"}}

	raw := runChromium(t, chromium, web.URL+"/?"+q.Encode(), results)
	var res browserResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("page result: %v\n%s", err, raw)
	}
	t.Logf("browser: %s", res.UserAgent)
	if res.Error != "" || len(res.Runs) != 2 {
		t.Fatalf("page failed: %s (%d runs)\n%s", res.Error, len(res.Runs), raw)
	}
	const msgs = 2 * 8 // text and binary at eight sizes
	for i, tc := range []struct {
		name       string
		srv        *Server
		extensions string
	}{
		// Chromium offers permessage-deflate; client_max_window_bits.
		{"deflate", deflateSrv, "permessage-deflate;client_no_context_takeover"},
		{"no-deflate", plainSrv, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := res.Runs[i]
			if r.Error != "" {
				t.Fatalf("page: %s", r.Error)
			}
			if r.Protocol != "chat" {
				t.Errorf("protocol %q, want chat (the page offered nope, chat)", r.Protocol)
			}
			if r.Extensions != tc.extensions {
				t.Errorf("extensions %q, want %q", r.Extensions, tc.extensions)
			}
			if len(r.Echoes) != msgs {
				t.Errorf("%d echoes, want %d", len(r.Echoes), msgs)
			}
			for _, e := range r.Echoes {
				if !e.OK {
					t.Errorf("%s echo of %d bytes differs from the message sent", e.Kind, e.Size)
				}
			}
			// The server echoes the code, not the reason.
			if r.Close.Code != 4000 || r.Close.Reason != "" || !r.Close.WasClean {
				t.Errorf("close event %+v, want code 4000, no reason, clean", r.Close)
			}
			var ok bool
			var st Stats
			if tc.extensions != "" {
				// Chromium compresses its messages; each echo of a
				// compressed one is compressed.
				ok = waitFor(2*time.Second, func() bool {
					st = tc.srv.Stats()
					return st.DeflateNegotiated == 1 && st.CompressedIn > 0 && st.CompressedOut == st.CompressedIn &&
						st.MessagesIn == msgs && st.MessagesOut == msgs && st.CloseCodesSent[4000] == 1
				})
			} else {
				ok = waitFor(2*time.Second, func() bool {
					st = tc.srv.Stats()
					return st.DeflateNegotiated == 0 && st.CompressedIn == 0 && st.CompressedOut == 0 &&
						st.MessagesIn == msgs && st.MessagesOut == msgs && st.CloseCodesSent[4000] == 1
				})
			}
			t.Logf("server: upgraded %d, messages in %d out %d, compressed in %d out %d, close codes %v",
				st.Upgraded, st.MessagesIn, st.MessagesOut, st.CompressedIn, st.CompressedOut, st.CloseCodesSent)
			if !ok || st.Upgraded != 1 || st.OriginRejected != 0 {
				t.Errorf("server stats do not match the page's run: %+v", st)
			}
		})
	}
	if !res.Pass {
		t.Errorf("the page's own verdict is FAIL")
	}
}

// runChromium opens pageURL in headless Chromium and returns what the page
// posts to results, killing the browser (its whole process group) when done
// or after a minute.
func runChromium(t *testing.T, chromium, pageURL string, results <-chan []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-extensions",
		"--disable-sync", "--no-first-run", "--no-default-browser-check", "--mute-audio",
		"--user-data-dir="+t.TempDir(), pageURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cancel()
		<-exited
	}
	select {
	case b := <-results:
		stop()
		return b
	case err := <-exited:
		t.Fatalf("chromium exited before the page reported: %v\n%s", err, lastLines(stderr.String(), 30))
	case <-ctx.Done():
		stop()
		t.Fatalf("no result from the page within a minute\n%s", lastLines(stderr.String(), 30))
	}
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
