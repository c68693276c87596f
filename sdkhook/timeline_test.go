package sdkhook_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
	"github.com/otel2chrome/otel2chrome/exporter/sdkexporter"
	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// timelineTracer returns a tracer of service "shop" whose spans go through
// sdkhook and the SDK exporter into one Chrome file, and finish, which shuts
// the provider down and returns the file's report once the checker and
// Perfetto's importer have passed it.
func timelineTracer(t *testing.T, opts ...sdkhook.Option) (trace.Tracer, func() *check.Report) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "timeline.json")
	exp, err := sdkexporter.New(sdkexporter.WithPath(path))
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("shop"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(sdkhook.NewProcessor(sdktrace.NewSimpleSpanProcessor(exp), opts...)))
	return tp.Tracer("test"), func() *check.Report {
		t.Helper()
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := check.Validate(data)
		if err != nil {
			t.Fatal(err)
		}
		perfetto.Check(t, data, perfetto.AllowDeclaredOmissions())
		return r
	}
}

// TestTimeline sends sdkhook's spans through the converter (by way of the SDK
// exporter) and checks the timeline: every function slice sits inside its
// request's slice, in the request's process; calls on the request goroutine
// share the request's lane; a forked goroutine has its own; a span that other
// instrumentation started inside a call nests under that call.
func TestTimeline(t *testing.T) {
	tr, finish := timelineTracer(t)
	pause := func() { time.Sleep(200 * time.Microsecond) }
	request(tr, "GET /order", func(ctx context.Context) {
		defer sdkhook.Enter(ctx, "handler").End()
		pause()
		done := make(chan struct{})
		sdkhook.Go(ctx, func(ctx context.Context) {
			defer close(done)
			defer sdkhook.Enter(ctx, "worker").End()
			pause()
		})
		func() {
			defer sdkhook.Enter(ctx, "query").End()
			_, q := tr.Start(ctx, "db.query", trace.WithSpanKind(trace.SpanKindClient))
			pause()
			q.End()
		}()
		<-done
		pause()
	})
	r := finish()
	byName := map[string]check.Slice{}
	for _, s := range r.Slices {
		byName[s.Name] = s
	}
	req := byName["GET /order"]
	for _, name := range []string{"handler", "worker", "query", "db.query"} {
		s, ok := byName[name]
		if !ok {
			t.Fatalf("no %s slice in %v", name, r.Slices)
		}
		if s.Pid != req.Pid || !check.Contains(req, s) {
			t.Errorf("%s [%v+%v] pid %d not inside the request [%v+%v] pid %d", name, s.Ts, s.Dur, s.Pid, req.Ts, req.Dur, req.Pid)
		}
	}
	lane := func(name string) check.Lane { return check.Lane{Pid: byName[name].Pid, Tid: byName[name].Tid} }
	if lane("handler") != lane("GET /order") || lane("query") != lane("GET /order") {
		t.Errorf("calls on the request goroutine are not on the request's lane")
	}
	if lane("worker") == lane("GET /order") {
		t.Errorf("the forked goroutine shares the request's lane")
	}
	if lane("db.query") != lane("query") || !check.Contains(byName["query"], byName["db.query"]) {
		t.Errorf("db.query is not nested under the call that started it")
	}
}

// TestTimelineReusedThreadIDs: request A records calls, ends, and frees its
// thread ids; request D, which records nothing, starts on the lane A left and
// runs long; request C then reuses A's thread ids (each forking a worker),
// all into one file through the SDK exporter. C's calls must not be drawn
// inside D (the checker's nesting rule: only under ancestors or the same
// goroutine of the same trace), and Perfetto's importer must bind every
// arrow as intended.
func TestTimelineReusedThreadIDs(t *testing.T) {
	recorded := func(s sdktrace.ReadOnlySpan) bool { return s.SpanKind() == trace.SpanKindServer && s.Name() != "D" }
	tr, finish := timelineTracer(t, sdkhook.WithRequestFunc(recorded))
	handle := func(name string, d time.Duration) func(context.Context) {
		return func(ctx context.Context) {
			defer sdkhook.Enter(ctx, name+".handler").End()
			done := make(chan struct{})
			sdkhook.Go(ctx, func(ctx context.Context) {
				defer close(done)
				defer sdkhook.Enter(ctx, name+".worker").End()
				time.Sleep(d / 2)
			})
			for k := 0; k < 3; k++ {
				func() {
					defer sdkhook.Enter(ctx, name+".step").End()
					time.Sleep(d / 4)
				}()
			}
			<-done
		}
	}
	request(tr, "A", handle("A", 4*time.Millisecond))
	dStarted := make(chan struct{})
	dDone := make(chan struct{})
	go func() {
		defer close(dDone)
		request(tr, "D", func(context.Context) {
			close(dStarted)
			time.Sleep(30 * time.Millisecond)
		})
	}()
	<-dStarted
	time.Sleep(time.Millisecond)
	request(tr, "C", handle("C", 8*time.Millisecond)) // reuses A's ids while D runs
	<-dDone
	r := finish()
	tids := map[string]map[any]bool{} // request -> thread ids its calls used
	for _, s := range r.Slices {
		attrs, _ := s.Args["attributes"].(map[string]any)
		if id, ok := attrs["thread.id"]; ok {
			req := s.Name[:1]
			if tids[req] == nil {
				tids[req] = map[any]bool{}
			}
			tids[req][id] = true
		}
	}
	reused := false
	for id := range tids["C"] {
		reused = reused || tids["A"][id]
	}
	if !reused {
		t.Fatalf("C did not reuse any of A's thread ids (A %v, C %v): the test lost its point", tids["A"], tids["C"])
	}
	if len(r.Slices) != 2*(1+1+1+3)+1 {
		t.Errorf("%d slices, want 13", len(r.Slices))
	}
}
