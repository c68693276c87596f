package check

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Arrow is a flow arrow as an importer binds it: from one slice to another.
type Arrow struct {
	From, To Slice
	// FromEvent and ToEvent are the indices in Report.Events of the two
	// slices' events.
	FromEvent, ToEvent int
}

// sliceEv is a slice as the importer tracks it: a complete event or an
// instant (importers keep instants as slices of zero length).
type sliceEv struct {
	ev       int // index into the events
	start    int64
	end      int64
	instant  bool
	lane     Lane
	flowable bool
}

// importer replays a file the way Perfetto's JSON importer reads it: events
// sorted by timestamp (at one timestamp complete events and instants first,
// longest first, then flow events, each group in file order); a stack of open
// slices per thread, closed lazily when a later slice begins; flow ends bound
// to the slice most recently begun on their thread (s, t, f with bp:"e"), to
// the next slice begun (f without bp), or to the complete event itself
// (bind_id with flow_in/flow_out).
type importer struct {
	events  []Event
	slices  []sliceEv
	stacks  map[Lane][]int // open slice indices per lane
	v1      map[string]int // open flow id -> slice index
	v2      map[string]int // bind_id -> slice index
	pending map[Lane][]string
	ended   map[string]bool // v1 flows with a finish
	arrows  [][2]int        // slice indices
	nested  [][2]int        // (enclosing, nested) slice indices, for every slice with an enclosing one
	errs    []string
}

func (im *importer) fail(format string, args ...any) {
	if len(im.errs) < 20 {
		im.errs = append(im.errs, fmt.Sprintf(format, args...))
	}
}

func (im *importer) describe(k int) string {
	s := im.slices[k]
	e := im.events[s.ev]
	return fmt.Sprintf("event %d (%s %q at %v on pid %d tid %d)", s.ev, e.Ph, e.Name, *e.Ts, e.Pid, e.Tid)
}

func replay(events []Event) *importer {
	im := &importer{
		events:  events,
		stacks:  map[Lane][]int{},
		v1:      map[string]int{},
		v2:      map[string]int{},
		pending: map[Lane][]string{},
		ended:   map[string]bool{},
	}
	type item struct {
		ts    int64
		class int // 0 slice, 1 flow
		dur   int64
		ev    int
	}
	var items []item
	for i, e := range events {
		switch e.Ph {
		case "X":
			items = append(items, item{e.tsNS, 0, e.durNS, i})
		case "i", "I":
			if e.S == "" || e.S == "t" {
				items = append(items, item{e.tsNS, 0, 0, i})
			}
		case "s", "t", "f":
			items = append(items, item{e.tsNS, 1, 0, i})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		if c := cmp.Compare(a.class, b.class); c != 0 {
			return c
		}
		return cmp.Compare(b.dur, a.dur)
	})
	for _, it := range items {
		e := events[it.ev]
		lane := Lane{e.Pid, e.Tid}
		if it.class == 0 {
			im.begin(it.ev, lane, it.ts, it.ts+it.dur, e.Ph != "X")
			continue
		}
		key := e.Cat + "\x00" + e.Name + "\x00" + string(e.ID)
		switch {
		case e.Ph == "f" && e.BP != "e":
			im.pending[lane] = append(im.pending[lane], key)
		case e.Ph == "s":
			top, ok := im.top(lane)
			if !ok {
				im.fail("event %d: flow start %s is not inside a slice on pid %d tid %d", it.ev, e.ID, lane.Pid, lane.Tid)
				continue
			}
			if _, dup := im.v1[key]; dup {
				im.fail("event %d: flow %s starts twice", it.ev, e.ID)
				continue
			}
			im.v1[key] = top
		default: // t, or f with bp:"e"
			top, ok := im.top(lane)
			if !ok {
				im.fail("event %d: flow %s %q is not inside a slice on pid %d tid %d", it.ev, e.ID, e.Ph, lane.Pid, lane.Tid)
				continue
			}
			im.end(it.ev, im.v1, key, top, e.Ph == "t")
		}
	}
	for key, k := range im.v1 {
		if !im.ended[key] {
			im.fail("%s: flow %q has no finish", im.describe(k), strings.ReplaceAll(key, "\x00", " "))
		}
	}
	for lane, keys := range im.pending {
		im.fail("pid %d tid %d: %d flow finishes without bp:\"e\" are followed by no slice (first %q)", lane.Pid, lane.Tid, len(keys), keys[0])
	}
	return im
}

func (im *importer) top(lane Lane) (int, bool) {
	st := im.stacks[lane]
	if len(st) == 0 {
		return 0, false
	}
	return st[len(st)-1], true
}

