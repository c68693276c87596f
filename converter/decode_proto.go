package converter

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// batchBytes bounds the span bytes decoded into pdata at once. A large OTLP
// message is split along its own structure (resource, scope, spans) into
// messages of about this size, so memory holds the input and the compact model
// but never the pdata tree of the whole input.
const batchBytes = 256 << 10

// Field numbers shared by TracesData/ExportTraceServiceRequest (1: resource
// spans), ResourceSpans (2: scope spans) and ScopeSpans (2: spans).
const (
	fieldResourceSpans = 1
	fieldScopeSpans    = 2
	fieldSpans         = 2
)

// protoSplitter decodes one OTLP protobuf message in batches.
type protoSplitter struct {
	add    func(ptrace.Traces)
	direct func(msg []byte) bool // when set, reads a message or batch without pdata, or gives up
	msg    []byte                // reused buffer for the rebuilt batch message
	spanAt [][2]int              // reused: where each span field of a scope lies
	spans  []byte                // reused: the raw span fields of a batch
	dry    bool                  // walking only: flush decodes nothing
}

// decode walks msg's wire format. An error names the byte offset in msg where
// the structure broke, or is pdata's own error for a batch it rejected.
func (p *protoSplitter) decode(msg []byte) error {
	// A small message (as collectors write them: one export request each)
	// holds no pdata tree worth splitting and cannot nest deep enough to
	// matter: pdata decodes it whole. When pdata refuses it, the walk
	// below says where it broke.
	// pdata skips what it does not read unchecked, so the message's
	// structure is walked first (without building batches), or what the
	// converter refuses elsewhere would pass here.
	if len(msg) < deepCheckSize && useFastPaths {
		p.dry = true
		err := p.walk(msg)
		p.dry = false
		if err == nil {
			if p.direct != nil && p.direct(msg) {
				return nil
			}
			if td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(msg); err == nil {
				p.add(td)
				return nil
			}
		}
	}
	return p.walk(msg)
}

// walk splits msg into batches and decodes them; when dry, it only checks
// the structure.
func (p *protoSplitter) walk(msg []byte) error {
	return walkFields(msg, 0, func(num protowire.Number, typ protowire.Type, field, value []byte, off int) error {
		if num != fieldResourceSpans || typ != protowire.BytesType {
			return nil // unknown top-level fields are skipped, as proto requires
		}
		return p.resourceSpans(value, off+len(field)-len(value))
	})
}

func (p *protoSplitter) resourceSpans(rs []byte, base int) error {
	var header []byte // every field but scope_spans, kept raw
	var scopes [][2]int
	err := walkFields(rs, base, func(num protowire.Number, typ protowire.Type, field, value []byte, off int) error {
		if num == fieldScopeSpans && typ == protowire.BytesType {
			start := off - base + len(field) - len(value)
			scopes = append(scopes, [2]int{start, start + len(value)})
			return nil
		}
		if num == 1 && typ == protowire.BytesType && len(value) >= deepCheckSize {
			if err := checkAttrsIn(value, 1); err != nil { // Resource.attributes
				return fmt.Errorf("at byte %d: resource: %w", off, err)
			}
		}
		header = append(header, field...)
		return nil
	})
	if err != nil {
		return err
	}
	if len(scopes) == 0 {
		return p.flush(header, nil, nil)
	}
	for _, s := range scopes {
		if err := p.scopeSpans(header, rs[s[0]:s[1]], base+s[0]); err != nil {
			return err
		}
	}
	return nil
}

func (p *protoSplitter) scopeSpans(rsHeader, ss []byte, base int) error {
	// The scope and schema URL go into every batch, so they are gathered
	// before any batch is cut: writers put fields in any order (pdata writes
	// ScopeSpans' fields last to first, the scope after all its spans).
	var header []byte
	p.spanAt = p.spanAt[:0]
	err := walkFields(ss, base, func(num protowire.Number, typ protowire.Type, field, value []byte, off int) error {
		if num == fieldSpans && typ == protowire.BytesType {
			if len(value) >= deepCheckSize {
				if err := checkSpanNesting(value); err != nil {
					return fmt.Errorf("at byte %d: span: %w", off, err)
				}
			}
			start := off - base
			p.spanAt = append(p.spanAt, [2]int{start, start + len(field)})
			return nil
		}
		if num == 1 && typ == protowire.BytesType && len(value) >= deepCheckSize {
			if err := checkAttrsIn(value, 3); err != nil { // InstrumentationScope.attributes
				return fmt.Errorf("at byte %d: scope: %w", off, err)
			}
		}
		header = append(header, field...)
		return nil
	})
	if err != nil || p.dry {
		return err
	}
	spans := p.spans[:0] // raw span fields of the current batch
	defer func() { p.spans = spans[:0] }()
	for _, at := range p.spanAt {
		spans = append(spans, ss[at[0]:at[1]]...)
		if len(spans) >= batchBytes {
			if err := p.flush(rsHeader, header, spans); err != nil {
				return err
			}
			spans = spans[:0]
		}
	}
	if len(spans) == 0 && len(p.spanAt) > 0 {
		return nil // the last batch was flushed in the loop
	}
	return p.flush(rsHeader, header, spans)
}

