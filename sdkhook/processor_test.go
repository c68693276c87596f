package sdkhook_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

func functionSpans(spans []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.InstrumentationScope().Name == sdkhook.ScopeName {
			out = append(out, s)
		}
	}
	return out
}

func requestSpan(t *testing.T, spans []sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			return s
		}
	}
	t.Fatal("no request span")
	return nil
}

func TestTimingAndAttributes(t *testing.T) {
	tr, sr := newProvider(t)
	request(tr, "req", func(ctx context.Context) {
		defer sdkhook.EnterFunc(ctx).End()
		spin(50 * time.Microsecond)
	})
	spans := sr.Ended()
	checkSpans(t, spans)
	req := requestSpan(t, spans)
	fs := functionSpans(spans)
	if len(fs) != 1 {
		t.Fatalf("got %d function spans, want 1", len(fs))
	}
	f := fs[0]
	if f.StartTime().Before(req.StartTime()) || f.EndTime().After(req.EndTime()) {
		t.Errorf("function [%v,%v] outside request [%v,%v]", f.StartTime(), f.EndTime(), req.StartTime(), req.EndTime())
	}
	if d := f.EndTime().Sub(f.StartTime()); d < 50*time.Microsecond || d > time.Second {
		t.Errorf("duration %v, want about 50µs", d)
	}
	if f.Name() != "sdkhook_test.TestTimingAndAttributes.func1" {
		t.Errorf("name %q", f.Name())
	}
	fn, _ := attr(f, "code.function.name")
	file, _ := attr(f, "code.file.path")
	line, _ := attr(f, "code.line.number")
	if fn.AsString() != "github.com/otel2chrome/otel2chrome/sdkhook_test.TestTimingAndAttributes.func1" {
		t.Errorf("code.function.name %q", fn.AsString())
	}
	if !strings.HasSuffix(file.AsString(), "processor_test.go") || line.AsInt64() == 0 {
		t.Errorf("code.file.path %q code.line.number %d", file.AsString(), line.AsInt64())
	}
	if f.SpanKind() != trace.SpanKindInternal || f.Resource() != req.Resource() {
		t.Errorf("kind %v, resource %v", f.SpanKind(), f.Resource())
	}
	if !sdkhook.FastCallerPC() {
		t.Log("EnterFunc uses runtime.Callers on this platform")
	}
}

func TestForkLanes(t *testing.T) {
	tr, sr := newProvider(t)
	request(tr, "req", func(ctx context.Context) {
		defer sdkhook.Enter(ctx, "main").End()
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			sdkhook.Go(ctx, func(ctx context.Context) {
				defer wg.Done()
				defer sdkhook.Enter(ctx, fmt.Sprintf("worker%d", w)).End()
				for i := 0; i < 5; i++ {
					func() {
						defer sdkhook.Enter(ctx, fmt.Sprintf("step%d.%d", w, i)).End()
						spin(2 * time.Microsecond)
					}()
				}
			})
		}
		for i := 0; i < 5; i++ {
			func() {
				defer sdkhook.Enter(ctx, fmt.Sprintf("main.step%d", i)).End()
				spin(2 * time.Microsecond)
			}()
		}
		wg.Wait()
	})
	spans := sr.Ended()
	checkSpans(t, spans)
	m := byName(spans)
	tid := func(name string) int64 {
		v, _ := attr(m[name], "thread.id")
		return v.AsInt64()
	}
	seen := map[int64]string{tid("main"): "main"}
	for w := 0; w < 3; w++ {
		name := fmt.Sprintf("worker%d", w)
		if got := m[name].Parent().SpanID(); got != m["main"].SpanContext().SpanID() {
			t.Errorf("%s: parent %s, want main", name, got)
		}
		if other, dup := seen[tid(name)]; dup {
			t.Errorf("%s shares thread.id %d with %s", name, tid(name), other)
		}
		seen[tid(name)] = name
		for i := 0; i < 5; i++ {
			step := fmt.Sprintf("step%d.%d", w, i)
			if tid(step) != tid(name) || m[step].Parent().SpanID() != m[name].SpanContext().SpanID() {
				t.Errorf("%s not a child of %s on its lane", step, name)
			}
		}
	}
	waitNoLeaks(t)
}

