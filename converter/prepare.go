package converter

import (
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Adding spans to the model is split in two. A preparer, which needs nothing
// of the model, filters spans and does the costly part of each — encoding
// attributes, naming spans and events, describing the service instance —
// into a spanBatch. The OTLP readers (prepare_json.go, prepare_proto.go)
// fill batches as they read, on the decoding goroutines (several at once for
// JSON Lines); what decodes to pdata is prepared on the model's goroutine
// (model.addTraces), the decoding one being the busier. The model commits
// batches in input order: interning strings, copying the encoded attributes
// and merging duplicates, which is all that needs the model.

// spanBatch holds prepared spans and what they refer to. Strings are the
// batch's own (strs) and attribute objects are slices of buf, until commit
// makes them the model's.
type spanBatch struct {
	spans   []prepSpan
	events  []prepEvent
	links   []linkRec
	strs    []string // index 0 is ""
	buf     []byte   // encoded attribute objects
	procs   []procRec
	dropped []droppedSpan // spans WithMinDuration left out
	noStart int           // spans left out for having no start time
}

// prepSpan is a span ready for the model. In rec, name, scope, statusMsg
// and tname index the batch's strs, proc its procs, events and links its
// events and links; attrs is unset and the attribute object is
// buf[attrOff:attrEnd].
type prepSpan struct {
	rec              spanRec
	attrOff, attrEnd int
	goid             int64 // go.goroutine.id, when > 0
}

type prepEvent struct {
	ts               int64
	name             uint32 // into the batch's strs
	attrOff, attrEnd int
}

type droppedSpan struct {
	key    spanKey
	parent pcommon.SpanID
}

// mark is how far a batch was filled, to undo a document that a reader
// gave up on.
type mark struct {
	spans, events, links, buf, procs, dropped, noStart int
}

func (b *spanBatch) mark() mark {
	return mark{len(b.spans), len(b.events), len(b.links), len(b.buf), len(b.procs), len(b.dropped), b.noStart}
}

func (b *spanBatch) undo(k mark) {
	b.spans, b.events, b.links = b.spans[:k.spans], b.events[:k.events], b.links[:k.links]
	b.buf, b.procs, b.dropped, b.noStart = b.buf[:k.buf], b.procs[:k.procs], b.dropped[:k.dropped], k.noStart
}

// preparer fills spanBatches. One preparer serves one goroutine.
type preparer struct {
	cfg    *config
	b      *spanBatch
	strIdx map[string]uint32 // the batch's strings
	enc    encoder           // its buf is the batch's while attributes are encoded
	picked picked
	q      otlpReader // the OTLP JSON reader's state (prepare_json.go)
	// spare holds committed batches to fill again, so their buffers are
	// not garbage for every thousand spans (nil: none come back).
	spare chan *spanBatch
}

func newPreparer(cfg *config) *preparer {
	return &preparer{cfg: cfg, b: &spanBatch{strs: []string{""}}, strIdx: map[string]uint32{"": 0}}
}

// take returns the batch filled so far and starts a new one, in a spare
// batch when one is at hand.
func (p *preparer) take() *spanBatch {
	b := p.b
	select {
	case p.b = <-p.spare:
		p.reset()
	default:
		p.b = &spanBatch{strs: []string{""}}
		clear(p.strIdx)
		p.strIdx[""] = 0
	}
	return b
}

// reset empties the batch for reuse, once it has been committed.
func (p *preparer) reset() {
	b := p.b
	b.undo(mark{})
	clear(b.strs[1:]) // the strings are the model's now
	b.strs = b.strs[:1]
	clear(p.strIdx)
	p.strIdx[""] = 0
}

// str interns s among the batch's strings. s may be a view of memory that
// changes later: it is copied when first seen.
func (p *preparer) str(s string) uint32 {
	if i, ok := p.strIdx[s]; ok {
		return i
	}
	s = strings.Clone(s)
	i := uint32(len(p.b.strs))
	p.b.strs = append(p.b.strs, s)
	p.strIdx[s] = i
	return i
}

// keep applies the configured filters to a span, counting the spans left
// out for having no start time and remembering the parents of those
// WithMinDuration leaves out.
func (p *preparer) keep(trace pcommon.TraceID, id, parent pcommon.SpanID, startTS, endTS pcommon.Timestamp) bool {
	c := p.cfg
	if c.traceIDs != nil {
		if _, ok := c.traceIDs[trace]; !ok {
			return false
		}
	}
	start, end := clampTime(startTS), clampTime(endTS)
	if start == 0 {
		// No start time: on a timeline it would sit in 1970 and stretch
		// the view over half a century. Left out, and counted.
		p.b.noStart++
		return false
	}
	if end < start {
		end = start
	}
	if c.minDuration > 0 && end-start < c.minDuration {
		// Its children stay, attached to its nearest kept ancestor, so
		// where it hung from is kept.
		if !parent.IsEmpty() {
			p.b.dropped = append(p.b.dropped, droppedSpan{keyOf(trace, id), parent})
		}
		return false
	}
	if c.windowStart != 0 && end < c.windowStart {
		return false
	}
	if c.windowEnd != 0 && start >= c.windowEnd {
		return false
	}
	return true
}

// newSpanRec is the part of a span's record that every input gives alike.
func newSpanRec(trace pcommon.TraceID, id, parent pcommon.SpanID, start, end pcommon.Timestamp, kind ptrace.SpanKind, status ptrace.StatusCode) spanRec {
	r := spanRec{trace: trace, id: id, parent: parent, start: clampTime(start), end: clampTime(end), kind: kind, status: status}
	// OTLP enums are open: a value no version defines (a corrupt or newer
	// producer's) reads as unspecified/unset, which every later stage knows.
	if r.kind < ptrace.SpanKindUnspecified || r.kind > ptrace.SpanKindConsumer {
		r.kind = ptrace.SpanKindUnspecified
	}
	if r.status < ptrace.StatusCodeUnset || r.status > ptrace.StatusCodeError {
		r.status = ptrace.StatusCodeUnset
	}
	if r.end < r.start {
		r.end = r.start
	}
	return r
}

// traces prepares every span of td that passes the filters.
func (p *preparer) traces(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource()
		if p.cfg.services != nil {
			name := ""
			if v, ok := res.Attributes().Get("service.name"); ok {
				name = v.AsString()
			}
			if _, ok := p.cfg.services[name]; !ok {
				continue
			}
		}
		proc := -1
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope().Name()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				if !p.keep(sp.TraceID(), sp.SpanID(), sp.ParentSpanID(), sp.StartTimestamp(), sp.EndTimestamp()) {
					continue
				}
				if proc < 0 {
					proc = len(p.b.procs)
					p.b.procs = append(p.b.procs, procOf(res.Attributes()))
				}
				p.span(sp, uint32(proc), scope)
			}
		}
	}
}

