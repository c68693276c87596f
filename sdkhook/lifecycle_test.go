package sdkhook

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func tableOccupancy() int {
	n := 0
	for i := range spans.slots {
		if spans.slots[i].Load() != nil {
			n++
		}
	}
	return n
}

func attrOf(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestLeakedChildSpans: child spans started inside a request and never ended
// must not keep table slots or recorders once their request ends.
func TestLeakedChildSpans(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewProcessor(sr)))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tp.Tracer("t")
	before := tableOccupancy()
	for i := 0; i < 2000; i++ {
		ctx, req := tr.Start(context.Background(), "req", trace.WithSpanKind(trace.SpanKindServer))
		r := Enter(ctx, "f")
		_, _ = tr.Start(ctx, "leaked") // never ended
		cctx, child := tr.Start(ctx, "ended")
		Enter(cctx, "g").End()
		child.End()
		r.End()
		req.End()
	}
	if n := tableOccupancy() - before; n != 0 {
		t.Errorf("%d span table slots still used after all requests ended", n)
	}
	if n := liveRecorders.Load(); n != 0 {
		t.Errorf("%d recorders live", n)
	}
	if n := active.Load(); n != 0 {
		t.Errorf("%d requests active", n)
	}
}

// TestShutdownRacingRequestStart: requests starting while Shutdown scans
// the table must not stay registered.
func TestShutdownRacingRequestStart(t *testing.T) {
	for round := 0; round < 50; round++ {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewProcessor(tracetest.NewSpanRecorder())))
		tr := tp.Tracer("t")
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, req := tr.Start(context.Background(), "req", trace.WithSpanKind(trace.SpanKindServer))
					Enter(ctx, "f").End()
					req.End()
				}
			}()
		}
		time.Sleep(time.Millisecond)
		_ = tp.Shutdown(context.Background())
		time.Sleep(200 * time.Microsecond)
		close(stop)
		wg.Wait()
		if a, l := active.Load(), liveRecorders.Load(); a != 0 || l != 0 {
			t.Fatalf("round %d: after Shutdown active=%d live=%d", round, a, l)
		}
	}
}

// TestWallOnlyStartTimestamp: a request started with a timestamp without a
// monotonic reading (here, a wall clock stepped back an hour) still places
// its function spans at the start of the request.
func TestWallOnlyStartTimestamp(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewProcessor(sr)))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	t0 := time.Now().Round(0).Add(-time.Hour)
	ctx, req := tp.Tracer("t").Start(context.Background(), "req", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t0))
	Enter(ctx, "f").End()
	req.End(trace.WithTimestamp(t0.Add(time.Second)))
	var f sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == "f" {
			f = s
		}
	}
	if f == nil {
		t.Fatal("function span dropped")
	}
	if d := f.StartTime().Sub(t0); d < 0 || d > time.Second {
		t.Errorf("function span starts %v after the request", d)
	}
}