// TestConcurrentRequests runs requests with forks in parallel (run with
// -race): lanes of concurrent requests never share a thread.id while they
// overlap in time, and every recorder goes back to the pool.
func TestConcurrentRequests(t *testing.T) {
	tr, sr := newProvider(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				request(tr, "req", func(ctx context.Context) {
					defer sdkhook.Enter(ctx, "handler").End()
					var inner sync.WaitGroup
					inner.Add(1)
					sdkhook.Go(ctx, func(ctx context.Context) {
						defer inner.Done()
						defer sdkhook.Enter(ctx, "async").End()
					})
					sdkhook.Enter(ctx, "sync").End()
					inner.Wait()
				})
			}
		}()
	}
	wg.Wait()
	spans := sr.Ended()
	checkSpans(t, spans) // nesting per thread.id across all requests
	if got := len(functionSpans(spans)); got != 8*20*3 {
		t.Errorf("got %d function spans, want %d", got, 8*20*3)
	}
	waitNoLeaks(t)
}

func TestPolicies(t *testing.T) {
	slow := func(ctx context.Context) {
		defer sdkhook.Enter(ctx, "f").End()
		time.Sleep(5 * time.Millisecond)
	}
	fast := func(ctx context.Context) { sdkhook.Enter(ctx, "f").End() }
	failing := func(ctx context.Context) {
		sdkhook.Enter(ctx, "f").End()
		trace.SpanFromContext(ctx).SetStatus(codes.Error, "boom")
	}
	tests := []struct {
		name    string
		policy  []sdkhook.CapturePolicy
		handler func(context.Context)
		want    bool
	}{
		{"all", []sdkhook.CapturePolicy{sdkhook.CaptureAll()}, fast, true},
		{"slow kept", []sdkhook.CapturePolicy{sdkhook.CaptureSlowerThan(time.Millisecond)}, slow, true},
		{"fast dropped", []sdkhook.CapturePolicy{sdkhook.CaptureSlowerThan(time.Minute)}, fast, false}, // robust to a loaded machine
		{"failed kept", []sdkhook.CapturePolicy{sdkhook.CaptureFailed()}, failing, true},
		{"ok dropped", []sdkhook.CapturePolicy{sdkhook.CaptureFailed()}, fast, false},
		{"fraction 1", []sdkhook.CapturePolicy{sdkhook.CaptureFraction(1)}, fast, true},
		{"fraction 0", []sdkhook.CapturePolicy{sdkhook.CaptureFraction(0)}, fast, false},
		{"slow or failed: failed", []sdkhook.CapturePolicy{sdkhook.CaptureSlowerThan(time.Hour), sdkhook.CaptureFailed()}, failing, true},
		{"slow or failed: neither", []sdkhook.CapturePolicy{sdkhook.CaptureSlowerThan(time.Hour), sdkhook.CaptureFailed()}, fast, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, sr := newProvider(t, sdkhook.WithCapture(tt.policy...))
			request(tr, "req", tt.handler)
			spans := sr.Ended()
			checkSpans(t, spans)
			if got := len(functionSpans(spans)) == 1; got != tt.want {
				t.Errorf("captured = %v, want %v", got, tt.want)
			}
			rec, _ := attr(requestSpan(t, spans), sdkhook.AttrRecorded)
			if rec.AsInt64() != 1 {
				t.Errorf("recorded = %d, want 1 either way", rec.AsInt64())
			}
			waitNoLeaks(t)
		})
	}
}

