package sdkexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

var (
	tid    = trace.TraceID{0x0a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	sidA   = trace.SpanID{0xa, 1, 1, 1, 1, 1, 1, 1}
	sidB   = trace.SpanID{0xb, 2, 2, 2, 2, 2, 2, 2}
	linked = trace.SpanID{0xc, 3, 3, 3, 3, 3, 3, 3}
	start  = time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
)

func TestSpansToTracesMapsEveryField(t *testing.T) {
	res := resource.NewWithAttributes("https://schema/1", attribute.String("service.name", "shop"), attribute.Int("pid", 42))
	ts, err := trace.ParseTraceState("vendor=x")
	require.NoError(t, err)
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sidA, TraceFlags: trace.FlagsSampled})
	stub := tracetest.SpanStub{
		Name:        "GET /cart",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sidB, TraceFlags: trace.FlagsSampled, TraceState: ts}),
		Parent:      parent,
		SpanKind:    trace.SpanKindServer,
		StartTime:   start,
		EndTime:     start.Add(1500 * time.Microsecond),
		Attributes: []attribute.KeyValue{
			attribute.String("http.route", "/cart"),
			attribute.Bool("ok", true),
			attribute.Int64("n", 7),
			attribute.Float64("f", 1.5),
			attribute.StringSlice("ss", []string{"a", "b"}),
			attribute.Int64Slice("is", []int64{1, 2}),
			attribute.BoolSlice("bs", []bool{true}),
			attribute.Float64Slice("fs", []float64{0.5}),
		},
		Events: []sdktrace.Event{{
			Name:                  "exception",
			Time:                  start.Add(time.Millisecond),
			Attributes:            []attribute.KeyValue{attribute.String("exception.message", "boom")},
			DroppedAttributeCount: 1,
		}},
		Links: []sdktrace.Link{{
			SpanContext:           trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: linked}),
			Attributes:            []attribute.KeyValue{attribute.String("why", "retry")},
			DroppedAttributeCount: 2,
		}},
		Status:               sdktrace.Status{Code: codes.Error, Description: "out of stock"},
		DroppedAttributes:    3,
		DroppedEvents:        4,
		DroppedLinks:         5,
		Resource:             res,
		InstrumentationScope: instrumentation.Scope{Name: "net/http", Version: "1.0", SchemaURL: "https://schema/2", Attributes: attribute.NewSet(attribute.String("k", "v"))},
	}
	td := spansToTraces([]sdktrace.ReadOnlySpan{stub.Snapshot()})

	require.Equal(t, 1, td.ResourceSpans().Len())
	rs := td.ResourceSpans().At(0)
	assert.Equal(t, "https://schema/1", rs.SchemaUrl())
	assert.Equal(t, map[string]any{"service.name": "shop", "pid": int64(42)}, rs.Resource().Attributes().AsRaw())
	ss := rs.ScopeSpans().At(0)
	assert.Equal(t, "net/http", ss.Scope().Name())
	assert.Equal(t, "1.0", ss.Scope().Version())
	assert.Equal(t, "https://schema/2", ss.SchemaUrl())
	assert.Equal(t, map[string]any{"k": "v"}, ss.Scope().Attributes().AsRaw())

	sp := ss.Spans().At(0)
	assert.Equal(t, pcommon.TraceID(tid), sp.TraceID())
	assert.Equal(t, pcommon.SpanID(sidB), sp.SpanID())
	assert.Equal(t, pcommon.SpanID(sidA), sp.ParentSpanID())
	assert.Equal(t, "vendor=x", sp.TraceState().AsRaw())
	assert.Equal(t, uint32(1), sp.Flags())
	assert.Equal(t, "GET /cart", sp.Name())
	assert.Equal(t, ptrace.SpanKindServer, sp.Kind())
	assert.Equal(t, start, sp.StartTimestamp().AsTime())
	assert.Equal(t, start.Add(1500*time.Microsecond), sp.EndTimestamp().AsTime())
	assert.Equal(t, map[string]any{
		"http.route": "/cart", "ok": true, "n": int64(7), "f": 1.5,
		"ss": []any{"a", "b"}, "is": []any{int64(1), int64(2)}, "bs": []any{true}, "fs": []any{0.5},
	}, sp.Attributes().AsRaw())
	assert.Equal(t, ptrace.StatusCodeError, sp.Status().Code())
	assert.Equal(t, "out of stock", sp.Status().Message())
	assert.Equal(t, uint32(3), sp.DroppedAttributesCount())
	assert.Equal(t, uint32(4), sp.DroppedEventsCount())
	assert.Equal(t, uint32(5), sp.DroppedLinksCount())

	require.Equal(t, 1, sp.Events().Len())
	ev := sp.Events().At(0)
	assert.Equal(t, "exception", ev.Name())
	assert.Equal(t, start.Add(time.Millisecond), ev.Timestamp().AsTime())
	assert.Equal(t, map[string]any{"exception.message": "boom"}, ev.Attributes().AsRaw())
	assert.Equal(t, uint32(1), ev.DroppedAttributesCount())

	require.Equal(t, 1, sp.Links().Len())
	l := sp.Links().At(0)
	assert.Equal(t, pcommon.TraceID(tid), l.TraceID())
	assert.Equal(t, pcommon.SpanID(linked), l.SpanID())
	assert.Equal(t, map[string]any{"why": "retry"}, l.Attributes().AsRaw())
	assert.Equal(t, uint32(2), l.DroppedAttributesCount())
}

