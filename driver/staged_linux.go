//go:build linux

package driver

import (
	"context"
	"math"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsbench/wsbench/internal/heap"
	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// A staged run (scenario.Stage) changes its load while it runs: connections
// open and close as the plan's connection count C(t) moves, and the open
// model's messages follow the plan's rate R(t) (stagedPacer).
//
// Connections: a planner goroutine walks the plan's ConnEvents, hands each
// open to a pool of dialers (--dial-concurrency) and each close to the loop
// owning the slot, which stops sending on it, waits up to the grace period
// for its replies and closes it with a close handshake. Slots open at time 0
// are dialled before the clock starts, as in a run that is not staged.

// stagedEvent is the planner's word to a loop: a new connection for a slot,
// or a slot to close (gen: the open it closes).
type stagedEvent struct {
	open  bool
	slot  int
	gen   uint32
	fd    int
	carry []byte
	vars  [][]byte // rpc: what the connection's opening captured
}

// stagedState is a loop's part of a staged run: the connections the
// planner opens and closes for the slots it owns, and the stage
// checkpoints. Its methods run on the loop's goroutine (w), except post.
type stagedState struct {
	idx, loops int // this loop's index and the number of loops
	first, n   int // the process's slots: first … first+n-1

	slots  []*conn  // per own slot (index slot-first): its open connection
	gens   []uint32 // per slot: generation of its connection
	closed []uint32 // per slot: the latest generation closed by the plan

	mu    sync.Mutex
	inbox []stagedEvent
	spare []stagedEvent

	retiring []*conn // connections closing on the plan's word

	// Stage checkpoints: the next stage boundary and the stage it ends.
	stageCh   chan<- stageCheckpoint
	nextStage int64
	stageIdx  int
	lastCP    *metrics.Checkpoint
}

// owns reports whether slot is this loop's.
func (s *stagedState) owns(slot int) bool {
	return slot >= s.first && slot < s.first+s.n && (slot-s.first)%s.loops == s.idx
}

// post hands the loop an event from another goroutine; the caller wakes
// the loop.
func (s *stagedState) post(ev stagedEvent) {
	s.mu.Lock()
	s.inbox = append(s.inbox, ev)
	s.mu.Unlock()
}

// pass is the loop's staged work at the start of each pass: stage
// checkpoints, the planner's events, retiring connections.
func (s *stagedState) pass(w *worker, now int64) {
	s.checkpoints(w, now, false)
	s.takeInbox(w, now)
	if len(s.retiring) > 0 {
		s.checkRetiring(w, now)
	}
}

// wait shortens the loop's wait to come back for what the staged run
// needs next.
func (s *stagedState) wait(w *worker, now, wait int64) int64 {
	// Back for the next stage's checkpoint; a run that is not staged
	// (--reconnect alone) takes none, and its nextStage stays 0.
	if w.phase == phaseSending && s.stageCh != nil && s.stageIdx < w.run.plan.Stages() {
		wait = min(wait, max(s.nextStage-now, 0))
	}
	if len(s.retiring) > 0 {
		wait = min(wait, max(s.nextRetiring()-now, 0))
	}
	if w.phase == phaseClosing && w.live == 0 {
		wait = drainPoll // only the planner's last dials to wait for
	}
	return wait
}

// takeInbox handles the planner's events: adopts new connections, retires
// closed slots.
func (s *stagedState) takeInbox(w *worker, now int64) {
	s.mu.Lock()
	evs := s.inbox
	s.inbox, s.spare = s.spare[:0], evs
	s.mu.Unlock()
	for _, ev := range evs {
		i := ev.slot - s.first
		if !ev.open {
			s.closed[i] = max(s.closed[i], ev.gen)
			if c := s.slots[i]; c != nil && s.gens[i] <= ev.gen {
				s.slots[i] = nil
				s.retire(w, c, now)
			}
			continue
		}
		if err := w.adoptWith(ev.fd, ev.slot, ev.carry, ev.vars); err != nil {
			w.shard.Error("harness_poll_error")
			unix.Close(ev.fd)
			continue
		}
		c := w.conns[len(w.conns)-1]
		if len(c.carry) > 0 {
			w.consume(c, c.carry, true, w.passNow)
		}
		switch {
		case c.state != stateOpen:
		case w.phase != phaseSending || s.closed[i] >= ev.gen:
			// Closed by the plan (or the run) before it finished opening.
			s.retire(w, c, now)
		default:
			if old := s.slots[i]; old != nil {
				s.retire(w, old, now) // cannot happen: a slot closes before it reopens
			}
			s.slots[i], s.gens[i] = c, ev.gen
			if w.load.sends(c) {
				w.pacing().joined(c, now)
			}
		}
	}
	clear(evs)
}

// closeInbox closes the connections left in the inbox of a loop that has
// ended.
func (s *stagedState) closeInbox() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.inbox {
		if ev.open {
			unix.Close(ev.fd)
		}
	}
	s.inbox = nil
}