func TestCaptureFractionByTraceID(t *testing.T) {
	p := sdkhook.CaptureFraction(0.25)
	tr, sr := newProvider(t, sdkhook.WithCapture(p))
	for i := 0; i < 400; i++ {
		request(tr, "req", func(ctx context.Context) { sdkhook.Enter(ctx, "f").End() })
	}
	n := len(functionSpans(sr.Ended()))
	if n < 50 || n > 150 {
		t.Errorf("captured %d of 400 at 0.25", n)
	}
	if p.Description() != "Fraction{0.25}" {
		t.Errorf("description %q", p.Description())
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name                       string
		opts                       []sdkhook.Option
		run                        func(ctx context.Context)
		emitted, dropped, filtered int64
	}{
		{
			name: "max records",
			opts: []sdkhook.Option{sdkhook.WithMaxRecords(10)},
			run: func(ctx context.Context) {
				for i := 0; i < 25; i++ {
					sdkhook.Enter(ctx, "f").End()
				}
			},
			emitted: 10, dropped: 15,
		},
		{
			name: "max depth",
			opts: []sdkhook.Option{sdkhook.WithMaxDepth(3)},
			run: func(ctx context.Context) {
				var rec func(n int)
				rec = func(n int) {
					if n == 0 {
						return
					}
					defer sdkhook.Enter(ctx, fmt.Sprint("depth", n)).End()
					rec(n - 1)
				}
				rec(5)
				sdkhook.Enter(ctx, "after").End() // depth accounting recovered
			},
			emitted: 4, dropped: 2,
		},
		{
			name: "min duration",
			opts: []sdkhook.Option{sdkhook.WithMinDuration(time.Millisecond), sdkhook.WithMaxRecords(4)},
			run: func(ctx context.Context) {
				for i := 0; i < 100; i++ {
					sdkhook.Enter(ctx, "short").End() // slots reused
				}
				r := sdkhook.Enter(ctx, "long")
				time.Sleep(2 * time.Millisecond)
				r.End()
				sdkhook.Enter(ctx, "failing but short").EndErr(errors.New("x"))
			},
			emitted: 2, filtered: 100,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, sr := newProvider(t, tt.opts...)
			request(tr, "req", tt.run)
			spans := sr.Ended()
			checkSpans(t, spans)
			req := requestSpan(t, spans)
			if got := int64(len(functionSpans(spans))); got != tt.emitted {
				t.Errorf("emitted %d spans, want %d", got, tt.emitted)
			}
			for key, want := range map[string]int64{
				string(sdkhook.AttrEmitted): tt.emitted, string(sdkhook.AttrDropped): tt.dropped, string(sdkhook.AttrFiltered): tt.filtered,
			} {
				if v, _ := attr(req, attributeKey(key)); v.AsInt64() != want {
					t.Errorf("%s = %d, want %d", key, v.AsInt64(), want)
				}
			}
			waitNoLeaks(t)
		})
	}
}

func TestMaxLanes(t *testing.T) {
	tr, sr := newProvider(t, sdkhook.WithMaxLanes(2))
	request(tr, "req", func(ctx context.Context) {
		for i := 0; i < 3; i++ {
			fctx := sdkhook.Fork(ctx)
			sdkhook.Enter(fctx, fmt.Sprint("fork", i)).End()
		}
	})
	spans := sr.Ended()
	checkSpans(t, spans)
	if got := len(functionSpans(spans)); got != 1 {
		t.Errorf("got %d function spans, want 1 (one lane besides the request's)", got)
	}
	if v, _ := attr(requestSpan(t, spans), sdkhook.AttrLanesDropped); v.AsInt64() != 2 {
		t.Errorf("lanes dropped = %d, want 2", v.AsInt64())
	}
}

