package converter

import (
	"google.golang.org/protobuf/encoding/protowire"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// otlpProto reads one OTLP protobuf message (TracesData or
// ExportTraceServiceRequest, which share a wire format) straight into the
// preparer's batch, with no pdata in between, as otlpJSON reads OTLP JSON.
// It reads the fields OTLP defines for traces as pdata reads them (the
// last to first order pdata writes included) and gives up (false, the
// batch as before) on anything where it could differ from pdata's decoder:
// a field it does not know, a field given twice that is not repeated, a
// wire type or ID length pdata refuses, a double or bytes value, a value
// nested as deep as the encoder's limit, a repeated attribute key, a
// non-string value of an attribute the converter reads as text. The caller
// then decodes the message with pdata. TestPreparedProtoSameModel and
// FuzzPreparedProto hold the two ways to the same timeline.
func (p *preparer) otlpProto(msg []byte) bool {
	q := &p.q
	q.fastJSON = fastJSON{buf: q.fastJSON.buf[:0]}
	q.p = p
	start := p.b.mark()
	q.fields(msg, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if num != 1 || typ != protowire.BytesType {
			q.fail()
			return
		}
		q.pbResourceSpans(v)
	})
	if q.bad {
		p.b.undo(start)
		return false
	}
	return true
}

// fields calls fn for each field of msg with its number, wire type and
// value: the bytes of a length-delimited field, else the number. A
// malformed field, a group or fn's q.fail ends the walk.
func (q *otlpReader) fields(msg []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
	for len(msg) > 0 && !q.bad {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			q.fail()
			return
		}
		msg = msg[n:]
		var (
			v []byte
			x uint64
		)
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(msg)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(msg)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(msg)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(msg)
			x = uint64(x32)
		default:
			n = -1
		}
		if n < 0 {
			q.fail()
			return
		}
		msg = msg[n:]
		fn(num, typ, v, x)
	}
}

// once records field bit in seen, giving up if the field came before: a
// field given twice that is not repeated is merged or replaced by pdata.
func (q *otlpReader) once(seen *uint32, bit uint32) bool {
	if *seen&bit != 0 {
		q.fail()
		return false
	}
	*seen |= bit
	return true
}

// pbID reads a trace or span ID: its size, or empty for none.
func (q *otlpReader) pbID(dst, v []byte) {
	switch len(v) {
	case 0:
	case len(dst):
		copy(dst, v)
	default:
		q.fail()
	}
}

func (q *otlpReader) pbResourceSpans(b []byte) {
	q.resHas = [16]bool{}
	q.skip, q.proc = false, -1
	// pdata writes fields last to first: the resource after its scopes.
	// Scopes are read once the resource is known.
	scopes := q.pbViews[:0]
	var seen uint32
	q.fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if typ != protowire.BytesType {
			q.fail()
			return
		}
		switch num {
		case 1:
			if q.once(&seen, 1) {
				q.pbResource(v)
			}
		case 2:
			scopes = append(scopes, v)
		case 3:
			q.once(&seen, 4)
		default:
			q.fail()
		}
	})
	defer func() {
		clear(scopes) // views of the message, which is not the reader's
		q.pbViews = scopes[:0]
	}()
	if q.bad {
		return
	}
	if svc := q.p.cfg.services; svc != nil {
		name := ""
		if q.resHas[0] {
			name = string(q.res[0])
		}
		_, ok := svc[name]
		q.skip = !ok
	}
	for _, s := range scopes {
		q.pbScopeSpans(s)
	}
}

func (q *otlpReader) pbResource(b []byte) {
	var seen uint32
	q.discard.buf = q.discard.buf[:0]
	at, n := len(q.keyEnds), 0
	q.fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			q.pbKeyValue(&q.discard, v, 1, q.resourceAttr, at, n)
			n++
		case num == 2 && typ == protowire.VarintType:
			q.once(&seen, 2)
		default:
			q.fail()
		}
	})
	q.keys, q.keyEnds = q.keys[:q.keyStart(at)], q.keyEnds[:at]
}

