package flow

import (
	"bytes"
	"fmt"
	"time"
)

// A scripted flow (kind flow) runs a list of Steps on each connection. The
// interpreter is sans-IO: a Session holds one connection's place in a
// Script, the host (the driver) feeds it what happened — the script
// starts, a message arrives, a pong arrives, its timer is due, the
// connection closed, the run stopped — with the time, and the Session
// appends what to do to a slice the host owns: send these bytes, send a
// ping, close; and what happened to the steps: started, done with a
// latency, failed with a kind. Deadline says when the host must call
// OnTimer next. The Session keeps no clock and starts no goroutine; its
// hot path (a send, a matching reply) allocates nothing.
//
// # Semantics
//
// Time. Every step has a start, the time it was due: the first step's is
// the time given to Start (the session's intended start, which an open
// model's arrival schedule gives; it may be before the call); a send does
// not move it (the step after a send is due when the send was); a step
// that waits for the server moves it to when what it waited for arrived;
// a think moves it by exactly For (so a late timer does not push the
// steps after it: coordinated omission stays corrected). A step's latency
// is from its start to its end: for an expect right after a send, from the
// send's intended time to the reply that completes it.
//
//   - send renders Send and sends it. {{id}} is the session's next id (1,
//     2, … on each connection; only sends with {{id}} take one), {{seq}} the
//     send's number on the connection (from 0), {{now_ns}}/{{now_ms}} the
//     time of the call, {{conn}} the connection's index, {{NAME}} a variable
//     (a data-file column, or a value captured before). Done at once, its
//     latency the send's lag (now − start).
//   - expect waits for Count (default 1) messages Match matches, within
//     Timeout (default DefaultTimeout) of its start. A message it does not
//     match is ignored and reported as ActUnmatched (servers push things a
//     script does not wait for; k6 and Artillery scripts skip them the same
//     way). Each Capture reads its value from every matching message into
//     its variable (the last one wins); a matching message a capture cannot
//     read fails the step as ErrMismatch. Late: ErrTimeout. A matcher's
//     ==VALUE may hold template fields, filled in when a message arrives:
//     $.id=={{id}} takes only the reply to the last send's id (a late reply
//     to a request that timed out is then not taken for the next one's),
//     $.session=={{session}} a captured value (also in a part of && or
//     ||: $.type==next && $.id=={{id}}).
//   - think waits For (0: not at all).
//   - repeat runs Steps Count times, or, with Count 0, until the host stops
//     the session. A repeat that runs forever must wait somewhere in its
//     body (an expect, receive, ping or a think with a duration): NewScript
//     refuses one that would spin.
//   - receive takes the messages Match matches, for For and/or until it has
//     taken Count (whichever comes first). With For, it is done when For is
//     over, however many it took (ActDone's Count; 0 is for the host to
//     judge); with Count only, it fails as ErrTimeout if Timeout (default
//     DefaultTimeout) passes first. Every message it takes is reported as
//     ActReceived (for the host's stream statistics).
//   - ping sends a ping; the step is done at the next pong (OnPong), or
//     fails as ErrTimeout after Timeout (default DefaultTimeout).
//   - close closes the connection (1000) and ends the script; repeats
//     around it are done.
//
// A step that fails ends the current iteration of the repeat around it
// (the next iteration starts at once, from the failure's time); with no
// repeat around it, the script ends (ActEnd with the step's ErrKind). When
// the connection closes (OnClosed) or the run stops (Stop), the step
// waiting and every repeat around it fail with ErrClosed or ErrStopped,
// innermost first, and the script ends. So every step started (ActStart)
// ends exactly once, in ActDone or ActFailed: per step, started = done +
// failed + in progress. ErrStopped is not the server's fault: a host counts
// those steps as unfinished, not as errors.
//
// Messages arriving while no step waits for one (during a think, after the
// end) are ActUnmatched; a pong no ping step waits for is dropped (no
// action).
//
// Step names: a named step's latency and failures go to its name's metric
// (Op.Metric, Script.StepNames); an unnamed expect right after a named send
// is measured under the send's name (the round trip); other unnamed steps
// have no metric of their own.

// DefaultTimeout is the timeout of an expect, ping or counted receive step
// whose Timeout is 0.
const DefaultTimeout = 10 * time.Second

// ErrKind is why a step failed.
type ErrKind uint8

