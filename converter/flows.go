package converter

import (
	"cmp"
	"slices"
)

// Flow arrows are bound the way trace importers bind them, so that every arrow
// joins exactly the two slices it stands for.
//
// Perfetto's importer (and Catapult's) reads events sorted by timestamp; at one
// timestamp, complete events come first, longest first, then flow events, each
// group in file order. It binds:
//   - bind_id on a complete (X) event to that very event: flow_out starts an
//     arrow there, flow_in ends one there (the arrow from the slice whose
//     flow_out carried the same id), and several flow_in may share one
//     flow_out (a fan-out). An event carries one bind_id.
//   - a flow start (s), or a finish (f) with bp:"e", to the slice most recently
//     begun on its thread: not the innermost open one, and span-event instants
//     count as slices.
//   - a finish without bp to the next slice begun on its thread.
//   - an arrow whose end is read before its start is dropped.
//
// So each span with outgoing arrows carries flow_out with an id of its own,
// and a span with one incoming arrow and none outgoing carries flow_in with
// its source's id: both bind exactly. The arrows left (into a span that also
// starts arrows, or a second arrow into one span) use s/f events placed where
// the rules above bind them to their own slices; where no placement can (a
// slice whose child begins at the very same nanosecond), the arrow is left out
// and counted rather than drawn to the wrong slice.

// flowBinding says how one arrow is written.
type flowBinding uint8

const (
	bindIDs       flowBinding = iota // bind_id on both complete events
	bindEnclosing                    // s at the source's start, f with bp:"e" at the target's start
	bindNext                         // s at the source's start, f 1 ns before the target begins
	bindNone                         // left out: no placement binds exactly
)

// coarseGap is how far apart two spans must start for an importer reading
// absolute epoch microseconds as doubles (about 0.25 µs apart today) to keep
// them in order.
const coarseGap = 1000

// flowBase offsets bind_id values from the small numbers importers give s/f
// ids internally, so the two never collide.
const flowBase = 1 << 40

type flowOut struct {
	from, to int32 // local span indices; importers read from's slice first
	link     bool  // a span link rather than a parent->child hop
	how      flowBinding
}

// sliceKey is the order in which importers read slice events: by timestamp,
// longest first, then file order.
type sliceKey struct {
	ts, dur int64
	pos     int32
}

func (a sliceKey) compare(b sliceKey) int {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	if c := cmp.Compare(b.dur, a.dur); c != 0 {
		return c
	}
	return cmp.Compare(a.pos, b.pos)
}

// flowPlan holds, per local span, the bind_id role its complete event carries.
type flowPlan struct {
	out    []bool  // flow_out: the span holds the id idOf names
	in     []int32 // flow_in from this source, or -1 (with out: a step that takes over the source's id)
	idOf   []int32 // the span whose position names the id a holder holds
	moved  []bool  // the span's id has passed to its last target
	lastTo []int32 // the last target of the span's arrows, in reading order
	key    []sliceKey
	alone  []bool // no other slice event on the lane begins at its start after it
	first  []bool // no other slice event on the lane begins at its start before it
	placed int    // arrows written
	omit   int    // arrows left out
}

func (l *layout) addFlows(m *model) {
	for _, i := range l.sel {
		if p := l.parent[i]; p >= 0 && l.lane[p] != l.lane[i] {
			l.flows = append(l.flows, flowOut{from: p, to: i})
		}
	}
	for _, i := range l.sel {
		for _, g := range l.refs.link[l.refs.linkAt[i]:l.refs.linkAt[i+1]] {
			j, ok := l.found(g)
			if !ok || j == i || l.lane[j] < 0 {
				continue
			}
			l.flows = append(l.flows, flowOut{from: j, to: i, link: true})
		}
	}
	if len(l.flows) == 0 {
		return
	}
	l.orderSlices(m)
	f := &l.plan
	for n := range l.flows {
		fl := &l.flows[n]
		if f.key[fl.to].compare(f.key[fl.from]) < 0 {
			fl.from, fl.to = fl.to, fl.from
		}
	}
	l.planFlows()
}

// orderSlices records each span's place in the importers' reading order and
// whether another slice event on its lane begins at the same time.
func (l *layout) orderSlices(m *model) {
	n := len(l.ids)
	f := &l.plan
	f.key = make([]sliceKey, n)
	f.alone = make([]bool, n)
	f.first = make([]bool, n)
	type ev struct {
		key  sliceKey
		span int32 // -1 for an instant
	}
	var lane []ev
	flush := func() {
		slices.SortFunc(lane, func(a, b ev) int { return a.key.compare(b.key) })
		for k, e := range lane {
			if e.span < 0 {
				continue
			}
			f.alone[e.span] = k+1 == len(lane) || lane[k+1].key.ts != e.key.ts
			f.first[e.span] = k == 0 || lane[k-1].key.ts != e.key.ts
		}
		lane = lane[:0]
	}
	pos := int32(0)
	last := int32(-1)
	for _, i := range l.sel {
		if l.lane[i] != last {
			flush()
			last = l.lane[i]
		}
		start, end := l.times(i)
		f.key[i] = sliceKey{start, end - start, pos}
		lane = append(lane, ev{f.key[i], i})
		pos++
		if l.hot[i].nEvents == 0 {
			continue
		}
		s := l.rec(i)
		for k := s.events; k < s.events+s.nEvents; k++ {
			// The model pins events inside their span.
			lane = append(lane, ev{sliceKey{m.events[k].ts + l.shift[i], 0, pos}, -1})
			pos++
		}
	}
	flush()
}

