package sdkexporter

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkSpansToTraces measures mapping a batch of 512 SDK spans (the
// batcher's default batch) to OTLP, the exporter's own cost per span.
func BenchmarkSpansToTraces(b *testing.B) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "bench"))))
	tr := tp.Tracer("bench")
	ctx, root := tr.Start(context.Background(), "root")
	for i := range 511 {
		_, s := tr.Start(ctx, "child", trace.WithAttributes(attribute.Int("i", i), attribute.String("http.route", "/x")))
		s.AddEvent("e")
		s.End()
	}
	root.End()
	spans := rec.Ended()
	b.ReportAllocs()
	for b.Loop() {
		if spansToTraces(spans).SpanCount() != len(spans) {
			b.Fatal("lost spans")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(spans)), "ns/span")
}
