package converter

import (
	"bytes"
	"sort"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// layout is the placement of a set of spans on the Chrome timeline: which
// process and lane each span sits on, how far clock-skew correction moved it,
// and which flow arrows join spans on different lanes. It is computed from the
// model only; the encoder turns it into events.
//
// Spans are numbered locally, 0..len(ids)-1, so laying out one trace of a
// large model costs in proportion to that trace.
type layout struct {
	spans  *spanStore
	ids    []int32         // local index -> model span index
	local  map[int32]int32 // model span index -> local index; nil when ids is all spans
	sel    []int32         // local indices in emission order (by pid, lane, start)
	parent []int32         // per local span: local index of the parent, or -1
	depth  []int32         // per local span: depth in its trace tree
	shift  []int64         // per local span: clock-skew shift in ns
	lane   []int32         // per local span: index into lanes
	procs  []procOut
	lanes  []laneOut
	flows  []flowOut
	origin int64 // ns subtracted from every timestamp
	traces int   // distinct trace IDs in sel
	shifts []Shift
}

type procOut struct {
	rec  uint32 // index into model.procs
	pid  int64
	sort int
}

type laneOut struct {
	proc int // index into layout.procs
	tid  int64
	name string
	sort int
}

// rec returns the record of local span k.
func (l *layout) rec(k int32) *spanRec { return l.spans.at(l.ids[k]) }

// find returns the local index of a span by its IDs, if it is in the layout.
func (l *layout) find(m *model, t pcommon.TraceID, s pcommon.SpanID) (int32, bool) {
	g, ok := m.index[keyOf(t, s)]
	if !ok {
		return 0, false
	}
	if l.local == nil {
		return g, true
	}
	k, ok := l.local[g]
	return k, ok
}

type flowOut struct {
	from, to     int32 // local span indices
	link         bool  // a span link rather than a parent->child hop
	fromAt, toAt int64 // where each end sits, in corrected ns
}

func (m *model) layout(only *pcommon.TraceID, cfg *config) *layout {
	l := &layout{spans: &m.spans}
	if only == nil {
		l.ids = make([]int32, m.spans.len())
		for i := range l.ids {
			l.ids[i] = int32(i)
		}
	} else {
		l.ids = m.traceSpans(*only)
		l.local = make(map[int32]int32, len(l.ids))
		for k, g := range l.ids {
			l.local[g] = int32(k)
		}
	}
	n := len(l.ids)
	l.parent = make([]int32, n)
	l.depth = make([]int32, n)
	l.shift = make([]int64, n)
	l.lane = make([]int32, n)
	l.sel = make([]int32, n)
	traces := map[pcommon.TraceID]struct{}{}
	var lastTrace pcommon.TraceID
	for i := int32(0); i < int32(n); i++ {
		l.sel[i] = i
		l.parent[i] = -1
		l.lane[i] = -1
		s := l.rec(i)
		if s.trace != lastTrace || len(traces) == 0 {
			// Spans of a trace mostly arrive together; the check skips
			// the map for all but the first of a run.
			lastTrace = s.trace
			traces[s.trace] = struct{}{}
		}
		if s.parent.IsEmpty() || s.parent == s.id {
			continue
		}
		if p, ok := l.find(m, s.trace, s.parent); ok {
			l.parent[i] = p
		}
	}
	l.traces = len(traces)
	order := l.treeOrder(m)
	if !cfg.noSkewFix {
		l.fixSkew(m, order)
	}
	if len(l.sel) > 0 && !cfg.absoluteTime {
		l.origin = l.rec(l.sel[0]).start + l.shift[l.sel[0]]
		for _, i := range l.sel {
			if t := l.rec(i).start + l.shift[i]; t < l.origin {
				l.origin = t
			}
		}
	}
	l.placeLanes(m)
	l.addFlows(m)
	return l
}

// treeOrder returns the selected spans with every parent before its children,
// computing depths on the way. Parent cycles (only hostile input has them) are
// broken by treating one span of the cycle as a root.
func (l *layout) treeOrder(m *model) []int32 {
	// Children in compressed form: kids[first[p]:first[p+1]] are p's children.
	n := len(l.ids)
	first := make([]int32, n+1)
	for _, i := range l.sel {
		if p := l.parent[i]; p >= 0 {
			first[p+1]++
		}
	}
	for i := 1; i <= n; i++ {
		first[i] += first[i-1]
	}
	kids := make([]int32, first[n])
	fill := make([]int32, n)
	for _, i := range l.sel {
		if p := l.parent[i]; p >= 0 {
			kids[first[p]+fill[p]] = i
			fill[p]++
		}
	}
	visited := make([]bool, n)
	order := make([]int32, 0, len(l.sel))
	walk := func(root int32) {
		visited[root] = true
		l.depth[root] = 0
		start := len(order)
		order = append(order, root)
		for q := start; q < len(order); q++ {
			i := order[q]
			for _, c := range kids[first[i]:first[i+1]] {
				if !visited[c] {
					visited[c] = true
					l.depth[c] = l.depth[i] + 1
					order = append(order, c)
				}
			}
		}
	}
	for _, i := range l.sel {
		if l.parent[i] < 0 {
			walk(i)
		}
	}
	for _, i := range l.sel {
		if !visited[i] {
			l.parent[i] = -1
			walk(i)
		}
	}
	return order
}

// fixSkew moves spans whose clock disagrees with their parent's in another
// service, as Jaeger's clock-skew adjuster does: a child that starts before its
// parent (or a synchronous server span that ends after its client) is centred in
// the parent, and the shift carries to its descendants in the same process.
func (l *layout) fixSkew(m *model, order []int32) {
	for _, i := range order {
		p := l.parent[i]
		if p < 0 {
			continue
		}
		s, ps := l.rec(i), l.rec(p)
		if s.proc == ps.proc {
			l.shift[i] = l.shift[p]
			continue
		}
		pStart, pEnd := ps.start+l.shift[p], ps.end+l.shift[p]
		sync := s.kind == ptrace.SpanKindServer && ps.kind == ptrace.SpanKindClient
		if s.start >= pStart && (!sync || s.end <= pEnd) {
			continue
		}
		dur, pdur := s.end-s.start, pEnd-pStart
		newStart := pStart
		if dur <= pdur {
			newStart = pStart + (pdur-dur)/2
		}
		d := newStart - s.start
		if d == 0 || d > maxSkew || d < -maxSkew {
			// Beyond maxSkew the data is wrong in some other way; moving
			// the span would hide that rather than fix a clock.
			continue
		}
		l.shift[i] = d
		l.shifts = append(l.shifts, Shift{
			TraceID: s.trace, SpanID: s.id, Service: m.procs[s.proc].service, Delta: d,
		})
	}
}

// maxTID is the largest thread.id used as a tid as is: Perfetto reads tids as
// 32-bit numbers and folds larger ones onto the process's main thread.
const maxTID = 1<<31 - 1

// maxSkew is the largest clock-skew correction applied.
const maxSkew = int64(time.Hour)

// laneState is the stack of slices open on a lane during placement.
type laneState struct {
	ends  []int64
	spans []int32 // local span index of each open slice
}

// open pops the slices that ended before start and returns the innermost
// slice still open (-1 when none) and its end. Spans are placed in start
// order, so a popped slice can never matter again.
func (s *laneState) open(start int64) (int32, int64) {
	n := len(s.ends)
	for n > 0 && s.ends[n-1] <= start {
		n--
	}
	s.ends, s.spans = s.ends[:n], s.spans[:n]
	if n == 0 {
		return -1, 0
	}
	return s.spans[n-1], s.ends[n-1]
}

// fits reports whether span i, [start, end], nests on a thread lane: on a
// real thread whatever is open encloses the call, whatever its parent IDs say.
func (s *laneState) fits(start, end int64) bool {
	top, topEnd := s.open(start)
	return top < 0 || topEnd >= end
}

// fitsUnder reports whether span i nests on a lane without thread identity:
// the innermost open slice must enclose it and be one of its ancestors, so
// that nesting on the timeline never claims a call that did not happen.
func (l *layout) fitsUnder(s *laneState, i int32, start, end int64) bool {
	top, topEnd := s.open(start)
	if top < 0 {
		return true
	}
	if topEnd < end {
		return false
	}
	for p := l.parent[i]; p >= 0; p = l.parent[p] {
		if p == top {
			return true
		}
	}
	return false
}

func (s *laneState) push(end int64, i int32) {
	s.ends = append(s.ends, end)
	s.spans = append(s.spans, i)
}

// placeLanes assigns pids and lanes. Services are ordered by their first
// span; within a process, a span goes on its thread.id lane when it nests
// there, else on its parent's lane when it fits inside it, else on the first
// lane where it nests, else on a new lane. So every lane holds properly nested
// slices and concurrency shows as parallel lanes.
func (l *layout) placeLanes(m *model) {
	byProc := map[uint32][]int32{}
	for _, i := range l.sel {
		p := l.rec(i).proc
		byProc[p] = append(byProc[p], i)
	}
	procIDs := make([]uint32, 0, len(byProc))
	for p := range byProc {
		procIDs = append(procIDs, p)
	}
	// Processes appear in the order their first span starts, so the service
	// that received the request sits on top; names break ties.
	firstStart := map[uint32]int64{}
	for p, spans := range byProc {
		first := l.rec(spans[0]).start + l.shift[spans[0]]
		for _, i := range spans {
			if t := l.rec(i).start + l.shift[i]; t < first {
				first = t
			}
		}
		firstStart[p] = first
	}
	sort.Slice(procIDs, func(a, b int) bool {
		if fa, fb := firstStart[procIDs[a]], firstStart[procIDs[b]]; fa != fb {
			return fa < fb
		}
		pa, pb := &m.procs[procIDs[a]], &m.procs[procIDs[b]]
		if pa.service != pb.service {
			return pa.service < pb.service
		}
		return pa.key < pb.key
	})
	sel := l.sel[:0]
	var states []*laneState // per lane index
	for pi, p := range procIDs {
		l.procs = append(l.procs, procOut{rec: p, pid: int64(pi + 1), sort: pi})
		spans := byProc[p]
		sort.Slice(spans, func(a, b int) bool { return l.less(m, spans[a], spans[b]) })

		threads := map[int64]int32{} // thread.id -> lane
		usedTID := map[int64]bool{}
		for _, i := range spans {
			if s := l.rec(i); s.hasTID && s.tid > 0 && s.tid <= maxTID {
				usedTID[s.tid] = true
			}
		}
		var packed []int32 // lanes without a thread.id, in creation order
		nextTID := int64(1)
		freeTID := func() int64 {
			for usedTID[nextTID] {
				nextTID++
			}
			usedTID[nextTID] = true
			return nextTID
		}
		newLane := func(name string) int32 {
			idx := int32(len(l.lanes))
			l.lanes = append(l.lanes, laneOut{proc: pi, tid: freeTID(), name: name})
			states = append(states, &laneState{})
			return idx
		}
		for _, i := range spans {
			s := l.rec(i)
			start, end := s.start+l.shift[i], s.end+l.shift[i]
			lane := int32(-1)
			if s.hasTID && s.tid > 0 {
				t, ok := threads[s.tid]
				if !ok {
					t = l.threadLane(m, i, start, end, states)
					if t < 0 {
						name := m.strs[s.tname]
						if name == "" {
							name = "thread " + itoa(s.tid)
						}
						if s.tid <= maxTID {
							t = int32(len(l.lanes))
							l.lanes = append(l.lanes, laneOut{proc: pi, tid: s.tid, name: name})
							states = append(states, &laneState{})
						} else {
							// Viewers read tids as 32-bit numbers; a
							// larger thread.id (an OS thread handle, say)
							// gets a small one, and keeps its name.
							t = newLane(name)
						}
					}
					threads[s.tid] = t
				}
				if states[t].fits(start, end) {
					lane = t
				}
			}
			if p := l.parent[i]; lane < 0 && p >= 0 && l.rec(p).proc == s.proc {
				if pl := l.lane[p]; pl >= 0 && l.fitsUnder(states[pl], i, start, end) {
					lane = pl
				}
			}
			if lane < 0 {
				for _, pl := range packed {
					if l.fitsUnder(states[pl], i, start, end) {
						lane = pl
						break
					}
				}
			}
			if lane < 0 {
				lane = newLane("lane " + itoa(int64(len(packed)+1)))
				packed = append(packed, lane)
			}
			states[lane].push(end, i)
			l.lane[i] = lane
		}
		// Lanes are shown in the order they were opened, which is the order
		// of their first span; spans are emitted lane by lane, each lane in
		// start order.
		first := len(l.lanes)
		for li := range l.lanes {
			if l.lanes[li].proc == pi && li < first {
				first = li
			}
		}
		for li := first; li < len(l.lanes); li++ {
			l.lanes[li].sort = li - first
		}
		sort.SliceStable(spans, func(a, b int) bool {
			return l.lanes[l.lane[spans[a]]].sort < l.lanes[l.lane[spans[b]]].sort
		})
		sel = append(sel, spans...)
	}
	l.sel = sel
}

// threadLane decides where the first span of a thread.id lane goes. When its
// parent in the same process carries no thread.id (a request span, whose calls
// sdkhook recorded) and the span fits under it, the thread shares the parent's
// lane, so the calls nest right under the request. Otherwise (-1) the thread
// gets a lane of its own.
func (l *layout) threadLane(m *model, i int32, start, end int64, states []*laneState) int32 {
	p := l.parent[i]
	if p < 0 {
		return -1
	}
	ps := l.rec(p)
	if ps.proc != l.rec(i).proc || ps.hasTID {
		return -1
	}
	pl := l.lane[p]
	if pl < 0 || !l.fitsUnder(states[pl], i, start, end) {
		return -1
	}
	if s := l.rec(i); s.tname != 0 {
		l.lanes[pl].name = m.strs[s.tname]
	}
	return pl
}

// less orders spans for placement: by start, longer first, parents before
// children, then by IDs so equal spans still order deterministically.
func (l *layout) less(m *model, a, b int32) bool {
	sa, sb := l.rec(a), l.rec(b)
	if x, y := sa.start+l.shift[a], sb.start+l.shift[b]; x != y {
		return x < y
	}
	if x, y := sa.end+l.shift[a], sb.end+l.shift[b]; x != y {
		return x > y
	}
	if l.depth[a] != l.depth[b] {
		return l.depth[a] < l.depth[b]
	}
	if c := bytes.Compare(sa.trace[:], sb.trace[:]); c != 0 {
		return c < 0
	}
	return bytes.Compare(sa.id[:], sb.id[:]) < 0
}

func (l *layout) addFlows(m *model) {
	for _, i := range l.sel {
		if p := l.parent[i]; p >= 0 && l.lane[p] != l.lane[i] {
			l.flows = append(l.flows, flowOut{from: p, to: i})
		}
		s := l.rec(i)
		for k := s.links; k < s.links+s.nLinks; k++ {
			lk := m.links[k]
			j, ok := l.find(m, lk.trace, lk.id)
			if !ok || j == i || l.lane[j] < 0 {
				continue
			}
			l.flows = append(l.flows, flowOut{from: j, to: i, link: true})
		}
	}
	if len(l.flows) == 0 {
		return
	}
	// A viewer binds a flow event to the innermost slice open at its time on
	// its lane. So each end is put where its own slice is open and none of the
	// slices nested under it on that lane are: the arrow then joins exactly the
	// two spans it stands for, not a sibling call that happens to be open.
	kids := map[int32][]int32{}
	for _, f := range l.flows {
		kids[f.from], kids[f.to] = nil, nil
	}
	var stack []int32
	lastLane := int32(-1)
	for _, i := range l.sel {
		if l.lane[i] != lastLane {
			stack, lastLane = stack[:0], l.lane[i]
		}
		start, _ := l.times(i)
		for len(stack) > 0 {
			if _, topEnd := l.times(stack[len(stack)-1]); topEnd > start {
				break
			}
			stack = stack[:len(stack)-1]
		}
		if n := len(stack); n > 0 {
			if k, ok := kids[stack[n-1]]; ok {
				kids[stack[n-1]] = append(k, i)
			}
		}
		stack = append(stack, i)
	}
	for n := range l.flows {
		f := &l.flows[n]
		toStart, _ := l.times(f.to)
		f.toAt = l.freePoint(f.to, kids[f.to], toStart, false)
		// The source end, in the target's time: as close before the target
		// starts as the source's own open time allows.
		f.fromAt = l.freePoint(f.from, kids[f.from], f.toAt, true)
	}
}

// times returns span i's start and end after clock-skew correction.
func (l *layout) times(i int32) (int64, int64) {
	s := l.rec(i)
	return s.start + l.shift[i], s.end + l.shift[i]
}

// freePoint returns a time inside span p, strictly within it and outside
// every slice nested under it on its lane (kids, in start order), as close to
// want as possible: at or before want when before is set, else at or after.
// When p has no such time (its children cover it), the nearest time in p.
func (l *layout) freePoint(p int32, kids []int32, want int64, before bool) int64 {
	ps, pe := l.times(p)
	if pe-ps < 2 {
		return ps
	}
	type span struct{ lo, hi int64 }
	free := make([]span, 0, len(kids)+1)
	lo := ps + 1
	for _, k := range kids {
		ks, ke := l.times(k)
		if ks-1 >= lo {
			free = append(free, span{lo, ks - 1})
		}
		lo = max(lo, ke+1)
	}
	if pe-1 >= lo {
		free = append(free, span{lo, pe - 1})
	}
	if len(free) == 0 {
		return min(max(want, ps), pe)
	}
	if before {
		for k := len(free) - 1; k >= 0; k-- {
			if free[k].lo <= want {
				return min(want, free[k].hi)
			}
		}
		return free[0].lo
	}
	for _, f := range free {
		if f.hi >= want {
			return max(want, f.lo)
		}
	}
	return free[len(free)-1].hi
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
