package sdkhook

import (
	"context"
	rtrace "runtime/trace"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

// record is one function call. Records are written under the recorder's lock
// and read by the processor only after the request closed, so they need no
// atomics of their own.
type record struct {
	name   string  // explicit name; empty when pc is set
	pc     uintptr // return address into the hooked function (EnterFunc)
	start  int64   // ticks at entry (see clock.go)
	end    int64   // ticks at exit; 0 while open
	parent int32   // enclosing record, or -1 for the request span
	lane   int32   // index into recorder.lanes
	flags  uint32
	serial uint32       // tells a reused slot from the call a Region names
	link   trace.SpanID // explicit OTel parent, see binding.link
}

const (
	flagFiltered  uint32 = 1 << iota // shorter than the minimum duration
	flagForked                       // a lane or a span started below it; keep its slot
	flagUnordered                    // exited out of order (a lane shared by goroutines)
	flagError                        // ended with an error or a panic
	flagLate                         // started after the request span's end time
)

// lane is one goroutine's sequential calls within a request. Hooks nest by the
// lane's stack, which is exact for sequential code whatever context is passed.
type lane struct {
	id    int64 // thread.id
	root  int32 // parent record of the lane's outermost calls (-1: request)
	cur   int32 // innermost open record, or -1
	depth int32 // open calls, recorded or not
	goid  int64 // goroutine it ran on, when traced (AttrGoroutineID)
}

// failure keeps what an error or a panic needs for its exception event. The
// error value is formatted lazily, when spans are emitted.
type failure struct {
	idx   int32
	err   error
	panic any
	stack []byte
	at    int64
}

// maxFailures bounds exception details per request; further failing calls
// still get status Error.
const maxFailures = 64

// recorder holds one request's records. It is pooled by its processor and
// reused; gen changes whenever it opens or closes, so bindings and Regions
// from an earlier request are rejected under the lock. (A Region would have
// to outlive 2^31 requests on one recorder for its 32-bit gen to come round;
// even then it could only misdate one call, never touch memory out of
// bounds.)
type recorder struct {
	mu     sync.Mutex
	gen    uint32
	serial uint32 // calls recorded in this generation
	open   bool
	traced bool     // the execution tracer ran as the request opened: note goroutines
	recs   []record // capacity is the processor's MaxRecords
	lanes  []lane   // capacity is MaxLanes
	fails  []failure

	dropped      int // calls not recorded: buffer full or too deep
	filtered     int // calls shorter than the minimum duration
	droppedLanes int // forks beyond MaxLanes
	clockFaults  int // calls whose exit read the clock before their entry

	// tsc says which clock this request reads (clock.go). It is atomic
	// because a stale Region may read it while the next request opens; its
	// generation is checked afterwards, under the lock.
	tsc atomic.Bool

	// aliases are the table entries of spans started inside this request,
	// removed when it closes: such a span that is never ended must not hold
	// a table slot, or this recorder, forever.
	aliases []*entry

	maxDepth int32
	minDurNs int64 // WithMinDuration
	minDur   int64 // the same in ticks, for this request

	// Clock readings when the request opened and closed, to map ticks onto
	// the monotonic clock (clock.go).
	opened, closed clockPair

	// ctxKey/ctxNode cache the context Start returned for the last parent
	// context, so Start allocates once per distinct parent, not per call.
	ctxKey  [2]uintptr
	ctxNode *node

	// Request span, filled in when the request starts.
	sc        trace.SpanContext
	startWall time.Time
	startMono int64
	entry     *entry
}

func newRecorder(c *config) *recorder {
	return &recorder{
		recs:     make([]record, 0, c.maxRecords),
		lanes:    make([]lane, 0, c.maxLanes),
		maxDepth: int32(c.maxDepth),
		minDurNs: int64(c.minDuration),
	}
}

// openRequest readies a pooled recorder for a request and returns the main
// lane's binding.
func (r *recorder) openRequest(sc trace.SpanContext, start time.Time) binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	r.serial = 0
	r.open = true
	r.sc = sc
	r.startWall = start
	if start == start.Round(0) {
		// No monotonic reading (trace.WithTimestamp): the wall clock may
		// have stepped since, so the request starts now on the monotonic
		// clock.
		r.startMono = nanotime()
	} else {
		r.startMono = int64(start.Sub(clockBase))
	}
	tsc := tscOn.Load()
	r.tsc.Store(tsc)
	r.opened = readPair(tsc)
	r.minDur = r.minDurNs
	if tsc {
		r.minDur = int64(float64(r.minDurNs) * ticksPerNs())
	}
	r.lanes = append(r.lanes[:0], lane{id: acquireLaneID(), root: -1, cur: -1})
	r.traced = rtrace.IsEnabled()
	return binding{rec: r, gen: r.gen, lane: 0, mark: -2}
}

