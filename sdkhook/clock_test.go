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
	a := readPair(tscOn.Load())
	spin(1_000_000)
	b := readPair(tscOn.Load())
	spin(1_000_000)
	c := readPair(tscOn.Load())
	m := newTickMap(tscOn.Load(), a, b)
	if d := m.mono(c.ticks) - c.mono; d < -1000 || d > 1000 {
		t.Errorf("tick map is off by %d ns 1 ms after its calibration", d)
	}
	if m.mono(a.ticks) != a.mono && tscOn.Load() {
		t.Errorf("tick map does not pass through its first pair")
	}
	t.Logf("TSC: %v; %.3f ticks/ns", tscOn.Load(), ticksPerNs())
}

// TestMonotonicClockPath records with the monotonic clock, the path taken
// where the kernel does not keep time with the TSC.
func TestMonotonicClockPath(t *testing.T) {
	saved := tscOn.Load()
	tscOn.Store(false)
	defer tscOn.Store(saved)

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

// TestClocksourceSwitch: when the kernel stops using the TSC, requests
// opened afterwards use the monotonic clock.
func TestClocksourceSwitch(t *testing.T) {
	savedOn, savedRead := tscOn.Load(), readClocksource
	defer func() { tscOn.Store(savedOn); readClocksource = savedRead; lastClockCheck.Store(0) }()
	tscOn.Store(true)
	readClocksource = func() string { return "kvm-clock" }
	lastClockCheck.Store(0)
	recheckClock()
	if tscOn.Load() {
		t.Fatal("TSC still used after the clocksource became kvm-clock")
	}
	readClocksource = func() string { return "tsc" }
	lastClockCheck.Store(0)
	recheckClock()
	if tscOn.Load() {
		t.Error("TSC taken up again; switching back is not safe")
	}
}

// TestBackwardTicks: an exit reading earlier than its entry (TSC offsets
// across CPUs) is a clock fault, not a filtered call.
func TestBackwardTicks(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewProcessor(sr, WithMinDuration(time.Microsecond))))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, req := tp.Tracer("t").Start(context.Background(), "req", trace.WithSpanKind(trace.SpanKindServer))
	r := Enter(ctx, "f")
	r.rec.mu.Lock()
	r.rec.recs[r.idx].start += 1 << 40 // entry read "later" than the exit will be
	r.rec.mu.Unlock()
	r.End()
	req.End()
	var got sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == "req" {
			got = s
		}
	}
	if v, _ := attrOf(got, AttrFiltered); v.AsInt64() != 0 {
		t.Errorf("backward call counted as filtered: %v", v.AsInt64())
	}
	if v, ok := attrOf(got, AttrClockFaults); !ok || v.AsInt64() != 1 {
		t.Errorf("clock faults = %v (present %v), want 1", v.AsInt64(), ok)
	}
}