func (p *preparer) span(sp ptrace.Span, proc uint32, scope string) {
	b := p.b
	ps := prepSpan{rec: newSpanRec(sp.TraceID(), sp.SpanID(), sp.ParentSpanID(), sp.StartTimestamp(), sp.EndTimestamp(), sp.Kind(), sp.Status().Code())}
	r := &ps.rec
	r.scope, r.proc = p.str(scope), proc
	if msg := sp.Status().Message(); msg != "" {
		r.statusMsg = p.str(truncate(msg, p.cfg.maxAttributeLen))
	}
	ps.attrOff = len(b.buf)
	p.encodeSpanAttrs(sp.Attributes(), r)
	ps.attrEnd = len(b.buf)
	r.name = p.str(displayName(sp.Name(), &p.picked))
	ps.goid = p.picked.goid

	evs := sp.Events()
	r.events, r.nEvents = int32(len(b.events)), int32(evs.Len())
	for i := 0; i < evs.Len(); i++ {
		e := evs.At(i)
		// An event outside its span (allowed by OTLP) is pinned to the nearest
		// end, so it stays on the span's slice and never precedes the origin.
		pe := prepEvent{ts: min(max(clampTime(e.Timestamp()), r.start), r.end), name: p.str(eventName(e))}
		pe.attrOff = len(b.buf)
		if attrs := e.Attributes(); attrs.Len() > 0 {
			p.enc.buf = b.buf
			p.enc.attrMap(attrs, p.cfg.maxAttributeLen, 0)
			b.buf = p.enc.buf
		}
		pe.attrEnd = len(b.buf)
		b.events = append(b.events, pe)
	}
	links := sp.Links()
	r.links, r.nLinks = int32(len(b.links)), int32(links.Len())
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		b.links = append(b.links, linkRec{trace: l.TraceID(), id: l.SpanID()})
	}
	b.spans = append(b.spans, ps)
}