// planFlows decides how each arrow is bound, going through targets in the
// importers' reading order so that every source's role is settled before its
// targets are.
func (l *layout) planFlows() {
	f := &l.plan
	n := len(l.ids)
	f.out = make([]bool, n)
	f.in = make([]int32, n)
	f.idOf = make([]int32, n)
	f.moved = make([]bool, n)
	f.lastTo = make([]int32, n)
	for i := range f.in {
		f.in[i] = -1
		f.idOf[i] = int32(i)
	}
	slices.SortStableFunc(l.flows, func(a, b flowOut) int {
		if c := f.key[a.to].compare(f.key[b.to]); c != 0 {
			return c
		}
		return f.key[a.from].compare(f.key[b.from])
	})
	// One arrow per pair of spans: a link may repeat a parent hop, and two
	// spans may link each other. Keys are unique, so sorted the copies of
	// an arrow are neighbours, the one added first (a parent hop before a
	// link) first; a map of the pairs seen cost more than the sort.
	kept := l.flows[:0]
	for _, fl := range l.flows {
		if k := len(kept); k > 0 && kept[k-1].from == fl.from && kept[k-1].to == fl.to {
			continue
		}
		kept = append(kept, fl)
	}
	l.flows = kept
	nOut := make([]int32, n)
	for _, fl := range l.flows {
		nOut[fl.from]++
	}
	for i := range f.out {
		f.out[i] = nOut[i] > 0
	}
	for _, fl := range l.flows {
		f.lastTo[fl.from] = fl.to
	}
	for lo := 0; lo < len(l.flows); {
		hi := lo + 1
		t := l.flows[lo].to
		for hi < len(l.flows) && l.flows[hi].to == t {
			hi++
		}
		l.planTarget(t, l.flows[lo:hi], nOut[t] > 0)
		lo = hi
	}
	for _, fl := range l.flows {
		if fl.how == bindNone {
			f.omit++
		} else {
			f.placed++
		}
	}
}

// planTarget binds the arrows into span t, whose sources are settled.
func (l *layout) planTarget(t int32, ins []flowOut, hasOut bool) {
	f := &l.plan
	holds := func(fl flowOut) bool {
		// With coarse timestamps the importer keeps the two ends in order
		// only if their starts are clearly apart.
		return f.out[fl.from] && !f.moved[fl.from] && (!l.coarse || f.key[fl.to].ts-f.key[fl.from].ts >= coarseGap)
	}
	byIDs := -1 // the arrow bound with bind_id, if any
	if !hasOut {
		// flow_in for one arrow: preferably one s/f cannot bind.
		for k, fl := range ins {
			if !holds(fl) {
				continue
			}
			if byIDs < 0 {
				byIDs = k
			}
			if l.slices(fl) == bindNone {
				byIDs = k
				break
			}
		}
	} else {
		// A step: t is the last target of a source holding an id, so it
		// takes the arrow and the id, and its own arrows leave with it.
		for k, fl := range ins {
			if holds(fl) && f.lastTo[fl.from] == t {
				byIDs = k
				f.idOf[t] = f.idOf[fl.from]
				f.moved[fl.from] = true
				break
			}
		}
		// Else t keeps flow_out for its own arrows unless an arrow into
		// it can only be bound with bind_id and t's own arrows can leave
		// by s/f.
		for k, fl := range ins {
			if byIDs >= 0 {
				break
			}
			if l.slices(fl) == bindNone && holds(fl) && f.alone[t] {
				byIDs = k
				f.out[t] = false
			}
		}
	}
	for k := range ins {
		if k == byIDs {
			ins[k].how = bindIDs
			f.in[t] = ins[k].from
			continue
		}
		ins[k].how = l.slices(ins[k])
	}
}

// slices returns how arrow fl can be bound with s/f events: the start binds
// to the source when nothing else on its lane begins at its start after it;
// the finish binds to the target with bp:"e" on the same condition, or,
// placed 1 ns before the target begins, to the next slice begun when the
// target is the first to begin then.
func (l *layout) slices(fl flowOut) flowBinding {
	f := &l.plan
	if l.coarse || !f.alone[fl.from] {
		// Where viewers round timestamps, "most recently begun" may not be
		// the slice it is at nanosecond precision.
		return bindNone
	}
	if f.alone[fl.to] {
		return bindEnclosing
	}
	if f.first[fl.to] && f.key[fl.from].ts < f.key[fl.to].ts {
		return bindNext
	}
	return bindNone
}
