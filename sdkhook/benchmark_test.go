package sdkhook_test

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// All benchmarks the README quotes live here and run together, so their
// ratios come from one machine in one state.

type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// benchProvider returns a tracer whose spans go through sdkhook into a batch
// processor over a discard exporter, as in a service.
func benchProvider(b testing.TB, opts ...sdkhook.Option) trace.Tracer {
	bsp := sdktrace.NewBatchSpanProcessor(discard{})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdkhook.NewProcessor(bsp, opts...)))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("bench")
}

// benchRequests starts a request span and replaces it, outside the timer,
// every perRequest iterations, so the recorder never fills and the recording
// path, not the drop path, is measured.
type benchRequests struct {
	b          *testing.B
	tr         trace.Tracer
	span       trace.Span
	ctx        context.Context
	n          int
	perRequest int
}

// benchPerRequest is the default buffer: a recorder as services get it.
const benchPerRequest = sdkhook.DefaultMaxRecords

func newBenchRequests(b *testing.B) *benchRequests {
	// Not captured: emitting a full buffer of spans per refill would
	// dominate the benchmark and is measured by BenchmarkRequest10k instead.
	tr := benchProvider(b, sdkhook.WithMaxRecords(benchPerRequest), sdkhook.WithCapture(sdkhook.CaptureFailed()))
	r := &benchRequests{b: b, tr: tr, perRequest: benchPerRequest}
	r.restart()
	return r
}

func (r *benchRequests) restart() {
	if r.span != nil {
		r.span.End()
	}
	r.ctx, r.span = r.tr.Start(context.Background(), "request", trace.WithSpanKind(trace.SpanKindServer))
	r.n = 0
}

func (r *benchRequests) tick() {
	if r.n++; r.n == r.perRequest {
		r.b.StopTimer()
		r.restart()
		r.b.StartTimer()
	}
}

func (r *benchRequests) done() { r.span.End() }

// BenchmarkHookEnabled is Enter and End while a request records.
func BenchmarkHookEnabled(b *testing.B) {
	r := newBenchRequests(b)
	defer r.done()
	ctx := r.ctx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sdkhook.Enter(ctx, "bench.f").End()
		if r.tick(); r.n == 0 {
			ctx = r.ctx
		}
	}
}

// BenchmarkHookEnabledFunc is EnterFunc (name from the PC) and End.
func BenchmarkHookEnabledFunc(b *testing.B) {
	r := newBenchRequests(b)
	defer r.done()
	ctx := r.ctx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sdkhook.EnterFunc(ctx).End()
		if r.tick(); r.n == 0 {
			ctx = r.ctx
		}
	}
}

// BenchmarkHookStart is Start (returning a child context) and End.
func BenchmarkHookStart(b *testing.B) {
	r := newBenchRequests(b)
	defer r.done()
	ctx := r.ctx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, reg := sdkhook.Start(ctx, "bench.f")
		reg.End()
		if r.tick(); r.n == 0 {
			ctx = r.ctx
		}
	}
}

// BenchmarkHookDisabled is Enter and End when no request records anywhere:
// one atomic load.
func BenchmarkHookDisabled(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sdkhook.Enter(ctx, "bench.f").End()
	}
}

// BenchmarkHookNoRecorder is Enter and End with a context that carries a span
// but no recorder, while another request records: one context lookup and a
// table probe.
func BenchmarkHookNoRecorder(b *testing.B) {
	r := newBenchRequests(b)
	defer r.done()
	tr := sdktrace.NewTracerProvider().Tracer("plain")
	ctx, span := tr.Start(context.Background(), "not a request")
	defer span.End()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sdkhook.Enter(ctx, "bench.f").End()
	}
}

var sinkDur time.Duration

// BenchmarkTwoClockReads is the floor: two time.Now calls.
func BenchmarkTwoClockReads(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		t1 := time.Now()
		sinkDur += t1.Sub(t0)
	}
}

// BenchmarkNowSince is what timing a call by hand costs: time.Now and
// time.Since.
func BenchmarkNowSince(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		sinkDur += time.Since(t0)
	}
}

