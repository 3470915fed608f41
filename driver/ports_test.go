//go:build linux

package driver

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/metrics"
)

func TestPortPickerWrapsInRange(t *testing.T) {
	p := &portPicker{lo: 1000, n: 3}
	p.next.Store(1)
	var got []int
	for range 5 {
		got = append(got, p.take())
	}
	if want := []int{1002, 1000, 1001, 1002, 1000}; !slices.Equal(got, want) {
		t.Fatalf("ports %v, want %v", got, want)
	}
	if q := newPortPicker(); q != nil {
		if port := q.take(); port < int(q.lo) || port >= int(q.lo+q.n) {
			t.Fatalf("port %d outside this host's range %d+%d", port, q.lo, q.n)
		}
	}
}

// freePorts finds n consecutive ports that nothing on 127.0.0.1 holds now.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for base := 42000; base < 60000; base += 97 {
		ok := true
		var held []net.Listener
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p)).String())
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free run of ports")
	return 0
}

// A dial binds the picker's ports in turn and steps past the ones it cannot
// have: one already connected to the same server (connect: EADDRNOTAVAIL),
// one held by a listener (bind: EADDRINUSE). With none left in the range it
// lets the kernel pick.
func TestDialTakesPortsInTurn(t *testing.T) {
	s := startTestServer(t, 0, 0)
	u, err := url.Parse(s.url())
	if err != nil {
		t.Fatal(err)
	}
	addr := u.Host
	lo := freePorts(t, 4)
	local := func(port int) *net.TCPAddr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port} }
	// lo: a connection to the same server; lo+1: a listener.
	busy, err := (&net.Dialer{LocalAddr: local(lo), Control: reuseAddr}).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ln, err := net.ListenTCP("tcp", local(lo+1))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	picker := &portPicker{lo: uint32(lo), n: 4}
	picker.next.Store(3) // the first take is lo
	plan := dialPlan{timeout: 5 * time.Second, ports: picker}
	sh := metrics.NewRecorder().NewShard()
	var ports []int
	for i := range 3 {
		nc, _, out := open(context.Background(), u, addr, netip.Addr{}, plan)
		out.record(sh)
		if !out.upgraded {
			t.Fatalf("dial %d failed", i)
		}
		defer nc.Close()
		ports = append(ports, nc.LocalAddr().(*net.TCPAddr).Port)
	}
	if ports[0] != lo+2 || ports[1] != lo+3 {
		t.Fatalf("local ports %v, want %d and %d first (%d and %d taken)", ports, lo+2, lo+3, lo, lo+1)
	}
	if ports[2] >= lo && ports[2] < lo+4 {
		t.Fatalf("third dial got port %d, inside the exhausted range %d-%d", ports[2], lo, lo+3)
	}
	if sh.Counts.ConnsFailed != 0 {
		t.Fatalf("%d dials counted as failed", sh.Counts.ConnsFailed)
	}
}

// A socket bound by the picker steps past ports held by listeners on the
// same socket, and with none free it is bound to its source address only
// (the port left to connect), after portTries ports.
func TestBindStepsPastListeners(t *testing.T) {
	lo := freePorts(t, 4)
	src := netip.MustParseAddr("127.0.0.1")
	listen := func(port int) {
		l, err := net.Listen("tcp", netip.AddrPortFrom(src, uint16(port)).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	bound := func() (netip.AddrPort, int) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		picker := &portPicker{lo: uint32(lo), n: 4}
		picker.next.Store(3) // the first take is lo
		tries := 0
		if err := picker.bind(fd, "tcp4", src, &tries); err != nil {
			t.Fatalf("bind: %v", err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		in := sa.(*unix.SockaddrInet4)
		return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port)), tries
	}
	listen(lo)
	listen(lo + 1)
	listen(lo + 3)
	if got, tries := bound(); got.Port() != uint16(lo+2) || got.Addr() != src || tries != 3 {
		t.Fatalf("bound to %v after %d tries, want %v:%d after 3", got, tries, src, lo+2)
	}
	listen(lo + 2)
	if got, tries := bound(); got.Port() != 0 || got.Addr() != src || tries != portTries {
		t.Fatalf("bound to %v after %d tries, want %v with no port after %d", got, tries, src, portTries)
	}
}