// Failure kinds.
const (
	ErrNone     ErrKind = iota
	ErrTimeout          // what the step waited for did not come within its timeout
	ErrMismatch         // a message it matched lacked a value a capture reads
	ErrClosed           // the connection closed while the step waited
	ErrStopped          // the run stopped while the step waited (not an error of the server)
)

func (k ErrKind) String() string {
	switch k {
	case ErrNone:
		return "none"
	case ErrTimeout:
		return "timeout"
	case ErrMismatch:
		return "mismatch"
	case ErrClosed:
		return "closed"
	case ErrStopped:
		return "stopped"
	}
	return fmt.Sprintf("ErrKind(%d)", uint8(k))
}

// ActionKind is what an Action asks of the host or tells it.
type ActionKind uint8

// Actions.
const (
	// ActSend: send Data as a data message (text, or binary when the
	// Protocol says so). At is the send's intended time. Data is the
	// Session's buffer: valid until the next call into the Session.
	ActSend ActionKind = iota + 1
	// ActPing: send a ping control frame (any payload).
	ActPing
	// ActClose: close the connection (1000).
	ActClose
	// ActStart: step Op started; At is its start.
	ActStart
	// ActDone: step Op is done; At its start, Latency its duration (ns),
	// Count the messages an expect or receive took, a repeat's iterations.
	ActDone
	// ActFailed: step Op failed with Err; At its start, Latency the time
	// from its start to the failure.
	ActFailed
	// ActReceived: receive step Op took the message given to OnMessage.
	ActReceived
	// ActUnmatched: no step took the message given to OnMessage (Op: the
	// step waiting, or -1).
	ActUnmatched
	// ActEnd: the script ended; Err is why (ErrNone: it ran to its end or
	// closed). The Session does nothing more until Init.
	ActEnd
)

