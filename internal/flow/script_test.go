package flow

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// Step builders for the tests.
func send(names *Names, s string) Step {
	t, err := ParseTemplate(s, names)
	if err != nil {
		panic(err)
	}
	return Step{Kind: StepSend, Send: t}
}

func expect(m string, caps ...Capture) Step {
	return Step{Kind: StepExpect, Match: MustMatcher(m), Captures: caps}
}

func named(name string, st Step) Step     { st.Name = name; return st }
func timed(d time.Duration, st Step) Step { st.Timeout = d; return st }
func think(d time.Duration) Step          { return Step{Kind: StepThink, For: d} }
func repeat(n int, steps ...Step) Step    { return Step{Kind: StepRepeat, Count: n, Steps: steps} }
func receive(m string, d time.Duration, n int) Step {
	return Step{Kind: StepReceive, Match: MustMatcher(m), For: d, Count: n}
}

// event is one thing the test host does to a Session.
type event struct {
	at   int64  // ms
	kind string // msg, pong, timer, closed, stop
	msg  string
}

func msg(at int64, s string) event   { return event{at: at, kind: "msg", msg: s} }
func ev(at int64, kind string) event { return event{at: at, kind: kind} }

// trace runs sess through events and writes each action compactly:
// "start 0@0", "send 0@0 {..}", "done 1@0+5 n1", "failed 1@0+10 timeout",
// "unmatched 1", "end", "end timeout"; "| deadline N" after each call
// whose deadline is set (ms).
func trace(t *testing.T, sc *Script, row [][]byte, events []event) string {
	t.Helper()
	var s Session
	s.Init(sc, 3, row)
	var b strings.Builder
	var acts []Action
	write := func() {
		for _, a := range acts {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			switch a.Kind {
			case ActSend:
				fmt.Fprintf(&b, "send %d@%d %s", a.Op, a.At/ms, a.Data)
			case ActPing, ActClose:
				fmt.Fprintf(&b, "%s %d", a.Kind, a.Op)
			case ActStart:
				fmt.Fprintf(&b, "start %d@%d", a.Op, a.At/ms)
			case ActDone:
				fmt.Fprintf(&b, "done %d@%d+%d n%d", a.Op, a.At/ms, a.Latency/ms, a.Count)
			case ActFailed:
				fmt.Fprintf(&b, "failed %d@%d+%d %s", a.Op, a.At/ms, a.Latency/ms, a.Err)
			case ActReceived, ActUnmatched:
				fmt.Fprintf(&b, "%s %d", a.Kind, a.Op)
			case ActEnd:
				b.WriteString("end")
				if a.Err != ErrNone {
					b.WriteString(" " + a.Err.String())
				}
			}
		}
		if d := s.Deadline(); d != 0 {
			fmt.Fprintf(&b, " | deadline %d", d/ms)
		}
	}
	acts = s.Start(0, 0, acts[:0])
	write()
	for _, e := range events {
		now := e.at * ms
		switch e.kind {
		case "msg":
			acts = s.OnMessage([]byte(e.msg), now, acts[:0])
		case "pong":
			acts = s.OnPong(now, acts[:0])
		case "timer":
			acts = s.OnTimer(now, acts[:0])
		case "closed":
			acts = s.OnClosed(now, acts[:0])
		case "stop":
			acts = s.Stop(now, acts[:0])
		default:
			t.Fatalf("event %q", e.kind)
		}
		write()
	}
	return b.String()
}

