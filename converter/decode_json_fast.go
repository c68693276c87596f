package converter

import (
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// fastOTLPJSON reads an OTLP JSON document of the shape OTLP writers produce
// (pdata, the collector's file exporter, the SDKs' OTLP/HTTP JSON) straight
// into pdata, about twice as fast as pdata's own decoder. Whenever the
// document strays from that shape — a key it does not know or knows under
// its snake_case name, null, a double or bytes value, a string escape beyond
// the common ones, a repeated key, a syntax error — it gives up (ok false)
// and the caller reads the document with pdata's decoder, so what is decoded
// and every error are pdata's own. TestFastJSONMatchesPdata holds the two
// to the same result on every test input and the fuzzers' corpus.
func fastOTLPJSON(doc []byte) (td ptrace.Traces, ok bool) {
	p := fastJSON{b: doc}
	td = ptrace.NewTraces()
	p.document(td)
	p.ws()
	if p.bad || p.i != len(p.b) {
		return ptrace.Traces{}, false
	}
	return td, true
}

// fastJSON is the reader's state: the document, the position, and whether
// it gave up.
type fastJSON struct {
	b     []byte
	i     int
	bad   bool
	buf   []byte // for strings with escapes
	depth int    // of nested values
	// plain tells that the last string text read was printable ASCII
	// without escapes: JSON writes it as it stands.
	plain bool
}

func (p *fastJSON) fail() { p.bad = true }

func (p *fastJSON) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte without consuming it.
func (p *fastJSON) next() byte {
	p.ws()
	if p.i >= len(p.b) {
		p.fail()
		return 0
	}
	return p.b[p.i]
}

func (p *fastJSON) eat(c byte) bool {
	if p.next() != c {
		p.fail()
		return false
	}
	p.i++
	return true
}

// object reads an object, calling field for each key with the reader at the
// value; field must read the value or fail. Each key may appear once: seen
// holds the bits field returns for the keys met so far.
func (p *fastJSON) object(field func(key []byte) uint64) {
	if !p.eat('{') {
		return
	}
	if p.next() == '}' {
		p.i++
		return
	}
	var seen uint64
	for !p.bad {
		key := p.key()
		if p.bad || !p.eat(':') {
			return
		}
		bit := field(key)
		if bit == 0 || seen&bit != 0 {
			p.fail() // unknown or repeated
			return
		}
		seen |= bit
		switch p.next() {
		case ',':
			p.i++
		case '}':
			p.i++
			return
		default:
			p.fail()
		}
	}
}

// array reads an array, calling elem with the reader at each element.
func (p *fastJSON) array(elem func()) {
	if !p.eat('[') {
		return
	}
	if p.next() == ']' {
		p.i++
		return
	}
	for !p.bad {
		elem()
		switch p.next() {
		case ',':
			p.i++
		case ']':
			p.i++
			return
		default:
			p.fail()
		}
	}
}

// key reads an object key without escapes, as a view of the document.
func (p *fastJSON) key() []byte {
	if !p.eat('"') {
		return nil
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			p.i++
			return p.b[start : p.i-1]
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	p.fail()
	return nil
}

// str reads a string: valid UTF-8, no raw control characters, escapes
// other than \uD800-\uDFFF (surrogates, which decoders treat differently).
func (p *fastJSON) str() string {
	b := p.text()
	if p.bad {
		return ""
	}
	return string(b)
}

// text reads a string as str does and returns its content: a view of the
// document, or of the reader's scratch when it has escapes (valid until the
// next string with escapes).
func (p *fastJSON) text() []byte {
	p.plain = false
	if !p.eat('"') {
		return nil
	}
	start := p.i
	ascii := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				p.fail()
				return nil
			}
			p.plain = ascii
			return s
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			p.fail()
			return nil
		case c >= 0x80:
			ascii = false
		}
		p.i++
	}
	p.fail()
	return nil
}

