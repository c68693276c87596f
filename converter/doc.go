// Package converter turns OpenTelemetry trace data (OTLP protobuf or JSON, Jaeger JSON)
// into Chrome Trace Event JSON that Perfetto UI and chrome://tracing open as one timeline.
//
// Data flows one way: decode (decode_*.go; OTLP JSON and OTLP protobuf are read
// straight into prepared batches by prepare*.go, the rest through pdata and prepared
// after) -> model (model.go) -> layout (layout.go) -> encode (encode_chrome.go). A [Converter] collects spans from any number of
// inputs and writes them as one deterministic timeline:
//
//	c := converter.New(converter.WithMinDuration(time.Millisecond))
//	if err := c.Decode("trace.otlp", f); err != nil { ... }
//	stats, err := c.Encode(os.Stdout)
//
// A Go execution trace among the inputs (runtime/trace, or sdkhook's flight-recorder
// snapshots; read by package gotrace) is drawn beside the spans of the process it
// recorded: goroutine states, GC and stop-the-world (encode_gotrace.go).
//
// Nothing in this package knows about files, flags or the collector; the otel2chrome
// CLI, the SDK exporter and the collector exporter are thin shells around it.
package converter