func TestSpansToTracesGroupsByResourceAndScope(t *testing.T) {
	r1 := resource.NewSchemaless(attribute.String("service.name", "a"))
	r2 := resource.NewSchemaless(attribute.String("service.name", "b"))
	mk := func(r *resource.Resource, scope string, id byte) sdktrace.ReadOnlySpan {
		return tracetest.SpanStub{
			SpanContext:          trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{id}}),
			Resource:             r,
			InstrumentationScope: instrumentation.Scope{Name: scope},
		}.Snapshot()
	}
	td := spansToTraces([]sdktrace.ReadOnlySpan{mk(r1, "x", 1), mk(r2, "x", 2), mk(r1, "y", 3), mk(r1, "x", 4), nil})
	require.Equal(t, 2, td.ResourceSpans().Len())
	assert.Equal(t, 2, td.ResourceSpans().At(0).ScopeSpans().Len())
	assert.Equal(t, 2, td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().Len())
	assert.Equal(t, 4, td.SpanCount())
}

func TestPutValueNested(t *testing.T) {
	m := pcommon.NewMap()
	putAttrs(m, []attribute.KeyValue{
		attribute.Slice("s", attribute.IntValue(1), attribute.StringValue("x")),
		attribute.Map("m", attribute.String("k", "v")),
		attribute.ByteSlice("b", []byte{1, 2}),
		{Key: "e"},
	})
	assert.Equal(t, map[string]any{
		"s": []any{int64(1), "x"},
		"m": map[string]any{"k": "v"},
		"b": []byte{1, 2},
		"e": nil,
	}, m.AsRaw())
}

func TestSpanKinds(t *testing.T) {
	for k, want := range map[trace.SpanKind]ptrace.SpanKind{
		trace.SpanKindUnspecified: ptrace.SpanKindUnspecified,
		trace.SpanKindInternal:    ptrace.SpanKindInternal,
		trace.SpanKindServer:      ptrace.SpanKindServer,
		trace.SpanKindClient:      ptrace.SpanKindClient,
		trace.SpanKindProducer:    ptrace.SpanKindProducer,
		trace.SpanKindConsumer:    ptrace.SpanKindConsumer,
		trace.SpanKind(99):        ptrace.SpanKindUnspecified,
	} {
		assert.Equal(t, want, spanKind(k), "kind %v", k)
	}
}