// escaped finishes a string that began at start and has an escape at p.i.
func (p *fastJSON) escaped(start int) []byte {
	buf := append(p.buf[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			p.buf = buf
			if !utf8.Valid(buf) {
				p.fail()
				return nil
			}
			return buf
		case c < 0x20:
			p.fail()
			return nil
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			break
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if p.i+4 > len(p.b) {
				p.fail()
				return nil
			}
			var r rune
			for _, h := range p.b[p.i : p.i+4] {
				v := hexVal(h)
				if v < 0 {
					p.fail()
					return nil
				}
				r = r<<4 | rune(v)
			}
			if r >= 0xd800 && r < 0xe000 {
				p.fail()
				return nil
			}
			p.i += 4
			buf = utf8.AppendRune(buf, r)
		default:
			p.fail()
			return nil
		}
	}
	p.fail()
	return nil
}

func hexVal(c byte) int { return int(hexVals[c]) }

// hexVals maps a byte to its value as a hex digit, or -1.
var hexVals = func() (t [256]int8) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9':
			t[c] = int8(c - '0')
		case c >= 'a' && c <= 'f':
			t[c] = int8(c-'a') + 10
		case c >= 'A' && c <= 'F':
			t[c] = int8(c-'A') + 10
		default:
			t[c] = -1
		}
	}
	return t
}()

// digits reads an unsigned decimal integer, bare or quoted as OTLP JSON
// writes 64-bit ones, no larger than limit.
func (p *fastJSON) digits(limit uint64) uint64 {
	quoted := p.next() == '"'
	if quoted {
		p.i++
	}
	v := p.unsigned(limit)
	if quoted {
		p.closeQuote()
	}
	return v
}

// closeQuote reads the quote that ends a quoted integer: right after the
// digits, as pdata refuses "1 " (eat would skip the white space).
func (p *fastJSON) closeQuote() bool {
	if p.i < len(p.b) && p.b[p.i] == '"' {
		p.i++
		return true
	}
	p.fail()
	return false
}

// unsigned reads the digits of an integer no larger than limit: no sign,
// no leading zero, no fraction or exponent.
func (p *fastJSON) unsigned(limit uint64) uint64 {
	start := p.i
	var v uint64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		d := uint64(p.b[p.i] - '0')
		if v > (limit-d)/10 {
			p.fail()
			return 0
		}
		v = v*10 + d
		p.i++
	}
	if n := p.i - start; n == 0 || n > 1 && p.b[start] == '0' {
		p.fail()
		return 0
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			p.fail()
		}
	}
	return v
}

func (p *fastJSON) uint64() uint64 { return p.digits(1<<64 - 1) }

func (p *fastJSON) uint32() uint32 { return uint32(p.digits(1<<32 - 1)) }

