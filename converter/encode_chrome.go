package converter

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter/gotrace"
)

// flushSize is how much encoded JSON is buffered before it is written out.
const flushSize = 64 << 10

// chromeWriter streams a layout as a Chrome Trace Event JSON object.
type chromeWriter struct {
	notes [][2]string // the caller's otherData fields
	w     io.Writer
	m     *model
	l     *layout
	enc   encoder
	err   error
	first bool
	gos   []*gotrace.Trace // Go execution traces (encode_gotrace.go)
}

func (c *Converter) write(w io.Writer, only *pcommon.TraceID) (Stats, error) {
	l := c.model.layout(only, &c.cfg)
	cw := &chromeWriter{w: w, m: c.model, l: l, first: true, notes: c.notes, gos: c.goTraces}
	cw.enc.buf = make([]byte, 0, flushSize+4096)
	st := cw.encode(c.cfg.absoluteTime)
	st.Shifts = l.shifts
	st.NoStart, st.SharedIDs = c.model.noStart, c.model.sharedIDs
	st.Duplicates, st.Conflicts = c.model.dupSame, c.model.dupOther
	return st, cw.err
}

func (cw *chromeWriter) encode(absolute bool) Stats {
	m, l, e := cw.m, cw.l, &cw.enc
	var st Stats
	gp := cw.planGo()
	e.buf = append(e.buf, `{"displayTimeUnit":"ns","otherData":{"generator":"otel2chrome"`...)
	if absolute {
		e.buf = append(e.buf, `,"time_base":"unix epoch, microseconds"`...)
	} else {
		e.buf = append(e.buf, `,"time_base":"microseconds since origin"`...)
		e.rawKey("origin_unix_nano")
		e.str(itoa(l.origin))
		e.rawKey("origin")
		e.str(time.Unix(0, l.origin).UTC().Format(time.RFC3339Nano))
	}
	e.rawKey("spans")
	e.str(itoa(int64(len(l.sel))))
	e.rawKey("traces")
	e.str(itoa(int64(l.traces)))
	e.rawKey("clock_skew_shifts")
	e.str(itoa(int64(len(l.shifts))))
	e.rawKey("flows")
	e.str(itoa(int64(l.plan.placed)))
	for _, n := range []struct {
		key string
		v   int
	}{{"duplicate_spans_merged", m.dupSame}, {"conflicting_spans_dropped", m.dupOther}, {"spans_without_start", m.noStart}} {
		if n.v > 0 {
			e.rawKey(n.key)
			e.str(itoa(int64(n.v)))
		}
	}
	if l.plan.omit > 0 {
		e.rawKey("flows_omitted")
		e.str(itoa(int64(l.plan.omit)))
	}
	cw.goNotes(gp)
	for _, n := range cw.notes {
		e.buf = append(e.buf, ',')
		e.str(n[0]) // the caller's key, escaped
		e.buf = append(e.buf, ':')
		e.str(n[1])
	}
	e.buf = append(e.buf, "},\n\"traceEvents\":[\n"...)

	for _, p := range l.procs {
		rec := &m.procs[p.rec]
		cw.meta("process_name", p.pid, 0)
		e.str(rec.service)
		cw.closeMeta()
		if rec.labels != "" {
			cw.begin()
			e.buf = append(e.buf, `{"ph":"M","name":"process_labels","pid":`...)
			e.int(p.pid)
			e.buf = append(e.buf, `,"tid":0,"args":{"labels":`...)
			e.str(rec.labels)
			e.buf = append(e.buf, "}}"...)
		}
		cw.begin()
		e.buf = append(e.buf, `{"ph":"M","name":"process_sort_index","pid":`...)
		e.int(p.pid)
		e.buf = append(e.buf, `,"tid":0,"args":{"sort_index":`...)
		e.int(int64(p.sort))
		e.buf = append(e.buf, "}}"...)
	}
	st.Processes = len(l.procs)
	for _, ln := range l.lanes {
		pid := l.procs[ln.proc].pid
		cw.meta("thread_name", pid, ln.tid)
		e.str(ln.name)
		cw.closeMeta()
		cw.begin()
		e.buf = append(e.buf, `{"ph":"M","name":"thread_sort_index","pid":`...)
		e.int(pid)
		e.buf = append(e.buf, `,"tid":`...)
		e.int(ln.tid)
		e.buf = append(e.buf, `,"args":{"sort_index":`...)
		e.int(int64(ln.sort))
		e.buf = append(e.buf, "}}"...)
	}
	st.Threads = len(l.lanes)

	cw.slices(&st)
	if cw.err != nil {
		return st
	}
	id := int64(0)
	for _, f := range l.flows {
		switch f.how {
		case bindIDs:
		case bindNone:
			continue
		default:
			id++
			cw.flow(id, f)
		}
		st.Flows++
	}
	st.FlowsOmitted = l.plan.omit
	st.GoTraces = cw.goEvents(gp)
	e.buf = append(e.buf, "\n]}\n"...)
	cw.flush()
	return st
}

