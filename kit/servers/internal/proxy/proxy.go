// Package proxy runs a reverse proxy from Debian (nginx or HAProxy) in front
// of the kit's gorilla server, as one kit server: it takes the kit's flags,
// starts gorilla (built beside it) on a loopback port the kernel picks,
// writes the proxy's configuration (nginx.conf or haproxy.cfg, beside this
// file) into a temporary folder, starts the proxy on its own loopback port,
// unprivileged (as nobody when run as root), and prints "listening on ADDR"
// once the proxy accepts connections. SIGTERM or SIGINT stops both and
// removes the folder. What it measures is the proxy's cost: the same gorilla
// with and without it.
package proxy

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/wsbench/wsbench/kit/servers/internal/kit"
)

var (
	//go:embed nginx.conf
	nginxConf string
	//go:embed haproxy.cfg
	haproxyConf string
)

// nobody is the user the proxy runs as when this process is root.
const nobody = 65534

// budget bounds each wait for a process to come up.
const budget = 20 * time.Second

// config is what the templates are filled in with.
type config struct {
	Dir     string // the temporary folder: pid file, error log, temp paths
	Listen  string // HOST:PORT the proxy listens on
	Backend string // HOST:PORT of gorilla
	Workers int    // nginx worker processes, HAProxy threads: the cores this process may use
	NoFile  uint64 // the open-file limit the proxy runs with
	// Conns is nginx's worker_connections: every connection, client's and
	// upstream alike, holds a file. MaxConn is HAProxy's maxconn: client
	// connections, each with its server connection, two files. So with
	// the open-file limit L a proxy holds at most about L/2 proxied
	// WebSocket connections.
	Conns, MaxConn uint64
}

// Run is the main of the kit server named name ("nginx" or "haproxy").
func Run(name string) {
	flags := kit.ParseFlags(name)
	if err := run(name, flags); err != nil {
		kit.Fatal(name, err)
	}
}

func run(name string, flags kit.Flags) error {
	tmpl, bin, err := proxyOf(name)
	if err != nil {
		return err
	}
	nofile := raiseFileLimit()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	gorillaArgs := []string{"-addr", "127.0.0.1:0"}
	if flags.Deflate {
		gorillaArgs = append(gorillaArgs, "-deflate")
	}
	backend, backendAddr, err := startBackend(filepath.Join(filepath.Dir(self), "gorilla"), gorillaArgs)
	if err != nil {
		return err
	}
	defer backend.stop()

	dir, err := os.MkdirTemp("", "wsbench-kit-"+name)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	asNobody := os.Geteuid() == 0
	if asNobody {
		if err := os.Chown(dir, nobody, nobody); err != nil {
			return err
		}
	}
	cfg := config{Dir: dir, Backend: backendAddr, Workers: runtime.NumCPU(), NoFile: nofile,
		Conns: max(nofile, 300) - 100, MaxConn: (max(nofile, 300) - 100) / 2}
	// A port the kernel picks, then closed and given to the proxy: another
	// process may take it meanwhile, so a proxy that cannot bind is tried
	// again on a new one.
	var proxy *process
	for try := 1; ; try++ {
		cfg.Listen = flags.Addr
		if strings.HasSuffix(flags.Addr, ":0") {
			if cfg.Listen, err = freePort(flags.Addr); err != nil {
				return err
			}
		}
		proxy, err = startProxy(name, bin, tmpl, cfg, asNobody)
		if err == nil || try == 3 || !strings.HasSuffix(flags.Addr, ":0") {
			break
		}
		fmt.Fprintf(os.Stderr, "%s: %v; trying another port\n", name, err)
	}
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", cfg.Listen)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case <-sig:
		proxy.stop()
		return nil
	case err := <-proxy.exited:
		return fmt.Errorf("%s exited: %v; its log: %s", bin, err, readLog(dir))
	}
}

// process is a started child and its Wait's result.
type process struct {
	cmd    *exec.Cmd
	exited chan error
}

func start(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// stop sends SIGTERM (nginx: fast shutdown; HAProxy: stop now; gorilla: exit)
// and waits, killing the process if it is still there after the budget.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(budget):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// readLog is the end of nginx's error log, if there is one (HAProxy logs
// to stderr, which is this process's).
func readLog(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "error.log"))
	if err != nil {
		return "(none)"
	}
	return string(b[max(0, len(b)-2000):])
}

// proxyOf gives the template and the binary of the proxy named name.
func proxyOf(name string) (*template.Template, string, error) {
	text := map[string]string{"nginx": nginxConf, "haproxy": haproxyConf}[name]
	if text == "" {
		return nil, "", fmt.Errorf("no proxy %q (nginx or haproxy)", name)
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		// root's PATH has /usr/sbin, where Debian puts both; others' may not.
		if _, serr := os.Stat("/usr/sbin/" + name); serr != nil {
			return nil, "", fmt.Errorf("%s is not installed (apt-get install %s): %w", name, name, err)
		}
		bin = "/usr/sbin/" + name
	}
	return template.Must(template.New(name).Option("missingkey=error").Parse(text)), bin, nil
}

// raiseFileLimit raises the soft open-file limit to the hard one (the
// proxy inherits it) and returns it.
func raiseFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return min(lim.Cur, 1<<20)
}

// startBackend starts gorilla and reads the address it listens on.
func startBackend(bin string, args []string) (*process, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	p, err := start(cmd)
	if err != nil {
		return nil, "", fmt.Errorf("the backend (build the kit's gorilla beside this binary): %w", err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text()
		for sc.Scan() {
			fmt.Fprintln(os.Stderr, sc.Text())
		}
	}()
	select {
	case l := <-line:
		if addr, ok := strings.CutPrefix(l, "listening on "); ok {
			return p, addr, nil
		}
		p.stop()
		return nil, "", fmt.Errorf("gorilla's first line %q, want \"listening on ADDR\"", l)
	case <-time.After(budget):
		p.stop()
		return nil, "", fmt.Errorf("gorilla did not say where it listens within %v", budget)
	}
}

func freePort(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startProxy writes the configuration and starts the proxy in the
// foreground, returning once it accepts TCP connections.
func startProxy(name, bin string, tmpl *template.Template, cfg config, asNobody bool) (*process, error) {
	var conf bytes.Buffer
	if err := tmpl.Execute(&conf, cfg); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.Dir, name+".conf")
	if err := os.WriteFile(path, conf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	switch name {
	case "nginx":
		// -e: the error log from the start, before the configuration is read.
		cmd = exec.Command(bin, "-p", cfg.Dir, "-e", filepath.Join(cfg.Dir, "error.log"), "-c", path)
	default:
		// -db: foreground, no daemon: one process.
		cmd = exec.Command(bin, "-db", "-f", path)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Dir = cfg.Dir
	if asNobody {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	p, err := start(cmd)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(budget)
	for {
		c, err := net.DialTimeout("tcp", cfg.Listen, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case err := <-p.exited:
			return nil, fmt.Errorf("%s exited before listening on %s: %v; its log: %s", name, cfg.Listen, err, readLog(cfg.Dir))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.exited
			return nil, fmt.Errorf("%s not listening on %s after %v; its log: %s", name, cfg.Listen, budget, readLog(cfg.Dir))
		}
	}
}
