package sdkexporter

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spansToTraces maps SDK spans to OTLP, grouped by resource and scope as the
// OTLP exporter does, so that the converter sees what a collector would.
func spansToTraces(spans []sdktrace.ReadOnlySpan) ptrace.Traces {
	td := ptrace.NewTraces()
	type scopeKey struct {
		res   *resource.Resource
		scope instrumentation.Scope
	}
	rsByRes := map[*resource.Resource]ptrace.ResourceSpans{}
	ssByKey := map[scopeKey]ptrace.ScopeSpans{}
	for _, s := range spans {
		if s == nil {
			continue
		}
		res := s.Resource()
		rs, ok := rsByRes[res]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			if res != nil {
				rs.SetSchemaUrl(res.SchemaURL())
				putAttrs(rs.Resource().Attributes(), res.Attributes())
			}
			rsByRes[res] = rs
		}
		scope := s.InstrumentationScope()
		// Scope attributes are a set with no comparable identity; key on the
		// encoded form so equal scopes share one ScopeSpans.
		key := scopeKey{res: res, scope: instrumentation.Scope{Name: scope.Name, Version: scope.Version, SchemaURL: scope.SchemaURL + "\x00" + scope.Attributes.Encoded(attribute.DefaultEncoder())}}
		ss, ok := ssByKey[key]
		if !ok {
			ss = rs.ScopeSpans().AppendEmpty()
			ss.SetSchemaUrl(scope.SchemaURL)
			ss.Scope().SetName(scope.Name)
			ss.Scope().SetVersion(scope.Version)
			putAttrs(ss.Scope().Attributes(), scope.Attributes.ToSlice())
			ssByKey[key] = ss
		}
		putSpan(ss.Spans().AppendEmpty(), s)
	}
	return td
}

func putSpan(dst ptrace.Span, s sdktrace.ReadOnlySpan) {
	sc := s.SpanContext()
	dst.SetTraceID(pcommon.TraceID(sc.TraceID()))
	dst.SetSpanID(pcommon.SpanID(sc.SpanID()))
	dst.TraceState().FromRaw(sc.TraceState().String())
	dst.SetFlags(uint32(sc.TraceFlags()))
	if p := s.Parent(); p.SpanID().IsValid() {
		dst.SetParentSpanID(pcommon.SpanID(p.SpanID()))
	}
	dst.SetName(s.Name())
	dst.SetKind(spanKind(s.SpanKind()))
	dst.SetStartTimestamp(pcommon.NewTimestampFromTime(s.StartTime()))
	dst.SetEndTimestamp(pcommon.NewTimestampFromTime(s.EndTime()))
	putAttrs(dst.Attributes(), s.Attributes())
	dst.SetDroppedAttributesCount(uint32(max(s.DroppedAttributes(), 0)))

	st := s.Status()
	dst.Status().SetMessage(st.Description)
	switch st.Code {
	case codes.Ok:
		dst.Status().SetCode(ptrace.StatusCodeOk)
	case codes.Error:
		dst.Status().SetCode(ptrace.StatusCodeError)
	default:
		dst.Status().SetCode(ptrace.StatusCodeUnset)
	}

	for _, ev := range s.Events() {
		e := dst.Events().AppendEmpty()
		e.SetName(ev.Name)
		e.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
		putAttrs(e.Attributes(), ev.Attributes)
		e.SetDroppedAttributesCount(uint32(max(ev.DroppedAttributeCount, 0)))
	}
	dst.SetDroppedEventsCount(uint32(max(s.DroppedEvents(), 0)))

	for _, l := range s.Links() {
		dl := dst.Links().AppendEmpty()
		dl.SetTraceID(pcommon.TraceID(l.SpanContext.TraceID()))
		dl.SetSpanID(pcommon.SpanID(l.SpanContext.SpanID()))
		dl.TraceState().FromRaw(l.SpanContext.TraceState().String())
		dl.SetFlags(uint32(l.SpanContext.TraceFlags()))
		putAttrs(dl.Attributes(), l.Attributes)
		dl.SetDroppedAttributesCount(uint32(max(l.DroppedAttributeCount, 0)))
	}
	dst.SetDroppedLinksCount(uint32(max(s.DroppedLinks(), 0)))
}

// spanKind maps explicitly: the numbering of trace.SpanKind is not OTLP's by
// contract, even where the values happen to agree.
func spanKind(k trace.SpanKind) ptrace.SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return ptrace.SpanKindInternal
	case trace.SpanKindServer:
		return ptrace.SpanKindServer
	case trace.SpanKindClient:
		return ptrace.SpanKindClient
	case trace.SpanKindProducer:
		return ptrace.SpanKindProducer
	case trace.SpanKindConsumer:
		return ptrace.SpanKindConsumer
	default:
		return ptrace.SpanKindUnspecified
	}
}

func putAttrs(dst pcommon.Map, kvs []attribute.KeyValue) {
	dst.EnsureCapacity(len(kvs))
	for _, kv := range kvs {
		putValue(dst.PutEmpty(string(kv.Key)), kv.Value)
	}
}

func putValue(dst pcommon.Value, v attribute.Value) {
	switch v.Type() {
	case attribute.BOOL:
		dst.SetBool(v.AsBool())
	case attribute.INT64:
		dst.SetInt(v.AsInt64())
	case attribute.FLOAT64:
		dst.SetDouble(v.AsFloat64())
	case attribute.STRING:
		dst.SetStr(v.AsString())
	case attribute.BOOLSLICE:
		s := dst.SetEmptySlice()
		for _, b := range v.AsBoolSlice() {
			s.AppendEmpty().SetBool(b)
		}
	case attribute.INT64SLICE:
		s := dst.SetEmptySlice()
		for _, n := range v.AsInt64Slice() {
			s.AppendEmpty().SetInt(n)
		}
	case attribute.FLOAT64SLICE:
		s := dst.SetEmptySlice()
		for _, f := range v.AsFloat64Slice() {
			s.AppendEmpty().SetDouble(f)
		}
	case attribute.STRINGSLICE:
		s := dst.SetEmptySlice()
		for _, str := range v.AsStringSlice() {
			s.AppendEmpty().SetStr(str)
		}
	case attribute.BYTESLICE:
		dst.SetEmptyBytes().FromRaw(v.AsByteSlice())
	case attribute.SLICE:
		s := dst.SetEmptySlice()
		for _, e := range v.AsSlice() {
			putValue(s.AppendEmpty(), e)
		}
	case attribute.MAP:
		m := dst.SetEmptyMap()
		for _, kv := range v.AsMap() {
			putValue(m.PutEmpty(string(kv.Key)), kv.Value)
		}
	default:
		// EMPTY: leave the value empty, as OTLP represents it.
	}
}
