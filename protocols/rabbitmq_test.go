package protocols

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// rabbitmqServer is Debian's rabbitmq-server, which .ci/run installs.
const rabbitmqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// rabbitStartTimeout bounds RabbitMQ's start: 8-18 s measured on a busy
// 2-core machine.
const rabbitStartTimeout = 45 * time.Second

// freePorts returns n loopback ports free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startRabbitMQ runs testdata/rabbitmq/stomp.sh and returns Web-STOMP's
// address once it is listening. The broker and its epmd stop when the test
// ends: the script stops them when its stdin closes; its process group is
// killed if it has not exited 15 s later. The ports are free a moment before
// the broker binds them, so a start that fails (another process took one)
// is tried once more on new ports.
func startRabbitMQ(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(rabbitmqServer); err != nil {
		msg := "Debian's rabbitmq-server is not installed (.ci/run installs it): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var failure string
	for attempt := 1; attempt <= 2; attempt++ {
		addr, msg := tryRabbitMQ(t)
		if addr != "" {
			return addr
		}
		failure = msg
		t.Logf("RabbitMQ start %d failed: %s", attempt, msg)
	}
	t.Fatalf("RabbitMQ did not start: %s", failure)
	return ""
}

// tryRabbitMQ is one start of stomp.sh: the address, or why not.
func tryRabbitMQ(t *testing.T) (addr, failure string) {
	t.Helper()
	p := freePorts(t, 3)
	cmd := exec.Command("bash", "testdata/rabbitmq/stomp.sh", "--port", strconv.Itoa(p[0]),
		"--epmd-port", strconv.Itoa(p[1]), "--dist-port", strconv.Itoa(p[2]))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	lines := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		scanListening(stdout, lines)
		cmd.Wait() // after stdout is read to its end
		close(exited)
	}()
	stop := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("stomp.sh did not stop within 15s of its stdin closing: killing its process group")
		}
		syscall.Kill(-pgid, syscall.SIGKILL) // whatever is left of the group
		<-exited
	}
	select {
	case addr := <-lines:
		t.Logf("rabbitmq web-stomp: listening on %s after %v", addr, time.Since(start).Round(time.Millisecond))
		t.Cleanup(func() {
			stop()
			if t.Failed() && stderr.Len() > 0 {
				t.Logf("stomp.sh stderr:\n%s", stderr.String())
			}
		})
		return addr, ""
	case <-exited:
		return "", fmt.Sprintf("stomp.sh exited after %v without listening: %s", time.Since(start).Round(time.Millisecond), stderr.String())
	case <-time.After(rabbitStartTimeout):
		stop()
		return "", fmt.Sprintf("stomp.sh printed no \"listening on\" line in %v: %s", rabbitStartTimeout, stderr.String())
	}
}

// TestPeerSTOMPRabbitMQ: RabbitMQ's Web-STOMP negotiates STOMP 1.2, answers
// a SEND's receipt, and delivers the message to another connection's
// subscription.
func TestPeerSTOMPRabbitMQ(t *testing.T) {
	t.Parallel()
	addr := startRabbitMQ(t)
	connect := func() net.Conn {
		t.Helper()
		conn, proto := dial(t, "ws://"+addr+"/ws", "v12.stomp", "v11.stomp")
		if proto != "v12.stomp" {
			t.Fatalf("subprotocol %q, want v12.stomp", proto)
		}
		send(t, conn, ws.OpText, "CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\x00")
		if msg := readText(t, conn); !strings.HasPrefix(msg, "CONNECTED\n") || !strings.Contains(msg, "\nversion:1.2\n") {
			t.Fatalf("after CONNECT: %q, want CONNECTED version 1.2", msg)
		}
		return conn
	}
	sub, pub := connect(), connect()
	send(t, sub, ws.OpText, "SUBSCRIBE\nid:0\ndestination:/topic/wsbench\nreceipt:1\n\n\x00")
	if msg := readText(t, sub); !strings.HasPrefix(msg, "RECEIPT\n") || !strings.Contains(msg, "\nreceipt-id:1\n") {
		t.Fatalf("after SUBSCRIBE with receipt 1: %q", msg)
	}
	send(t, pub, ws.OpText, "SEND\ndestination:/topic/wsbench\ncontent-type:text/plain\nreceipt:5\n\nhi\x00")
	if msg := readText(t, pub); !strings.HasPrefix(msg, "RECEIPT\n") || !strings.Contains(msg, "\nreceipt-id:5\n") {
		t.Fatalf("after SEND with receipt 5: %q, want RECEIPT 5", msg)
	}
	msg := readText(t, sub)
	head, body, _ := strings.Cut(msg, "\n\n")
	if !strings.HasPrefix(head, "MESSAGE\n") || !strings.Contains(head, "\nsubscription:0") || strings.TrimRight(body, "\x00\n") != "hi" {
		t.Fatalf("subscriber: %q, want MESSAGE hi for subscription 0", msg)
	}
	// One broker start (4–9 s) serves the preset's checks too.
	t.Run("preset", func(t *testing.T) { speakSTOMPPreset(t, addr) })
	for i, f := range AfterRabbitMQ {
		t.Run(fmt.Sprintf("after%d", i), func(t *testing.T) { f(t, addr) })
	}
}

// speakSTOMPPreset: RabbitMQ takes the stomp preset's CONNECT (STOMP 1.2,
// heart-beats) and its SUBSCRIBE to the connection's own destination, and
// answers each SEND with its RECEIPT and the MESSAGE delivered back, both
// keyed by the request's id; its heart-beats are silenced by the preset's
// rules while the client's keep the connection.
func speakSTOMPPreset(t *testing.T, addr string) {
	p := mustPreset(t, "stomp", map[string]string{"login": "guest", "passcode": "guest", "heart-beat": "500,500"})
	s := speak(t, "ws://"+addr+"/ws", p, 4)
	for id := uint64(1); id <= 3; id++ {
		if got := s.request(id); len(got) != 2 || got[0] != "" || got[1] != "" {
			t.Errorf("SEND %d: replies %q, want RECEIPT and MESSAGE", id, got)
		}
	}
	// For 2 s: the server's beats (every 500 ms) come and are silenced by
	// the rules, and each is answered with the preset's EOL (its Every), so
	// the client beats at the server's pace. The reads wait for whole
	// messages: a read deadline could cut a frame in two and lose its start.
	beats := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		s.send(p.Every[0].Send)
		msg, _, err := wsutil.ReadServerData(s.conn)
		if err != nil {
			t.Fatalf("while beating: %v", err)
		}
		if !s.rule(msg) {
			t.Fatalf("while beating: %q", msg)
		}
		beats++
	}
	if beats == 0 {
		t.Error("no heart-beat from RabbitMQ in 2 s at heart-beat 500,500")
	}
	if got := s.request(4); len(got) != 2 {
		t.Errorf("SEND after the beats: %q", got)
	}
}
