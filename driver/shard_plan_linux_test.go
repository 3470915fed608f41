package driver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/wsbench/wsbench/scenario"
)

// shard part: the property that makes --shard I/N (and --procs N) exact:
// the union over N parts of the slots each holds and the (slot, message,
// intended send time) each sends is the plan of the run in one process, for
// any N, any model and kind, with no slot or message twice. Each part is
// set up as Run sets it up (prepare, checkOptions, placeSlots, newRun) and
// its sends are walked with the pacers' own steps (run.nextDue for the open
// model, stagedPacer.advance/slot and stagedState.owns for a staged run).

// planned is one send of the plan: a slot's message seq, due at ns.
type planned struct {
	slot int
	seq  uint64
	at   int64
}

// partPlan is what a run of part (the zero Part: the whole run, unsplit)
// holds and sends: its slots, each slot's endpoint (URL and source
// address), the slots dialled before the clock starts, and its sends.
type partPlan struct {
	slots     []int
	endpoints map[int]string
	dialled   []int
	sends     []planned
}

// planOf sets up the part of spec (the whole run's scenario) holding
// count connections from slot first, as Run would (split false: the whole
// run in one process, unsplit), and walks its plan without opening anything.
func planOf(t testing.TB, spec scenario.Spec, first, count int, split bool) partPlan {
	t.Helper()
	cfg := Config{Spec: spec, Target: spec.Target, IO: IOSyscalls, Timestamps: TimestampsRead}
	if split {
		cfg.Part = Part{First: first, Total: spec.Conns}
		cfg.Spec.Conns = count
	}
	s, err := prepare(cfg)
	if err != nil {
		t.Fatalf("prepare slots %d+%d: %v", first, count, err)
	}
	if err := s.checkOptions(); err != nil {
		t.Fatalf("checkOptions slots %d+%d: %v", first, count, err)
	}
	// Every connection due at the start opened (the plan, not a network's luck).
	s.conns = make([]dialed, s.plan.n)
	for i := range s.conns {
		s.conns[i].index = i
	}
	s.placeSlots()
	r := s.newRun()
	var p partPlan
	p.endpoints = map[int]string{}
	for slot := first; slot < first+count; slot++ {
		p.slots = append(p.slots, slot)
		u, src := s.plan.endpoint(s.u, slot)
		p.endpoints[slot] = fmt.Sprintf("%s from %v", u, src)
	}
	for i := range s.plan.n {
		p.dialled = append(p.dialled, s.plan.first+i)
	}
	stop := int64(spec.Warmup + spec.Duration)
	switch {
	case s.staged:
		// As adopt sets up each loop's part (one loop: owns is then the range).
		st := &stagedState{first: s.part.First, n: count, loops: 1}
		sp := &stagedPacer{w: &worker{run: r, staged: st}}
		sp.begin()
		for ; sp.at < stop; sp.seq++ {
			if slot, ok := sp.slot(); ok && st.owns(slot) {
				p.sends = append(p.sends, planned{slot: slot, seq: sp.seq, at: sp.at})
			}
			sp.advance()
			if sp.seq > 1e6 {
				t.Fatalf("staged plan of more than 1e6 messages")
			}
		}
	case !r.open:
		// Closed model: no schedule; each slot sends on its replies.
	default:
		for _, slot := range p.slots {
			idx := r.schedIndex(slot)
			if idx < 0 {
				continue // a broadcast member that only listens
			}
			exact := 0.0
			for seq := uint64(0); ; seq++ {
				var due int64
				exact, due = r.nextDue(idx, seq, exact)
				if due >= stop {
					break
				}
				p.sends = append(p.sends, planned{slot: slot, seq: seq, at: due})
				if seq > 1e6 {
					t.Fatalf("slot %d: more than 1e6 messages", slot)
				}
			}
		}
	}
	return p
}

// share is orchestrate's split of conns over n parts: part i's first slot
// and count.
func share(conns, n, i int) (first, count int) {
	base, extra := conns/n, conns%n
	first = i*base + min(i, extra)
	count = base
	if i < extra {
		count++
	}
	return first, count
}