func TestErrorsAndPanics(t *testing.T) {
	tr, sr := newProvider(t)
	var recovered any
	request(tr, "req", func(ctx context.Context) {
		func() (err error) {
			defer sdkhook.Enter(ctx, "done").Done(&err)
			return errors.New("done failed")
		}()
		sdkhook.Enter(ctx, "enderr").EndErr(errors.New("enderr failed"))
		sdkhook.Enter(ctx, "ok").EndErr(nil)
		func() {
			defer func() { recovered = recover() }()
			func() {
				defer sdkhook.Enter(ctx, "panics").End()
				panic("kaboom")
			}()
		}()
	})
	if recovered != "kaboom" {
		t.Fatalf("panic did not unwind with its value: %v", recovered)
	}
	spans := sr.Ended()
	checkSpans(t, spans)
	m := byName(spans)
	for name, msg := range map[string]string{"done": "done failed", "enderr": "enderr failed", "panics": "kaboom"} {
		s := m[name]
		if s.Status().Code != codes.Error || s.Status().Description != msg {
			t.Errorf("%s: status %v", name, s.Status())
		}
		if len(s.Events()) != 1 || s.Events()[0].Name != "exception" {
			t.Fatalf("%s: events %v", name, s.Events())
		}
		ev := s.Events()[0]
		var gotMsg, stack string
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case "exception.message":
				gotMsg = kv.Value.AsString()
			case "exception.stacktrace":
				stack = kv.Value.AsString()
			}
		}
		if gotMsg != msg {
			t.Errorf("%s: exception.message %q", name, gotMsg)
		}
		if name == "panics" && !strings.Contains(stack, "TestErrorsAndPanics") {
			t.Errorf("panic stack lacks the panicking function:\n%s", stack)
		}
	}
	if m["ok"].Status().Code == codes.Error {
		t.Error("EndErr(nil) set status Error")
	}
}

// TestStaleContext uses contexts after their request ended, while other
// requests reuse the pooled recorder (run with -race): hooks are no-ops and
// contexts keep their meaning.
func TestStaleContext(t *testing.T) {
	tr, sr := newProvider(t)
	type key struct{}
	var stale context.Context
	var staleRegion sdkhook.Region
	request(tr, "first", func(ctx context.Context) {
		ctx = context.WithValue(ctx, key{}, "first")
		stale, _ = sdkhook.Start(ctx, "f")
		staleRegion = sdkhook.Enter(ctx, "never ended")
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			sdkhook.Enter(stale, "stale").End()
			fctx := sdkhook.Fork(stale)
			sdkhook.Enter(fctx, "stale fork").End()
			staleRegion.End()
			if stale.Value(key{}) != "first" {
				t.Error("stale context lost its values")
				return
			}
		}
	}()
	for i := 0; i < 200; i++ {
		request(tr, "later", func(ctx context.Context) { sdkhook.Enter(ctx, "g").End() })
	}
	<-done
	for _, s := range sr.Ended() {
		if strings.HasPrefix(s.Name(), "stale") {
			t.Fatalf("a stale context recorded %q", s.Name())
		}
	}
	checkSpans(t, sr.Ended())
	waitNoLeaks(t)
}

func TestIncompleteCallsAreCut(t *testing.T) {
	tr, sr := newProvider(t)
	release := make(chan struct{})
	started := make(chan struct{})
	finished := make(chan struct{})
	request(tr, "req", func(ctx context.Context) {
		sdkhook.Go(ctx, func(ctx context.Context) {
			defer close(finished)
			defer sdkhook.Enter(ctx, "outlives").End()
			close(started)
			<-release
		})
		<-started
		outer := sdkhook.Enter(ctx, "outer")
		sdkhook.Enter(ctx, "forgotten") // never ended
		outer.End()
	})
	close(release)
	<-finished
	spans := sr.Ended()
	checkSpans(t, spans)
	m := byName(spans)
	req := requestSpan(t, spans)
	for _, name := range []string{"outlives", "forgotten"} {
		if v, _ := attr(m[name], sdkhook.AttrIncomplete); !v.AsBool() {
			t.Errorf("%s not marked incomplete", name)
		}
	}
	if m["outlives"].EndTime().After(req.EndTime()) {
		t.Error("incomplete call ends after its request")
	}
	if m["forgotten"].EndTime().After(m["outer"].EndTime()) {
		t.Error("forgotten call not cut at its parent's end")
	}
	waitNoLeaks(t)
}

