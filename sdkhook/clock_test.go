package sdkhook

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTickMap checks that a request's tick map, built from two clock pairs,
// predicts a later reading of the monotonic clock to within a microsecond.
func TestTickMap(t *testing.T) {
	spin := func(ns int64) {
		for start := nanotime(); nanotime()-start < ns; {
		}
	}
	a := readPair()
	spin(1_000_000)
	b := readPair()
	spin(1_000_000)
	c := readPair()
	m := newTickMap(a, b)
	if d := m.mono(c.ticks) - c.mono; d < -1000 || d > 1000 {
		t.Errorf("tick map is off by %d ns 1 ms after its calibration", d)
	}
	if m.mono(a.ticks) != a.mono && useTSC {
		t.Errorf("tick map does not pass through its first pair")
	}
	t.Logf("TSC: %v; %.3f ticks/ns", useTSC, ticksPerNs())
}

// TestMonotonicClockPath records with the monotonic clock, the path taken
// where the kernel does not keep time with the TSC.
func TestMonotonicClockPath(t *testing.T) {
	saved := useTSC
	useTSC = false
	defer func() { useTSC = saved }()

	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewProcessor(sr, WithMinDuration(time.Millisecond))))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("t").Start(context.Background(), "req", trace.WithSpanKind(trace.SpanKindServer))
	Enter(ctx, "short").End()
	r := Enter(ctx, "long")
	t0 := time.Now()
	time.Sleep(2 * time.Millisecond)
	inner := time.Since(t0)
	r.End()
	span.End()

	var names []string
	for _, s := range sr.Ended() {
		if s.Name() == "long" {
			if d := s.EndTime().Sub(s.StartTime()); d < inner || d > inner+500*time.Microsecond {
				t.Errorf("long: recorded %v, measured %v inside", d, inner)
			}
		}
		names = append(names, s.Name())
	}
	if len(names) != 2 {
		t.Errorf("spans %v, want long and req (short filtered)", names)
	}
}