// BenchmarkOTelSpanAttrs is an SDK span carrying what a captured sdkhook call
// carries (code.function.name, code.file.path, code.line.number, thread.id),
// started and ended under a request span, through a batch processor.
func BenchmarkOTelSpanAttrs(b *testing.B) {
	bsp := sdktrace.NewBatchSpanProcessor(discard{})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(bsp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tp.Tracer("bench")
	ctx, req := tr.Start(context.Background(), "request")
	defer req.End()
	attrs := trace.WithAttributes(
		attribute.String("code.function.name", "github.com/otel2chrome/otel2chrome/sdkhook_test.inner"),
		attribute.String("code.file.path", "/src/otel2chrome/sdkhook/benchmark_test.go"),
		attribute.Int("code.line.number", 212),
		attribute.Int64("thread.id", 1),
	)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, s := tr.Start(ctx, "inner", attrs)
		s.End()
	}
}

// BenchmarkOTelSpan is what sdkhook replaces: an SDK span start and end with
// a batch processor over a discard exporter.
func BenchmarkOTelSpan(b *testing.B) {
	bsp := sdktrace.NewBatchSpanProcessor(discard{})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(bsp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tp.Tracer("bench")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, s := tr.Start(ctx, "f")
		s.End()
	}
}

// work is the body of each hooked call in BenchmarkRequest10k: ~100 ns.
//
//go:noinline
func work(x uint64) uint64 {
	for i := 0; i < 40; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

var sinkU uint64

func outer(ctx context.Context, hooked bool) {
	if hooked {
		defer sdkhook.Enter(ctx, "bench.outer").End()
	}
	for j := 0; j < 99; j++ {
		inner(ctx, hooked, uint64(j))
	}
}

func inner(ctx context.Context, hooked bool, x uint64) {
	if hooked {
		defer sdkhook.Enter(ctx, "bench.inner").End()
	}
	sinkU += work(x)
}

// BenchmarkRequest10k is one request making 10,000 calls (100 outer x 99
// inner + 100 outer), end to end including the request span and, when
// captured, emitting 10,000 function spans into the batch processor.
func BenchmarkRequest10k(b *testing.B) {
	cases := []struct {
		name   string
		hooked bool
		opts   []sdkhook.Option
	}{
		{"no-hooks", false, nil},
		{"hooks-not-recording", true, []sdkhook.Option{sdkhook.WithRequestFunc(func(sdktrace.ReadOnlySpan) bool { return false })}},
		{"hooks-recording-not-captured", true, []sdkhook.Option{sdkhook.WithCapture(sdkhook.CaptureFailed())}},
		{"hooks-recording-captured", true, nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			tr := benchProvider(b, append([]sdkhook.Option{sdkhook.WithMaxRecords(10000)}, c.opts...)...)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ctx, span := tr.Start(context.Background(), "request", trace.WithSpanKind(trace.SpanKindServer))
				for k := 0; k < 100; k++ {
					outer(ctx, c.hooked)
				}
				span.End()
			}
		})
	}
}

