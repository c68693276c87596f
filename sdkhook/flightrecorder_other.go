//go:build !go1.25

package sdkhook

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// FlightRecorder does nothing: Go before 1.25 has no runtime flight recorder.
// NewFlightRecorder returns one without error, so code using it builds and
// runs everywhere; requests get no snapshot and no AttrGoTrace.
type FlightRecorder struct{}

// NewFlightRecorder returns a recorder that does nothing (Go before 1.25).
func NewFlightRecorder(FlightRecorderConfig) (*FlightRecorder, error) { return &FlightRecorder{}, nil }

// Stop does nothing.
func (*FlightRecorder) Stop(context.Context) error { return nil }

// Stats returns zero counts.
func (*FlightRecorder) Stats() FlightRecorderStats { return FlightRecorderStats{} }

func (*FlightRecorder) request(trace.SpanContext) (string, string) { return "", "" }
