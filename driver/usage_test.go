//go:build linux

package driver

import (
	"testing"
	"time"
)

// TestMachineUsage: the machine's busy share over an interval in which this
// process kept one core busy is above zero and at most one.
func TestMachineUsage(t *testing.T) {
	busy, total := machineTicks()
	if total == 0 || busy > total {
		t.Fatalf("/proc/stat: busy %d of %d ticks", busy, total)
	}
	start := processUsage()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
	}
	d := processUsage().since(start)
	if d.Machine <= 0 || d.Machine > 1 {
		t.Errorf("machine busy share %v over 300 ms of spinning, want in (0, 1]", d.Machine)
	}
	if (usage{Usage: Usage{Machine: -1}}).since(usage{}).Machine != -1 {
		t.Error("unsampled usage gave a machine share")
	}
}
