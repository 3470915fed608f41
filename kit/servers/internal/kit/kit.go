// Package kit holds what every Go server of the wsbench kit shares: its flags,
// the "listening on ADDR" line a script reads, the wait for SIGTERM/SIGINT and
// the set of /bcast members. Everything that touches WebSocket frames stays in
// each server's own main package, written the way its library recommends.
package kit

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// MaxMessage is the largest message every kit server accepts (16 MiB), set
// explicitly where a library's default is smaller or larger.
const MaxMessage = 16 << 20

// Paths of the kit protocol. A path under BcastPath ("/bcast/0", what
// wsbench --kind broadcast --room-path /bcast/%d dials) is BcastPath too: one
// broadcast set, whatever follows.
const (
	EchoPath    = "/echo"
	BcastPath   = "/bcast"
	BcastPrefix = BcastPath + "/"
)

// Route is the kit path a request's path is served as: EchoPath, BcastPath
// (for BcastPath and every path under it) or "" (404).
func Route(path string) string {
	switch {
	case path == EchoPath || path == BcastPath:
		return path
	case strings.HasPrefix(path, BcastPrefix):
		return BcastPath
	}
	return ""
}

// Flags are the command-line flags every kit server takes.
type Flags struct {
	Addr    string // -addr: host:port to listen on; port 0 picks one
	Deflate bool   // -deflate: negotiate permessage-deflate
}

// ParseFlags parses os.Args into Flags; bad flags exit with status 2.
func ParseFlags(name string) Flags {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.StringVar(&f.Addr, "addr", "127.0.0.1:0", "address to listen on (port 0: the kernel picks one)")
	fs.BoolVar(&f.Deflate, "deflate", false, "negotiate permessage-deflate")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		os.Exit(2)
	}
	return f
}

// Listen listens on addr over TCP and prints "listening on HOST:PORT" as the
// first line of stdout, the address a script or test reads back.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	Announce(ln.Addr())
	return ln, nil
}

// Announce prints the "listening on ADDR" line for servers whose library
// opens the listener itself.
func Announce(addr net.Addr) {
	fmt.Printf("listening on %s\n", addr)
}

// Fatal prints err on stderr, prefixed with the server's name, and exits 1.
func Fatal(name string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}

// WaitSignal blocks until SIGTERM or SIGINT arrives.
func WaitSignal() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, os.Interrupt)
	<-c
	signal.Stop(c)
}

// Members is the set of /bcast connections. Adding and removing copy the
// slice, so a broadcast reads a snapshot with one atomic load, allocates
// nothing and never holds a lock while it writes.
type Members[T comparable] struct {
	mu   sync.Mutex
	list atomic.Pointer[[]T]
}

// Add puts m in the set.
func (s *Members[T]) Add(m T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.Load()
	next := make([]T, len(old), len(old)+1)
	copy(next, old)
	next = append(next, m)
	s.list.Store(&next)
}

// Remove takes m out of the set; removing a non-member does nothing.
func (s *Members[T]) Remove(m T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.Load()
	next := make([]T, 0, len(old))
	for _, x := range old {
		if x != m {
			next = append(next, x)
		}
	}
	s.list.Store(&next)
}

// Load returns the current members; the caller must not modify the slice.
func (s *Members[T]) Load() []T {
	if p := s.list.Load(); p != nil {
		return *p
	}
	return nil
}
