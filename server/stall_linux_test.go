//go:build linux

package server

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestStall (netns, issue 16): a client sends a message every 10ms before,
// through and after a stall of Config.StallAt/StallFor. Every message is
// answered exactly once; the server counts as stalled only messages the
// client sent before the stall's end, at least one (the window is 60 sends
// long); and at least as many answers to messages sent before the end
// arrive at or after it (by the same monotonic clock the server's window is
// on) as the server held: a held answer never leaves early, whatever the
// machine's load. Both paths of the delay queue: a fixed delay (echo, none)
// and a drawn one (rpc, answers matched by id).
func TestStall(t *testing.T) {
	cases := []struct {
		mode, delay string
	}{
		{ModeEcho, "0s"},      // the fixed path, no delay but the stall
		{ModeRPC, "1ms-2ms"},  // a draw per message, out of order
		{ModeBroadcast, "0s"}, // deliveries to the room (the sender alone)
	}
	const every, lead, stall, tail = 10 * ms, 200 * ms, 600 * ms, 200 * ms
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			d, err := ParseDelay(tc.delay)
			if err != nil {
				t.Fatal(err)
			}
			at := time.Now().Add(lead)
			end := at.Add(stall)
			s, addr := startServer(t, Config{Mode: tc.mode, Delay: d, Loops: 2, StallAt: at, StallFor: stall})
			c := dialRaw(t, addr)
			c.SetDeadline(time.Now().Add(30 * time.Second))

			// Answers are read as they come, by a goroutine of their own.
			var mu sync.Mutex
			arrived := map[int]time.Time{}
			var readErr error
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				for {
					f, err := ws.ReadFrame(c.br)
					if err != nil {
						return // the connection closed at the end of the test
					}
					now := time.Now()
					var id int
					if tc.mode == ModeRPC {
						var a struct{ ID int }
						if err := json.Unmarshal(f.Payload, &a); err != nil {
							readErr = fmt.Errorf("answer %q: %v", f.Payload, err)
							return
						}
						id = a.ID
					} else {
						id = int(binary.BigEndian.Uint64(f.Payload))
					}
					mu.Lock()
					_, dup := arrived[id]
					switch {
					case dup:
						readErr = fmt.Errorf("answer %d twice", id)
					case tc.mode != ModeRPC && id != len(arrived):
						readErr = fmt.Errorf("answer %d arrived as number %d: out of order", id, len(arrived))
					}
					arrived[id] = now
					mu.Unlock()
					if readErr != nil {
						return
					}
				}
			}()
			// Send until tail after the end, one message every 10ms.
			var sent []time.Time
			for i := 0; time.Now().Before(end.Add(tail)) && i < 1000; i++ {
				var p []byte
				if tc.mode == ModeRPC {
					p = fmt.Appendf(nil, `{"id":%d,"params":0}`, i)
				} else {
					p = binary.BigEndian.AppendUint64(nil, uint64(i))
				}
				sent = append(sent, time.Now())
				if _, err := c.Write(mf(ws.OpBinary, true, p)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(every)
			}
			all := waitFor(10*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(arrived) == len(sent) || readErr != nil
			})
			c.Close()
			<-readDone
			if readErr != nil {
				t.Fatal(readErr)
			}
			if !all {
				t.Fatalf("%d answers to %d messages", len(arrived), len(sent))
			}
			st := s.Stats()
			beforeEnd, lateAnswers := 0, 0 // messages sent before the end; their answers at or after it
			for i, ts := range sent {
				if ts.Before(end) {
					beforeEnd++
					if !arrived[i].Before(end) {
						lateAnswers++
					}
				}
			}
			t.Logf("%d sent (%d before the end), %d stalled, %d answers to them at or after the end",
				len(sent), beforeEnd, st.Stalled, lateAnswers)
			if st.MessagesIn != uint64(len(sent)) || st.MessagesOut != uint64(len(sent)) {
				t.Errorf("server in %d, out %d, want %d each", st.MessagesIn, st.MessagesOut, len(sent))
			}
			if st.Stalled == 0 || st.Stalled > uint64(beforeEnd) {
				t.Errorf("stalled %d, want 1 to %d (the messages sent before the end)", st.Stalled, beforeEnd)
			}
			if uint64(lateAnswers) < st.Stalled {
				t.Errorf("only %d answers to messages sent before the end came at or after it, but %d were held", lateAnswers, st.Stalled)
			}
		})
	}
}

// TestStallConfig: the stall's settings are checked like the delay's.
func TestStallConfig(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		cfg  Config
		want string // "" = valid
	}{
		{Config{StallAt: now, StallFor: time.Second}, ""},
		{Config{StallFor: time.Second}, "Config.StallFor: a stall of 1s needs a start time"},
		{Config{StallAt: now}, "Config.StallFor: a stall starting at"},
		{Config{StallAt: now, StallFor: -time.Second}, "Config.StallFor: length -1s is negative"},
		{Config{StallAt: now, StallFor: 2 * time.Hour}, "above the longest accepted, 1h0m0s"},
		{Config{Mode: ModePush, StallAt: now, StallFor: time.Second}, `mode "push" has no replies to hold`},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%v, %v) = %v, want %q", tc.cfg.StallAt, tc.cfg.StallFor, err, tc.want)
		}
	}
}