// checkShardUnion checks the property for spec split into n parts.
func checkShardUnion(t testing.TB, spec scenario.Spec, n int) {
	t.Helper()
	whole := planOf(t, spec, 0, spec.Conns, false)
	var slots, dialled []int
	var sends []planned
	for i := range n {
		first, count := share(spec.Conns, n, i)
		p := planOf(t, spec, first, count, true)
		slots = append(slots, p.slots...)
		dialled = append(dialled, p.dialled...)
		sends = append(sends, p.sends...)
		for slot, e := range p.endpoints {
			if w := whole.endpoints[slot]; w != e {
				t.Errorf("%d parts: part %d opens slot %d to %s, the whole run to %s", n, i, slot, e, w)
			}
		}
	}
	if !slices.Equal(slots, whole.slots) {
		t.Errorf("%d parts hold slots %v, the whole run %v", n, slots, whole.slots)
	}
	slices.Sort(dialled)
	if !slices.Equal(dialled, whole.dialled) {
		t.Errorf("%d parts dial %v before the start, the whole run %v", n, dialled, whole.dialled)
	}
	order := func(a, b planned) int {
		if a.slot != b.slot {
			return a.slot - b.slot
		}
		return int(a.seq) - int(b.seq)
	}
	slices.SortFunc(sends, order)
	ws := slices.Clone(whole.sends)
	slices.SortFunc(ws, order)
	if len(sends) != len(ws) {
		t.Fatalf("%d parts send %d messages, the whole run %d (%s)", n, len(sends), len(ws), describe(spec))
	}
	for i := range ws {
		if sends[i] != ws[i] {
			t.Fatalf("%d parts: send %d is %+v, the whole run's %+v (%s)", n, i, sends[i], ws[i], describe(spec))
		}
	}
}

func describe(s scenario.Spec) string {
	return fmt.Sprintf("kind %s, %d conns, rate %g, arrival %s seed %d, tick %s, stages %v, rooms %d/%d, warmup %s, duration %s",
		s.Kind, s.Conns, s.Rate, s.Arrival, s.Seed, s.Tick, s.Stages, s.RoomSize, s.Publishers, s.Warmup, s.Duration)
}

// shardSpec builds a scenario from fuzzed numbers: kind, model, sizes.
func shardSpec(kindSel, conns uint8, rate uint16, poisson bool, seed uint64, tickSel, stageSel, roomSel uint8) scenario.Spec {
	s := scenario.Default()
	s.Conns = 1 + int(conns)%40
	s.Rate = float64(rate % 1500)
	if rate%5 == 0 {
		s.Rate = 0 // the closed model
	}
	s.Warmup = scenario.Duration(time.Duration(tickSel%3) * 100 * time.Millisecond)
	s.Duration = scenario.Duration(time.Second)
	s.Tick = scenario.Duration([]time.Duration{0, time.Millisecond, 250 * time.Microsecond, 7 * time.Millisecond}[tickSel%4])
	s.SourceIP = "127.0.0.1-127.0.0.3"
	s.Query = "u={{conn}}"
	switch kindSel % 6 {
	case 0:
		s.Kind = scenario.KindEcho
	case 1:
		s.Kind = scenario.KindPing
	case 2:
		s.Kind = scenario.KindBroadcast
		s.Rate = max(s.Rate, 1) // publishers publish at a rate
		s.RoomSize = 2 + int(roomSel)%5
		s.Publishers = 1 + int(roomSel/8)%s.RoomSize
		s.Conns = s.RoomSize * (1 + int(conns)%8)
		s.RoomPath = "/room/%d"
		s.Query = ""
	case 3:
		s.Kind = scenario.KindRequest
		s.FillBundled()
	case 5:
		// A flow: its steps pace each connection (no schedule), as the
		// closed model does.
		s.Kind, s.Rate, s.Query = scenario.KindFlow, 0, ""
		s.Steps = []scenario.StepSpec{{Name: "hello", Send: `{"id":{{id}},"method":"hello"}`}, {Expect: "$.id", Timeout: scenario.Duration(time.Second)}}
	case 4:
		s.Kind = scenario.KindHold
		s.Rate = float64(rate % 200)
		if rate%5 == 1 {
			s.Rate = 0 // idle connections, held
		}
	}
	if poisson && s.Rate > 0 {
		s.Arrival, s.Seed = scenario.ArrivalPoisson, seed|1
	}
	s.Target = "ws://127.0.0.1:9/"
	if stageSel%3 == 0 && s.Kind != scenario.KindBroadcast && s.Kind != scenario.KindFlow {
		// A staged run: ramps and jumps of connections and rate.
		n := 1 + int(stageSel/3)%3
		for i := range n {
			s.Stages = append(s.Stages, scenario.Stage{
				Duration: scenario.Duration(time.Duration(200+100*int(stageSel>>(i+2)&3)) * time.Millisecond),
				Conns:    1 + (int(conns)+7*i)%30,
				Rate:     float64((int(rate) + 311*i) % 900),
			})
		}
		s.ApplyStages()
	}
	return s
}

