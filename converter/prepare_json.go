package converter

import (
	"bytes"
	"strconv"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// otlpJSON reads an OTLP JSON document straight into the preparer's batch,
// with no pdata in between: attribute values go from the document to their
// encoded form in the output. It reads what fastOTLPJSON reads, with its
// primitives and the same checks, and gives up (false, the batch as before)
// wherever that reader does, and also where getting the meaning right would
// need pdata: a resource or scope after the spans it describes, a value
// nested as deep as the encoder's limit, a repeated key among more than
// maxListKeys attributes, a non-string value of an attribute the converter
// reads as text (service.name, http.route, exception.type ...). The caller
// then reads the document with pdata's decoder. TestPreparedJSONSameModel
// holds the two ways to the same model on every test input and the fuzzers'
// corpora.
func (p *preparer) otlpJSON(doc []byte) bool {
	q := &p.q
	q.fastJSON = fastJSON{b: doc, buf: q.fastJSON.buf[:0]}
	q.p = p
	start := p.b.mark()
	q.document()
	q.ws()
	if q.bad || q.i != len(q.b) {
		p.b.undo(start)
		return false
	}
	return true
}

// maxListKeys bounds the attributes of one list checked for a repeated key
// (pairwise); longer lists are left to pdata.
const maxListKeys = 64

// resourceKeys are the resource attributes the converter reads: the
// service name and what names a process.
var resourceKeys = append(append([]string{"service.name"}, instanceKeys...), labelKeys...)

// otlpReader is the state of the OTLP readers (JSON here, protobuf in
// prepare_proto.go) beside fastJSON's: what they hold of the resource,
// scope, span and event being read, and their scratch.
type otlpReader struct {
	fastJSON
	p       *preparer
	discard encoder // attributes read but not shown (resource, scope, link)
	keys    []byte  // the keys of the attribute lists open, for repeats
	keyEnds []int

	// The resource being read: the values of resourceKeys, whether its
	// spans are filtered out, and its process in the batch (-1: none yet).
	res     [16][]byte
	resHas  [16]bool
	spansAt bool // its scopeSpans began
	skip    bool
	proc    int
	scope   uint32 // the scope's name, in the batch's strings
	scopeAt bool   // its spans began

	// The span being read.
	name    []byte
	picked  [4][]byte // http.route, url.path, http.target, url.full
	evName  []byte    // the event being read: its name and exception
	excType []byte
	excMsg  []byte
	goid    int64
	tid     int64
	hasTID  bool
	tname   uint32

	// Views of the protobuf message being read (prepare_proto.go).
	pbViews, pbSpans           [][]byte
	pbAttrs, pbEvents, pbLinks [][]byte
}

// view is b as a string without copying; the string must not outlive b's
// content.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (q *otlpReader) document() {
	q.object(func(key []byte) uint64 {
		if string(key) != "resourceSpans" {
			return 0
		}
		q.array(q.resourceSpans)
		return 1
	})
}

func (q *otlpReader) resourceSpans() {
	q.resHas = [16]bool{}
	q.spansAt, q.skip, q.proc = false, false, -1
	q.object(func(key []byte) uint64 {
		switch string(key) {
		case "resource":
			if q.spansAt {
				q.fail() // described after its spans: pdata's
				return 0
			}
			q.object(func(key []byte) uint64 {
				switch string(key) {
				case "attributes":
					q.discard.buf = q.discard.buf[:0]
					q.attributes(&q.discard, q.resourceAttr)
					return 1
				case "droppedAttributesCount":
					q.uint32()
					return 2
				}
				return 0
			})
			return 1
		case "scopeSpans":
			if !q.spansAt {
				q.spansAt = true
				if svc := q.p.cfg.services; svc != nil {
					name := ""
					if q.resHas[0] {
						name = string(q.res[0])
					}
					_, ok := svc[name]
					q.skip = !ok
				}
			}
			q.array(q.scopeSpans)
			return 2
		case "schemaUrl":
			q.text()
			return 4
		}
		return 0
	})
}

// resourceAttr keeps the values of resourceKeys.
func (q *otlpReader) resourceAttr(key []byte, kind pcommon.ValueType, text []byte, _ int64) {
	for i, k := range resourceKeys {
		if string(key) == k {
			if kind != pcommon.ValueTypeStr && kind != pcommon.ValueTypeEmpty {
				q.fail() // read as text: pdata's AsString
				return
			}
			q.res[i], q.resHas[i] = append(q.res[i][:0], text...), true
			return
		}
	}
}

