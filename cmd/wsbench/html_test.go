package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The HTML pages in a real browser: headless Chromium opens what `wsbench
// report --format html` and `wsbench compare --format html` wrote from real
// runs against the bundled server, and the test fails on any console
// message, script error, blocked or attempted load, or plot that did not
// lay out. Screenshots are kept in $WSBENCH_ARTIFACTS (default: the test's
// temporary folder).

// chromiumFlags keep the browser to itself: no first-run work, no
// background requests, and every host name it might look up (its own
// update, sync and account checks) resolving to nothing, so no traffic
// leaves the machine whatever the page or the browser tries.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions", "--disable-default-apps",
	"--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"}

// browserTimeout bounds one Chromium run.
const browserTimeout = 60 * time.Second

// chromium runs the browser on the page, with a fresh profile in the folder
// profile and the extra flags, and returns its stdout and stderr. It is
// safe to call from any goroutine.
func chromium(browser, page, profile string, extra ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	args := append(append(append([]string(nil), chromiumFlags...), "--user-data-dir="+profile), extra...)
	cmd := exec.CommandContext(ctx, browser, append(args, "file://"+page)...)
	// Chromium starts helper processes: stop them all, as a group, on a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("chromium on %s: %v (timeout %s)\n%s", page, err, browserTimeout, e.String())
	}
	return o.String(), e.String(), nil
}

// consoleLine matches what Chromium logs, with --enable-logging=stderr, for
// every console message of a page: script errors, CSP violations, console.*.
var consoleLine = regexp.MustCompile(`(?m)^.*(:CONSOLE[:(]|Uncaught ).*$`)

// checkNonce lets the injected checker, and only it, run under the page's
// Content-Security-Policy: the page's own scripts stay blocked, and a
// blocked script is a console message, which fails the check.
const checkNonce = "wsbench-check"

// pageChecker is injected into a copy of a page, first in its head: it
// records errors and blocked loads as they happen and, at the end of the
// body and again on load, writes what it found, with every figure's plot as
// laid out, into a hidden <pre id="wsbench-check"> for --dump-dom to show.
const pageChecker = `<script nonce="` + checkNonce + `">
window.__wsbenchErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__wsbenchErrors.push(t && t !== window && t.tagName ? 'failed to load ' + t.tagName + ' ' + (t.src || t.href || '') : String(e.message));
}, true);
document.addEventListener('securitypolicyviolation', function (e) {
  window.__wsbenchErrors.push('blocked ' + e.blockedURI + ' by ' + e.violatedDirective);
});
function wsbenchCheck() {
  var out = {
    errors: window.__wsbenchErrors,
    resources: performance.getEntriesByType('resource').map(function (e) { return e.name; }),
    figures: [].map.call(document.querySelectorAll('figure'), function (f) {
      var s = f.querySelector('svg'), r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
      return {id: f.id, width: r.width, height: r.height, texts: s ? s.querySelectorAll('text').length : 0, paths: s ? s.querySelectorAll('path').length : 0};
    })
  };
  var pre = document.getElementById('wsbench-check') || document.body.appendChild(document.createElement('pre'));
  pre.id = 'wsbench-check';
  pre.hidden = true;
  pre.textContent = JSON.stringify(out);
}
window.addEventListener('load', wsbenchCheck);
</script>`

// pageCheck is what pageChecker found.
type pageCheck struct {
	Errors    []string `json:"errors"`
	Resources []string `json:"resources"`
	Figures   []struct {
		ID     string  `json:"id"`
		Width  float64 `json:"width"`
		Height float64 `json:"height"`
		Texts  int     `json:"texts"`
		Paths  int     `json:"paths"`
	} `json:"figures"`
}