// shardCount is a count of parts for conns connections from a fuzzed byte.
func shardCount(conns int, b uint8) int { return 1 + int(b)%min(conns, 9) }

// TestShardUnion: the property over many random scenarios (a fixed seed,
// so a failure repeats), every kind and model.
func TestShardUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	ran := map[string]int{}
	for range 150 {
		spec := shardSpec(uint8(rng.Uint32()), uint8(rng.Uint32()), uint16(rng.Uint32()), rng.IntN(2) == 0, rng.Uint64(),
			uint8(rng.Uint32()), uint8(rng.Uint32()), uint8(rng.Uint32()))
		if _, err := scenario.CompileWith(spec, noFiles); err != nil {
			t.Fatalf("a generated scenario does not compile: %v (%s)", err, describe(spec))
		}
		model := "closed"
		switch {
		case spec.Staged():
			model = "staged"
		case spec.Rate > 0 && spec.Arrival == scenario.ArrivalPoisson:
			model = "poisson"
		case spec.Rate > 0:
			model = "uniform"
		}
		ran[string(spec.Kind)+"/"+model]++
		checkShardUnion(t, spec, shardCount(spec.Conns, uint8(rng.Uint32())))
		if t.Failed() {
			return
		}
	}
	for _, want := range []string{"echo/uniform", "echo/poisson", "echo/staged", "broadcast/uniform", "broadcast/poisson", "request/uniform", "ping/staged", "hold/uniform", "echo/closed", "flow/closed"} {
		if ran[want] == 0 {
			t.Errorf("no %s scenario among those generated: %v", want, ran)
		}
	}
}

// FuzzShardUnion is the property under the fuzzer: go test -fuzz
// FuzzShardUnion ./driver.
func FuzzShardUnion(f *testing.F) {
	f.Add(uint8(0), uint8(9), uint16(1000), false, uint64(1), uint8(1), uint8(1), uint8(0), uint8(3))
	f.Add(uint8(0), uint8(17), uint16(733), true, uint64(99), uint8(2), uint8(1), uint8(0), uint8(4))
	f.Add(uint8(2), uint8(5), uint16(400), true, uint64(7), uint8(0), uint8(1), uint8(19), uint8(2))
	f.Add(uint8(1), uint8(12), uint16(500), false, uint64(3), uint8(1), uint8(3), uint8(0), uint8(5))
	f.Add(uint8(3), uint8(30), uint16(1200), false, uint64(5), uint8(3), uint8(2), uint8(0), uint8(7))
	f.Fuzz(func(t *testing.T, kindSel, conns uint8, rate uint16, poisson bool, seed uint64, tickSel, stageSel, roomSel, shards uint8) {
		spec := shardSpec(kindSel, conns, rate, poisson, seed, tickSel, stageSel, roomSel)
		if _, err := scenario.CompileWith(spec, noFiles); err != nil {
			t.Skip(err)
		}
		checkShardUnion(t, spec, shardCount(spec.Conns, shards))
	})
}

func noFiles(string) ([]byte, error) { return nil, fmt.Errorf("no files") }