// begin starts a new array element.
func (cw *chromeWriter) begin() {
	if !cw.first {
		cw.enc.buf = append(cw.enc.buf, ",\n"...)
	}
	cw.first = false
	if len(cw.enc.buf) >= flushSize && cw.w != nil {
		cw.flush()
	}
}

func (cw *chromeWriter) flush() {
	if cw.err == nil && len(cw.enc.buf) > 0 {
		if _, err := cw.w.Write(cw.enc.buf); err != nil {
			cw.err = fmt.Errorf("writing Chrome trace: %w", err)
		}
	}
	cw.enc.buf = cw.enc.buf[:0]
}

func (cw *chromeWriter) meta(name string, pid, tid int64) {
	cw.begin()
	e := &cw.enc
	e.buf = append(e.buf, `{"ph":"M","name":"`...)
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, `","pid":`...)
	e.int(pid)
	e.buf = append(e.buf, `,"tid":`...)
	e.int(tid)
	e.buf = append(e.buf, `,"args":{"name":`...)
}

func (cw *chromeWriter) closeMeta() { cw.enc.buf = append(cw.enc.buf, "}}"...) }

// pos appends the pid, tid and ts of span i's lane at time ns (unshifted).
func (cw *chromeWriter) pos(i int32, ns int64) {
	l, e := cw.l, &cw.enc
	ln := &l.lanes[l.lane[i]]
	e.buf = append(e.buf, `,"pid":`...)
	e.int(l.procs[ln.proc].pid)
	e.buf = append(e.buf, `,"tid":`...)
	e.int(ln.tid)
	e.buf = append(e.buf, `,"ts":`...)
	e.micros(ns + l.shift[i] - l.origin)
}

var kindNames = [...]string{
	ptrace.SpanKindUnspecified: "unspecified",
	ptrace.SpanKindInternal:    "internal",
	ptrace.SpanKindServer:      "server",
	ptrace.SpanKindClient:      "client",
	ptrace.SpanKindProducer:    "producer",
	ptrace.SpanKindConsumer:    "consumer",
}

var statusNames = [...]string{
	ptrace.StatusCodeUnset: "unset",
	ptrace.StatusCodeOk:    "ok",
	ptrace.StatusCodeError: "error",
}

func (cw *chromeWriter) cat(scope uint32) {
	name := cw.m.strs[scope]
	if name == "" {
		name = "otel"
	}
	cw.enc.str(name)
}