// withChecker writes a copy of page into dir with pageChecker injected, the
// page's Content-Security-Policy allowing the checker's scripts and no
// others, and returns its path.
func withChecker(t *testing.T, page, dir string) string {
	t.Helper()
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	const strict = "script-src 'none'"
	if strings.Count(src, strict) != 1 || strings.Count(src, "<head>") != 1 || strings.Count(src, "</body>") != 1 {
		t.Fatalf("%s: want one <head>, one </body> and a CSP with %q to inject the checker into", page, strict)
	}
	src = strings.Replace(src, strict, "script-src 'nonce-"+checkNonce+"'", 1)
	src = strings.Replace(src, "<head>", "<head>\n"+pageChecker, 1)
	src = strings.Replace(src, "</body>", `<script nonce="`+checkNonce+`">wsbenchCheck();</script>`+"\n</body>", 1)
	checked := filepath.Join(dir, filepath.Base(page))
	if err := os.WriteFile(checked, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return checked
}

// browserProblems is every problem Chromium showed with the checked copy of
// page: console messages (script errors, blocked scripts or loads), errors,
// anything loaded, figures missing or not laid out, a blank screenshot.
func browserProblems(page []byte, dom, logs, shot string) []string {
	var problems []string
	for _, l := range consoleLine.FindAllString(logs, -1) {
		problems = append(problems, "console: "+l)
	}
	if strings.Contains(logs, "Failed parsing rule") {
		problems = append(problems, "chromium did not take --host-resolver-rules")
	}
	if p := screenshotProblem(shot); p != "" {
		problems = append(problems, p)
	}
	m := regexp.MustCompile(`(?s)<pre id="wsbench-check" hidden="">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		return append(problems, "the checker wrote nothing: the page's scripts did not run to the end")
	}
	var pc pageCheck
	if err := json.Unmarshal([]byte(unescapeHTML(m[1])), &pc); err != nil {
		return append(problems, fmt.Sprintf("checker output %q: %v", m[1], err))
	}
	for _, e := range pc.Errors {
		problems = append(problems, "error: "+e)
	}
	for _, r := range pc.Resources {
		problems = append(problems, "loaded: "+r)
	}
	want := regexp.MustCompile(`<figure id="([^"]+)">`).FindAllStringSubmatch(string(page), -1)
	if len(pc.Figures) != len(want) {
		problems = append(problems, fmt.Sprintf("%d figures in the browser, %d in the file", len(pc.Figures), len(want)))
	}
	for _, f := range pc.Figures {
		if f.Width < 300 || f.Height < 100 || f.Texts < 5 || f.Paths < 5 {
			problems = append(problems, fmt.Sprintf("figure %s laid out %.0f×%.0f px with %d texts and %d paths", f.ID, f.Width, f.Height, f.Texts, f.Paths))
		}
	}
	return problems
}

func unescapeHTML(s string) string {
	return strings.NewReplacer("&quot;", `"`, "&#34;", `"`, "&lt;", "<", "&gt;", ">", "&#39;", "'", "&amp;", "&").Replace(s)
}

// screenshotProblem says what is wrong with the screenshot: missing, not a
// PNG, not the window's size, or one colour only.
func screenshotProblem(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "screenshot: " + err.Error()
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return "screenshot: " + err.Error()
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		return fmt.Sprintf("screenshot is %v, want 1280×2000", b.Size())
	}
	if n := colours(img); n < 8 {
		return fmt.Sprintf("screenshot has %d colours: blank", n)
	}
	return ""
}

func colours(img image.Image) int {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	return len(seen)
}

