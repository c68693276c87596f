package sdkhook_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// newProvider returns a provider whose spans go through sdkhook into a recorder.
func newProvider(t testing.TB, opts ...sdkhook.Option) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdkhook.NewProcessor(sr, opts...)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("test"), sr
}

// request runs fn inside a SERVER span, as otelhttp would.
func request(tr trace.Tracer, name string, fn func(ctx context.Context)) trace.SpanContext {
	ctx, span := tr.Start(context.Background(), name, trace.WithSpanKind(trace.SpanKindServer))
	fn(ctx)
	span.End()
	return span.SpanContext()
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func byName(spans []sdktrace.ReadOnlySpan) map[string]sdktrace.ReadOnlySpan {
	m := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		m[s.Name()] = s
	}
	return m
}

// checkSpans is the one invariant checker for emitted function spans: same
// trace as their request, parent known, within their parent in time when on
// the same lane, and properly nested per thread.id.
func checkSpans(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if _, dup := byID[s.SpanContext().SpanID()]; dup {
			t.Errorf("duplicate span ID %s", s.SpanContext().SpanID())
		}
		byID[s.SpanContext().SpanID()] = s
	}
	requests := map[trace.TraceID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			requests[s.SpanContext().TraceID()] = s
		}
	}
	lanes := map[int64][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.InstrumentationScope().Name != sdkhook.ScopeName {
			continue
		}
		if req, ok := requests[s.SpanContext().TraceID()]; ok && (s.StartTime().Before(req.StartTime()) || s.EndTime().After(req.EndTime())) {
			t.Errorf("%s [%v,%v] outside its request [%v,%v]", s.Name(), s.StartTime(), s.EndTime(), req.StartTime(), req.EndTime())
		}
		p, ok := byID[s.Parent().SpanID()]
		if !ok {
			t.Errorf("%s: parent %s not emitted", s.Name(), s.Parent().SpanID())
			continue
		}
		if p.SpanContext().TraceID() != s.SpanContext().TraceID() {
			t.Errorf("%s: trace %s, parent's %s", s.Name(), s.SpanContext().TraceID(), p.SpanContext().TraceID())
		}
		if s.EndTime().Before(s.StartTime()) {
			t.Errorf("%s ends before it starts", s.Name())
		}
		tid, ok := attr(s, "thread.id")
		if !ok || tid.AsInt64() <= 0 {
			t.Errorf("%s: thread.id %v", s.Name(), tid.String())
			continue
		}
		if _, ok := attr(s, "thread.name"); !ok {
			t.Errorf("%s: no thread.name", s.Name())
		}
		if ptid, ok := attr(p, "thread.id"); ok && ptid.AsInt64() == tid.AsInt64() {
			if s.StartTime().Before(p.StartTime()) || s.EndTime().After(p.EndTime()) {
				t.Errorf("%s [%v,%v] outside parent %s [%v,%v] on one lane", s.Name(), s.StartTime(), s.EndTime(), p.Name(), p.StartTime(), p.EndTime())
			}
		}
		lanes[tid.AsInt64()] = append(lanes[tid.AsInt64()], s)
	}
	for tid, ls := range lanes {
		sort.Slice(ls, func(a, b int) bool {
			if !ls[a].StartTime().Equal(ls[b].StartTime()) {
				return ls[a].StartTime().Before(ls[b].StartTime())
			}
			return ls[a].EndTime().After(ls[b].EndTime())
		})
		var ends []time.Time
		for _, s := range ls {
			for len(ends) > 0 && !ends[len(ends)-1].After(s.StartTime()) {
				ends = ends[:len(ends)-1]
			}
			if len(ends) > 0 && s.EndTime().After(ends[len(ends)-1]) {
				t.Errorf("thread %d: %s overlaps an enclosing call partially", tid, s.Name())
			}
			ends = append(ends, s.EndTime())
		}
	}
}

func waitNoLeaks(t *testing.T) {
	t.Helper()
	if n := sdkhook.LiveRecorders(); n != 0 {
		t.Errorf("%d recorders not returned to the pool", n)
	}
	if n := sdkhook.ActiveRequests(); n != 0 {
		t.Errorf("%d requests still registered", n)
	}
}

func attributeKey(s string) attribute.Key { return attribute.Key(s) }