// retire stops sending on c and closes it once its replies are in, or the
// grace period is over.
func (s *stagedState) retire(w *worker, c *conn, now int64) {
	if c.state != stateOpen || c.retiring {
		return
	}
	c.retiring = true
	c.due = now + w.run.grace
	s.retiring = append(s.retiring, c)
	if c.outstanding() == 0 {
		s.retireClose(w, c, now)
	}
}

// retireClose starts c's close handshake; what it still awaits is lost.
func (s *stagedState) retireClose(w *worker, c *conn, now int64) {
	if c.state != stateOpen {
		return
	}
	if !c.settled {
		c.settled = true
		w.shard.Counts.Lost += c.measuredIn(c.expected, c.nextSeq)
		w.outstanding -= c.outstanding()
		c.expected = c.nextSeq
	}
	w.sendClose(c, ws.StatusNormalClosure)
	c.state = stateClosing
	c.due = now + w.run.closeTimeout
}

// checkRetiring moves retiring connections on: closes those whose replies
// are in or whose grace is over, and drops those whose close went unanswered.
func (s *stagedState) checkRetiring(w *worker, now int64) {
	keep := s.retiring[:0]
	for _, c := range s.retiring {
		switch c.state {
		case stateOpen:
			if c.outstanding() == 0 || now >= c.due {
				s.retireClose(w, c, now)
			}
		case stateClosing:
			if now >= c.due {
				w.shard.Error("close_timeout")
				w.closeFD(c)
			}
		}
		if c.state != stateClosed {
			keep = append(keep, c)
		}
	}
	clear(s.retiring[len(keep):])
	s.retiring = keep
}

// nextRetiring is the earliest moment a retiring connection needs the loop.
func (s *stagedState) nextRetiring() int64 {
	next := int64(math.MaxInt64)
	for _, c := range s.retiring {
		next = min(next, c.due)
	}
	return next
}

// baseline takes the stage checkpoints' starting point.
func (s *stagedState) baseline(w *worker) {
	if s.stageCh == nil {
		return
	}
	cp := w.shard.Checkpoint(nil)
	s.lastCP = &cp
	s.stageCh <- stageCheckpoint{worker: w, idx: -1, cp: cp, open: w.live}
	_, end := w.run.plan.Bounds(0)
	s.nextStage = int64(end)
}

// checkpoints hands the collector a checkpoint at each stage boundary
// passed before the stop, and at the end (final) one for the stage the stop
// fell in, which keeps the replies of the grace period.
func (s *stagedState) checkpoints(w *worker, now int64, final bool) {
	if s.stageCh == nil {
		return
	}
	send := func(idx int) {
		cp := w.shard.Checkpoint(s.lastCP)
		s.lastCP = &cp
		s.stageCh <- stageCheckpoint{worker: w, idx: idx, cp: cp, open: w.live}
	}
	plan, stop := w.run.plan, w.run.stopAt.Load()
	for !final && s.stageIdx < plan.Stages() && now >= s.nextStage && s.nextStage <= stop {
		// A stage owns the messages due in it: make those still due before
		// the boundary now, so they count in this stage, not the next.
		if w.phase == phaseSending {
			w.pacing().sendBefore(s.nextStage)
		}
		send(s.stageIdx)
		s.stageIdx++
		if s.stageIdx < plan.Stages() {
			_, end := plan.Bounds(s.stageIdx)
			s.nextStage = int64(end)
		}
	}
	if final {
		send(min(max(plan.StageAt(time.Duration(stop-1)), s.stageIdx-1, 0), plan.Stages()-1))
	}
}

