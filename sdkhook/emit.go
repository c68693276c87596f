package sdkhook

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// AttrIncomplete marks a function span whose call had not ended when its
// request ended (a goroutine still running, or an exit never recorded); its
// end is cut at the request's end or its enclosing call's end.
const AttrIncomplete = attribute.Key("sdkhook.incomplete")

// emit turns the records of a closed recorder into spans and passes them to
// out in record order (parents before children). It returns how many, and how
// many calls it left out because they started after the request ended.
func (p *processor) emit(req sdktrace.ReadOnlySpan, r *recorder, out func(sdktrace.ReadOnlySpan)) (emitted, late int) {
	recs := r.recs
	n := len(recs)
	tm := newTickMap(r.tsc.Load(), r.opened, r.closed)
	for i := range recs {
		recs[i].start = tm.mono(recs[i].start)
		if recs[i].end != 0 {
			recs[i].end = tm.mono(recs[i].end)
		}
	}
	for i := range r.fails {
		r.fails[i].at = tm.mono(r.fails[i].at)
	}
	ids := make([]trace.SpanID, n)
	incomplete := make([]bool, n)
	children := make([]int, n)

	// The SDK reads the request's end time before OnEnd closes the recorder,
	// so a goroutine may record a little after it. Function spans stay
	// within their request: later calls are left out (counted as dropped),
	// calls still running at its end are cut there.
	reqEnd := r.startMono + int64(req.EndTime().Sub(r.startWall))
	for i := range recs {
		if rc := &recs[i]; rc.start > reqEnd {
			rc.flags |= flagLate
			late++
		} else if rc.end > reqEnd {
			rc.end = 0
		}
	}
	kept := func(i int32) bool { return recs[i].flags&(flagFiltered|flagLate) == 0 }

	// Span IDs; parents resolved past filtered records; open calls cut.
	parents := make([]int32, n)
	for i := range recs {
		rc := &recs[i]
		if !kept(int32(i)) {
			continue
		}
		ids[i] = newSpanID()
		pa := rc.parent
		for pa >= 0 && !kept(pa) {
			pa = recs[pa].parent
		}
		if rc.end == 0 {
			limit := reqEnd
			if pa >= 0 && recs[pa].lane == rc.lane && recs[pa].end < limit {
				limit = recs[pa].end
			}
			rc.end = max(limit, rc.start)
			incomplete[i] = true
		}
		// On one lane a parent contains its children. Only goroutines
		// sharing a lane without Fork break that; then the nearest
		// enclosing ancestor (or the request) is the honest parent.
		for pa >= 0 && (!kept(pa) || recs[pa].lane == rc.lane && (recs[pa].start > rc.start || recs[pa].end < rc.end)) {
			pa = recs[pa].parent
		}
		parents[i] = pa
		if pa >= 0 && rc.link == (trace.SpanID{}) {
			children[pa]++
		}
	}

	tids := p.assignThreads(r, kept)
	defer func() {
		for _, id := range tids.extra {
			releaseLaneID(id)
		}
	}()

	fails := make(map[int32]*failure, len(r.fails))
	for i := range r.fails {
		fails[r.fails[i].idx] = &r.fails[i]
	}

	wall := func(t int64) time.Time { return r.startWall.Add(time.Duration(t - r.startMono)) }
	res := req.Resource()
	// One allocation each for all spans and all attributes of the request:
	// emission runs in OnEnd, on the request's goroutine.
	out2 := make([]funcSpan, 0, n)
	attrBuf := make([]attribute.KeyValue, 0, n*7)
	names := map[int64]string{}
	for i := range recs {
		rc := &recs[i]
		if !kept(int32(i)) {
			continue
		}
		parentID := r.sc.SpanID()
		switch {
		case rc.link != trace.SpanID{}:
			parentID = rc.link
		case parents[i] >= 0:
			parentID = ids[parents[i]]
		}
		name, fn, file, line := rc.name, rc.name, "", 0
		if rc.pc != 0 {
			if fr := resolvePC(rc.pc); !fr.internal {
				fn, file, line = fr.function, fr.file, fr.line
				if name == "" {
					name = fr.short
				}
			}
		}
		if name == "" {
			name = "unknown"
		}
		tid := tids.of[i]
		tname, ok := names[tid]
		if !ok {
			tname = tids.name(tid)
			names[tid] = tname
		}
		a := len(attrBuf)
		attrBuf = append(attrBuf, semconv.CodeFunctionName(fn))
		if file != "" {
			attrBuf = append(attrBuf, semconv.CodeFilePath(file), semconv.CodeLineNumber(line))
		}
		attrBuf = append(attrBuf, semconv.ThreadID(int(tid)), semconv.ThreadName(tname))
		if g := r.lanes[rc.lane].goid; g != 0 {
			attrBuf = append(attrBuf, AttrGoroutineID.Int64(g))
		}
		if incomplete[i] {
			attrBuf = append(attrBuf, AttrIncomplete.Bool(true))
		}
		out2 = append(out2, funcSpan{
			ReadOnlySpan: req,
			name:         name,
			sc:           r.spanContext(ids[i]),
			parent:       r.spanContext(parentID),
			start:        wall(rc.start),
			end:          wall(rc.end),
			attrs:        attrBuf[a:len(attrBuf):len(attrBuf)],
			children:     children[i],
			resource:     res,
			scope:        p.scope,
		})
		fs := &out2[len(out2)-1]
		if rc.flags&flagError != 0 {
			fs.status = sdktrace.Status{Code: codes.Error}
			if f := fails[int32(i)]; f != nil {
				fs.status.Description, fs.events = exception(f, wall(f.at))
			}
		}
	}
	for i := range out2 {
		out(&out2[i])
	}
	return len(out2), late
}