func (cw *chromeWriter) slice(i int32) {
	cw.begin()
	m, e := cw.m, &cw.enc
	s := cw.l.rec(i)
	e.buf = append(e.buf, `{"ph":"X","name":`...)
	e.str(m.strs[s.name])
	e.buf = append(e.buf, `,"cat":`...)
	cw.cat(s.scope)
	cw.pos(i, s.start)
	e.buf = append(e.buf, `,"dur":`...)
	e.micros(s.end - s.start)
	cw.bind(i)
	e.buf = append(e.buf, `,"args":{"trace_id":`...)
	e.hex(s.trace[:])
	e.buf = append(e.buf, `,"span_id":`...)
	e.hex(s.id[:])
	if !s.parent.IsEmpty() {
		e.buf = append(e.buf, `,"parent_span_id":`...)
		e.hex(s.parent[:])
	}
	if cw.l.reparented[i] {
		// The slice hangs from another span than its parent ID names:
		// the nearest kept ancestor of a parent WithMinDuration left out,
		// or the server half of a span ID a client and server shared.
		// All zeros (no span) when it is drawn as a root because its
		// parent chain loops (hostile input).
		e.buf = append(e.buf, `,"timeline_parent_span_id":`...)
		var none pcommon.SpanID
		if p := cw.l.parent[i]; p >= 0 {
			none = cw.l.rec(p).id
		}
		e.hex(none[:])
	}
	e.buf = append(e.buf, `,"kind":"`...)
	if int(s.kind) < len(kindNames) {
		e.buf = append(e.buf, kindNames[s.kind]...)
	} else {
		e.buf = append(e.buf, "unspecified"...)
	}
	e.buf = append(e.buf, `","status":"`...)
	if int(s.status) < len(statusNames) {
		e.buf = append(e.buf, statusNames[s.status]...)
	} else {
		e.buf = append(e.buf, "unset"...)
	}
	e.buf = append(e.buf, '"')
	if s.statusMsg != 0 {
		e.rawKey("status_message")
		e.str(m.strs[s.statusMsg])
	}
	if sh := cw.l.shift[i]; sh != 0 {
		e.rawKey("clock_skew_shift_ns")
		e.int(sh)
	}
	if a := m.arena.get(s.attrs); a != nil {
		e.rawKey("attributes")
		e.buf = append(e.buf, a...)
	}
	if s.nLinks > 0 {
		e.rawKey("links")
		e.buf = append(e.buf, '[')
		for k := s.links; k < s.links+s.nLinks; k++ {
			if k > s.links {
				e.buf = append(e.buf, ',')
			}
			e.buf = append(e.buf, `{"trace_id":`...)
			e.hex(m.links[k].trace[:])
			e.buf = append(e.buf, `,"span_id":`...)
			e.hex(m.links[k].id[:])
			e.buf = append(e.buf, '}')
		}
		e.buf = append(e.buf, ']')
	}
	e.buf = append(e.buf, "}}"...)
}

func (cw *chromeWriter) instant(i int32, ev *eventRec) {
	cw.begin()
	m, e := cw.m, &cw.enc
	s := cw.l.rec(i)
	e.buf = append(e.buf, `{"ph":"i","s":"t","name":`...)
	e.str(m.strs[ev.name])
	e.buf = append(e.buf, `,"cat":`...)
	cw.cat(s.scope)
	cw.pos(i, ev.ts)
	e.buf = append(e.buf, `,"args":{"span_id":`...)
	e.hex(s.id[:])
	if a := m.arena.get(ev.attrs); a != nil {
		e.rawKey("attributes")
		e.buf = append(e.buf, a...)
	}
	e.buf = append(e.buf, "}}"...)
}

// flow writes the s/f pair of one arrow that bind_id does not carry, each
// end where it binds to its own slice (see flows.go).
func (cw *chromeWriter) flow(id int64, f flowOut) {
	l, e := cw.l, &cw.enc
	name := `"child"`
	if f.link {
		name = `"link"`
	}
	from, _ := l.times(f.from)
	to, _ := l.times(f.to)
	cw.begin()
	e.buf = append(e.buf, `{"ph":"s","name":`...)
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, `,"cat":"flow","id":`...)
	e.int(id)
	cw.pos(f.from, from-l.shift[f.from])
	e.buf = append(e.buf, '}')
	cw.begin()
	if f.how == bindEnclosing {
		e.buf = append(e.buf, `{"ph":"f","bp":"e","name":`...)
	} else {
		e.buf = append(e.buf, `{"ph":"f","name":`...)
		to--
	}
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, `,"cat":"flow","id":`...)
	e.int(id)
	cw.pos(f.to, to-l.shift[f.to])
	e.buf = append(e.buf, '}')
}

// bind appends the bind_id role of span i's complete event, if it has one.
func (cw *chromeWriter) bind(i int32) {
	p, e := &cw.l.plan, &cw.enc
	if p.out == nil || (!p.out[i] && p.in[i] < 0) {
		return
	}
	id := p.idOf[i]
	if !p.out[i] {
		id = p.idOf[p.in[i]]
	}
	e.buf = append(e.buf, `,"bind_id":"0x`...)
	e.buf = strconv.AppendInt(e.buf, flowBase+int64(p.key[id].pos), 16)
	e.buf = append(e.buf, '"')
	if p.in[i] >= 0 {
		e.buf = append(e.buf, `,"flow_in":true`...)
	}
	if p.out[i] {
		e.buf = append(e.buf, `,"flow_out":true`...)
	}
}
