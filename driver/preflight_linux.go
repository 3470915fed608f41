//go:build linux

package driver

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/scenario"
)

// ReservedFDs is what Preflight sets aside in every process besides the
// sockets of the connections: the runtime's own descriptors, stdio, each event
// loop's epoll, eventfd, timerfd and io_uring descriptors, listeners, and the
// result file.
const ReservedFDs = 64

// portRangeFile holds the ephemeral port range connect(2) picks source ports from.
const portRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Limits are the resource limits of this host and process that bound how many
// connections one run can open.
type Limits struct {
	// NoFileSoft and NoFileHard are RLIMIT_NOFILE, the open-file limit.
	NoFileSoft, NoFileHard uint64
	// PortLow and PortHigh bound the ephemeral port range, inclusive
	// (net.ipv4.ip_local_port_range).
	PortLow, PortHigh int
}

// Ports is the number of ephemeral ports, 0 if the range is unknown.
func (l Limits) Ports() int {
	if l.PortLow <= 0 || l.PortHigh < l.PortLow {
		return 0
	}
	return l.PortHigh - l.PortLow + 1
}

// ReadLimits reads RLIMIT_NOFILE and the ephemeral port range. On error it
// still returns whatever it could read, the rest left zero.
func ReadLimits() (Limits, error) {
	var l Limits
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return l, fmt.Errorf("read the open-file limit (RLIMIT_NOFILE): %w", err)
	}
	l.NoFileSoft, l.NoFileHard = rl.Cur, rl.Max
	var err error
	l.PortLow, l.PortHigh, err = readPortRange()
	return l, err
}

// readPortRange reads the ephemeral port range (0, 0 and an error if it
// cannot).
func readPortRange() (low, high int, err error) {
	b, err := os.ReadFile(portRangeFile)
	if err != nil {
		return 0, 0, fmt.Errorf("read the ephemeral port range: %w", err)
	}
	if low, high, err = parsePortRange(string(b)); err != nil {
		return 0, 0, fmt.Errorf("read the ephemeral port range: %s: %w", portRangeFile, err)
	}
	return low, high, nil
}

// parsePortRange parses the contents of ip_local_port_range: two integers.
func parsePortRange(s string) (low, high int, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("want two port numbers, got %q", s)
	}
	if low, err = strconv.Atoi(f[0]); err == nil {
		high, err = strconv.Atoi(f[1])
	}
	if err != nil {
		return 0, 0, fmt.Errorf("want two port numbers, got %q", s)
	}
	if low < 1 || high > 65535 || low > high {
		return 0, 0, fmt.Errorf("not a port range: %d-%d", low, high)
	}
	return low, high, nil
}

// RaiseNoFile raises the soft open-file limit (RLIMIT_NOFILE) to the hard
// limit and returns the limits after. Go already does so at start-up on Linux
// (since Go 1.19); this makes it explicit and reports the outcome. Raising the
// hard limit needs privileges and is left to the user. The limits after are
// read back with ReadLimits, whose error RaiseNoFile returns if that fails.
func RaiseNoFile() (Limits, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return Limits{}, fmt.Errorf("read the open-file limit (RLIMIT_NOFILE): %w", err)
	}
	if rl.Cur < rl.Max {
		raised := unix.Rlimit{Cur: rl.Max, Max: rl.Max}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err != nil {
			return Limits{NoFileSoft: rl.Cur, NoFileHard: rl.Max},
				fmt.Errorf("raise the soft open-file limit (RLIMIT_NOFILE) from %d to the hard limit %d: %w", rl.Cur, rl.Max, err)
		}
	}
	return ReadLimits()
}

// Need is what a run asks of the host's limits.
type Need struct {
	// Conns is the number of connections of the whole run, over all processes.
	Conns int
	// InProcessServer says the connections end in a server inside the same
	// process (the bundled server, when run has no target URL), which holds
	// one accepted socket per connection.
	InProcessServer bool
	// SourceAddrs is the number of local addresses the connections are
	// spread over (--source-ip); 0 means 1.
	SourceAddrs int
	// Procs is the number of client processes the connections are split
	// over; 0 means 1.
	Procs int
	// FDsPerConn is how many descriptors one client connection holds: 1,
	// or 3 for wss:// (the TCP socket and the TLS bridge's socket pair);
	// 0 means 1.
	FDsPerConn int
}

// Preflight reports whether a run that needs n fits the limits l. It returns
// nil when it does, else one single-line error that states the numbers and
// the remedy; when both limits below are exceeded the one error states both.
//
// File descriptors: each client process holds ceil(Conns/Procs) client
// sockets; with InProcessServer as many accepted server sockets again (each
// connection costs two descriptors in the same process; wsbench run sets it
// only when one process runs both); plus ReservedFDs
// (64). That must not exceed the hard limit NoFileHard. Only the hard limit
// counts: a soft limit below the need is not an error, because the caller is
// expected to raise it with RaiseNoFile first, which any process may do. A
// NoFileHard of 0 means unknown and skips this check.
//
// Ephemeral ports: one source address can open at most PortHigh-PortLow+1
// connections to one server address and port, so Conns must not exceed that
// times max(SourceAddrs, 1). (Every port of the range bound by something else,
// such as an in-process server's listener that picked its port from the
// range, lowers this further; that is not counted.) An unknown range (PortLow
// 0) skips this check.
func Preflight(l Limits, n Need) error {
	if n.Conns <= 0 {
		return nil
	}
	var problems []string
	if p := fdProblem(l, n); p != "" {
		problems = append(problems, p)
	}
	if p := portProblem(l, n); p != "" {
		problems = append(problems, p)
	}
	if len(problems) == 0 {
		return nil
	}
	// The settings are named by their keys (scenario.Ref); the command line
	// names their flags.
	return &scenario.FieldError{Err: errors.New(strings.Join(problems, "; also, "))}
}