// flush rebuilds a TracesData holding one resource, one scope and some spans,
// and reads it straight into a batch, or decodes it with pdata when the
// direct reader gives up (or there is none).
func (p *protoSplitter) flush(rsHeader, ssHeader, spans []byte) error {
	if p.dry {
		return nil
	}
	if ssHeader == nil && spans == nil && rsHeader == nil {
		return nil
	}
	ssLen := len(ssHeader) + len(spans)
	rsLen := len(rsHeader)
	if ssHeader != nil || spans != nil {
		rsLen += protowire.SizeTag(fieldScopeSpans) + protowire.SizeBytes(ssLen)
	}
	m := p.msg[:0]
	m = protowire.AppendTag(m, fieldResourceSpans, protowire.BytesType)
	m = protowire.AppendVarint(m, uint64(rsLen))
	m = append(m, rsHeader...)
	if ssHeader != nil || spans != nil {
		m = protowire.AppendTag(m, fieldScopeSpans, protowire.BytesType)
		m = protowire.AppendVarint(m, uint64(ssLen))
		m = append(m, ssHeader...)
		m = append(m, spans...)
	}
	p.msg = m
	if p.direct != nil && useFastPaths && p.direct(m) {
		return nil
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(m)
	if err != nil {
		return err
	}
	p.add(td)
	return nil
}

// Attribute values nest (arrays of arrays, maps of maps), and pdata decodes
// them recursively: a few megabytes of nesting overflow the goroutine stack,
// which no recover can catch. Spans that big are checked first; smaller ones
// cannot nest deep enough to matter.
const (
	deepCheckSize = 64 << 10
	maxNesting    = 64
)

// Field numbers on the way to attribute values.
const (
	spanAttributes  = 9  // Span.attributes: KeyValue
	spanEvents      = 11 // Span.events: Event
	spanLinks       = 13 // Span.links: Link
	eventAttributes = 3  // Event.attributes
	linkAttributes  = 5  // Link.attributes
	kvValue         = 2  // KeyValue.value: AnyValue
	anyArray        = 5  // AnyValue.array_value: ArrayValue{values: AnyValue}
	anyKvlist       = 6  // AnyValue.kvlist_value: KeyValueList{values: KeyValue}
	listValues      = 1  // ArrayValue.values, KeyValueList.values
)

// checkSpanNesting returns an error when an attribute value of the span (or
// of its events or links) nests deeper than maxNesting.
func checkSpanNesting(span []byte) error {
	return walkFields(span, 0, func(num protowire.Number, typ protowire.Type, _, value []byte, _ int) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case spanAttributes:
			return checkKV(value, 0)
		case spanEvents, spanLinks:
			attrs := protowire.Number(eventAttributes)
			if num == spanLinks {
				attrs = linkAttributes
			}
			return walkFields(value, 0, func(n protowire.Number, t protowire.Type, _, v []byte, _ int) error {
				if n == attrs && t == protowire.BytesType {
					return checkKV(v, 0)
				}
				return nil
			})
		}
		return nil
	})
}

// checkAttrsIn checks the attributes (KeyValue fields numbered attrs) of a
// resource or scope message.
func checkAttrsIn(msg []byte, attrs protowire.Number) error {
	return walkFields(msg, 0, func(n protowire.Number, t protowire.Type, _, v []byte, _ int) error {
		if n == attrs && t == protowire.BytesType {
			return checkKV(v, 0)
		}
		return nil
	})
}

func checkKV(kv []byte, depth int) error {
	return walkFields(kv, 0, func(num protowire.Number, typ protowire.Type, _, value []byte, _ int) error {
		if num == kvValue && typ == protowire.BytesType {
			return checkAny(value, depth)
		}
		return nil
	})
}

func checkAny(av []byte, depth int) error {
	if depth >= maxNesting {
		return fmt.Errorf("attribute value nested more than %d levels deep", maxNesting)
	}
	return walkFields(av, 0, func(num protowire.Number, typ protowire.Type, _, value []byte, _ int) error {
		if typ != protowire.BytesType || (num != anyArray && num != anyKvlist) {
			return nil
		}
		return walkFields(value, 0, func(n protowire.Number, t protowire.Type, _, v []byte, _ int) error {
			if n != listValues || t != protowire.BytesType {
				return nil
			}
			if num == anyArray {
				return checkAny(v, depth+1)
			}
			return checkKV(v, depth+1)
		})
	})
}

// walkFields calls fn for every field of msg with its raw bytes (tag included)
// and, for length-delimited fields, its value. base is msg's offset in the
// input, for error messages.
func walkFields(msg []byte, base int, fn func(num protowire.Number, typ protowire.Type, field, value []byte, off int) error) error {
	for off := 0; off < len(msg); {
		num, typ, n := protowire.ConsumeTag(msg[off:])
		if n < 0 {
			return fmt.Errorf("at byte %d: bad field tag: %w", base+off, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[off+n:])
		if m < 0 {
			return fmt.Errorf("at byte %d: field %d: %w", base+off, num, protowire.ParseError(m))
		}
		field := msg[off : off+n+m]
		var value []byte
		if typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(msg[off+n:])
			if k < 0 {
				return fmt.Errorf("at byte %d: field %d: %w", base+off, num, protowire.ParseError(k))
			}
			value = v
		}
		if err := fn(num, typ, field, value, base+off); err != nil {
			return err
		}
		off += n + m
	}
	return nil
}