// int64 reads a signed 64-bit integer, bare or quoted.
func (p *fastJSON) int64() int64 {
	quoted := p.next() == '"'
	if quoted {
		p.i++
	}
	neg := p.i < len(p.b) && p.b[p.i] == '-'
	if neg {
		p.i++
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	v := p.unsigned(limit)
	if quoted && !p.closeQuote() {
		return 0
	}
	if neg {
		return -int64(v)
	}
	return int64(v)
}

// enum reads a bare integer in int32's range (OTLP enums as numbers).
func (p *fastJSON) enum() int32 {
	if p.next() == '"' {
		p.fail() // an enum by name
		return 0
	}
	return int32(p.digits(1<<31 - 1))
}

func (p *fastJSON) boolean() bool {
	p.ws()
	switch {
	case hasPrefixAt(p.b, p.i, "true"):
		p.i += 4
		return true
	case hasPrefixAt(p.b, p.i, "false"):
		p.i += 5
		return false
	}
	p.fail()
	return false
}

func hasPrefixAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// id reads a hex ID of len(dst) bytes, or "" for none.
func (p *fastJSON) id(dst []byte) {
	if !p.eat('"') {
		return
	}
	if p.i < len(p.b) && p.b[p.i] == '"' {
		p.i++
		return
	}
	if p.i+2*len(dst) >= len(p.b) || p.b[p.i+2*len(dst)] != '"' {
		p.fail()
		return
	}
	for k := range dst {
		hi, lo := hexVal(p.b[p.i+2*k]), hexVal(p.b[p.i+2*k+1])
		if hi < 0 || lo < 0 {
			p.fail()
			return
		}
		dst[k] = byte(hi<<4 | lo)
	}
	p.i += 2*len(dst) + 1
}

func (p *fastJSON) traceID() pcommon.TraceID {
	var id pcommon.TraceID
	p.id(id[:])
	return id
}

func (p *fastJSON) spanID() pcommon.SpanID {
	var id pcommon.SpanID
	p.id(id[:])
	return id
}

func (p *fastJSON) document(td ptrace.Traces) {
	p.object(func(key []byte) uint64 {
		if string(key) != "resourceSpans" {
			return 0
		}
		p.array(func() { p.resourceSpans(td.ResourceSpans().AppendEmpty()) })
		return 1
	})
}

func (p *fastJSON) resourceSpans(rs ptrace.ResourceSpans) {
	p.object(func(key []byte) uint64 {
		switch string(key) {
		case "resource":
			p.object(func(key []byte) uint64 {
				switch string(key) {
				case "attributes":
					p.attributes(rs.Resource().Attributes())
					return 1
				case "droppedAttributesCount":
					rs.Resource().SetDroppedAttributesCount(p.uint32())
					return 2
				}
				return 0
			})
			return 1
		case "scopeSpans":
			p.array(func() { p.scopeSpans(rs.ScopeSpans().AppendEmpty()) })
			return 2
		case "schemaUrl":
			rs.SetSchemaUrl(p.str())
			return 4
		}
		return 0
	})
}

func (p *fastJSON) scopeSpans(ss ptrace.ScopeSpans) {
	p.object(func(key []byte) uint64 {
		switch string(key) {
		case "scope":
			sc := ss.Scope()
			p.object(func(key []byte) uint64 {
				switch string(key) {
				case "name":
					sc.SetName(p.str())
					return 1
				case "version":
					sc.SetVersion(p.str())
					return 2
				case "attributes":
					p.attributes(sc.Attributes())
					return 4
				case "droppedAttributesCount":
					sc.SetDroppedAttributesCount(p.uint32())
					return 8
				}
				return 0
			})
			return 1
		case "spans":
			p.array(func() { p.span(ss.Spans().AppendEmpty()) })
			return 2
		case "schemaUrl":
			ss.SetSchemaUrl(p.str())
			return 4
		}
		return 0
	})
}

func (p *fastJSON) span(sp ptrace.Span) {
	p.object(func(key []byte) uint64 {
		switch string(key) {
		case "traceId":
			sp.SetTraceID(p.traceID())
			return 1 << 0
		case "spanId":
			sp.SetSpanID(p.spanID())
			return 1 << 1
		case "traceState":
			sp.TraceState().FromRaw(p.str())
			return 1 << 2
		case "parentSpanId":
			sp.SetParentSpanID(p.spanID())
			return 1 << 3
		case "flags":
			sp.SetFlags(p.uint32())
			return 1 << 4
		case "name":
			sp.SetName(p.str())
			return 1 << 5
		case "kind":
			sp.SetKind(ptrace.SpanKind(p.enum()))
			return 1 << 6
		case "startTimeUnixNano":
			sp.SetStartTimestamp(pcommon.Timestamp(p.uint64()))
			return 1 << 7
		case "endTimeUnixNano":
			sp.SetEndTimestamp(pcommon.Timestamp(p.uint64()))
			return 1 << 8
		case "attributes":
			p.attributes(sp.Attributes())
			return 1 << 9
		case "droppedAttributesCount":
			sp.SetDroppedAttributesCount(p.uint32())
			return 1 << 10
		case "events":
			p.array(func() { p.event(sp.Events().AppendEmpty()) })
			return 1 << 11
		case "droppedEventsCount":
			sp.SetDroppedEventsCount(p.uint32())
			return 1 << 12
		case "links":
			p.array(func() { p.link(sp.Links().AppendEmpty()) })
			return 1 << 13
		case "droppedLinksCount":
			sp.SetDroppedLinksCount(p.uint32())
			return 1 << 14
		case "status":
			st := sp.Status()
			p.object(func(key []byte) uint64 {
				switch string(key) {
				case "message":
					st.SetMessage(p.str())
					return 1
				case "code":
					st.SetCode(ptrace.StatusCode(p.enum()))
					return 2
				}
				return 0
			})
			return 1 << 15
		}
		return 0
	})
}

func (p *fastJSON) event(e ptrace.SpanEvent) {
	p.object(func(key []byte) uint64 {
		switch string(key) {
		case "timeUnixNano":
			e.SetTimestamp(pcommon.Timestamp(p.uint64()))
			return 1
		case "name":
			e.SetName(p.str())
			return 2
		case "attributes":
			p.attributes(e.Attributes())
			return 4
		case "droppedAttributesCount":
			e.SetDroppedAttributesCount(p.uint32())
			return 8
		}
		return 0
	})
}

func (p *fastJSON) link(l ptrace.SpanLink) {
	p.object(func(key []byte) uint64 {
		switch string(key) {
		case "traceId":
			l.SetTraceID(p.traceID())
			return 1
		case "spanId":
			l.SetSpanID(p.spanID())
			return 2
		case "traceState":
			l.TraceState().FromRaw(p.str())
			return 4
		case "attributes":
			p.attributes(l.Attributes())
			return 8
		case "droppedAttributesCount":
			l.SetDroppedAttributesCount(p.uint32())
			return 16
		case "flags":
			l.SetFlags(p.uint32())
			return 32
		}
		return 0
	})
}

// attributes reads a list of key-value pairs into m. pdata keeps a repeated
// key twice; a map cannot, so a repeated key gives up.
func (p *fastJSON) attributes(m pcommon.Map) {
	n := 0
	p.array(func() {
		n++
		p.keyValue(m)
	})
	if m.Len() != n {
		p.fail()
	}
}

// keyValue reads {"key": K, "value": V}, key first, as OTLP writers order it.
func (p *fastJSON) keyValue(m pcommon.Map) {
	if !p.eat('{') {
		return
	}
	if string(p.key()) != "key" || !p.eat(':') {
		p.fail()
		return
	}
	k := p.str()
	switch p.next() {
	case '}':
		p.i++
		m.PutEmpty(k)
		return
	case ',':
		p.i++
	default:
		p.fail()
		return
	}
	if string(p.key()) != "value" || !p.eat(':') {
		p.fail()
		return
	}
	p.value(m.PutEmpty(k))
	p.eat('}')
}

// maxFastDepth bounds nested array and kvlist values; deeper ones are left
// to pdata's decoder and the converter's limits on it.
const maxFastDepth = 32

// value reads an AnyValue object of at most one kind into v.
func (p *fastJSON) value(v pcommon.Value) {
	if p.depth++; p.depth > maxFastDepth {
		p.fail()
		return
	}
	defer func() { p.depth-- }()
	p.object(func(key []byte) uint64 {
		switch string(key) {
		case "stringValue":
			v.SetStr(p.str())
		case "intValue":
			v.SetInt(p.int64())
		case "boolValue":
			v.SetBool(p.boolean())
		case "arrayValue":
			s := v.SetEmptySlice()
			p.object(func(key []byte) uint64 {
				if string(key) != "values" {
					return 0
				}
				p.array(func() { p.value(s.AppendEmpty()) })
				return 1
			})
		case "kvlistValue":
			m := v.SetEmptyMap()
			p.object(func(key []byte) uint64 {
				if string(key) != "values" {
					return 0
				}
				p.attributes(m)
				return 1
			})
		default:
			return 0 // doubles, bytes: pdata's own parsing
		}
		return 1 // one kind only: a second key is "repeated"
	})
}