// TestSharedLaneRepaired passes the request context to goroutines without
// Fork: a misuse whose calls overlap on one lane. The spans still nest per
// thread.id (checkSpans), with the overlapping ones on overflow threads.
func TestSharedLaneRepaired(t *testing.T) {
	tr, sr := newProvider(t)
	request(tr, "req", func(ctx context.Context) {
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					r := sdkhook.Enter(ctx, "shared")
					spin(time.Microsecond)
					r.End()
				}
			}()
		}
		wg.Wait()
	})
	checkSpans(t, sr.Ended())
	waitNoLeaks(t)
}

// TestOTelSpanInside: a span started by other instrumentation inside the
// request still leads hooks to the recorder, and calls directly under it are
// its children.
func TestOTelSpanInside(t *testing.T) {
	tr, sr := newProvider(t)
	request(tr, "req", func(ctx context.Context) {
		defer sdkhook.Enter(ctx, "handler").End()
		qctx, q := tr.Start(ctx, "db.query")
		func() {
			defer sdkhook.Enter(qctx, "scan").End()
			sdkhook.Enter(qctx, "row").End()
		}()
		q.End()
	})
	spans := sr.Ended()
	checkSpans(t, spans)
	m := byName(spans)
	if m["scan"].Parent().SpanID() != m["db.query"].SpanContext().SpanID() {
		t.Error("scan is not a child of db.query")
	}
	if m["row"].Parent().SpanID() != m["scan"].SpanContext().SpanID() {
		t.Error("row is not a child of scan")
	}
	// db.query ran on the handler's lane, and says so: a timeline puts it
	// there, nested in the call that started it.
	qt, ok1 := attr(m["db.query"], "thread.id")
	ht, ok2 := attr(m["handler"], "thread.id")
	if !ok1 || !ok2 || qt.AsInt64() != ht.AsInt64() {
		t.Errorf("db.query thread.id %v (%v), handler's %v (%v): want the same lane", qt.String(), ok1, ht.String(), ok2)
	}
	waitNoLeaks(t)
}

func TestStartContext(t *testing.T) {
	tr, sr := newProvider(t)
	request(tr, "req", func(ctx context.Context) {
		want := trace.SpanContextFromContext(ctx)
		cctx, r := sdkhook.Start(ctx, "f")
		if got := trace.SpanContextFromContext(cctx); !got.Equal(want) {
			t.Errorf("span context below Start = %v, want the request's", got)
		}
		// Other instrumentation below Start parents to the request span.
		_, s := tr.Start(cctx, "client")
		s.End()
		if a := testing.AllocsPerRun(100, func() {
			c, r := sdkhook.Start(ctx, "g")
			_, r2 := sdkhook.Start(c, "h")
			r2.End()
			r.End()
		}); a != 0 {
			t.Errorf("Start allocates %v times per call in steady state", a)
		}
		r.End()
	})
	m := byName(sr.Ended())
	if m["client"].Parent().SpanID() != m["req"].SpanContext().SpanID() {
		t.Error("span below Start not parented to the request")
	}
	if m["h"].Parent().SpanID() != m["g"].SpanContext().SpanID() {
		t.Error("h is not a child of g")
	}
	waitNoLeaks(t)
}

func TestNoLeaksUnderLoad(t *testing.T) {
	tr, _ := newProvider(t, sdkhook.WithCapture(sdkhook.CaptureFraction(0.5)), sdkhook.WithMaxRecords(8))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				request(tr, "req", func(ctx context.Context) {
					for j := 0; j < 20; j++ { // beyond MaxRecords
						sdkhook.Go(ctx, func(ctx context.Context) { sdkhook.Enter(ctx, "x").End() })
						sdkhook.Enter(ctx, "y").End()
					}
				})
			}
		}()
	}
	wg.Wait()
	waitNoLeaks(t)
}

