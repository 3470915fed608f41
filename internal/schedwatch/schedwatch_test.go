package schedwatch

import (
	"testing"
	"time"
)

// TestWatch: the watch sees at least the time the test itself held the
// goroutine's core away from it, here none on purpose, and its mean never
// exceeds its max.
func TestWatch(t *testing.T) {
	stop := Watch()
	time.Sleep(20 * time.Millisecond)
	d := stop()
	if d.Max < 0 || d.Mean < 0 || d.Mean > d.Max {
		t.Fatalf("delay %+v: want 0 <= mean <= max", d)
	}
}