func (q *otlpReader) pbScopeSpans(b []byte) {
	q.scope = 0
	var seen uint32
	// The scope comes after its spans as pdata writes it.
	spans := q.pbSpans[:0]
	q.fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if typ != protowire.BytesType {
			q.fail()
			return
		}
		switch num {
		case 1:
			if q.once(&seen, 1) {
				q.pbScope(v)
			}
		case 2:
			spans = append(spans, v)
		case 3:
			q.once(&seen, 4)
		default:
			q.fail()
		}
	})
	for _, s := range spans {
		if q.bad {
			break
		}
		q.pbSpan(s)
	}
	clear(spans) // views of the message, which is not the reader's
	q.pbSpans = spans[:0]
}

func (q *otlpReader) pbScope(b []byte) {
	var seen uint32
	q.discard.buf = q.discard.buf[:0]
	at, n := len(q.keyEnds), 0
	q.fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			if q.once(&seen, 1) {
				q.scope = q.p.str(view(v))
			}
		case num == 2 && typ == protowire.BytesType:
			q.once(&seen, 2)
		case num == 3 && typ == protowire.BytesType:
			q.pbKeyValue(&q.discard, v, 1, nil, at, n)
			n++
		case num == 4 && typ == protowire.VarintType:
			q.once(&seen, 8)
		default:
			q.fail()
		}
	})
	q.keys, q.keyEnds = q.keys[:q.keyStart(at)], q.keyEnds[:at]
}

func (q *otlpReader) pbSpan(b []byte) {
	p, bt := q.p, q.p.b
	at := bt.mark()
	var (
		trace            pcommon.TraceID
		id, parent       pcommon.SpanID
		start, end       uint64
		kind, code       int32
		statusMsg        uint32
		seen             uint32
		attrOff, attrEnd = len(bt.buf), len(bt.buf)
		events, nEvents  = len(bt.events), 0
		links, nLinks    = len(bt.links), 0
		maxLen           = p.cfg.maxAttributeLen
		keysAt           = len(q.keyEnds)
		e                = &p.enc
	)
	q.newSpan()
	// Attributes, events and links may come in runs between other
	// fields: they are gathered first and read in order after.
	attrs, evs, lks := q.pbAttrs[:0], q.pbEvents[:0], q.pbLinks[:0]
	q.fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		want := protowire.BytesType
		switch num {
		case 6, 10, 12, 14:
			want = protowire.VarintType
		case 7, 8:
			want = protowire.Fixed64Type
		case 16:
			want = protowire.Fixed32Type
		}
		if typ != want || num < 1 || num > 16 {
			q.fail()
			return
		}
		if num != 9 && num != 11 && num != 13 && !q.once(&seen, 1<<num) {
			return
		}
		switch num {
		case 1:
			q.pbID(trace[:], v)
		case 2:
			q.pbID(id[:], v)
		case 4:
			q.pbID(parent[:], v)
		case 5:
			q.name = append(q.name[:0], v...)
		case 6:
			kind = int32(x)
		case 7:
			start = x
		case 8:
			end = x
		case 9:
			attrs = append(attrs, v)
		case 11:
			evs = append(evs, v)
		case 13:
			lks = append(lks, v)
		case 15:
			var st uint32
			q.fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
				switch {
				case num == 2 && typ == protowire.BytesType:
					if q.once(&st, 2) && len(v) > 0 {
						statusMsg = p.str(truncate(view(v), maxLen))
					}
				case num == 3 && typ == protowire.VarintType:
					if q.once(&st, 4) {
						code = int32(x)
					}
				default:
					q.fail()
				}
			})
		}
	})
	defer func() {
		clear(attrs) // views of the message, which is not the reader's
		clear(evs)
		clear(lks)
		q.pbAttrs, q.pbEvents, q.pbLinks = attrs[:0], evs[:0], lks[:0]
	}()
	if len(attrs) > 0 && !q.bad {
		e.buf = bt.buf
		attrOff = len(e.buf)
		e.buf = append(e.buf, '{')
		for i, kv := range attrs {
			q.pbKeyValue(e, kv, 1, q.spanAttr, keysAt, i)
		}
		e.buf = append(e.buf, '}')
		bt.buf = e.buf
		attrEnd = len(bt.buf)
	}
	for _, v := range evs {
		if q.bad {
			break
		}
		q.pbEvent(v)
	}
	for _, v := range lks {
		if q.bad {
			break
		}
		q.pbLink(v)
	}
	nEvents, nLinks = len(evs), len(lks)
	q.keys, q.keyEnds = q.keys[:q.keyStart(keysAt)], q.keyEnds[:keysAt]
	if q.bad {
		return
	}
	q.finishSpan(at, readSpan{trace, id, parent, start, end, kind, code, statusMsg, attrOff, attrEnd, events, nEvents, links, nLinks})
}