// planner opens and closes the staged run's connections on the plan's
// schedule until sending stops (stopped), then waits for the dials it
// started. With --reconnect it also re-dials, after a backoff, every slot
// whose connection dropped or failed to open, until sending stops.
func planner(stopped context.Context, r *run, workers []*worker, evs []scenario.ConnEvent, u *url.URL, p dialPlan, rec *metrics.Recorder, done func()) {
	defer done()
	addr := hostPort(u)
	// Every loop holds the same part of the slots; slot's loop is its
	// offset in the part modulo the loops (see owns).
	part := workers[0].staged
	owner := func(slot int) *worker {
		if slot < part.first || slot >= part.first+part.n {
			return nil // another process's slot
		}
		return workers[(slot-part.first)%len(workers)]
	}
	post := func(w *worker, ev stagedEvent) {
		w.staged.post(ev)
		w.poll.Wake()
	}
	type job struct {
		slot    int
		gen     uint32
		attempt int // 0: the plan's open; n: the n-th try to reopen
	}
	slots := part.n
	jobs := make(chan job, len(evs)+2*slots+16)
	var wg sync.WaitGroup
	shard := lockedShard{sh: rec.NewShard()} // one for every dialling goroutine: see dialAll
	for range max(min(p.conc, len(evs)+slots), 1) {
		wg.Go(func() {
			for j := range jobs {
				if stopped.Err() != nil {
					continue
				}
				target, src := p.endpoint(u, j.slot)
				r.firstDial.CompareAndSwap(0, max(int64(time.Since(r.origin)), 1))
				d, t := dialOne(stopped, target, addr, src, p, j.slot)
				if t.opened && j.attempt > 0 {
					t.reconnect = true
				}
				shard.record(t)
				switch {
				case t.opened:
					for at := max(int64(time.Since(r.origin)), 1); ; {
						last := r.lastOpen.Load()
						if at <= last || r.lastOpen.CompareAndSwap(last, at) {
							break
						}
					}
					post(owner(j.slot), stagedEvent{open: true, slot: j.slot, gen: j.gen, fd: d.fd, carry: d.carry, vars: d.vars})
				case r.redials != nil && stopped.Err() == nil:
					select {
					case r.redials <- redial{slot: j.slot, attempt: j.attempt + 1}:
					default:
					}
				}
			}
		})
	}
	gens := map[int]uint32{}
	closed := map[int]bool{} // slots the plan has closed: not reopened
	var gen uint32
	var pending redialHeap
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	next := 0
	for {
		for next < len(evs) && int64(evs[next].At) >= r.stopAt.Load() {
			next = len(evs) // past the end of sending
		}
		if next == len(evs) && r.redials == nil {
			break
		}
		wait := time.Hour
		if next < len(evs) {
			wait = time.Until(r.origin.Add(evs[next].At))
		}
		if pending.len() > 0 {
			wait = min(wait, time.Until(pending.top().at))
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case rd := <-r.redials:
				pending.push(redial{slot: rd.slot, attempt: max(rd.attempt, 1), at: time.Now().Add(r.backoff(max(rd.attempt, 1)))})
				timer.Stop()
				continue
			case <-stopped.Done():
				close(jobs)
				wg.Wait()
				return
			}
		}
		now := time.Now()
		for next < len(evs) && !r.origin.Add(evs[next].At).After(now) {
			ev := evs[next]
			next++
			w := owner(ev.Slot)
			if w == nil {
				continue // another process's slot
			}
			if ev.Open {
				gen++
				gens[ev.Slot], closed[ev.Slot] = gen, false
				jobs <- job{slot: ev.Slot, gen: gen}
			} else {
				closed[ev.Slot] = true
				post(w, stagedEvent{slot: ev.Slot, gen: gens[ev.Slot]})
			}
		}
		for pending.len() > 0 && !pending.top().at.After(now) {
			rd := pending.pop()
			if closed[rd.slot] || owner(rd.slot) == nil {
				continue
			}
			gen++
			gens[rd.slot] = gen
			select {
			case jobs <- job{slot: rd.slot, gen: gen, attempt: rd.attempt}:
			default: // every dialer busy and the queue full: try again later
				rd.at = now.Add(r.backoff(rd.attempt))
				pending.push(rd)
			}
		}
	}
	close(jobs)
	wg.Wait()
}

