// Package sdkhook records function entry and exit inside a Go service at close
// to the cost of reading the clock, and turns the records into OTel child spans.
//
// The SpanProcessor made by [NewProcessor] wraps the next span processor of an
// SDK TracerProvider. When a request span starts (a SERVER span or a local root,
// see [WithRequestFunc]) it attaches a pooled, bounded recorder to it, so hooks
// called with the request's context find it without extra code, also under
// otelhttp or otelgrpc. When the request span ends, the recorded calls become
// ordinary child spans of the request (same trace ID, correct parent IDs, real
// start and end times, code.* and thread.* attributes) for every request or
// only the ones a [CapturePolicy] keeps, and go on to the next processor.
//
// One line per function:
//
//	func handle(ctx context.Context) (err error) {
//		defer sdkhook.Enter(ctx, "shop.handle").Done(&err)
//		...
//	}
//
// [EnterFunc] finds the function name itself; [Start] also returns a context to
// pass down; [Fork] and [Go] give goroutines started by a request their own lane
// (the thread.id attribute), so concurrent calls never overlap on one lane.
//
// [WithFlightRecorder] adds the why: a [FlightRecorder] keeps the last seconds of
// the Go execution trace, and each captured request gets the window covering it
// as a file, named in the request span; its lanes carry their goroutine IDs so
// that the converter draws each goroutine's states beside its lane.
//
// When the context carries no request recorder a hook costs one atomic load
// (no request is being recorded anywhere) or one context lookup; the recording
// path allocates nothing. A context used after its request ended is a safe
// no-op.
package sdkhook
