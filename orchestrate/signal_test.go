package orchestrate

import (
	"bytes"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSignals: the first SIGINT cancels ctx only (stop gracefully), the
// second abort too (stop at once); each is announced; stop cancels both.
func TestSignals(t *testing.T) {
	var out syncBuffer
	ctx, abort, stop := Signals(&out)
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the first signal did not cancel ctx")
	}
	if abort.Err() != nil {
		t.Fatal("the first signal cancelled abort")
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-abort.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the second signal did not cancel abort")
	}
	if got := out.String(); !strings.Contains(got, "interrupt: stopping gracefully (signal again to stop at once)\n") ||
		!strings.HasSuffix(got, "interrupt: stopping now\n") {
		t.Errorf("announced %q", got)
	}

	ctx, abort, stop = Signals(&out)
	stop()
	if ctx.Err() == nil || abort.Err() == nil {
		t.Error("stop left a context running")
	}
}
