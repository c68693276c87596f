package sdkhook_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

func checkout(ctx context.Context) {
	defer sdkhook.Enter(ctx, "shop.checkout").End()
	loadCart(ctx)
	_ = pay(ctx)
}

func loadCart(ctx context.Context) {
	defer sdkhook.Enter(ctx, "shop.loadCart").End()
}

func pay(ctx context.Context) (err error) {
	defer sdkhook.Enter(ctx, "shop.pay").Done(&err)
	return errors.New("card declined")
}

// printTree prints spans as an indented tree, children in start order.
func printTree(spans []sdktrace.ReadOnlySpan) {
	kids := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	for _, s := range spans {
		if p := s.Parent().SpanID(); ids[p] {
			kids[p] = append(kids[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s sdktrace.ReadOnlySpan, indent string)
	walk = func(s sdktrace.ReadOnlySpan, indent string) {
		status := ""
		if s.Status().Description != "" {
			status = " (" + s.Status().Description + ")"
		}
		fmt.Printf("%s%s%s\n", indent, s.Name(), status)
		k := kids[s.SpanContext().SpanID()]
		sortByStart(k)
		for _, c := range k {
			walk(c, indent+"  ")
		}
	}
	for _, r := range roots {
		walk(r, "")
	}
}

func sortByStart(s []sdktrace.ReadOnlySpan) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].StartTime().Before(s[j-1].StartTime()); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// The processor wraps the next processor (a BatchSpanProcessor in a service);
// the request span here stands for the one otelhttp starts.
func Example() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdkhook.NewProcessor(rec)))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ctx, span := tp.Tracer("shop").Start(context.Background(), "GET /checkout", trace.WithSpanKind(trace.SpanKindServer))
	checkout(ctx)
	span.End()

	printTree(rec.Ended())
	// Output:
	// GET /checkout
	//   shop.checkout
	//     shop.loadCart
	//     shop.pay (card declined)
}

// Goroutines started with Go (or given a Fork context) record on their own
// lane, as children of the call that started them.
func ExampleGo() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdkhook.NewProcessor(rec)))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ctx, span := tp.Tracer("shop").Start(context.Background(), "GET /prices", trace.WithSpanKind(trace.SpanKindServer))
	func() {
		defer sdkhook.Enter(ctx, "shop.priceAll").End()
		var wg sync.WaitGroup
		for _, item := range []string{"apple", "pear"} {
			wg.Add(1)
			sdkhook.Go(ctx, func(ctx context.Context) {
				defer wg.Done()
				defer sdkhook.Enter(ctx, "shop.price "+item).End()
			})
			wg.Wait() // one at a time, for a stable output
		}
	}()
	span.End()

	lanes := map[int64]bool{}
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "thread.id" {
				lanes[kv.Value.AsInt64()] = true
			}
		}
	}
	printTree(rec.Ended())
	fmt.Println("lanes:", len(lanes))
	// Output:
	// GET /prices
	//   shop.priceAll
	//     shop.price apple
	//     shop.price pear
	// lanes: 3
}

// Tail capture: record every request cheaply, keep function spans only for
// the slow or failed ones, plus one request in a hundred.
func ExampleWithCapture() {
	bsp := sdktrace.NewBatchSpanProcessor(tracetest.NewInMemoryExporter())
	p := sdkhook.NewProcessor(bsp,
		sdkhook.WithCapture(
			sdkhook.CaptureSlowerThan(250*time.Millisecond),
			sdkhook.CaptureFailed(),
			sdkhook.CaptureFraction(0.01),
		),
		sdkhook.WithMinDuration(time.Microsecond),
	)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	_ = tp.Shutdown(context.Background())
	fmt.Println(sdkhook.CaptureAny(sdkhook.CaptureSlowerThan(250*time.Millisecond), sdkhook.CaptureFailed()).Description())
	// Output: Any{SlowerThan{250ms},Failed}
}

// Start returns a context to pass down; EnterFunc names the function itself.
func ExampleStart() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdkhook.NewProcessor(rec)))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ctx, span := tp.Tracer("shop").Start(context.Background(), "GET /", trace.WithSpanKind(trace.SpanKindServer))
	ctx, r := sdkhook.Start(ctx, "shop.handle")
	lookup(ctx)
	r.End()
	span.End()
	printTree(rec.Ended())
	// Output:
	// GET /
	//   shop.handle
	//     sdkhook_test.lookup
}

func lookup(ctx context.Context) {
	defer sdkhook.EnterFunc(ctx).End()
}