func (k ActionKind) String() string {
	switch k {
	case ActSend:
		return "send"
	case ActPing:
		return "ping"
	case ActClose:
		return "close"
	case ActStart:
		return "start"
	case ActDone:
		return "done"
	case ActFailed:
		return "failed"
	case ActReceived:
		return "received"
	case ActUnmatched:
		return "unmatched"
	case ActEnd:
		return "end"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Action is one thing a Session asks of its host or tells it.
type Action struct {
	Kind    ActionKind
	Err     ErrKind // ActFailed, ActEnd
	Op      int     // the step's index in Script.Ops (-1: none)
	Count   int     // ActDone: messages taken (expect, receive), iterations (repeat)
	At      int64   // ActSend: intended send time; ActStart, ActDone, ActFailed: the step's start
	Latency int64   // ActDone, ActFailed: ns from the step's start
	Data    []byte  // ActSend: the message
}

// Op is one step of a Script, its steps flattened in order (a repeat's
// body follows it).
type Op struct {
	*Step
	// Metric is the step's slot in Script.StepNames, -1 when it has none.
	// A named step has its name's slot; an unnamed expect right after a
	// named send takes the send's name (the pair is measured as one: from
	// the send's intended time to the reply), and the send then has none.
	// Other unnamed steps have none (they still fail and count).
	Metric int
	// Parent is the repeat around the step (-1: top level); End, for a
	// repeat, the index after its body.
	Parent, End int
	// Key names the step as a scenario file's key does: steps[2].steps[0].
	Key string
	id  bool // Send has {{id}}
	// eq, when a ==VALUE of Match holds fields ($.id=={{id}}, also as a
	// part of && and ||), is Match with those values rendered per message.
	eq *eqMatcher
}

// eqMatcher is a Matcher whose JSON paths' ==VALUEs may hold template
// fields, filled in when a message arrives.
type eqMatcher struct {
	m     Matcher   // a leaf: Equals cleared when eq is set
	eq    *Template // the leaf's ==VALUE (nil: m as it is)
	all   bool      // parts: && (else ||)
	parts []eqMatcher
}

// compileEq returns m as an eqMatcher, nil when no ==VALUE of it holds a
// field.
func compileEq(m Matcher, names *Names) (*eqMatcher, error) {
	switch m.Kind {
	case MatchAll, MatchEither:
		e := &eqMatcher{all: m.Kind == MatchAll}
		fields := false
		for _, pm := range m.parts {
			pe, err := compileEq(pm, names)
			if err != nil {
				return nil, err
			}
			if pe == nil {
				pe = &eqMatcher{m: pm}
			} else {
				fields = true
			}
			e.parts = append(e.parts, *pe)
		}
		if !fields {
			return nil, nil
		}
		return e, nil
	case MatchPath:
		if !bytes.Contains(m.Equals, []byte("{{")) {
			return nil, nil
		}
		t, err := ParseTemplate(string(m.Equals), names)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", m.Src, err)
		}
		e := &eqMatcher{m: m, eq: t}
		e.m.Equals = nil
		return e, nil
	}
	return nil, nil
}

// vars appends the variable slots e's fields use to dst.
func (e *eqMatcher) vars(dst []int) []int {
	if e == nil {
		return dst
	}
	if e.eq != nil {
		for _, p := range e.eq.Parts {
			if p.Field == Var {
				dst = append(dst, p.Var)
			}
		}
	}
	for i := range e.parts {
		dst = e.parts[i].vars(dst)
	}
	return dst
}

// MatchVars lists the variable slots the fields of the step's matcher use
// ($.s=={{session}}).
func (op *Op) MatchVars() []int { return op.eq.vars(nil) }

// Script is a flow compiled for Sessions. It is read-only once built and
// shared by every Session of a run.
type Script struct {
	Steps []Step
	Ops   []Op
	// StepNames are the per-step metrics' names, in the order of their
	// first step (Op.Metric indexes it).
	StepNames []string
	// Vars is the number of variable slots the templates and captures use
	// (the Names they were parsed with).
	Vars  int
	depth int // repeats nested at most
}

// ScriptError is a problem NewScript found with one step.
type ScriptError struct {
	Key  string // steps[2].steps[0]
	Line int    // the step's line in its file (0: unknown)
	Msg  string
}

func (e *ScriptError) Error() string { return e.Key + ": " + e.Msg }

// NewScript compiles steps for Sessions; names (nil: no variables) is what
// their templates and captures were parsed with, complete (data-file
// columns included). Steps Count 0 of an expect means 1.
func NewScript(steps []Step, names *Names) (*Script, error) {
	sc := &Script{Steps: steps}
	nvars := func() int {
		if names == nil {
			return 0
		}
		return len(names.List())
	}
	metric := map[string]int{}
	slot := func(name string) int {
		if i, ok := metric[name]; ok {
			return i
		}
		metric[name] = len(sc.StepNames)
		sc.StepNames = append(sc.StepNames, name)
		return metric[name]
	}
	var add func(list []Step, parent int, prefix string, depth int) error
	add = func(list []Step, parent int, prefix string, depth int) error {
		sc.depth = max(sc.depth, depth)
		prevSend := -1 // the op of a named send just before
		for i := range list {
			st := &list[i]
			op := Op{Step: st, Metric: -1, Parent: parent, Key: fmt.Sprintf("%ssteps[%d]", prefix, i)}
			bad := func(format string, a ...any) error {
				return &ScriptError{Key: op.Key, Line: st.Line, Msg: fmt.Sprintf(format, a...)}
			}
			if st.Name != "" {
				op.Metric = slot(st.Name)
			}
			switch st.Kind {
			case StepSend:
				if st.Send == nil {
					return bad("a send step needs a message")
				}
				op.id = st.Send.Has(ID)
			case StepExpect, StepReceive:
				if st.Kind == StepReceive {
					if st.For <= 0 && st.Count <= 0 {
						return bad("a receive step needs a duration (for) or a count")
					}
					if st.For < 0 || st.Count < 0 {
						return bad("for and count must not be negative")
					}
				}
				eq, err := compileEq(st.Match, names)
				if err != nil {
					return bad("%v", err)
				}
				op.eq = eq
				if st.Kind == StepReceive {
					break
				}
				if st.Count < 0 {
					return bad("count must not be negative, got %d", st.Count)
				}
				if st.Name == "" && prevSend >= 0 {
					op.Metric, sc.Ops[prevSend].Metric = sc.Ops[prevSend].Metric, -1
				}
			case StepThink:
				if st.For < 0 {
					return bad("must not be negative, got %s", st.For)
				}
			case StepRepeat:
				if st.Count < 0 {
					return bad("repeat must not be negative, got %d", st.Count)
				}
				if st.Count == 0 && !waits(st.Steps) {
					return bad("a repeat without end must wait somewhere in its steps (an expect, receive, ping or think), or it would send without end")
				}
			case StepPing, StepClose:
			default:
				return bad("unknown step kind %d", st.Kind)
			}
			if st.Timeout < 0 {
				return bad("timeout must not be negative, got %s", st.Timeout)
			}
			if st.Kind != StepRepeat && len(st.Steps) > 0 {
				return bad("only a repeat has steps")
			}
			for _, c := range st.Captures {
				if c.Var < 0 || c.Var >= nvars() {
					return bad("a capture's variable slot %d is outside the %d names", c.Var, nvars())
				}
			}
			at := len(sc.Ops)
			sc.Ops = append(sc.Ops, op)
			prevSend = -1
			if st.Kind == StepSend && st.Name != "" {
				prevSend = at
			}
			if st.Kind == StepRepeat {
				if err := add(st.Steps, at, sc.Ops[at].Key+".", depth+1); err != nil {
					return err
				}
			}
			sc.Ops[at].End = len(sc.Ops)
		}
		return nil
	}
	if err := add(steps, -1, "", 0); err != nil {
		return nil, err
	}
	if len(sc.Ops) == 0 {
		return nil, &ScriptError{Key: "steps", Msg: "a flow needs at least one step"}
	}
	sc.Vars = nvars()
	return sc, nil
}

// waits reports whether running steps always waits for something: an
// event from the connection or a timer with a duration.
func waits(steps []Step) bool {
	for i := range steps {
		switch st := &steps[i]; st.Kind {
		case StepExpect, StepReceive, StepPing, StepClose:
			return true
		case StepThink:
			if st.For > 0 {
				return true
			}
		case StepRepeat:
			if waits(st.Steps) {
				return true
			}
		}
	}
	return false
}

// frame is a repeat in progress.
type frame struct {
	op    int
	iter  int
	start int64
}

// Session is one connection's place in a Script (the semantics are at the
// top of script.go). The zero Session is
// unusable: Init it, then Start. A Session is reused by Init (its buffers
// stay), and is not safe for concurrent use.
type Session struct {
	sc       *Script
	vals     Values   // Vars: the row's values and the captures
	row      [][]byte // the data row (nil: none)
	own      [][]byte // captured values' storage, by slot
	buf      []byte   // rendered sends of the current call
	scratch  []byte   // a matcher's value, rendered
	stack    []frame
	pc       int   // the current op
	t        int64 // the current step's start (intended)
	deadline int64 // when the waiting step times out or ends (0: none)
	got      int   // messages the waiting step took
	id, seq  uint64
	waiting  bool // the op at pc is waiting
	started  bool
	ended    bool
}

// Init (re)sets s to run sc on connection conn, with row (nil: none) the
// connection's data-file values by variable slot.
func (s *Session) Init(sc *Script, conn uint64, row [][]byte) {
	s.sc, s.row = sc, row
	if cap(s.vals.Vars) < sc.Vars {
		s.vals.Vars = make([][]byte, sc.Vars)
		own := make([][]byte, sc.Vars)
		copy(own, s.own)
		s.own = own
	}
	s.vals.Vars, s.own = s.vals.Vars[:sc.Vars], s.own[:sc.Vars]
	for i := range s.vals.Vars {
		s.vals.Vars[i] = nil
		if i < len(row) {
			s.vals.Vars[i] = row[i]
		}
	}
	s.vals.Conn, s.vals.ID, s.vals.Seq, s.vals.Now = conn, 0, 0, 0
	if cap(s.stack) < sc.depth+1 {
		s.stack = make([]frame, 0, sc.depth+1)
	}
	s.stack = s.stack[:0]
	s.buf = s.buf[:0]
	s.pc, s.t, s.deadline, s.got, s.id, s.seq = 0, 0, 0, 0, 0, 0
	s.waiting, s.started, s.ended = false, false, false
}

// Var is the current value of variable slot i (nil: unset).
func (s *Session) Var(i int) []byte {
	if i < 0 || i >= len(s.vals.Vars) {
		return nil
	}
	return s.vals.Vars[i]
}

// Ended reports whether the script ended.
func (s *Session) Ended() bool { return s.ended }

// Deadline is when the host must call OnTimer next (Unix ns; 0: no timer).
func (s *Session) Deadline() int64 {
	if s.ended || !s.waiting {
		return 0
	}
	return s.deadline
}

// Waiting is the op of the step waiting (-1: none).
func (s *Session) Waiting() int {
	if s.ended || !s.waiting {
		return -1
	}
	return s.pc
}

// Start starts the script: start is its intended start (the schedule's
// time in an open model; a start after now is now), now the time of the
// call. A time given to any call that is before the current step's start
// counts as that start, so no latency is negative.
func (s *Session) Start(start, now int64, dst []Action) []Action {
	if s.sc == nil || s.started {
		return dst
	}
	s.started, s.t = true, min(start, now)
	s.buf = s.buf[:0]
	return s.run(now, dst)
}

// OnMessage hands the Session a data message that arrived at now.
func (s *Session) OnMessage(p []byte, now int64, dst []Action) []Action {
	now = s.clock(now)
	s.buf = s.buf[:0]
	if !s.waiting || s.ended {
		return append(dst, Action{Kind: ActUnmatched, Op: -1})
	}
	op := &s.sc.Ops[s.pc]
	switch op.Kind {
	case StepExpect:
		if !s.matches(op, p) {
			return append(dst, Action{Kind: ActUnmatched, Op: s.pc})
		}
		for _, c := range op.Captures {
			v, ok := c.From.Value(p)
			if !ok {
				return s.fail(ErrMismatch, now, dst)
			}
			s.own[c.Var] = append(s.own[c.Var][:0], v...)
			s.vals.Vars[c.Var] = s.own[c.Var]
		}
		s.got++
		if s.got >= max(op.Count, 1) {
			return s.done(now, now, dst)
		}
		return dst
	case StepReceive:
		if !s.matches(op, p) {
			return append(dst, Action{Kind: ActUnmatched, Op: s.pc})
		}
		s.got++
		dst = append(dst, Action{Kind: ActReceived, Op: s.pc, At: now})
		if op.Count > 0 && s.got >= op.Count {
			return s.done(now, now, dst)
		}
		return dst
	}
	return append(dst, Action{Kind: ActUnmatched, Op: s.pc})
}

// matches reports whether op's matcher matches p.
func (s *Session) matches(op *Op, p []byte) bool {
	if op.eq == nil {
		return op.Match.Matches(p)
	}
	return s.eqMatches(op.eq, p)
}

func (s *Session) eqMatches(e *eqMatcher, p []byte) bool {
	switch {
	case e.parts != nil:
		for i := range e.parts {
			if s.eqMatches(&e.parts[i], p) != e.all {
				return !e.all
			}
		}
		return e.all
	case e.eq == nil:
		return e.m.Matches(p)
	}
	v, ok := e.m.Value(p)
	if !ok {
		return false
	}
	s.scratch = e.eq.Append(s.scratch[:0], &s.vals) // {{id}}, {{seq}}: the last send's
	return bytes.Equal(v, s.scratch)
}

// OnPong hands the Session a pong that arrived at now.
func (s *Session) OnPong(now int64, dst []Action) []Action {
	now = s.clock(now)
	if !s.waiting || s.ended || s.sc.Ops[s.pc].Kind != StepPing {
		return dst
	}
	s.buf = s.buf[:0]
	return s.done(now, now, dst)
}

// OnTimer tells the Session its Deadline came (now ≥ Deadline; an early
// call does nothing).
func (s *Session) OnTimer(now int64, dst []Action) []Action {
	now = s.clock(now)
	if !s.waiting || s.ended || now < s.deadline {
		return dst
	}
	s.buf = s.buf[:0]
	op := &s.sc.Ops[s.pc]
	switch {
	case op.Kind == StepThink, op.Kind == StepReceive && op.For > 0:
		return s.done(s.deadline, now, dst)
	}
	return s.fail(ErrTimeout, now, dst)
}

// OnClosed tells the Session its connection closed (by the server, or
// dropped) at now: the waiting step and the repeats around it fail as
// ErrClosed and the script ends.
func (s *Session) OnClosed(now int64, dst []Action) []Action { return s.abort(ErrClosed, now, dst) }

// Stop ends the script because the run stops: the waiting step and the
// repeats around it fail as ErrStopped.
func (s *Session) Stop(now int64, dst []Action) []Action { return s.abort(ErrStopped, now, dst) }

func (s *Session) abort(kind ErrKind, now int64, dst []Action) []Action {
	now = s.clock(now)
	if s.ended || s.sc == nil {
		return dst
	}
	s.ended = true
	if !s.started {
		return append(dst, Action{Kind: ActEnd, Err: kind, Op: -1})
	}
	if s.waiting {
		dst = append(dst, Action{Kind: ActFailed, Err: kind, Op: s.pc, At: s.t, Latency: now - s.t})
		s.waiting = false
	}
	for i := len(s.stack) - 1; i >= 0; i-- {
		f := s.stack[i]
		dst = append(dst, Action{Kind: ActFailed, Err: kind, Op: f.op, Count: f.iter, At: f.start, Latency: now - f.start})
	}
	s.stack = s.stack[:0]
	return append(dst, Action{Kind: ActEnd, Err: kind, Op: -1})
}

// clock is now, or the current step's start if now is before it (a
// message stamped when it arrived, handed over after a timer moved the
// script on): no latency is negative.
func (s *Session) clock(now int64) int64 {
	if now < s.t {
		return s.t
	}
	return now
}

// done ends the waiting step at end (its new start for the next step).
func (s *Session) done(end, now int64, dst []Action) []Action {
	dst = append(dst, Action{Kind: ActDone, Op: s.pc, Count: s.got, At: s.t, Latency: end - s.t})
	s.waiting, s.t = false, end
	s.pc++
	return s.run(now, dst)
}

// fail fails the waiting step: the iteration of the repeat around it ends,
// or, at the top, the script.
func (s *Session) fail(kind ErrKind, now int64, dst []Action) []Action {
	dst = append(dst, Action{Kind: ActFailed, Err: kind, Op: s.pc, At: s.t, Latency: now - s.t})
	s.waiting, s.t = false, now
	if len(s.stack) == 0 {
		s.ended = true
		return append(dst, Action{Kind: ActEnd, Err: kind, Op: -1})
	}
	s.pc = s.sc.Ops[s.stack[len(s.stack)-1].op].End
	return s.run(now, dst)
}

// run runs steps from pc until one waits or the script ends.
func (s *Session) run(now int64, dst []Action) []Action {
	ops := s.sc.Ops
	for {
		if n := len(s.stack); n > 0 {
			f := &s.stack[n-1]
			rep := &ops[f.op]
			if s.pc >= rep.End { // an iteration is over
				f.iter++
				if rep.Count == 0 || f.iter < rep.Count {
					s.pc = f.op + 1
					continue
				}
				dst = append(dst, Action{Kind: ActDone, Op: f.op, Count: f.iter, At: f.start, Latency: s.t - f.start})
				s.stack = s.stack[:n-1]
				s.pc = rep.End
				continue
			}
		} else if s.pc >= len(ops) {
			s.ended = true
			return append(dst, Action{Kind: ActEnd, Op: -1})
		}
		op := &ops[s.pc]
		dst = append(dst, Action{Kind: ActStart, Op: s.pc, At: s.t})
		switch op.Kind {
		case StepSend:
			if op.id {
				s.id++
			}
			s.vals.ID, s.vals.Seq, s.vals.Now = s.id, s.seq, now
			s.seq++
			from := len(s.buf)
			s.buf = op.Send.Append(s.buf, &s.vals)
			dst = append(dst,
				Action{Kind: ActSend, Op: s.pc, At: s.t, Data: s.buf[from:len(s.buf):len(s.buf)]},
				Action{Kind: ActDone, Op: s.pc, At: s.t, Latency: now - s.t})
			s.pc++
		case StepExpect, StepPing:
			if op.Kind == StepPing {
				dst = append(dst, Action{Kind: ActPing, Op: s.pc, At: s.t})
			}
			s.wait(s.t + int64(timeout(op.Timeout)))
			return dst
		case StepReceive:
			if op.For > 0 {
				s.wait(s.t + int64(op.For))
			} else {
				s.wait(s.t + int64(timeout(op.Timeout)))
			}
			return dst
		case StepThink:
			if op.For <= 0 {
				dst = append(dst, Action{Kind: ActDone, Op: s.pc, At: s.t})
				s.pc++
				continue
			}
			s.wait(s.t + int64(op.For))
			return dst
		case StepRepeat:
			s.stack = append(s.stack, frame{op: s.pc, start: s.t})
			if op.End == s.pc+1 { // an empty body: Count iterations of nothing
				s.stack[len(s.stack)-1].iter = max(op.Count, 1) - 1
			}
			s.pc++
		case StepClose:
			dst = append(dst,
				Action{Kind: ActClose, Op: s.pc, At: s.t},
				Action{Kind: ActDone, Op: s.pc, At: s.t, Latency: now - s.t})
			for i := len(s.stack) - 1; i >= 0; i-- {
				f := s.stack[i]
				dst = append(dst, Action{Kind: ActDone, Op: f.op, Count: f.iter + 1, At: f.start, Latency: now - f.start})
			}
			s.stack = s.stack[:0]
			s.ended = true
			return append(dst, Action{Kind: ActEnd, Op: -1})
		}
	}
}

func (s *Session) wait(deadline int64) {
	s.waiting, s.deadline, s.got = true, deadline, 0
}

func timeout(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}