func (im *importer) begin(ev int, lane Lane, start, end int64, instant bool) {
	k := len(im.slices)
	im.slices = append(im.slices, sliceEv{ev: ev, start: start, end: end, instant: instant, lane: lane})
	st := im.stacks[lane]
	for len(st) > 0 && im.slices[st[len(st)-1]].end <= start {
		st = st[:len(st)-1]
	}
	if n := len(st); n > 0 {
		p := st[n-1]
		if im.slices[p].end < end {
			im.fail("%s partially overlaps %s: importers drop it", im.describe(k), im.describe(p))
			im.stacks[lane] = st
			return
		}
		im.nested = append(im.nested, [2]int{p, k})
	}
	im.stacks[lane] = append(st, k)
	for _, key := range im.pending[lane] {
		im.end(ev, im.v1, key, k, false)
	}
	delete(im.pending, lane)
	e := im.events[ev]
	if e.BindID == nil {
		return
	}
	id := strings.Trim(string(e.BindID), `"`)
	switch {
	case e.FlowIn && e.FlowOut:
		im.end(ev, im.v2, id, k, true)
	case e.FlowOut:
		if _, dup := im.v2[id]; dup {
			im.fail("event %d: bind_id %s has two flow_out", ev, id)
			return
		}
		im.v2[id] = k
	case e.FlowIn:
		im.end(ev, im.v2, id, k, false)
	default:
		im.fail("event %d: bind_id %s without flow_in or flow_out", ev, id)
	}
}

// end binds a flow end (or step) to slice k, making an arrow from the slice
// the flow's start bound to; the importer orders the two by start time.
func (im *importer) end(ev int, open map[string]int, key string, k int, step bool) {
	from, ok := open[key]
	if !ok {
		im.fail("event %d: flow %q ends before it starts (the importer drops it)", ev, strings.ReplaceAll(key, "\x00", " "))
		return
	}
	im.ended[key] = true
	a, b := from, k
	if im.slices[a].start > im.slices[b].start {
		a, b = b, a
	}
	im.arrows = append(im.arrows, [2]int{a, b})
	if step {
		open[key] = k
	}
}

// runtimeCats are the categories of the slices otel2chrome draws from Go
// execution traces (goroutine states, GC, stop-the-world): not spans, on
// threads of their own.
var runtimeCats = map[string]bool{"go.goroutine": true, "go.runtime": true}

// spanKey identifies a span slice by trace and span ID.
type spanKey struct{ trace, span string }

func argString(args map[string]any, key string) string {
	s, _ := args[key].(string)
	return s
}

func keyOf(s Slice) spanKey {
	return spanKey{argString(s.Args, "trace_id"), argString(s.Args, "span_id")}
}

// goroutineOf returns the thread.id attribute of a span slice, if any.
func goroutineOf(s Slice) (json.Number, bool) {
	attrs, _ := s.Args["attributes"].(map[string]any)
	switch v := attrs["thread.id"].(type) {
	case json.Number:
		return v, true
	case float64:
		return json.Number(fmt.Sprint(v)), true
	}
	return "", false
}