// redial asks the planner to reopen a slot: the attempt-th try.
type redial struct {
	slot, attempt int
	at            time.Time
}

// redialHeap orders the planner's pending redials by time.
type redialHeap struct{ h heap.Heap[redial] }

// redialEpoch makes a redial's time a heap key on the monotonic clock.
var redialEpoch = time.Now()

func (p *redialHeap) len() int      { return p.h.Len() }
func (p *redialHeap) push(r redial) { p.h.Push(int64(r.at.Sub(redialEpoch)), r) }
func (p *redialHeap) top() *redial  { return p.h.Top() }
func (p *redialHeap) pop() redial   { return p.h.Pop() }

// backoff is how long to wait before the attempt-th try to reopen a slot:
// the --reconnect delay doubled per failed try, at most maxBackoff, with
// ±25% jitter so a server's dropped connections do not all return at once.
func (r *run) backoff(attempt int) time.Duration {
	d := r.reconnect
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, max(maxBackoff, r.reconnect))
	return time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
}

// maxBackoff caps the reconnect backoff.
const maxBackoff = 10 * time.Second

// dropped tells the planner that slot's connection c ended before the run
// or the plan closed it, so that --reconnect reopens the slot.
func (s *stagedState) dropped(w *worker, c *conn) {
	if w.run.redials == nil || w.phase != phaseSending || c.retiring {
		return
	}
	i := c.slot - s.first
	if i < 0 || i >= len(s.slots) || s.slots[i] != c {
		return
	}
	s.slots[i] = nil
	select {
	case w.run.redials <- redial{slot: c.slot, attempt: 1}:
	default:
	}
}

// stageCheckpoint is a worker's shard copied at the start of stage idx (idx
// -1: at the start of the run, the baseline). Stages are few: a copy each
// is cheap, unlike a copy every interval.
type stageCheckpoint struct {
	worker *worker
	idx    int
	cp     metrics.Checkpoint
	open   int // the worker's connections not yet closed, at the checkpoint
}

// collectStages turns the loops' stage checkpoints into per-stage snapshots.
func collectStages(parts <-chan stageCheckpoint, plan scenario.Plan, spec scenario.Spec) []Stage {
	prev := map[*worker]metrics.Checkpoint{}
	out := make([]Stage, plan.Stages())
	if !spec.Staged() {
		for range parts {
		}
		return nil
	}
	for i := range out {
		s, e := plan.Bounds(i)
		out[i] = Stage{Name: spec.StageName(i), Start: s, End: e, Snapshot: metrics.NewSnapshot(),
			TargetConns: spec.Stages[i].Conns, TargetRate: spec.Stages[i].Rate}
	}
	seen := map[int]map[*worker]bool{} // stage → loops whose count of open connections is in
	for p := range parts {
		last, ok := prev[p.worker]
		prev[p.worker] = p.cp
		if !ok || p.idx < 0 || p.idx >= len(out) {
			continue
		}
		if d, err := metrics.Between(last, p.cp); err == nil {
			out[p.idx].Snapshot.Merge(d)
		}
		if seen[p.idx] == nil {
			seen[p.idx] = map[*worker]bool{}
		}
		if !seen[p.idx][p.worker] {
			seen[p.idx][p.worker] = true
			out[p.idx].Open += p.open
		}
	}
	return out
}