// TestShutdown ends a request after the provider shut down: nothing is
// handed on, and the recorder still goes back to the pool.
func TestShutdown(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdkhook.NewProcessor(sr)))
	ctx, span := tp.Tracer("t").Start(context.Background(), "open at shutdown", trace.WithSpanKind(trace.SpanKindServer))
	sdkhook.Enter(ctx, "f").End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sdkhook.Enter(ctx, "after shutdown").End()
	span.End()
	if n := len(sr.Ended()); n != 0 {
		t.Errorf("%d spans handed on after shutdown", n)
	}
	waitNoLeaks(t)
}

// TestHooksRacingRequestEnd keeps goroutines hooking on forked and request
// contexts while their request ends and the recorder is reused (run with
// -race): late calls are dropped, never written into another request.
func TestHooksRacingRequestEnd(t *testing.T) {
	tr, sr := newProvider(t, sdkhook.WithMaxRecords(64))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		request(tr, "racing", func(ctx context.Context) {
			for g := 0; g < 2; g++ {
				wg.Add(1)
				sdkhook.Go(ctx, func(ctx context.Context) {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						ctx2, r := sdkhook.Start(ctx, "late")
						sdkhook.Enter(ctx2, "later").End()
						r.End()
					}
				})
			}
		})
		request(tr, "clean", func(ctx context.Context) { sdkhook.Enter(ctx, "mine").End() })
	}
	close(stop)
	wg.Wait()
	spans := sr.Ended()
	checkSpans(t, spans)
	owner := map[trace.SpanID]string{}
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			owner[s.SpanContext().SpanID()] = s.Name()
		}
	}
	for _, s := range spans {
		if s.Name() == "mine" && owner[s.Parent().SpanID()] != "clean" {
			t.Errorf("a clean request's call has parent %q", owner[s.Parent().SpanID()])
		}
		if (s.Name() == "late") && owner[s.Parent().SpanID()] == "clean" {
			t.Error("a late call leaked into a later request")
		}
	}
	waitNoLeaks(t)
}

// TestExplicitNameAttributes: Enter and Start keep the given span name and
// add the calling function and file:line where the frame-pointer path exists.
func TestExplicitNameAttributes(t *testing.T) {
	tr, sr := newProvider(t)
	request(tr, "req", func(ctx context.Context) {
		sdkhook.Enter(ctx, "explicit").End()
		_, r := sdkhook.Start(ctx, "started")
		r.End()
	})
	m := byName(sr.Ended())
	for _, name := range []string{"explicit", "started"} {
		s, ok := m[name]
		if !ok {
			t.Fatalf("no span %q", name)
		}
		fn, _ := attr(s, "code.function.name")
		file, hasFile := attr(s, "code.file.path")
		// Enter's PC is known only where the compiler inlines it (not
		// under -race); Start is never inlined.
		if !sdkhook.FastCallerPC() || (raceEnabled && name == "explicit") {
			if fn.AsString() != name || hasFile {
				t.Errorf("%s: code.function.name %q, file %v", name, fn.AsString(), hasFile)
			}
			continue
		}
		if want := "github.com/otel2chrome/otel2chrome/sdkhook_test.TestExplicitNameAttributes.func1"; fn.AsString() != want {
			t.Errorf("%s: code.function.name %q, want %q", name, fn.AsString(), want)
		}
		if !strings.HasSuffix(file.AsString(), "processor_test.go") {
			t.Errorf("%s: code.file.path %q", name, file.AsString())
		}
	}
}