// close stops recording. Afterwards the processor owns the records; late hooks
// see the new generation under the lock and do nothing.
func (r *recorder) close() {
	r.mu.Lock()
	if r.open {
		r.closed = readPair(r.tsc.Load())
	}
	r.open = false
	r.gen++
	for i, e := range r.aliases {
		spans.remove(e) // fails harmlessly for spans that ended
		r.aliases[i] = nil
	}
	r.aliases = r.aliases[:0]
	r.mu.Unlock()
}

// addAlias keeps e, the table entry of a span started inside generation gen
// of this request, for removal when the request closes. It reports false,
// having removed e itself, when that request has closed already.
func (r *recorder) addAlias(e *entry, gen uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != gen || !r.open {
		spans.remove(e)
		return false
	}
	if len(r.aliases) == cap(r.aliases) && len(r.aliases) >= 64 {
		// Forget entries of spans that ended, so a request starting many
		// child spans keeps a list as long as its live ones.
		live := r.aliases[:0]
		for _, a := range r.aliases {
			if spans.find(a.id) == a {
				live = append(live, a)
			}
		}
		clear(r.aliases[len(live):])
		r.aliases = live
		if len(live) > cap(live)/2 {
			r.aliases = slices.Grow(live, cap(live)) // amortise the next scan
		}
	}
	r.aliases = append(r.aliases, e)
	return true
}

// reset clears a closed recorder for the pool.
func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lanes {
		releaseLaneID(l.id)
	}
	clear(r.recs) // drop name strings
	r.recs = r.recs[:0]
	r.lanes = r.lanes[:0]
	clear(r.fails)
	r.fails = r.fails[:0]
	r.dropped, r.filtered, r.droppedLanes, r.clockFaults = 0, 0, 0, 0
	r.ctxKey, r.ctxNode = [2]uintptr{}, nil
	r.sc = trace.SpanContext{}
	r.entry = nil
}

// Region is one hooked call, returned by Enter and friends and ended by End,
// EndErr or Done. The zero Region (nothing recorded) is valid and free to end.
type Region struct {
	// Four fields, so the compiler keeps a Region in registers: a fifth
	// makes it a memory object and costs ~20 ns per call.
	rec  *recorder
	tag  uint64 // generation<<32 | the call's serial
	idx  int32  // record index; -1 when the call was counted but not recorded
	lane int32
}

func (r Region) gen() uint32    { return uint32(r.tag >> 32) }
func (r Region) serial() uint32 { return uint32(r.tag) }

// enter records a call on b's lane. parent, when not nil, asks for a context
// bound to the lane (Start); it is returned as ctx.
func (r *recorder) enter(b *binding, name string, pc uintptr, parent context.Context) (reg Region, ctx context.Context) {
	ctx = parent
	now := readTicks(r.tsc.Load())
	r.mu.Lock()
	if r.gen != b.gen || !r.open {
		r.mu.Unlock()
		return Region{}, ctx
	}
	l := &r.lanes[b.lane]
	l.depth++
	if r.traced && l.goid == 0 && b.lane != 0 {
		l.goid = goroutineID() // a fork's first call, on its goroutine (the request's lane: see endRequest)
	}
	reg = Region{rec: r, tag: uint64(b.gen) << 32, idx: -1, lane: b.lane}
	if l.depth > r.maxDepth || len(r.recs) == cap(r.recs) {
		r.dropped++
	} else {
		idx := int32(len(r.recs))
		r.recs = r.recs[:idx+1]
		p := l.cur
		if p < 0 {
			p = l.root
		}
		r.serial++
		rc := &r.recs[idx]
		*rc = record{name: name, pc: pc, start: now, parent: p, lane: b.lane, serial: r.serial}
		if b.mark != -2 && l.cur == b.mark {
			rc.link = b.link
		}
		l.cur = idx
		reg.idx, reg.tag = idx, reg.tag|uint64(r.serial)
	}
	if parent != nil {
		ctx = r.childLocked(parent, b)
	}
	r.mu.Unlock()
	return reg, ctx
}

