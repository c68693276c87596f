package converter

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
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
	pre    []int32         // per local span: position in depth-first tree order
	last   []int32         // per local span: pre of its last descendant
	shift  []int64         // per local span: clock-skew shift in ns
	hot    []spanHot       // per local span: what placement reads of its record
	lane   []int32         // per local span: index into lanes
	procs  []procOut
	lanes  []laneOut
	flows  []flowOut
	plan   flowPlan
	refs   refs // what link IDs name in model.index; during layout only
	// coarse says viewers will read the timestamps at less than
	// nanosecond precision (absolute epoch time): see addFlows.
	coarse bool
	// reparented marks spans that hang from another span than their
	// parent_span_id: the nearest kept ancestor of a parent WithMinDuration
	// left out, or the server half of a shared span ID.
	reparented map[int32]bool
	origin     int64 // ns subtracted from every timestamp
	traces     int   // distinct trace IDs in sel
	shifts     []Shift
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
	g, ok := m.index.get(keyOf(t, s))
	if !ok {
		return 0, false
	}
	return l.localIndex(g)
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
	l.depth = make([]int32, n)
	l.shift = make([]int64, n)
	l.lane = make([]int32, n)
	l.sel = make([]int32, n)
	for i := range l.sel {
		l.sel[i] = int32(i)
		l.lane[i] = -1
	}
	l.resolve(m)
	order := l.treeOrder(m)
	if !cfg.noSkewFix {
		l.fixSkew(m, order)
	}
	l.coarse = cfg.absoluteTime
	if len(l.sel) > 0 && !cfg.absoluteTime {
		l.origin, _ = l.times(l.sel[0])
		for _, i := range l.sel {
			if t, _ := l.times(i); t < l.origin {
				l.origin = t
			}
		}
	}
	l.placeLanes(m)
	l.addFlows(m)
	l.refs = refs{}
	return l
}

// treeOrder returns the selected spans with every parent before its children
// (depth-first), computing depths and each span's subtree interval on the way:
// span a is an ancestor of span b exactly when pre[a] < pre[b] <= last[a].
// Parent cycles (only hostile input has them) are broken by treating one span
// of the cycle as a root.
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
	l.pre = make([]int32, n)
	l.last = make([]int32, n)
	visited := make([]bool, n)
	order := make([]int32, 0, len(l.sel))
	type frame struct{ span, next int32 }
	var stack []frame
	walk := func(root int32) {
		visited[root] = true
		l.depth[root] = 0
		l.pre[root] = int32(len(order))
		order = append(order, root)
		stack = append(stack[:0], frame{root, first[root]})
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next == first[f.span+1] {
				l.last[f.span] = int32(len(order) - 1)
				stack = stack[:len(stack)-1]
				continue
			}
			c := kids[f.next]
			f.next++
			if visited[c] {
				continue
			}
			visited[c] = true
			l.depth[c] = l.depth[f.span] + 1
			l.pre[c] = int32(len(order))
			order = append(order, c)
			stack = append(stack, frame{c, first[c]})
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
			l.markReparented(i) // drawn as a root: its parent chain loops
			walk(i)
		}
	}
	return order
}

func (l *layout) markReparented(i int32) {
	if l.reparented == nil {
		l.reparented = map[int32]bool{}
	}
	l.reparented[i] = true
}

// found returns the local index of model span g, a span refs found (-1
// where it found none), if it is in the layout.
func (l *layout) found(g int32) (int32, bool) {
	if g < 0 {
		return 0, false
	}
	return l.localIndex(g)
}

// localIndex returns the local index of model span g, if it is in the layout.
func (l *layout) localIndex(g int32) (int32, bool) {
	if l.local == nil {
		return g, true
	}
	k, ok := l.local[g]
	return k, ok
}

// maxDroppedChain bounds the walk up through spans WithMinDuration left out.
const maxDroppedChain = 256

// keptAncestor finds the nearest span in the layout above a span that
// WithMinDuration left out.
func (l *layout) keptAncestor(m *model, t pcommon.TraceID, id pcommon.SpanID) (int32, bool) {
	for n := 0; n < maxDroppedChain && m.dropped != nil; n++ {
		p, ok := m.dropped[keyOf(t, id)]
		if !ok {
			return 0, false
		}
		if k, ok := l.find(m, t, p); ok {
			return k, true
		}
		id = p
	}
	return 0, false
}