func (r *recorder) spanContext(id trace.SpanID) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    r.sc.TraceID(),
		SpanID:     id,
		TraceFlags: r.sc.TraceFlags(),
		TraceState: r.sc.TraceState(),
	})
}

// exception describes a failure as the SDK's RecordError and panic recording
// do: status description plus an "exception" event.
func exception(f *failure, at time.Time) (string, []sdktrace.Event) {
	var typ, msg string
	if f.panic != nil {
		typ, msg = fmt.Sprintf("%T", f.panic), fmt.Sprint(f.panic)
	} else {
		typ, msg = fmt.Sprintf("%T", f.err), f.err.Error()
	}
	attrs := []attribute.KeyValue{semconv.ExceptionType(typ), semconv.ExceptionMessage(msg)}
	if f.stack != nil {
		attrs = append(attrs, semconv.ExceptionStacktrace(string(f.stack)))
	}
	return msg, []sdktrace.Event{{Name: semconv.ExceptionEventName, Time: at, Attributes: attrs}}
}

// threads holds the thread.id of each emitted record.
type threads struct {
	of    []int64
	main  int64
	extra []int64 // overflow lanes, released after emission
}

func (t *threads) name(tid int64) string {
	if tid == t.main {
		return fmt.Sprintf("request %d", tid)
	}
	return fmt.Sprintf("goroutine %d", tid)
}

// assignThreads gives each record its lane's thread.id, making sure every
// thread holds properly nested calls, as a Chrome timeline needs. Lanes used as
// documented always nest; a lane shared by goroutines without Fork may not,
// and its overlapping calls move to overflow threads.
func (p *processor) assignThreads(r *recorder, kept func(int32) bool) threads {
	recs := r.recs
	t := threads{of: make([]int64, len(recs)), main: r.lanes[0].id}
	byLane := make([][]int32, len(r.lanes))
	for i := range recs {
		if kept(int32(i)) {
			byLane[recs[i].lane] = append(byLane[recs[i].lane], int32(i))
		}
	}
	type stack struct {
		id   int64
		ends []int64
	}
	fits := func(s *stack, start, end int64) bool {
		for len(s.ends) > 0 && s.ends[len(s.ends)-1] <= start {
			s.ends = s.ends[:len(s.ends)-1]
		}
		return len(s.ends) == 0 || end <= s.ends[len(s.ends)-1]
	}
	for li, idx := range byLane {
		// Starts are read before the lock, so goroutines sharing a lane can
		// record slightly out of order; sort, outer calls first.
		sort.SliceStable(idx, func(a, b int) bool {
			ra, rb := &recs[idx[a]], &recs[idx[b]]
			if ra.start != rb.start {
				return ra.start < rb.start
			}
			return ra.end > rb.end
		})
		own := &stack{id: r.lanes[li].id}
		var overflow []*stack
		for _, i := range idx {
			rc := &recs[i]
			s := own
			if !fits(s, rc.start, rc.end) {
				s = nil
				for _, o := range overflow {
					if fits(o, rc.start, rc.end) {
						s = o
						break
					}
				}
				if s == nil {
					s = &stack{id: acquireLaneID()}
					t.extra = append(t.extra, s.id)
					overflow = append(overflow, s)
				}
			}
			s.ends = append(s.ends, rc.end)
			t.of[i] = s.id
		}
	}
	return t
}

func newSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		v := rand.Uint64() // per-P ChaCha8 seeded from the OS, as the SDK's IDs
		for b := range id {
			id[b] = byte(v >> (8 * b))
		}
	}
	return id
}

type frame struct {
	function, short, file string
	line                  int
	internal              bool // a PC in sdkhook itself: the hook's caller is unknown
}

// selfPrefix is this package's function name prefix (not the _test package).
const selfPrefix = ScopeName + "."

// frames caches resolved program counters; hooked call sites are few.
var frames sync.Map // uintptr -> *frame

func resolvePC(pc uintptr) *frame {
	if f, ok := frames.Load(pc); ok {
		return f.(*frame)
	}
	// Enter is inlined into the hooked function, so the PC's innermost
	// inlined frame is Enter itself; the hooked function is the next one.
	// CallersFrames expands the inlined frames of a PC only when another PC
	// follows it (as in a stack trace), hence the 0, which it skips.
	f := &frame{internal: true}
	fs := runtime.CallersFrames([]uintptr{pc, 0})
	for {
		fr, more := fs.Next()
		if fr.Function != "" && !strings.HasPrefix(fr.Function, selfPrefix) {
			f = &frame{function: fr.Function, short: fr.Function, file: fr.File, line: fr.Line}
			if i := strings.LastIndexByte(f.short, '/'); i >= 0 {
				f.short = f.short[i+1:]
			}
			break
		}
		if !more {
			break
		}
	}
	frames.Store(pc, f)
	return f
}

// funcSpan is an emitted function span. It embeds the request span only to
// satisfy ReadOnlySpan's unexported method; it overrides every method of the
// interface as of otel/sdk v1.47 (a method added in a later release would
// answer for the request span until overridden here).
type funcSpan struct {
	sdktrace.ReadOnlySpan
	name     string
	sc       trace.SpanContext
	parent   trace.SpanContext
	start    time.Time
	end      time.Time
	attrs    []attribute.KeyValue
	events   []sdktrace.Event
	status   sdktrace.Status
	children int
	resource *resource.Resource
	scope    instrumentation.Scope
}

func (s *funcSpan) Name() string                     { return s.name }
func (s *funcSpan) SpanContext() trace.SpanContext   { return s.sc }
func (s *funcSpan) Parent() trace.SpanContext        { return s.parent }
func (s *funcSpan) SpanKind() trace.SpanKind         { return trace.SpanKindInternal }
func (s *funcSpan) StartTime() time.Time             { return s.start }
func (s *funcSpan) EndTime() time.Time               { return s.end }
func (s *funcSpan) Attributes() []attribute.KeyValue { return s.attrs }
func (s *funcSpan) Links() []sdktrace.Link           { return nil }
func (s *funcSpan) Events() []sdktrace.Event         { return s.events }
func (s *funcSpan) Status() sdktrace.Status          { return s.status }
func (s *funcSpan) InstrumentationScope() instrumentation.Scope {
	return s.scope
}

// InstrumentationLibrary is deprecated in ReadOnlySpan; it returns the scope.
func (s *funcSpan) InstrumentationLibrary() instrumentation.Library { //nolint:staticcheck // required by the interface
	return s.scope
}
func (s *funcSpan) Resource() *resource.Resource { return s.resource }
func (s *funcSpan) DroppedAttributes() int       { return 0 }
func (s *funcSpan) DroppedLinks() int            { return 0 }
func (s *funcSpan) DroppedEvents() int           { return 0 }
func (s *funcSpan) ChildSpanCount() int          { return s.children }