// artifacts is the folder screenshots are kept in: $WSBENCH_ARTIFACTS, or
// the test's temporary folder.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WSBENCH_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("WSBENCH_ARTIFACTS: %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestHTMLInBrowser: two short open-model runs against the bundled server
// with intervals; the report page of one and the comparison page of both
// render in Chromium with no console message, no script error, no load of
// anything, and every plot laid out; their screenshots are kept. The same
// check run on a page with a broken script and an outside image must find
// both, so a page that breaks cannot pass unnoticed.
func TestHTMLInBrowser(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not on PATH (CI installs it: apt-get install chromium)")
	}
	dir, art := t.TempDir(), artifacts(t)
	var files []string
	for i, c := range []string{"4", "8"} {
		f := filepath.Join(dir, fmt.Sprintf("run%d.json", i+1))
		if code, _, errOut := runCLI("run", "-c", c, "-r", "400", "-d", "800ms", "--warmup", "0s", "--interval", "200ms", "-q", "-o", f); code != exitOK {
			t.Fatalf("run: exit %d: %s", code, errOut)
		}
		files = append(files, f)
	}
	report := filepath.Join(art, "report.html")
	if code, _, errOut := runCLI("report", "--format", "html", "-o", report, files[0]); code != exitOK {
		t.Fatalf("report --format html: exit %d: %s", code, errOut)
	}
	compare := filepath.Join(art, "compare.html")
	if code, _, errOut := runCLI("compare", "--format", "html", "-o", compare, "--label", "4 conns", files[0], "--label", "8 conns", files[1]); code != exitOK {
		t.Fatalf("compare --format html: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	// The check must be able to fail: the report with a script that throws,
	// a script the page's policy blocks, and an image from outside.
	broken := filepath.Join(t.TempDir(), "broken.html")
	os.WriteFile(broken, []byte(strings.Replace(string(b), "</footer>", "</footer>\n"+
		`<script nonce="`+checkNonce+`">wsbenchUndefinedFunction();</script>`+"\n"+
		`<script>document.title = "not allowed";</script>`+"\n"+
		`<img src="http://127.0.0.1:9/outside.png"/>`, 1)), 0o644)

	// The three pages in three browsers at once: each mostly waits on its
	// own start-up.
	type page struct {
		name, path, shot string
		figures          []string // that must be there
		checked, profile string
		dom, logs        string
		err              error
	}
	pages := []*page{
		{name: "report", path: report, shot: filepath.Join(art, "report.png"),
			figures: []string{"spectrum-rtt", "spectrum-rtt_uncorrected", "spectrum-send_lag", "over-time-rtt", "over-time-rate", "over-time-conns", "over-time-errors"}},
		{name: "compare", path: compare, shot: filepath.Join(art, "compare.png"),
			figures: []string{"spectrum-rtt", "spectrum-rtt_uncorrected", "spectrum-send_lag"}},
		{name: "broken", path: broken, shot: filepath.Join(t.TempDir(), "broken.png")},
	}
	var wg sync.WaitGroup
	for _, p := range pages {
		p.checked, p.profile = withChecker(t, p.path, t.TempDir()), t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.dom, p.logs, p.err = chromium(browser, p.checked, p.profile, "--dump-dom", "--screenshot="+p.shot, "--window-size=1280,2000")
		}()
	}
	wg.Wait()
	for _, p := range pages {
		if p.err != nil {
			t.Fatal(p.err)
		}
		b, _ := os.ReadFile(p.path)
		problems := browserProblems(b, p.dom, p.logs, p.shot)
		if p.name == "broken" {
			all := strings.Join(problems, "\n")
			for _, want := range []string{"wsbenchUndefinedFunction is not defined", "Content Security Policy directive 'script-src", "127.0.0.1:9/outside.png"} {
				if !strings.Contains(all, want) {
					t.Errorf("a broken page went unnoticed: no %q among the problems found:\n%s", want, all)
				}
			}
			continue
		}
		for _, id := range p.figures {
			if !strings.Contains(string(b), `<figure id="`+id+`">`) {
				t.Errorf("%s: no figure %s", p.name, id)
			}
		}
		for _, pr := range problems {
			t.Errorf("%s: %s", p.name, pr)
		}
		t.Logf("screenshot of the %s page: %s", p.name, p.shot)
	}
}

// TestHTMLFlags: report and compare write HTML to stdout or -o, and
// compare refuses an unknown or contradictory --format.
func TestHTMLFlags(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, f := range []string{a, b} {
		if code, _, errOut := runCLI("run", "-c", "2", "-d", "200ms", "--warmup", "0s", "--interval", "0", "-q", "-o", f); code != exitOK {
			t.Fatalf("run: %s", errOut)
		}
	}
	code, out, errOut := runCLI("report", "--format", "html", a)
	if code != exitOK || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, `<figure id="spectrum-rtt">`) ||
		!strings.Contains(out, "has no intervals") {
		t.Errorf("report --format html: exit %d %s\n%.300s", code, errOut, out)
	}
	code, out, errOut = runCLI("compare", "--format=html", a, b)
	if code != exitOK || !strings.Contains(out, `<figure id="spectrum-rtt">`) || !strings.Contains(out, ">a</text>") || !strings.Contains(out, ">b</text>") {
		t.Errorf("compare --format=html: exit %d %s\n%.300s", code, errOut, out)
	}
	page := filepath.Join(dir, "c.html")
	if code, out, errOut := runCLI("compare", "--out", page, "--format", "html", a, b); code != exitOK || out != "" {
		t.Errorf("compare --out: exit %d, stdout %q: %s", code, out, errOut)
	} else if got, _ := os.ReadFile(page); !strings.Contains(string(got), "<svg ") {
		t.Errorf("compare --out wrote %.200q", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "--format", "pdf", a, b}, "--format: want text, json or html"},
		{[]string{"compare", "--json", "--format", "html", a, b}, "--format: given as both json and html"},
		{[]string{"compare", a, b, "--format"}, "--format: needs a value"},
		{[]string{"compare", "-o", filepath.Join(dir, "missing", "c.html"), a, b}, "--out:"},
	} {
		if code, _, errOut := runCLI(tc.args...); code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", tc.args[1:], code, errOut, tc.want)
		}
	}
}