// descends reports whether span i descends from span a.
func (l *layout) descends(i, a int32) bool {
	return l.pre[a] < l.pre[i] && l.pre[i] <= l.last[a]
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
		if l.hot[i].proc == l.hot[p].proc {
			l.shift[i] = l.shift[p]
			continue
		}
		s, ps := l.rec(i), l.rec(p)
		pStart, pEnd := l.times(p)
		start, end := s.start, s.end
		sync := s.kind == ptrace.SpanKindServer && ps.kind == ptrace.SpanKindClient
		if start >= pStart && (!sync || end <= pEnd) {
			continue
		}
		dur, pdur := end-start, pEnd-pStart
		newStart := pStart
		if dur <= pdur {
			newStart = pStart + (pdur-dur)/2
		}
		d := newStart - start
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

// maxSkew is the largest clock-skew correction applied.
const maxSkew = int64(time.Hour)

// laneState is one lane during placement: the slices open on it, innermost
// last.
type laneState struct {
	ends  []int64
	spans []int32   // local span index of each open slice
	g     goroutine // the first goroutine placed on the lane
	gs    int       // distinct goroutines placed on the lane (counted to 2)
}

// open pops the slices that ended at or before start, as importers do when a
// slice begins at start, and returns the innermost slice still open (-1 when
// none) and its end. Spans are placed in start order, so a popped slice can
// never matter again.
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

// empty reports whether nothing is open on the lane at start.
func (s *laneState) empty(start int64) bool {
	top, _ := s.open(start)
	return top < 0
}

func (s *laneState) push(end int64, i int32) {
	s.ends = append(s.ends, end)
	s.spans = append(s.spans, i)
}

// fits reports whether span i, [start, end], may be drawn on lane s: nothing
// is open there, or the innermost open slice encloses it and either is one of
// its ancestors or is a call on the same goroutine (thread.id) of the same
// trace. So a lane never draws a call inside a slice it did not happen in.
func (l *layout) fits(s *laneState, i int32, start, end int64) bool {
	top, topEnd := s.open(start)
	if top < 0 {
		return true
	}
	if topEnd < end {
		return false
	}
	if l.descends(i, top) {
		return true
	}
	a, b := l.rec(i), l.rec(top)
	return a.hasTID && b.hasTID && a.tid == b.tid && a.trace == b.trace
}

// goroutine identifies the thread a span ran on: its thread.id within its
// trace. Thread ids are reused by later requests, so the trace is part of it.
type goroutine struct {
	trace pcommon.TraceID
	tid   int64
}

// placeLanes assigns pids and lanes. Services are ordered by their first
// span. Within a process, spans are placed in start order: a span goes on the
// lane its goroutine (thread.id in its trace) last used, else on its parent's
// lane, else on the lowest lane that is empty at its start, else on a new lane
// - each only where [layout.fits] allows. So every lane holds properly nested
// slices, nesting always means descent or the same goroutine, and concurrency
// shows as parallel lanes. Placement is O(n log n) whatever the shape.
//
// Processes are placed independently of each other (a span reads the lane
// of its parent only in its own process), so with more than one core they
// are placed at once, each on lanes numbered from 0, and the numbers are
// made global after.
func (l *layout) placeLanes(m *model) {
	procIDs, byProc := l.groupByProc(m)
	placed := make([]procLanes, len(procIDs))
	// Largest first, so that no big process starts last.
	sched := make([]int, len(procIDs))
	for k := range sched {
		sched[k] = k
	}
	slices.SortStableFunc(sched, func(a, b int) int {
		return cmp.Compare(len(byProc[procIDs[b]]), len(byProc[procIDs[a]]))
	})
	forChunks(len(sched), 1, func(lo, hi int) {
		for _, pi := range sched[lo:hi] {
			spans := byProc[procIDs[pi]]
			l.sortSpans(spans)
			placed[pi] = l.placeProc(m, pi, spans)
		}
	})
	sel := l.sel[:0]
	for pi, p := range procIDs {
		l.procs = append(l.procs, procOut{rec: p, pid: int64(pi + 1), sort: pi})
		base := int32(len(l.lanes))
		l.lanes = append(l.lanes, placed[pi].lanes...)
		for _, i := range placed[pi].spans {
			l.lane[i] += base
		}
		sel = append(sel, placed[pi].spans...)
	}
	l.sel = sel
}

// groupByProc returns the processes of the selected spans in display order
// (by their first span's start, so the service that received the request
// sits on top; names break ties) and, by model process index, each one's
// spans in selection order.
func (l *layout) groupByProc(m *model) ([]uint32, [][]int32) {
	count := make([]int32, len(m.procs))
	first := make([]int64, len(m.procs))
	for _, i := range l.sel {
		p := l.hot[i].proc
		t, _ := l.times(i)
		if count[p] == 0 || t < first[p] {
			first[p] = t
		}
		count[p]++
	}
	var procIDs []uint32
	byProc := make([][]int32, len(m.procs))
	all := make([]int32, 0, len(l.sel))
	for p, n := range count {
		if n > 0 {
			procIDs = append(procIDs, uint32(p))
			byProc[p] = all[len(all) : len(all) : len(all)+int(n)]
			all = all[:len(all)+int(n)]
		}
	}
	for _, i := range l.sel {
		p := l.hot[i].proc
		byProc[p] = append(byProc[p], i)
	}
	slices.SortFunc(procIDs, func(a, b uint32) int {
		if c := cmp.Compare(first[a], first[b]); c != 0 {
			return c
		}
		pa, pb := &m.procs[a], &m.procs[b]
		if c := strings.Compare(pa.service, pb.service); c != 0 {
			return c
		}
		return strings.Compare(pa.key, pb.key)
	})
	return procIDs, byProc
}

// procLanes is one process placed: its lanes, and its spans in emission
// order, whose l.lane indexes those lanes until placeLanes offsets them.
type procLanes struct {
	lanes []laneOut
	spans []int32
}

// placeProc places the spans of process pi, given in start order, on lanes
// of its own numbered from 0. It writes only l.lane of its own spans and
// reads no other process's, so processes may be placed at once.
func (l *layout) placeProc(m *model, pi int, spans []int32) procLanes {
	var states []*laneState // this process's lanes
	routines := map[goroutine]int32{}
	names := map[goroutine]string{} // thread.name, where a span gave one
	// When each lane's outermost open slice ends, and the lanes empty
	// since such an end, lowest first.
	expiry := minHeap[laneEnd]{less: func(a, b laneEnd) bool { return a.end < b.end }}
	free := minHeap[int32]{less: func(a, b int32) bool { return a < b }}
	for _, i := range spans {
		h := &l.hot[i]
		start, end := l.times(i)
		for expiry.len() > 0 && expiry.peek().end <= start {
			free.push(expiry.pop().lane)
		}
		lane := int32(-1)
		var s *spanRec // read only for a span with a thread.id
		var g goroutine
		if h.hasTID {
			s = l.rec(i)
			g = goroutine{s.trace, s.tid}
			if gl, ok := routines[g]; ok && l.fits(states[gl], i, start, end) {
				lane = gl
			}
		}
		if p := l.parent[i]; lane < 0 && p >= 0 && l.hot[p].proc == h.proc {
			// l.lane[p] is -1 while the parent is not placed yet.
			if pl := l.lane[p]; pl >= 0 && l.fits(states[pl], i, start, end) {
				lane = pl
			}
		}
		for lane < 0 && free.len() > 0 {
			// A lane may have been taken again since it emptied.
			if c := free.pop(); states[c].empty(start) {
				lane = c
			}
		}
		if lane < 0 {
			lane = int32(len(states))
			states = append(states, &laneState{})
		}
		st := states[lane]
		if st.empty(start) {
			expiry.push(laneEnd{end, lane})
		}
		st.push(end, i)
		if h.hasTID {
			routines[g] = lane
			if names[g] == "" && s.tname != 0 {
				names[g] = m.strs[s.tname]
			}
			if st.gs == 0 || (st.gs == 1 && st.g != g) {
				if st.gs == 0 {
					st.g = g
				}
				st.gs++
			}
		}
		l.lane[i] = lane
	}
	// Lanes are shown in the order they were opened; tids are small numbers
	// in that order (viewers read tids as 32-bit numbers, and a thread.id may
	// be shared by several goroutines over time, so it cannot be the tid).
	out := procLanes{lanes: make([]laneOut, 0, len(states))}
	packed := 0
	for k, st := range states {
		name := names[st.g]
		if name == "" {
			name = "thread " + itoa(st.g.tid)
		}
		switch {
		case st.gs == 0:
			packed++
			name = "lane " + itoa(int64(packed))
		case st.gs > 1:
			name += " and others"
		}
		out.lanes = append(out.lanes, laneOut{proc: pi, tid: int64(k + 1), name: name, sort: k})
	}
	slices.SortStableFunc(spans, func(a, b int32) int { return cmp.Compare(l.lane[a], l.lane[b]) })
	out.spans = spans
	return out
}

// laneEnd is when a lane's outermost open slice ends.
type laneEnd struct {
	end  int64
	lane int32
}

// minHeap is a binary min-heap under less.
type minHeap[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *minHeap[T]) len() int { return len(h.items) }

// peek returns the least item; the heap must not be empty.
func (h *minHeap[T]) peek() T { return h.items[0] }

func (h *minHeap[T]) push(v T) {
	h.items = append(h.items, v)
	s := h.items
	for c := len(s) - 1; c > 0; {
		p := (c - 1) / 2
		if !h.less(s[c], s[p]) {
			break
		}
		s[p], s[c] = s[c], s[p]
		c = p
	}
}

func (h *minHeap[T]) pop() T {
	s := h.items
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for p := 0; ; {
		c := 2*p + 1
		if c >= n {
			break
		}
		if c+1 < n && h.less(s[c+1], s[c]) {
			c++
		}
		if !h.less(s[c], s[p]) {
			break
		}
		s[p], s[c] = s[c], s[p]
		p = c
	}
	h.items = s
	return top
}

// less orders spans for placement: by start, longer first, parents before
// children, then by IDs so equal spans still order deterministically.
// compare orders spans by start, longest first at the same start, outer
// before inner, then by trace and span ID: a total order.
func (l *layout) compare(a, b int32) int {
	sa, sb := l.rec(a), l.rec(b)
	if x, y := sa.start+l.shift[a], sb.start+l.shift[b]; x != y {
		return cmp.Compare(x, y)
	}
	if x, y := sa.end+l.shift[a], sb.end+l.shift[b]; x != y {
		return cmp.Compare(y, x)
	}
	if l.depth[a] != l.depth[b] {
		return cmp.Compare(l.depth[a], l.depth[b])
	}
	if c := bytes.Compare(sa.trace[:], sb.trace[:]); c != 0 {
		return c
	}
	return bytes.Compare(sa.id[:], sb.id[:])
}

// spanOrder is a span's sort key held by value, so sorting a process's
// spans reads memory in order instead of two span records per comparison.
type spanOrder struct {
	start, end int64
	depth, i   int32
}

// sortSpans sorts spans in compare's order.
func (l *layout) sortSpans(spans []int32) {
	keys := make([]spanOrder, len(spans))
	for k, i := range spans {
		start, end := l.times(i)
		keys[k] = spanOrder{start, end, l.depth[i], i}
	}
	slices.SortFunc(keys, func(a, b spanOrder) int {
		switch {
		case a.start != b.start:
			return cmp.Compare(a.start, b.start)
		case a.end != b.end:
			return cmp.Compare(b.end, a.end)
		case a.depth != b.depth:
			return cmp.Compare(a.depth, b.depth)
		}
		return l.compare(a.i, b.i)
	})
	for k := range keys {
		spans[k] = keys[k].i
	}
}

// times returns span i's start and end after clock-skew correction.
func (l *layout) times(i int32) (int64, int64) {
	h := &l.hot[i]
	return h.start + l.shift[i], h.end + l.shift[i]
}

// spanHot is what the passes after the lookups read of a span record most:
// copied into layout.hot while the lookups visit every record in store
// order, so that passes visiting spans in other orders (tree, start, lane)
// read 32 bytes a span instead of a record of its own cache lines.
type spanHot struct {
	start, end int64 // the record's, without clock-skew shift
	proc       uint32
	nEvents    int32
	hasTID     bool
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