// readSpan is what a reader read of a span, beside what the reader holds
// of it (name, picked attributes, thread, goroutine).
type readSpan struct {
	trace            pcommon.TraceID
	id, parent       pcommon.SpanID
	start, end       uint64
	kind, code       int32
	statusMsg        uint32
	attrOff, attrEnd int
	events, nEvents  int
	links, nLinks    int
}

// finishSpan adds the span read to the batch, whose state before it was
// at: unless its service or the filters leave it out (then what was read
// of it goes), with its process, its name and its events pinned inside it.
func (q *otlpReader) finishSpan(at mark, s readSpan) {
	p, b := q.p, q.p.b
	if q.skip {
		b.undo(at) // its service is filtered out: nothing counts
		return
	}
	if !p.keep(s.trace, s.id, s.parent, pcommon.Timestamp(s.start), pcommon.Timestamp(s.end)) {
		// keep counted it, if it counts.
		b.events, b.links, b.buf = b.events[:at.events], b.links[:at.links], b.buf[:at.buf]
		return
	}
	if q.proc < 0 {
		q.proc = len(b.procs)
		b.procs = append(b.procs, q.procRec())
	}
	ps := prepSpan{
		rec:     newSpanRec(s.trace, s.id, s.parent, pcommon.Timestamp(s.start), pcommon.Timestamp(s.end), ptrace.SpanKind(s.kind), ptrace.StatusCode(s.code)),
		attrOff: s.attrOff, attrEnd: s.attrEnd, goid: q.goid,
	}
	r := &ps.rec
	r.scope, r.proc, r.statusMsg = q.scope, uint32(q.proc), s.statusMsg
	r.tid, r.hasTID, r.tname = q.tid, q.hasTID, q.tname
	pk := picked{route: view(q.picked[0]), urlPath: view(q.picked[1]), target: view(q.picked[2]), urlFull: view(q.picked[3])}
	r.name = p.str(displayName(view(q.name), &pk))
	r.events, r.nEvents = int32(s.events), int32(s.nEvents)
	r.links, r.nLinks = int32(s.links), int32(s.nLinks)
	for k := s.events; k < s.events+s.nEvents; k++ {
		e := &b.events[k]
		// An event outside its span (allowed by OTLP) is pinned to the
		// nearest end, so it stays on the span's slice.
		e.ts = min(max(e.ts, r.start), r.end)
	}
	b.spans = append(b.spans, ps)
}

func (q *otlpReader) pbEvent(v []byte) {
	p, b := q.p, q.p.b
	var (
		ts   uint64
		seen uint32
		pe   = prepEvent{attrOff: len(b.buf), attrEnd: len(b.buf)}
		at   = len(q.keyEnds)
		n    = 0
		e    = &p.enc
	)
	q.evName = q.evName[:0]
	q.excType, q.excMsg = q.excType[:0], q.excMsg[:0]
	e.buf = b.buf
	q.fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			if q.once(&seen, 1) {
				ts = x
			}
		case num == 2 && typ == protowire.BytesType:
			if q.once(&seen, 2) {
				q.evName = append(q.evName[:0], v...)
			}
		case num == 3 && typ == protowire.BytesType:
			if n == 0 {
				pe.attrOff = len(e.buf)
				e.buf = append(e.buf, '{')
			}
			q.pbKeyValue(e, v, 1, q.eventAttr, at, n)
			n++
		case num == 4 && typ == protowire.VarintType:
			q.once(&seen, 8)
		default:
			q.fail()
		}
	})
	if n > 0 {
		e.buf = append(e.buf, '}')
		pe.attrEnd = len(e.buf)
	}
	b.buf = e.buf
	q.keys, q.keyEnds = q.keys[:q.keyStart(at)], q.keyEnds[:at]
	if q.bad {
		return
	}
	pe.ts = clampTime(pcommon.Timestamp(ts))
	pe.name = p.str(eventTitle(view(q.evName), view(q.excType), view(q.excMsg)))
	b.events = append(b.events, pe)
}

