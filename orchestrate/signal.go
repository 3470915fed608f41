package orchestrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Signals turns SIGINT and SIGTERM into the two contexts every run takes:
// the first signal cancels ctx (stop gracefully: stop sending, wait for
// replies, close), the second cancels abort (stop at once, still reporting
// what was measured). Each is announced on stderr. stop releases the
// signals and cancels both.
func Signals(stderr io.Writer) (ctx, abort context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	abort, cancelAbort := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "wsbench: %v: stopping gracefully (signal again to stop at once)\n", s)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "wsbench: %v: stopping now\n", s)
			cancelAbort()
		case <-done:
		}
	}()
	return ctx, abort, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
		cancelAbort()
	}
}