// procRec describes the resource read as the process of its spans.
func (q *otlpReader) procRec() procRec {
	return newProcRec(func(k string) (string, bool) {
		for i, rk := range resourceKeys {
			if rk == k {
				return string(q.res[i]), q.resHas[i]
			}
		}
		return "", false
	})
}

func (q *otlpReader) scopeSpans() {
	q.scope, q.scopeAt = 0, false
	q.object(func(key []byte) uint64 {
		switch string(key) {
		case "scope":
			if q.scopeAt {
				q.fail()
				return 0
			}
			q.object(func(key []byte) uint64 {
				switch string(key) {
				case "name":
					if t := q.text(); !q.bad {
						q.scope = q.p.str(view(t))
					}
					return 1
				case "version":
					q.text()
					return 2
				case "attributes":
					q.discard.buf = q.discard.buf[:0]
					q.attributes(&q.discard, nil)
					return 4
				case "droppedAttributesCount":
					q.uint32()
					return 8
				}
				return 0
			})
			return 1
		case "spans":
			q.scopeAt = true
			q.array(q.span)
			return 2
		case "schemaUrl":
			q.text()
			return 4
		}
		return 0
	})
}

func (q *otlpReader) span() {
	p, b := q.p, q.p.b
	at := b.mark()
	var (
		trace            pcommon.TraceID
		id, parent       pcommon.SpanID
		start, end       uint64
		kind, code       int32
		statusMsg        uint32
		attrOff, attrEnd = len(b.buf), len(b.buf)
		events, nEvents  = len(b.events), 0
		links, nLinks    = len(b.links), 0
		maxLen           = p.cfg.maxAttributeLen
	)
	q.newSpan()
	q.object(func(key []byte) uint64 {
		switch string(key) {
		case "traceId":
			q.id(trace[:])
			return 1 << 0
		case "spanId":
			q.id(id[:])
			return 1 << 1
		case "traceState":
			q.text()
			return 1 << 2
		case "parentSpanId":
			q.id(parent[:])
			return 1 << 3
		case "flags":
			q.uint32()
			return 1 << 4
		case "name":
			q.name = append(q.name[:0], q.text()...)
			return 1 << 5
		case "kind":
			kind = q.enum()
			return 1 << 6
		case "startTimeUnixNano":
			start = q.uint64()
			return 1 << 7
		case "endTimeUnixNano":
			end = q.uint64()
			return 1 << 8
		case "attributes":
			e := &p.enc
			e.buf = b.buf
			attrOff = len(e.buf)
			q.attributes(e, q.spanAttr)
			b.buf = e.buf
			attrEnd = len(b.buf)
			return 1 << 9
		case "droppedAttributesCount":
			q.uint32()
			return 1 << 10
		case "events":
			q.array(func() {
				q.event()
				nEvents++
			})
			return 1 << 11
		case "droppedEventsCount":
			q.uint32()
			return 1 << 12
		case "links":
			q.array(func() {
				q.link()
				nLinks++
			})
			return 1 << 13
		case "droppedLinksCount":
			q.uint32()
			return 1 << 14
		case "status":
			q.object(func(key []byte) uint64 {
				switch string(key) {
				case "message":
					if t := q.text(); len(t) > 0 {
						statusMsg = p.str(truncate(view(t), maxLen))
					}
					return 1
				case "code":
					code = q.enum()
					return 2
				}
				return 0
			})
			return 1 << 15
		}
		return 0
	})
	if q.bad {
		return
	}
	q.finishSpan(at, readSpan{trace, id, parent, start, end, kind, code, statusMsg, attrOff, attrEnd, events, nEvents, links, nLinks})
}

// newSpan forgets what the reader held of the span before.
func (q *otlpReader) newSpan() {
	q.name = q.name[:0]
	q.goid, q.tid, q.hasTID, q.tname = 0, 0, false, 0
	for i := range q.picked {
		q.picked[i] = q.picked[i][:0]
	}
}

// spanPicks are the span attributes the converter reads, by position in
// otlpReader.picked.
var spanPicks = [...]string{"http.route", "url.path", "http.target", "url.full"}