// TestOverheadRatios measures the targets in one run and fails just past
// them, naming the fast path that was lost, so that a regression shows even
// on a noisy two-core machine; the README's figures come from the benchmarks
// above.
func TestOverheadRatios(t *testing.T) {
	if testing.Short() || raceEnabled || os.Getenv("OTEL2CHROME_TIMING") == "off" {
		t.Skip("SKIP: timing test: not with -short, -race or beside other tests (OTEL2CHROME_TIMING=off); .ci/run's ratio step runs it alone")
	}
	// Three interleaved rounds of shorter runs, keeping each benchmark's
	// fastest: a burst of load from a neighbour then skews one round, not
	// the ratio.
	if f := flag.Lookup("test.benchtime"); f != nil && f.Value.String() == "1s" {
		_ = f.Value.Set("300ms")
		defer func() { _ = f.Value.Set("1s") }()
	}
	ns := func(r testing.BenchmarkResult) float64 { return float64(r.T.Nanoseconds()) / float64(r.N) }
	benches := []func(*testing.B){BenchmarkTwoClockReads, BenchmarkNowSince, BenchmarkHookEnabled,
		BenchmarkHookEnabledFunc, BenchmarkHookDisabled, BenchmarkOTelSpan}
	best := make([]testing.BenchmarkResult, len(benches))
	for round := 0; round < 3; round++ {
		for i, bf := range benches {
			if r := testing.Benchmark(bf); round == 0 || ns(r) < ns(best[i]) {
				best[i] = r
			}
		}
	}
	clock, since, enabled, enabledFunc, disabled, otel := best[0], best[1], best[2], best[3], best[4], best[5]
	t.Logf("two clock reads %.1f ns; time.Now+time.Since %.1f ns; hook enabled %.1f ns (EnterFunc %.1f ns), %d allocs/op; disabled %.2f ns; OTel span %.0f ns, %d B/op",
		ns(clock), ns(since), ns(enabled), ns(enabledFunc), enabled.AllocsPerOp(), ns(disabled), ns(otel), otel.AllocedBytesPerOp())
	t.Logf("enabled/clock = %.2fx (target <= 1.5x); enabled/(Now+Since) = %.2fx; OTel/enabled = %.1fx (target >= 10x); TSC clock %v, frame-pointer caller PC %v",
		ns(enabled)/ns(clock), ns(enabled)/ns(since), ns(otel)/ns(enabled), sdkhook.TSCClock(), sdkhook.FastCallerPC())
	lost := func() string {
		var l []string
		if !sdkhook.TSCClock() {
			l = append(l, "the TSC clock is off (clocksource not tsc, or not amd64/linux): hooks read the monotonic clock")
		}
		if !sdkhook.FastCallerPC() {
			l = append(l, "the frame-pointer caller PC is off: EnterFunc walks the stack")
		}
		if len(l) == 0 {
			return "both fast paths (TSC clock, frame-pointer caller PC) are on: the hook itself got slower"
		}
		return strings.Join(l, "; ")
	}
	if a := enabled.AllocsPerOp(); a > 0 {
		t.Errorf("enabled hook allocates %d times per call, want 0", a)
	}
	// 10% over a target is noise on a shared machine; more is a regression.
	if r := ns(enabled) / ns(clock); r > 1.65 {
		t.Errorf("enabled hook costs %.2fx two clock reads, want <= 1.5x (fail above 1.65x): %s", r, lost())
	}
	if r := ns(enabledFunc) / ns(clock); r > 1.65 {
		t.Errorf("EnterFunc costs %.2fx two clock reads, want <= 1.5x (fail above 1.65x): %s", r, lost())
	}
	if d := ns(disabled); d > 5.5 {
		t.Errorf("disabled hook costs %.1f ns, want <= 5 ns (fail above 5.5): the no-request fast path (one atomic load) is lost", d)
	}
	if r := ns(otel) / ns(enabled); r < 9 {
		t.Errorf("OTel span only %.1fx the hook, want >= 10x (fail below 9x): %s", r, lost())
	}
}

// TestCapturedCost reports the cost per call of a captured request (hooks
// recorded, then emitted as spans) against an SDK span carrying the same
// attributes, measured in one run.
func TestCapturedCost(t *testing.T) {
	if testing.Short() || raceEnabled || os.Getenv("OTEL2CHROME_TIMING") == "off" {
		t.Skip("SKIP: timing test: not with -short, -race or beside other tests (OTEL2CHROME_TIMING=off); .ci/run's ratio step runs it alone")
	}
	var captured testing.BenchmarkResult
	testing.Benchmark(func(b *testing.B) {}) // warm up the runtime
	captured = testing.Benchmark(func(b *testing.B) {
		tr := benchProvider(b, sdkhook.WithMaxRecords(10000))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ctx, span := tr.Start(context.Background(), "request", trace.WithSpanKind(trace.SpanKindServer))
			for k := 0; k < 100; k++ {
				outer(ctx, true)
			}
			span.End()
		}
	})
	bare := testing.Benchmark(func(b *testing.B) {
		tr := benchProvider(b, sdkhook.WithMaxRecords(10000))
		for i := 0; i < b.N; i++ {
			ctx, span := tr.Start(context.Background(), "request", trace.WithSpanKind(trace.SpanKindServer))
			for k := 0; k < 100; k++ {
				outer(ctx, false)
			}
			span.End()
		}
	})
	otel := testing.Benchmark(BenchmarkOTelSpanAttrs)
	perCall := float64(captured.NsPerOp()-bare.NsPerOp()) / 10000
	t.Logf("captured request: %.1f ns per call over the bare request (hook, record, emit as a span); OTel span with the same attributes %d ns: %.1fx the captured call",
		perCall, otel.NsPerOp(), float64(otel.NsPerOp())/perCall)
	if perCall >= float64(otel.NsPerOp()) {
		t.Errorf("a captured call (%.0f ns) costs as much as an OTel span with its attributes (%d ns)", perCall, otel.NsPerOp())
	}
}