// encodeSpanAttrs encodes a span's attributes onto the batch's buf and picks
// out thread.id and thread.name for r and the HTTP names for displayName.
func (p *preparer) encodeSpanAttrs(attrs pcommon.Map, r *spanRec) {
	p.picked = picked{}
	if attrs.Len() == 0 {
		return
	}
	e := &p.enc
	e.buf = append(p.b.buf, '{')
	first := true
	attrs.Range(func(k string, v pcommon.Value) bool {
		switch k {
		case "thread.id":
			switch v.Type() {
			case pcommon.ValueTypeInt:
				r.tid, r.hasTID = v.Int(), true
			case pcommon.ValueTypeStr:
				if n, err := strconv.ParseInt(v.Str(), 10, 64); err == nil {
					r.tid, r.hasTID = n, true
				}
			}
		case "thread.name":
			r.tname = p.str(truncate(v.AsString(), 256))
		case "http.route":
			p.picked.route = v.AsString()
		case "url.path":
			p.picked.urlPath = v.AsString()
		case "http.target":
			p.picked.target = v.AsString()
		case "url.full":
			p.picked.urlFull = v.AsString()
		case goroutineIDKey:
			if v.Type() == pcommon.ValueTypeInt {
				p.picked.goid = v.Int()
			}
		}
		e.key(k, first)
		first = false
		e.value(v, p.cfg.maxAttributeLen, 1)
		return true
	})
	e.buf = append(e.buf, '}')
	p.b.buf = e.buf
}

// procOf describes the service instance of a resource: the Chrome process.
func procOf(attrs pcommon.Map) procRec {
	get := func(k string) (string, bool) {
		v, ok := attrs.Get(k)
		if !ok {
			return "", false
		}
		return v.AsString(), true
	}
	return newProcRec(get)
}

// newProcRec builds a process from the resource attributes get finds.
func newProcRec(get func(string) (string, bool)) procRec {
	service := "unknown_service"
	if v, ok := get("service.name"); ok && v != "" {
		service = v
	}
	var key strings.Builder
	key.WriteString(service)
	var labels []string
	for _, k := range instanceKeys {
		if v, ok := get(k); ok {
			key.WriteString("\x00" + k + "=" + v)
			labels = append(labels, k+"="+v)
		}
	}
	for _, k := range labelKeys {
		if v, ok := get(k); ok {
			labels = append(labels, k+"="+v)
		}
	}
	return procRec{key: key.String(), service: service, labels: strings.Join(labels, ",")}
}

// commit adds a prepared batch to the model, in the batch's order. Strings
// are interned and attributes stored in the order adding each span from
// pdata did, so the model is the same however its spans came.
func (m *model) commit(b *spanBatch) {
	m.noStart += b.noStart
	for _, d := range b.dropped {
		if m.dropped == nil {
			m.dropped = map[spanKey]pcommon.SpanID{}
		}
		m.dropped[d.key] = d.parent
	}
	strs := make([]uint32, len(b.strs)) // 0: not interned yet ("" is 0 in both)
	str := func(i uint32) uint32 {
		if i == 0 {
			return 0
		}
		if strs[i] == 0 {
			strs[i] = m.str(b.strs[i])
		}
		return strs[i]
	}
	procs := make([]int32, len(b.procs))
	for i := range procs {
		procs[i] = -1
	}
	for i := range b.spans {
		ps := &b.spans[i]
		r := ps.rec
		if procs[r.proc] < 0 {
			procs[r.proc] = int32(m.proc(b.procs[r.proc]))
		}
		r.proc = uint32(procs[r.proc])
		r.scope = str(r.scope)
		r.statusMsg = str(r.statusMsg)
		r.tname = str(r.tname)
		r.attrs = m.arena.add(b.buf[ps.attrOff:ps.attrEnd])
		r.name = str(r.name)
		events := b.events[r.events : r.events+r.nEvents]
		r.events = int32(len(m.events))
		for _, e := range events {
			m.events = append(m.events, eventRec{ts: e.ts, name: str(e.name), attrs: m.arena.add(b.buf[e.attrOff:e.attrEnd])})
		}
		links := b.links[r.links : r.links+r.nLinks]
		r.links = int32(len(m.links))
		m.links = append(m.links, links...)
		key := keyOf(r.trace, r.id)
		if ps.goid > 0 {
			m.noteGoroutine(key, ps.goid)
		}
		m.insert(key, r)
	}
}