// spanAttr reads what the converter takes from a span's attributes, as
// preparer.encodeSpanAttrs does from pdata.
func (q *otlpReader) spanAttr(key []byte, kind pcommon.ValueType, text []byte, n int64) {
	switch string(key) {
	case "thread.id":
		switch kind {
		case pcommon.ValueTypeInt:
			q.tid, q.hasTID = n, true
		case pcommon.ValueTypeStr:
			if v, err := strconv.ParseInt(view(text), 10, 64); err == nil {
				q.tid, q.hasTID = v, true
			}
		}
		return
	case "thread.name":
		if !q.textKind(kind) {
			return
		}
		q.tname = q.p.str(truncate(view(text), 256))
		return
	case goroutineIDKey:
		if kind == pcommon.ValueTypeInt {
			q.goid = n
		}
		return
	}
	for i, k := range spanPicks {
		if string(key) == k {
			if q.textKind(kind) {
				q.picked[i] = append(q.picked[i][:0], text...)
			}
			return
		}
	}
}

// textKind reports whether a value of kind reads as text the way pdata's
// AsString reads it: a string, or an empty value as "". Anything else gives
// up.
func (q *otlpReader) textKind(kind pcommon.ValueType) bool {
	if kind == pcommon.ValueTypeStr || kind == pcommon.ValueTypeEmpty {
		return true
	}
	q.fail()
	return false
}

func (q *otlpReader) event() {
	p, b := q.p, q.p.b
	var ts uint64
	pe := prepEvent{attrOff: len(b.buf), attrEnd: len(b.buf)}
	q.evName = q.evName[:0]
	q.excType, q.excMsg = q.excType[:0], q.excMsg[:0]
	q.object(func(key []byte) uint64 {
		switch string(key) {
		case "timeUnixNano":
			ts = q.uint64()
			return 1
		case "name":
			q.evName = append(q.evName[:0], q.text()...)
			return 2
		case "attributes":
			e := &p.enc
			e.buf = b.buf
			pe.attrOff = len(e.buf)
			q.attributes(e, q.eventAttr)
			b.buf = e.buf
			pe.attrEnd = len(b.buf)
			return 4
		case "droppedAttributesCount":
			q.uint32()
			return 8
		}
		return 0
	})
	if q.bad {
		return
	}
	pe.ts = clampTime(pcommon.Timestamp(ts))
	pe.name = p.str(eventTitle(view(q.evName), view(q.excType), view(q.excMsg)))
	b.events = append(b.events, pe)
}

func (q *otlpReader) eventAttr(key []byte, kind pcommon.ValueType, text []byte, _ int64) {
	switch string(key) {
	case "exception.type":
		if q.textKind(kind) {
			q.excType = append(q.excType[:0], text...)
		}
	case "exception.message":
		if q.textKind(kind) {
			q.excMsg = append(q.excMsg[:0], text...)
		}
	}
}

func (q *otlpReader) link() {
	var l linkRec
	q.object(func(key []byte) uint64 {
		switch string(key) {
		case "traceId":
			q.id(l.trace[:])
			return 1
		case "spanId":
			q.id(l.id[:])
			return 2
		case "traceState":
			q.text()
			return 4
		case "attributes":
			q.discard.buf = q.discard.buf[:0]
			q.attributes(&q.discard, nil)
			return 8
		case "droppedAttributesCount":
			q.uint32()
			return 16
		case "flags":
			q.uint32()
			return 32
		}
		return 0
	})
	q.p.b.links = append(q.p.b.links, l)
}

// attributes reads a list of key-value pairs and appends to e the object
// the output shows for it (nothing for an empty list), as encoder.attrMap
// writes it from pdata. pick, when not nil, sees each pair's key and, for
// a scalar, its kind and value.
func (q *otlpReader) attributes(e *encoder, pick func(key []byte, kind pcommon.ValueType, text []byte, n int64)) {
	start := len(e.buf)
	e.buf = append(e.buf, '{')
	n := q.kvs(e, 1, pick)
	if n == 0 {
		e.buf = e.buf[:start]
		return
	}
	e.buf = append(e.buf, '}')
}