// meaning checks what the replayed timeline says against what the spans in
// it are: every slice nested on a lane descends from the slice enclosing it or
// ran on the same goroutine of the same trace; every arrow joins a parent and
// its child or two linked spans, forward in time; every parent and child on
// different lanes, and every pair of linked spans, is joined by one arrow
// (but for the omissions the file declares); instants lie in their span.
func (r *Report) meaning(im *importer) error {
	slice := func(k int) (Slice, bool) {
		sl := im.slices[k]
		if sl.instant {
			return Slice{}, false
		}
		e := im.events[sl.ev]
		return Slice{Pid: e.Pid, Tid: e.Tid, Name: e.Name, Cat: e.Cat, Ts: *e.Ts, Dur: *e.Dur, Args: e.Args}, true
	}
	bySpan := map[spanKey]int{} // span -> slice index
	parentOf := map[spanKey]spanKey{}
	runtimeLanes := map[Lane]bool{} // lanes of Go execution trace slices
	for k := range im.slices {
		s, ok := slice(k)
		if !ok {
			continue
		}
		key := keyOf(s)
		if key.span == "" && runtimeCats[s.Cat] {
			runtimeLanes[im.slices[k].lane] = true
			continue
		}
		if key.span == "" {
			return nil // not otel2chrome's slices: nothing to check meaning against
		}
		if prev, dup := bySpan[key]; dup {
			return fmt.Errorf("%s and %s are the same span (trace %s span %s)", im.describe(prev), im.describe(k), key.trace, key.span)
		}
		bySpan[key] = k
		// A span may hang from another span than its parent ID names
		// (a kept ancestor of a filtered parent, or the server half of
		// a shared span ID).
		if p := argString(s.Args, "timeline_parent_span_id"); p != "" {
			parentOf[key] = spanKey{key.trace, p}
		} else if p := argString(s.Args, "parent_span_id"); p != "" {
			parentOf[key] = spanKey{key.trace, p}
		}
	}
	for _, k := range bySpan {
		if runtimeLanes[im.slices[k].lane] {
			return fmt.Errorf("%s shares its thread with goroutine states or runtime activity", im.describe(k))
		}
	}
	if want, ok := r.OtherData["spans"]; ok && fmt.Sprint(want) != fmt.Sprint(len(bySpan)) {
		return fmt.Errorf("otherData.spans = %v, but the file holds %d span slices", want, len(bySpan))
	}
	descends := func(c, a spanKey) bool {
		for n := 0; n <= len(bySpan); n++ {
			p, ok := parentOf[c]
			if !ok {
				return false
			}
			if p == a {
				return true
			}
			c = p
		}
		return false
	}
	for _, pair := range im.nested {
		outer, ok1 := slice(pair[0])
		inner, ok2 := slice(pair[1])
		if !ok1 {
			continue
		}
		if !ok2 {
			// An instant: it must be one of the enclosing span's events,
			// or of a span nested deeper that just ended.
			continue
		}
		if runtimeLanes[im.slices[pair[0]].lane] {
			continue // Go runtime slices: no span nests there (checked above)
		}
		if descends(keyOf(inner), keyOf(outer)) {
			continue
		}
		ga, oka := goroutineOf(outer)
		gb, okb := goroutineOf(inner)
		if oka && okb && ga == gb && keyOf(outer).trace == keyOf(inner).trace {
			continue
		}
		return fmt.Errorf("%s is drawn inside %s, but neither descends from it nor ran on its goroutine in its trace",
			im.describe(pair[1]), im.describe(pair[0]))
	}
	byID := map[string][]int{}
	for key, k := range bySpan {
		byID[key.span] = append(byID[key.span], k)
	}
	for k, sl := range im.slices {
		if !sl.instant {
			continue
		}
		id := argString(im.events[sl.ev].Args, "span_id")
		if id == "" {
			continue
		}
		inside := false
		for _, j := range byID[id] {
			o := im.slices[j]
			inside = inside || (o.lane == sl.lane && o.start <= sl.start && sl.start <= o.end)
		}
		if !inside {
			return fmt.Errorf("%s lies outside its span %s", im.describe(k), id)
		}
	}
	type pair struct{ a, b spanKey }
	intended := map[pair]bool{}
	addIntended := func(a, b spanKey) {
		if a == b {
			return
		}
		if b.trace < a.trace || (b.trace == a.trace && b.span < a.span) {
			a, b = b, a
		}
		intended[pair{a, b}] = true
	}
	for key, k := range bySpan {
		s, _ := slice(k)
		if p, ok := parentOf[key]; ok {
			if pk, ok := bySpan[p]; ok && im.slices[pk].lane != im.slices[k].lane {
				addIntended(p, key)
			}
		}
		links, _ := s.Args["links"].([]any)
		for _, l := range links {
			m, _ := l.(map[string]any)
			lk := spanKey{argString(m, "trace_id"), argString(m, "span_id")}
			if _, ok := bySpan[lk]; ok {
				addIntended(lk, key)
			}
		}
	}
	drawn := map[pair]bool{}
	for _, a := range im.arrows {
		from, ok1 := slice(a[0])
		to, ok2 := slice(a[1])
		if !ok1 || !ok2 {
			return fmt.Errorf("an arrow binds %s to %s: one is a span event, not a span", im.describe(a[0]), im.describe(a[1]))
		}
		fk, tk := keyOf(from), keyOf(to)
		p := pair{fk, tk}
		if tk.trace < fk.trace || (tk.trace == fk.trace && tk.span < fk.span) {
			p = pair{tk, fk}
		}
		if !intended[p] {
			return fmt.Errorf("an arrow binds %s to %s, which are neither parent and child on different lanes nor linked",
				im.describe(a[0]), im.describe(a[1]))
		}
		if drawn[p] {
			return fmt.Errorf("two arrows join %s and %s", im.describe(a[0]), im.describe(a[1]))
		}
		drawn[p] = true
		r.Arrows = append(r.Arrows, Arrow{From: from, To: to, FromEvent: im.slices[a[0]].ev, ToEvent: im.slices[a[1]].ev})
	}
	omitted := 0
	if v, ok := r.OtherData["flows_omitted"]; ok {
		fmt.Sscan(fmt.Sprint(v), &omitted)
	}
	var missing []string
	for p := range intended {
		if !drawn[p] {
			missing = append(missing, fmt.Sprintf("%s/%s-%s", p.a.trace, p.a.span, p.b.span))
		}
	}
	if len(missing) > omitted {
		slices.Sort(missing)
		return fmt.Errorf("%d arrows missing (the file declares %d left out), e.g. between spans %s",
			len(missing), omitted, strings.Join(missing[:min(len(missing), 3)], ", "))
	}
	r.Omitted = len(missing)
	return nil
}