func TestSession(t *testing.T) {
	var names Names
	user := names.Index("user")
	sess := names.Index("session")
	row := make([][]byte, 2)
	row[user] = []byte("ann")
	capSession := Capture{Var: sess, From: MustMatcher("$.session")}
	for _, c := range []struct {
		name   string
		steps  []Step
		events []event
		want   string
	}{{
		name:   "send then expect: latency from the send's intended time; a push in between is ignored",
		steps:  []Step{send(&names, `{"id":{{id}},"user":"{{user}}"}`), expect("$.id==1")},
		events: []event{msg(3, `{"push":1}`), msg(5, `{"id":1}`)},
		want:   `start 0@0; send 0@0 {"id":1,"user":"ann"}; done 0@0+0 n0; start 1@0 | deadline 10000; unmatched 1 | deadline 10000; done 1@0+5 n1; end`,
	}, {
		name:   "expect times out at its start plus its timeout, not before",
		steps:  []Step{send(&names, "a"), timed(50*time.Millisecond, expect("is:b"))},
		events: []event{ev(49, "timer"), ev(60, "timer"), msg(61, "b")},
		want:   `start 0@0; send 0@0 a; done 0@0+0 n0; start 1@0 | deadline 50 | deadline 50; failed 1@0+60 timeout; end timeout; unmatched -1`,
	}, {
		name: "a capture feeds the later send",
		steps: []Step{send(&names, "login"), expect("$.op==ok", capSession),
			send(&names, `get {{session}} as {{user}}`), expect("$.op==got")},
		events: []event{msg(4, `{"op":"ok","session":"s-42"}`), msg(9, `{"op":"got"}`)},
		want:   `start 0@0; send 0@0 login; done 0@0+0 n0; start 1@0 | deadline 10000; done 1@0+4 n1; start 2@4; send 2@4 get s-42 as ann; done 2@4+0 n0; start 3@4 | deadline 10004; done 3@4+5 n1; end`,
	}, {
		name:   "a matching message a capture cannot read is a mismatch",
		steps:  []Step{expect("$.op==ok", capSession), send(&names, "next")},
		events: []event{msg(2, `{"op":"ok"}`)},
		want:   `start 0@0 | deadline 10000; failed 0@0+2 mismatch; end mismatch`,
	}, {
		name:   "expect count takes that many matches",
		steps:  []Step{Step{Kind: StepExpect, Match: MustMatcher("$.n"), Count: 3}},
		events: []event{msg(1, `{"n":1}`), msg(2, `{"x":1}`), msg(3, `{"n":2}`), msg(4, `{"n":3}`)},
		want:   `start 0@0 | deadline 10000 | deadline 10000; unmatched 0 | deadline 10000 | deadline 10000; done 0@0+4 n3; end`,
	}, {
		name:   "think moves the next send's intended time by exactly its duration, however late the timer",
		steps:  []Step{think(100 * time.Millisecond), send(&names, "x")},
		events: []event{msg(50, "early"), ev(130, "timer")},
		want:   `start 0@0 | deadline 100; unmatched 0 | deadline 100; done 0@0+100 n0; start 1@100; send 1@100 x; done 1@100+30 n0; end`,
	}, {
		name:   "repeat runs its body exactly Count times",
		steps:  []Step{repeat(3, send(&names, "q{{seq}}"), expect("is:r"))},
		events: []event{msg(1, "r"), msg(2, "r"), msg(3, "r")},
		want: `start 0@0; start 1@0; send 1@0 q0; done 1@0+0 n0; start 2@0 | deadline 10000; ` +
			`done 2@0+1 n1; start 1@1; send 1@1 q1; done 1@1+0 n0; start 2@1 | deadline 10001; ` +
			`done 2@1+1 n1; start 1@2; send 1@2 q2; done 1@2+0 n0; start 2@2 | deadline 10002; ` +
			`done 2@2+1 n1; done 0@0+3 n3; end`,
	}, {
		name:   "a failed step ends its iteration; the repeat goes on",
		steps:  []Step{repeat(2, send(&names, "q"), timed(10*time.Millisecond, expect("is:r")), send(&names, "after"))},
		events: []event{ev(10, "timer"), ev(25, "timer")},
		want: `start 0@0; start 1@0; send 1@0 q; done 1@0+0 n0; start 2@0 | deadline 10; ` +
			`failed 2@0+10 timeout; start 1@10; send 1@10 q; done 1@10+0 n0; start 2@10 | deadline 20; ` +
			`failed 2@10+15 timeout; done 0@0+25 n2; end`,
	}, {
		name:   "a repeat without end runs until the run stops",
		steps:  []Step{repeat(0, send(&names, "q"), expect("is:r"))},
		events: []event{msg(1, "r"), ev(2, "stop"), msg(3, "r")},
		want: `start 0@0; start 1@0; send 1@0 q; done 1@0+0 n0; start 2@0 | deadline 10000; ` +
			`done 2@0+1 n1; start 1@1; send 1@1 q; done 1@1+0 n0; start 2@1 | deadline 10001; ` +
			`failed 2@1+1 stopped; failed 0@0+2 stopped; end stopped; unmatched -1`,
	}, {
		name:   "the server closing fails the waiting step and its repeats",
		steps:  []Step{repeat(5, repeat(5, expect("any")))},
		events: []event{ev(7, "closed")},
		want:   `start 0@0; start 1@0; start 2@0 | deadline 10000; failed 2@0+7 closed; failed 1@0+7 closed; failed 0@0+7 closed; end closed`,
	}, {
		name:   "receive for a duration counts what matched until it is over",
		steps:  []Step{receive("$.seq", time.Second, 0)},
		events: []event{msg(100, `{"seq":1}`), msg(200, `{"other":1}`), msg(300, `{"seq":2}`), ev(1005, "timer")},
		want:   `start 0@0 | deadline 1000; received 0 | deadline 1000; unmatched 0 | deadline 1000; received 0 | deadline 1000; done 0@0+1000 n2; end`,
	}, {
		name:   "receive a count is done at the last",
		steps:  []Step{receive("$.seq", 0, 2), send(&names, "x")},
		events: []event{msg(100, `{"seq":1}`), msg(300, `{"seq":2}`)},
		want:   `start 0@0 | deadline 10000; received 0 | deadline 10000; received 0; done 0@0+300 n2; start 1@300; send 1@300 x; done 1@300+0 n0; end`,
	}, {
		name:   "receive a count fails at its timeout",
		steps:  []Step{timed(time.Second, receive("$.seq", 0, 2))},
		events: []event{msg(100, `{"seq":1}`), ev(1000, "timer")},
		want:   `start 0@0 | deadline 1000; received 0 | deadline 1000; failed 0@0+1000 timeout; end timeout`,
	}, {
		name:   "ping waits for its pong",
		steps:  []Step{{Kind: StepPing}, timed(20*time.Millisecond, Step{Kind: StepPing})},
		events: []event{ev(7, "pong"), ev(26, "timer"), ev(27, "timer")},
		want:   `start 0@0; ping 0 | deadline 10000; done 0@0+7 n0; start 1@7; ping 1 | deadline 27 | deadline 27; failed 1@7+20 timeout; end timeout`,
	}, {
		name:   "close ends the script and the repeats around it",
		steps:  []Step{repeat(0, expect("any"), Step{Kind: StepClose}), send(&names, "never")},
		events: []event{msg(4, "x")},
		want:   `start 0@0; start 1@0 | deadline 10000; done 1@0+4 n1; start 2@4; close 2; done 2@4+0 n0; done 0@0+4 n1; end`,
	}, {
		name:  "{{id}} is taken by the sends that have one; {{seq}} counts every send",
		steps: []Step{send(&names, "{{id}}/{{seq}}"), send(&names, "-/{{seq}}"), send(&names, "{{id}}/{{seq}}/{{conn}}")},
		want:  `start 0@0; send 0@0 1/0; done 0@0+0 n0; start 1@0; send 1@0 -/1; done 1@0+0 n0; start 2@0; send 2@0 2/2/3; done 2@0+0 n0; end`,
	}, {
		name:   "$.id=={{id}} takes only the reply to the last send: a late reply to one that timed out is not taken for the next",
		steps:  []Step{repeat(2, send(&names, `{"id":{{id}}}`), timed(10*time.Millisecond, expect("$.id=={{id}}")))},
		events: []event{ev(10, "timer"), msg(12, `{"id":1}`), msg(15, `{"id":"2"}`)},
		want: `start 0@0; start 1@0; send 1@0 {"id":1}; done 1@0+0 n0; start 2@0 | deadline 10; ` +
			`failed 2@0+10 timeout; start 1@10; send 1@10 {"id":2}; done 1@10+0 n0; start 2@10 | deadline 20; ` +
			`unmatched 2 | deadline 20; done 2@10+5 n1; done 0@0+15 n2; end`,
	}, {
		name:   "a message stamped before its step's start (handed over after the timer) counts at the start: no negative latency",
		steps:  []Step{think(100 * time.Millisecond), send(&names, "x"), expect("any")},
		events: []event{ev(130, "timer"), msg(95, "late")},
		want:   `start 0@0 | deadline 100; done 0@0+100 n0; start 1@100; send 1@100 x; done 1@100+30 n0; start 2@100 | deadline 10100; done 2@100+0 n1; end`,
	}, {
		name:   "fields in a part of && and ||",
		steps:  []Step{send(&names, "{{id}}"), expect("$.type==next && $.id=={{id}}"), receive("$.x==0 || $.y=={{id}}", 0, 1)},
		events: []event{msg(1, `{"type":"next","id":2}`), msg(2, `{"type":"done","id":1}`), msg(3, `{"type":"next","id":1}`), msg(4, `{"y":2}`), msg(5, `{"y":1}`)},
		want:   `start 0@0; send 0@0 1; done 0@0+0 n0; start 1@0 | deadline 10000; unmatched 1 | deadline 10000; unmatched 1 | deadline 10000; done 1@0+3 n1; start 2@3 | deadline 10003; unmatched 2 | deadline 10003; received 2; done 2@3+2 n1; end`,
	}, {
		name:   "a matcher's value may be a captured variable",
		steps:  []Step{expect("$.s", capSession), receive("$.s=={{session}}", 0, 1)},
		events: []event{msg(1, `{"s":"a","session":"k"}`), msg(2, `{"s":"a"}`), msg(3, `{"s":"k"}`)},
		want:   `start 0@0 | deadline 10000; done 0@0+1 n1; start 1@1 | deadline 10001; unmatched 1 | deadline 10001; received 1; done 1@1+2 n1; end`,
	}} {
		t.Run(c.name, func(t *testing.T) {
			sc, err := NewScript(c.steps, &names)
			if err != nil {
				t.Fatal(err)
			}
			if got := trace(t, sc, row, c.events); got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestScriptNames(t *testing.T) {
	var names Names
	sc, err := NewScript([]Step{
		named("login", send(&names, "login")), expect("any"), // the pair is "login"
		send(&names, "x"), expect("any"), // unnamed: none
		repeat(2, named("get", send(&names, "get")), named("got", expect("any"))),
		named("login", Step{Kind: StepPing}), // a name twice is one metric
	}, &names)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sc.StepNames, ","); got != "login,get,got" {
		t.Errorf("StepNames %s", got)
	}
	var got []string
	for _, op := range sc.Ops {
		got = append(got, fmt.Sprintf("%s=%d", op.Key, op.Metric))
	}
	want := "steps[0]=-1 steps[1]=0 steps[2]=-1 steps[3]=-1 steps[4]=-1 steps[4].steps[0]=1 steps[4].steps[1]=2 steps[5]=0"
	if strings.Join(got, " ") != want {
		t.Errorf("metrics\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestNewScriptErrors(t *testing.T) {
	var names Names
	for _, c := range []struct {
		steps []Step
		want  string
	}{
		{[]Step{send(&names, "a"), repeat(0, send(&names, "x"), think(0))}, "steps[1]: a repeat without end must wait"},
		{[]Step{repeat(2, repeat(0, send(&names, "x")))}, "steps[0].steps[0]: a repeat without end must wait"},
		{[]Step{{Kind: StepReceive, Match: MustMatcher("any")}}, "steps[0]: a receive step needs a duration"},
		{[]Step{{Kind: StepSend}}, "steps[0]: a send step needs a message"},
		{[]Step{{Kind: 99}}, "steps[0]: unknown step kind"},
		{nil, "a flow needs at least one step"},
	} {
		_, err := NewScript(c.steps, &names)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	// A repeat without end that waits in a nested repeat is fine.
	if _, err := NewScript([]Step{repeat(0, repeat(2, expect("any")))}, &names); err != nil {
		t.Error(err)
	}
}

// A Session is reused by Init: nothing of the last connection stays.
func TestSessionReuse(t *testing.T) {
	var names Names
	v := names.Index("v")
	sc, err := NewScript([]Step{expect("$.v", Capture{Var: v, From: MustMatcher("$.v")}), send(&names, "{{id}}:{{v}}:{{conn}}")}, &names)
	if err != nil {
		t.Fatal(err)
	}
	var s Session
	var acts []Action
	for conn, val := range []string{"one", "two"} {
		s.Init(sc, uint64(conn), nil)
		acts = s.Start(0, 0, acts[:0])
		acts = s.OnMessage([]byte(`{"v":"`+val+`"}`), 1, acts[:0])
		want := fmt.Sprintf("1:%s:%d", val, conn)
		if len(acts) < 3 || acts[2].Kind != ActSend || string(acts[2].Data) != want {
			t.Fatalf("conn %d: %v, want a send of %s", conn, acts, want)
		}
	}
}

// BenchmarkSessionSendExpect: one iteration of a send→expect loop (the
// reply arrives, the expect is done, the next request is rendered): 0
// allocs/op, whether the expect takes any reply ($.id) or only the one to
// the id just sent ($.id=={{id}}).
func BenchmarkSessionSendExpect(b *testing.B) {
	for _, m := range []string{"$.id", "$.id=={{id}}"} {
		b.Run(m, func(b *testing.B) {
			var names Names
			sc, err := NewScript([]Step{repeat(0,
				named("call", send(&names, `{"jsonrpc":"2.0","id":{{id}},"method":"echo","params":[{{seq}}]}`)),
				expect(m))}, &names)
			if err != nil {
				b.Fatal(err)
			}
			var s Session
			s.Init(sc, 0, nil)
			acts := s.Start(0, 0, make([]Action, 0, 16))
			reply := make([]byte, 0, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// the reply to the id just sent
				reply = strconv.AppendUint(append(reply[:0], `{"jsonrpc":"2.0","id":`...), uint64(i+1), 10)
				reply = append(reply, `,"result":[1]}`...)
				acts = s.OnMessage(reply, int64(i), acts[:0])
			}
			if len(acts) != 5 || acts[0].Kind != ActDone || acts[2].Kind != ActSend || s.Waiting() != 2 {
				b.Fatalf("an iteration gave %v", acts)
			}
		})
	}
}

// fuzzSteps builds a script from b: up to 4 steps a level, 2 levels of
// repeats; it returns the steps and what is left of b.
func fuzzSteps(b []byte, names *Names, depth int) ([]Step, []byte) {
	if len(b) == 0 {
		return nil, b
	}
	n := int(b[0]%4) + 1
	b = b[1:]
	var steps []Step
	v := names.Index("v")
	for i := 0; i < n && len(b) > 0; i++ {
		c := b[0]
		b = b[1:]
		d := time.Duration(c>>4) * time.Millisecond
		var st Step
		switch c % 8 {
		case 0:
			st = send(names, "{{id}}:{{seq}}:{{v}}")
		case 1:
			st = timed(d, expect("$.a"))
			if c&0x40 != 0 {
				st = timed(d, expect("$.a=={{id}}"))
			}
		case 2:
			st = expect("$.a", Capture{Var: v, From: MustMatcher("$.b")})
			st.Count = int(c>>6) + 1
		case 3:
			st = think(d)
		case 4:
			st = receive("$.a", d, int(c>>6))
			if d == 0 && c>>6 == 0 {
				st.Count = 1
			}
		case 5:
			st = timed(d, Step{Kind: StepPing})
		case 6:
			if c>>4 == 0 {
				st = Step{Kind: StepClose}
				break
			}
			fallthrough
		case 7:
			if depth >= 2 {
				st = send(names, "x")
				break
			}
			st = repeat(int(c >> 5))
			st.Steps, b = fuzzSteps(b, names, depth+1)
		}
		if c&8 != 0 {
			st.Name = fmt.Sprintf("n%d", c%3)
		}
		steps = append(steps, st)
	}
	return steps, b
}

// FuzzSession drives random scripts with random messages, pongs, timers,
// closes and stops: nothing panics or spins, every step started ends
// exactly once (done or failed) before the next start of the same step,
// latencies are never negative, nothing happens after the end but
// unmatched messages, and after a final Stop nothing is left open.
func FuzzSession(f *testing.F) {
	f.Add([]byte{2, 0, 1}, []byte{0, 1, 2, 3, 4, 5})
	f.Add([]byte{1, 7, 2, 0, 1}, []byte{0, 0, 0, 0, 6, 8})
	f.Add([]byte{3, 4, 5, 0x13}, []byte{4, 3, 4, 7})
	f.Add([]byte{2, 0x27, 1, 0x12, 6}, []byte{1, 2, 0, 9, 9, 4, 4})
	f.Fuzz(func(t *testing.T, script, events []byte) {
		var names Names
		steps, _ := fuzzSteps(script, &names, 0)
		sc, err := NewScript(steps, &names)
		if err != nil {
			return
		}
		var s Session
		s.Init(sc, 1, nil)
		open := make([]bool, len(sc.Ops))
		ended := false
		var now int64
		var acts []Action
		check := func() {
			for _, a := range acts {
				if ended && a.Kind != ActUnmatched {
					t.Fatalf("%v after the end", a.Kind)
				}
				switch a.Kind {
				case ActStart:
					if open[a.Op] {
						t.Fatalf("%s started twice", sc.Ops[a.Op].Key)
					}
					open[a.Op] = true
				case ActDone, ActFailed:
					if !open[a.Op] {
						t.Fatalf("%s %v without a start", sc.Ops[a.Op].Key, a.Kind)
					}
					if a.Latency < 0 {
						t.Fatalf("%s: latency %d", sc.Ops[a.Op].Key, a.Latency)
					}
					if (a.Kind == ActFailed) != (a.Err != ErrNone) {
						t.Fatalf("%v with %v", a.Kind, a.Err)
					}
					open[a.Op] = false
				case ActEnd:
					ended = true
				}
			}
			if d := s.Deadline(); d != 0 && d < now-int64(time.Hour) {
				t.Fatalf("deadline %d", d)
			}
		}
		acts = s.Start(0, 0, acts[:0])
		check()
		for _, e := range events {
			now += int64(e>>4) * ms
			rx := now - int64(e>>6)*ms // a message stamped before the last call's time
			switch e % 10 {
			case 0:
				acts = s.OnMessage([]byte(`{"a":1,"b":"x"}`), rx, acts[:0])
			case 1:
				acts = s.OnMessage([]byte(`{"a":1}`), rx, acts[:0])
			case 2:
				acts = s.OnMessage([]byte(`{"c":1}`), rx, acts[:0])
			case 3:
				acts = s.OnPong(now, acts[:0])
			case 4, 5, 6:
				if d := s.Deadline(); d != 0 && d > now {
					now = d
				}
				acts = s.OnTimer(now, acts[:0])
			case 7:
				acts = s.OnTimer(now, acts[:0])
			case 8:
				acts = s.OnClosed(now, acts[:0])
			case 9:
				acts = s.Stop(now, acts[:0])
			}
			check()
		}
		acts = s.Stop(now, acts[:0])
		check()
		if !ended || !s.Ended() {
			t.Fatal("not ended after Stop")
		}
		for i, o := range open {
			if o {
				t.Fatalf("%s open at the end", sc.Ops[i].Key)
			}
		}
	})
}
