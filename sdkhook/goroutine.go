package sdkhook

import (
	"context"
	"runtime"
	rtrace "runtime/trace"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// AttrGoroutineID is the ID of the goroutine a lane's calls ran on, as the Go
// execution trace names it. Function spans and the request span carry it when
// the execution tracer was running as the request started (a FlightRecorder,
// or runtime/trace.Start), so a converter can put the goroutine's states
// beside the lane.
const AttrGoroutineID = attribute.Key("go.goroutine.id")

// spanLogCategory is the runtime/trace.Log category of the record written as
// a request starts while the execution tracer runs: "<trace id> <span id>"
// on the request's goroutine, at the span's start. It places the execution
// trace among the spans and measures the clocks' agreement
// (converter/decode_gotrace.go reads it).
const spanLogCategory = "otel2chrome.span"

// goroutineID returns the calling goroutine's ID, read from the header of its
// stack trace ("goroutine 123 [running]:"); 0 if that header ever changes.
// It costs about a microsecond, paid once per lane and only while the
// execution tracer runs.
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