// kvs reads a list of key-value pairs onto e (without the braces), the
// values at depth, and returns how many it read. A key seen twice in the
// list gives up: pdata's map would keep one of them.
func (q *otlpReader) kvs(e *encoder, depth int, pick func([]byte, pcommon.ValueType, []byte, int64)) int {
	n := 0
	mark := len(q.keyEnds)
	keysAt := len(q.keys)
	q.array(func() {
		if !q.eat('{') {
			return
		}
		if string(q.key()) != "key" || !q.eat(':') {
			q.fail()
			return
		}
		k := q.text()
		plain := q.plain
		if q.bad || !q.newKey(k, mark) {
			return
		}
		k = q.keys[q.keyStart(len(q.keyEnds)-1):] // the copy: text's scratch is reused
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		if plain {
			e.plainStr(k)
		} else {
			e.str(view(k))
		}
		e.buf = append(e.buf, ':')
		n++
		switch q.next() {
		case '}':
			q.i++
			e.buf = append(e.buf, "null"...)
			if pick != nil {
				pick(k, pcommon.ValueTypeEmpty, nil, 0)
			}
			return
		case ',':
			q.i++
		default:
			q.fail()
			return
		}
		if string(q.key()) != "value" || !q.eat(':') {
			q.fail()
			return
		}
		kind, text, v := q.value(e, depth)
		if pick != nil && !q.bad {
			pick(k, kind, text, v)
		}
		q.eat('}')
	})
	q.keys, q.keyEnds = q.keys[:keysAt], q.keyEnds[:mark]
	return n
}

func (q *otlpReader) keyStart(i int) int {
	if i == 0 {
		return 0
	}
	return q.keyEnds[i-1]
}

// newKey records k among the keys of the list whose first key is number
// first, giving up if it is there already or the list is too long to check.
func (q *otlpReader) newKey(k []byte, first int) bool {
	if len(q.keyEnds)-first >= maxListKeys {
		q.fail()
		return false
	}
	for i := first; i < len(q.keyEnds); i++ {
		if bytes.Equal(q.keys[q.keyStart(i):q.keyEnds[i]], k) {
			q.fail()
			return false
		}
	}
	q.keys = append(q.keys, k...)
	q.keyEnds = append(q.keyEnds, len(q.keys))
	return true
}

// value reads an AnyValue object of at most one kind and appends its
// output form to e, as encoder.value writes it at depth. It returns the
// kind and, for a string, its content (valid until the next string read)
// and for an int its value.
func (q *otlpReader) value(e *encoder, depth int) (kind pcommon.ValueType, text []byte, n int64) {
	maxLen := q.p.cfg.maxAttributeLen
	kind = pcommon.ValueTypeEmpty
	q.object(func(key []byte) uint64 {
		switch string(key) {
		case "stringValue":
			kind, text = pcommon.ValueTypeStr, q.text()
			if q.plain && (maxLen <= 0 || len(text) <= maxLen) {
				e.plainStr(text)
			} else {
				e.str(truncate(view(text), maxLen))
			}
		case "intValue":
			kind, n = pcommon.ValueTypeInt, q.int64()
			e.int(n)
		case "boolValue":
			kind = pcommon.ValueTypeBool
			e.buf = strconv.AppendBool(e.buf, q.boolean())
		case "arrayValue":
			kind = pcommon.ValueTypeSlice
			if depth >= maxValueDepth {
				q.fail() // shown cut short: pdata's
				return 0
			}
			e.buf = append(e.buf, '[')
			q.object(func(key []byte) uint64 {
				if string(key) != "values" {
					return 0
				}
				first := true
				q.array(func() {
					if !first {
						e.buf = append(e.buf, ',')
					}
					first = false
					q.value(e, depth+1)
				})
				return 1
			})
			e.buf = append(e.buf, ']')
		case "kvlistValue":
			kind = pcommon.ValueTypeMap
			if depth >= maxValueDepth {
				q.fail()
				return 0
			}
			e.buf = append(e.buf, '{')
			q.object(func(key []byte) uint64 {
				if string(key) != "values" {
					return 0
				}
				q.kvs(e, depth+1, nil)
				return 1
			})
			e.buf = append(e.buf, '}')
		default:
			return 0 // doubles, bytes: pdata's own parsing
		}
		return 1 // one kind only: a second key is "repeated"
	})
	if kind == pcommon.ValueTypeEmpty {
		e.buf = append(e.buf, "null"...)
	}
	return kind, text, n
}