// fdsPerProc is how many descriptors one process of a run with conns
// connections over procs processes needs, and of those how many are client sockets.
func fdsPerProc(conns, procs int, inProcessServer bool) (need, clients uint64) {
	clients = uint64((conns + procs - 1) / procs)
	need = clients + ReservedFDs
	if inProcessServer {
		need += clients
	}
	return need, clients
}

func fdProblem(l Limits, n Need) string {
	if l.NoFileHard == 0 {
		return ""
	}
	procs := max(n.Procs, 1)
	need, clients := fdsPerProc(n.Conns, procs, n.InProcessServer)
	if k := uint64(max(n.FDsPerConn, 1)); k > 1 {
		need += clients * (k - 1)
	}
	if need <= l.NoFileHard {
		return ""
	}
	var b strings.Builder
	if procs == 1 {
		fmt.Fprintf(&b, "%s %d needs %d file descriptors in one process (%d client sockets", scenario.Ref("conns"), n.Conns, need, clients)
	} else {
		fmt.Fprintf(&b, "%s %d over %s %d needs %d file descriptors in each process (%d client sockets", scenario.Ref("conns"), n.Conns, scenario.Ref("procs"), procs, need, clients)
	}
	if k := uint64(max(n.FDsPerConn, 1)); k > 1 {
		fmt.Fprintf(&b, " + %d TLS bridge sockets", clients*(k-1))
	}
	if n.InProcessServer {
		fmt.Fprintf(&b, " + %d in-process server sockets", clients)
	}
	fmt.Fprintf(&b, " + %d reserved), but the hard open-file limit (RLIMIT_NOFILE) is %d: ", ReservedFDs, l.NoFileHard)
	var remedies []string
	// The fewest client processes that fit, if any number does.
	if n.InProcessServer {
		b.WriteString("with the bundled server in the same process each connection costs two; ")
		// A server process holds a descriptor per connection whatever the
		// client does, so both remedies need the server's share to fit.
		if serverNeed, _ := fdsPerProc(n.Conns, 1, false); serverNeed <= l.NoFileHard {
			remedies = append(remedies, `run "wsbench serve" as its own process and point run at it`)
			maxClients := l.NoFileHard - ReservedFDs
			procsNeeded := max(2, (uint64(n.Conns)+maxClients-1)/maxClients)
			remedies = append(remedies, fmt.Sprintf("split the clients off with %s %d (the bundled server stays in this process)", scenario.Ref("procs"), procsNeeded))
		}
	} else if l.NoFileHard > ReservedFDs {
		maxClients := (l.NoFileHard - ReservedFDs) / uint64(max(n.FDsPerConn, 1))
		procsNeeded := (uint64(n.Conns) + maxClients - 1) / maxClients
		remedies = append(remedies, fmt.Sprintf("split the load with %s %d", scenario.Ref("procs"), procsNeeded))
	}
	remedies = append(remedies, "raise the hard limit (ulimit -Hn, limits.conf) as root")
	b.WriteString(orList(remedies))
	return b.String()
}

func portProblem(l Limits, n Need) string {
	ports := l.Ports()
	if ports == 0 {
		return ""
	}
	addrs := max(n.SourceAddrs, 1)
	capacity := uint64(ports) * uint64(addrs)
	if uint64(n.Conns) <= capacity {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d needs %d source ports to one server address and port, but the ephemeral port range %d-%d (net.ipv4.ip_local_port_range) has %d ports per source address",
		scenario.Ref("conns"), n.Conns, n.Conns, l.PortLow, l.PortHigh, ports)
	if addrs == 1 {
		fmt.Fprintf(&b, " and there is 1 source address (%d connections at most): ", capacity)
	} else {
		fmt.Fprintf(&b, " and there are %d source addresses (%d connections at most): ", addrs, capacity)
	}
	var remedies []string
	if want := (n.Conns + ports - 1) / ports; want <= 65536 {
		remedies = append(remedies, fmt.Sprintf("spread the connections over %d source addresses (for a loopback target: %s %s)",
			want, scenario.Ref("source_ip"), loopbackRange(want)))
	}
	remedies = append(remedies, `widen the port range as root (sysctl -w net.ipv4.ip_local_port_range="1024 65535")`)
	b.WriteString(orList(remedies))
	return b.String()
}

// loopbackRange is the --source-ip range of n loopback addresses from 127.0.0.1.
func loopbackRange(n int) string {
	first := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	v := uint32(127<<24|1) + uint32(n-1)
	last := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return first.String() + "-" + last.String()
}

// orList joins alternatives: "a", "a or b", "a, b, or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	case 2:
		return items[0] + " or " + items[1]
	}
	return strings.Join(items[:len(items)-1], ", ") + ", or " + items[len(items)-1]
}