// TestRandomMisuse drives hooks with random, often wrong, call patterns:
// regions ended out of order, ended twice or never, contexts shared between
// lanes, forks at any point. Whatever the pattern, the emitted spans satisfy
// checkSpans and every recorder returns to the pool.
func TestRandomMisuse(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		tr, sr := newProvider(t, sdkhook.WithMaxRecords(64), sdkhook.WithMaxDepth(6), sdkhook.WithMinDuration(time.Duration(rng.IntN(2))*time.Microsecond))
		request(tr, "req", func(ctx context.Context) {
			ctxs := []context.Context{ctx}
			var open []sdkhook.Region
			for op := 0; op < 200; op++ {
				c := ctxs[rng.IntN(len(ctxs))]
				switch k := rng.IntN(10); {
				case k < 4:
					if rng.IntN(2) == 0 {
						open = append(open, sdkhook.Enter(c, fmt.Sprint("f", op)))
					} else {
						nc, r := sdkhook.Start(c, fmt.Sprint("s", op))
						ctxs = append(ctxs, nc)
						open = append(open, r)
					}
				case k < 8 && len(open) > 0:
					i := len(open) - 1
					if rng.IntN(4) == 0 {
						i = rng.IntN(len(open)) // out of order
					}
					open[i].End()
					if rng.IntN(8) != 0 { // sometimes ended twice
						open = append(open[:i], open[i+1:]...)
					}
				case k == 8:
					ctxs = append(ctxs, sdkhook.Fork(c))
				default:
					spin(time.Duration(rng.IntN(3)) * time.Microsecond)
				}
			}
		})
		spans := sr.Ended()
		checkSpans(t, spans)
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
	waitNoLeaks(t)
}

// TestRandomConcurrentMisuse: goroutines share request, Start and Fork
// contexts without forking, ending regions in any order (run with -race).
func TestRandomConcurrentMisuse(t *testing.T) {
	tr, sr := newProvider(t, sdkhook.WithMaxRecords(256))
	for round := 0; round < 10; round++ {
		request(tr, "req", func(ctx context.Context) {
			var mu sync.Mutex
			ctxs := []context.Context{ctx, sdkhook.Fork(ctx)}
			var wg sync.WaitGroup
			for g := 0; g < 3; g++ {
				wg.Add(1)
				go func(seed uint64) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(seed, uint64(round)))
					var open []sdkhook.Region
					for op := 0; op < 100; op++ {
						mu.Lock()
						c := ctxs[rng.IntN(len(ctxs))]
						mu.Unlock()
						switch k := rng.IntN(6); {
						case k < 2:
							nc, r := sdkhook.Start(c, "s")
							open = append(open, r)
							mu.Lock()
							ctxs = append(ctxs, nc)
							mu.Unlock()
						case k < 3:
							open = append(open, sdkhook.Enter(c, "e"))
						case k < 5 && len(open) > 0:
							i := rng.IntN(len(open))
							open[i].End()
							open = append(open[:i], open[i+1:]...)
						default:
							mu.Lock()
							ctxs = append(ctxs, sdkhook.Fork(c))
							mu.Unlock()
						}
					}
				}(uint64(g))
			}
			wg.Wait()
		})
	}
	checkSpans(t, sr.Ended())
	waitNoLeaks(t)
}

// TestDurationsMatchTheClock compares a recorded call with time.Now readings
// taken inside it: the hook clock (the TSC where the kernel uses it) maps
// onto the same timeline.
func TestDurationsMatchTheClock(t *testing.T) {
	tr, sr := newProvider(t)
	var inner time.Duration
	var innerStart time.Time
	request(tr, "req", func(ctx context.Context) {
		r := sdkhook.Enter(ctx, "timed")
		innerStart = time.Now()
		time.Sleep(3 * time.Millisecond)
		inner = time.Since(innerStart)
		r.End()
	})
	s := byName(sr.Ended())["timed"]
	got := s.EndTime().Sub(s.StartTime())
	if got < inner || got > inner+500*time.Microsecond {
		t.Errorf("recorded %v for a call measured inside at %v", got, inner)
	}
	if d := innerStart.Sub(s.StartTime()); d < 0 || d > 500*time.Microsecond {
		t.Errorf("recorded start is %v before a clock reading inside the call", d)
	}
}
