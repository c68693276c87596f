package sdkhook

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// CapturePolicy decides, when a request span ends, whether its function
// records become spans. Records are always taken, cheaply; the decision is
// made at the end, with the request's duration and status known (tail
// capture), so the function detail of the requests that matter is kept.
type CapturePolicy interface {
	// ShouldCapture reports whether the records of the ended request span
	// are emitted. It is called synchronously from SpanProcessor.OnEnd.
	ShouldCapture(request sdktrace.ReadOnlySpan) bool
	// Description names the policy, for logs.
	Description() string
}

// CaptureAll captures every request. It is the default.
func CaptureAll() CapturePolicy { return captureAll{} }

type captureAll struct{}

func (captureAll) ShouldCapture(sdktrace.ReadOnlySpan) bool { return true }
func (captureAll) Description() string                      { return "All" }

// CaptureSlowerThan captures requests that took at least d.
func CaptureSlowerThan(d time.Duration) CapturePolicy { return slowerThan{d} }

type slowerThan struct{ d time.Duration }

func (p slowerThan) ShouldCapture(s sdktrace.ReadOnlySpan) bool {
	return s.EndTime().Sub(s.StartTime()) >= p.d
}
func (p slowerThan) Description() string { return fmt.Sprintf("SlowerThan{%v}", p.d) }

// CaptureFailed captures requests whose span has status Error.
func CaptureFailed() CapturePolicy { return failed{} }

type failed struct{}

func (failed) ShouldCapture(s sdktrace.ReadOnlySpan) bool { return s.Status().Code == codes.Error }
func (failed) Description() string                        { return "Failed" }

// CaptureFraction captures the given fraction of requests, chosen by trace ID
// as sdktrace.TraceIDRatioBased chooses, so every service using the same
// fraction keeps the function detail of the same traces. Fractions >= 1
// capture all requests, <= 0 none.
func CaptureFraction(fraction float64) CapturePolicy {
	switch {
	case fraction >= 1:
		return captureAll{}
	case fraction <= 0:
		fraction = 0
	}
	return sampled{fraction: fraction, bound: uint64(fraction * (1 << 63))}
}

type sampled struct {
	fraction float64
	bound    uint64
}

func (p sampled) ShouldCapture(s sdktrace.ReadOnlySpan) bool {
	id := s.SpanContext().TraceID()
	return binary.BigEndian.Uint64(id[8:16])>>1 < p.bound
}
func (p sampled) Description() string { return fmt.Sprintf("Fraction{%g}", p.fraction) }

// CaptureAny captures a request when any of the policies does: e.g. slow or
// failed requests, plus one in a hundred of the rest.
func CaptureAny(policies ...CapturePolicy) CapturePolicy { return anyOf(policies) }

type anyOf []CapturePolicy

func (a anyOf) ShouldCapture(s sdktrace.ReadOnlySpan) bool {
	for _, p := range a {
		if p.ShouldCapture(s) {
			return true
		}
	}
	return false
}

func (a anyOf) Description() string {
	names := make([]string, len(a))
	for i, p := range a {
		names[i] = p.Description()
	}
	return "Any{" + strings.Join(names, ",") + "}"
}
