package sdkhook

import (
	"context"
	"runtime"
	rtrace "runtime/trace"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// AttrGoroutineID is the ID of the goroutine a lane's calls ran on, as the Go
// execution trace names it. While the execution tracer runs (a
// FlightRecorder, or runtime/trace.Start), the function spans and the request
// span of captured requests carry it, so a converter can put the goroutine's
// states beside the lane. The request's lane is the goroutine that ended the
// request span (otelhttp and otelgrpc end it on the one that ran the
// request); a forked lane's, the goroutine of its first call.
const AttrGoroutineID = attribute.Key("go.goroutine.id")

// spanLogCategory is the runtime/trace.Log category of the record written as
// a request starts while the execution tracer runs: "<trace id> <span id>",
// right after the span's start time was read. (At the end it would be worse:
// the SDK's End has more to do before OnEnd, and the runtime may flush trace
// buffers before stamping the record.) It places the execution
// trace among the spans and measures the clocks' agreement
// (converter/decode_gotrace.go reads it).
const spanLogCategory = "otel2chrome.span"

// goroutineID returns the calling goroutine's ID, read from the header of its
// stack trace ("goroutine 123 [running]:"); 0 if that header ever changes.
// It costs about 1.5 µs, paid only while the execution tracer runs: once per
// captured request and once per forked lane.
func goroutineID() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) <= len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0
	}
	var id int64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}

// logRequest writes the request's start into the execution trace.
func logRequest(sc trace.SpanContext) {
	rtrace.Log(context.Background(), spanLogCategory, sc.TraceID().String()+" "+sc.SpanID().String())
}
