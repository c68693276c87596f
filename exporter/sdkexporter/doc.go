// Package sdkexporter is an OpenTelemetry Go SDK SpanExporter that writes the
// spans of a Go program as Chrome Trace Event files for Perfetto UI and chrome://tracing.
//
// It maps each sdktrace.ReadOnlySpan to OTLP (ptrace) and hands it to the
// otel2chrome converter, so the layout is the same as the CLI's and the
// collector exporter's. Files are written atomically (temporary file, sync,
// rename): a file is complete or absent.
//
//	exp, err := sdkexporter.New(sdkexporter.WithDirectory("traces"))
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
//	defer tp.Shutdown(ctx) // writes what is still held
package sdkexporter // import "github.com/otel2chrome/otel2chrome/exporter/sdkexporter"