func (q *otlpReader) pbLink(v []byte) {
	var (
		l    linkRec
		seen uint32
		at   = len(q.keyEnds)
		n    = 0
	)
	q.discard.buf = q.discard.buf[:0]
	q.fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			if q.once(&seen, 1) {
				q.pbID(l.trace[:], v)
			}
		case num == 2 && typ == protowire.BytesType:
			if q.once(&seen, 2) {
				q.pbID(l.id[:], v)
			}
		case num == 3 && typ == protowire.BytesType:
			q.once(&seen, 4)
		case num == 4 && typ == protowire.BytesType:
			q.pbKeyValue(&q.discard, v, 1, nil, at, n)
			n++
		case num == 5 && typ == protowire.VarintType:
			q.once(&seen, 16)
		case num == 6 && typ == protowire.Fixed32Type:
			q.once(&seen, 32)
		default:
			q.fail()
		}
	})
	q.keys, q.keyEnds = q.keys[:q.keyStart(at)], q.keyEnds[:at]
	q.p.b.links = append(q.p.b.links, l)
}

// pbKeyValue reads one KeyValue of a list whose first key is number first
// in q.keys, the n-th of it, and appends it to e as the output shows it,
// the value at depth; pick sees its key and scalar value.
func (q *otlpReader) pbKeyValue(e *encoder, kv []byte, depth int, pick func([]byte, pcommon.ValueType, []byte, int64), first, n int) {
	var key, value []byte
	var seen uint32
	q.fields(kv, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if typ != protowire.BytesType || num < 1 || num > 2 {
			q.fail()
			return
		}
		if q.once(&seen, 1<<num) {
			if num == 1 {
				key = v
			} else {
				value = v
			}
		}
	})
	if q.bad || !q.newKey(key, first) {
		return
	}
	key = q.keys[q.keyStart(len(q.keyEnds)-1):] // the copy
	if n > 0 {
		e.buf = append(e.buf, ',')
	}
	e.str(view(key))
	e.buf = append(e.buf, ':')
	kind, text, v := q.pbValue(e, value, depth)
	if pick != nil && !q.bad {
		pick(key, kind, text, v)
	}
}

// pbValue reads an AnyValue of at most one field and appends its output
// form to e, as encoder.value writes it at depth; it returns the kind and
// a string's content or an int's value.
func (q *otlpReader) pbValue(e *encoder, b []byte, depth int) (kind pcommon.ValueType, text []byte, n int64) {
	maxLen := q.p.cfg.maxAttributeLen
	kind = pcommon.ValueTypeEmpty
	set := false
	q.fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		if set {
			q.fail() // a second one wins in pdata
			return
		}
		set = true
		switch {
		case num == 1 && typ == protowire.BytesType:
			kind, text = pcommon.ValueTypeStr, v
			e.str(truncate(view(v), maxLen))
		case num == 2 && typ == protowire.VarintType:
			kind = pcommon.ValueTypeBool
			if x != 0 {
				e.buf = append(e.buf, "true"...)
			} else {
				e.buf = append(e.buf, "false"...)
			}
		case num == 3 && typ == protowire.VarintType:
			kind, n = pcommon.ValueTypeInt, int64(x)
			e.int(n)
		case num == 5 && typ == protowire.BytesType && depth < maxValueDepth:
			kind = pcommon.ValueTypeSlice
			e.buf = append(e.buf, '[')
			k := 0
			q.fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
				if num != 1 || typ != protowire.BytesType {
					q.fail()
					return
				}
				if k > 0 {
					e.buf = append(e.buf, ',')
				}
				k++
				q.pbValue(e, v, depth+1)
			})
			e.buf = append(e.buf, ']')
		case num == 6 && typ == protowire.BytesType && depth < maxValueDepth:
			kind = pcommon.ValueTypeMap
			e.buf = append(e.buf, '{')
			at, k := len(q.keyEnds), 0
			q.fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
				if num != 1 || typ != protowire.BytesType {
					q.fail()
					return
				}
				q.pbKeyValue(e, v, depth+1, nil, at, k)
				k++
			})
			q.keys, q.keyEnds = q.keys[:q.keyStart(at)], q.keyEnds[:at]
			e.buf = append(e.buf, '}')
		default:
			q.fail() // doubles, bytes, deep values: pdata's
		}
	})
	if kind == pcommon.ValueTypeEmpty {
		e.buf = append(e.buf, "null"...)
	}
	return kind, text, n
}