// childLocked returns a context bound to b's lane. A context already bound to
// it is returned as is, and the last parent seen is cached, so the recording
// path of Start does not allocate in steady state. Nodes are never reused:
// a context may outlive its request, and must keep meaning what it meant.
func (r *recorder) childLocked(parent context.Context, b *binding) context.Context {
	if n, ok := parent.(*node); ok && n.b == b {
		return parent
	}
	// Compare interface words instead of values: comparing two contexts of a
	// non-comparable dynamic type with == would panic.
	key := *(*[2]uintptr)(unsafe.Pointer(&parent))
	if r.ctxNode != nil && r.ctxKey == key && r.ctxNode.b == b {
		return r.ctxNode.context()
	}
	n := newNode(parent, b)
	r.ctxKey, r.ctxNode = key, n
	return n.context()
}

// exit ends the call reg stands for.
func (r *recorder) exit(reg Region, err error, panicked any, stack []byte) {
	now := readTicks(r.tsc.Load())
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != reg.gen() || !r.open {
		return
	}
	l := &r.lanes[reg.lane]
	if reg.idx < 0 {
		l.depth = max(l.depth-1, 0)
		return
	}
	if int(reg.idx) >= len(r.recs) || r.recs[reg.idx].serial != reg.serial() || r.recs[reg.idx].end != 0 {
		return // ended twice (its slot may have been reused since)
	}
	rc := &r.recs[reg.idx]
	l.depth--
	fault := now < rc.start
	if fault {
		// The clock went backwards (TSC offsets between CPUs): a clock
		// fault, kept with no duration rather than filtered as short.
		r.clockFaults++
		now = rc.start
	}
	rc.end = now
	switch {
	case l.cur == reg.idx:
		l.cur = r.outerOnLane(rc)
	case r.encloses(reg.idx, l.cur):
		l.cur = r.outerOnLane(rc) // inner calls that never ended are cut here
	default:
		rc.flags |= flagUnordered
	}
	if err != nil || panicked != nil {
		rc.flags |= flagError
		if len(r.fails) < maxFailures {
			r.fails = append(r.fails, failure{idx: reg.idx, err: err, panic: panicked, stack: stack, at: now})
		}
		return
	}
	if now-rc.start < r.minDur && !fault {
		r.filtered++
		if int(reg.idx) == len(r.recs)-1 && rc.flags&flagForked == 0 {
			*rc = record{}
			r.recs = r.recs[:reg.idx] // reuse the slot
		} else {
			rc.flags |= flagFiltered
		}
	}
}

// outerOnLane returns the record that encloses rc on its own lane, or -1.
func (r *recorder) outerOnLane(rc *record) int32 {
	if p := rc.parent; p >= 0 && r.recs[p].lane == rc.lane {
		return p
	}
	return -1
}

// encloses reports whether record outer is an ancestor of inner on one lane.
func (r *recorder) encloses(outer, inner int32) bool {
	for i := 0; inner >= 0 && i <= int(r.maxDepth); i++ {
		if inner == outer {
			return true
		}
		if r.recs[inner].lane != r.recs[outer].lane {
			return false
		}
		inner = r.recs[inner].parent
	}
	return false
}

// noLane binds a fork beyond MaxLanes: hooks with it record nothing.
var noLane = &binding{}

// fork adds a lane whose outermost calls are children of b's innermost open
// call. It returns nil when the request is over, noLane when it has MaxLanes
// lanes.
func (r *recorder) fork(b *binding) *binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != b.gen || !r.open {
		return nil
	}
	if len(r.lanes) == cap(r.lanes) {
		r.droppedLanes++
		return noLane
	}
	from := &r.lanes[b.lane]
	root := from.cur
	if root < 0 {
		root = from.root
	}
	if root >= 0 {
		r.recs[root].flags |= flagForked
	}
	r.lanes = append(r.lanes, lane{id: acquireLaneID(), root: root, cur: -1})
	return &binding{rec: r, gen: b.gen, lane: int32(len(r.lanes) - 1), mark: -2}
}

// aliasFor binds a span started inside the request on b's lane: hooks under it
// go to the same lane and their outermost calls become its children.
// It also returns the lane's thread.id, which the span then carries.
func (r *recorder) aliasFor(b *binding, id trace.SpanID) (binding, int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != b.gen || !r.open {
		return binding{}, 0, false
	}
	cur := r.lanes[b.lane].cur
	if cur >= 0 {
		r.recs[cur].flags |= flagForked // mark must keep naming this call
	}
	return binding{rec: r, gen: b.gen, lane: b.lane, mark: cur, link: id}, r.lanes[b.lane].id, true
}
