package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// sdkLoad describes traffic from the OTel Go SDK whose every trace ID and
// span count is known: each trace has its root in one service and its
// children split between that service and the next, so that one trace reaches
// the balancer from two services over both protocols (services alternate
// between gRPC and HTTP exporters).
type sdkLoad struct {
	services      int
	traces        int
	spansPerTrace int
	// rate bounds traces per second over all services; 0 sends as fast as the
	// SDK takes them (blocking batchers, so the SDK drops nothing).
	rate int
}

// sentTrace is what was sent for one trace: its span count and when its
// first and last span were handed to the SDK.
type sentTrace struct {
	spans       int
	first, last time.Time
}

// sendSDK sends l to the balancer and returns what it sent, by trace ID.
// Cancelling ctx ends the traffic early.
func sendSDK(ctx context.Context, grpcAddr, httpAddr string, l sdkLoad) (map[string]sentTrace, error) {
	var tps []*sdktrace.TracerProvider
	for i := range l.services {
		var exp sdktrace.SpanExporter
		var err error
		if i%2 == 0 {
			exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
		} else {
			exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure())
		}
		if err != nil {
			return nil, err
		}
		tps = append(tps, sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exp, sdktrace.WithBlocking(), sdktrace.WithMaxQueueSize(20000),
				sdktrace.WithMaxExportBatchSize(1000), sdktrace.WithBatchTimeout(100*time.Millisecond)),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", fmt.Sprintf("shop-%c", 'a'+i)))),
		))
	}
	sent := make(map[string]sentTrace, l.traces)
	var mu sync.Mutex
	// One goroutine per service sends the traces rooted in it.
	var wg sync.WaitGroup
	start := time.Now()
	for i := range l.services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			root := tps[i].Tracer("scaleout")
			other := tps[(i+1)%l.services].Tracer("scaleout")
			for n := i; n < l.traces && ctx.Err() == nil; n += l.services {
				if l.rate > 0 {
					if wait := time.Until(start.Add(time.Duration(n) * time.Second / time.Duration(l.rate))); wait > 0 {
						time.Sleep(wait)
					}
				}
				first := time.Now()
				id := sendTrace(root, other, l.spansPerTrace, n)
				mu.Lock()
				sent[id] = sentTrace{spans: l.spansPerTrace, first: first, last: time.Now()}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var errs []error
	for _, tp := range tps {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		errs = append(errs, tp.Shutdown(sctx))
		cancel()
	}
	return sent, errors.Join(errs...)
}

// sendTrace records one trace of n spans: a server root in one service and
// nested children, every other one in a second service as a server span under
// a client span of the first, all within their parents' time.
func sendTrace(root, other trace.Tracer, n, seq int) string {
	base := time.Now()
	ctx, r := root.Start(context.Background(), "GET /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(base), trace.WithAttributes(attribute.Int("seq", seq)))
	made := 1
	for j := 0; made < n; j++ {
		s := base.Add(time.Duration(j+1) * 20 * time.Microsecond)
		if j%2 == 1 && made+2 <= n {
			cctx, c := root.Start(ctx, "call", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(s))
			_, srv := other.Start(cctx, "serve", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(s.Add(2*time.Microsecond)))
			srv.End(trace.WithTimestamp(s.Add(12 * time.Microsecond)))
			c.End(trace.WithTimestamp(s.Add(15 * time.Microsecond)))
			made += 2
			continue
		}
		_, c := root.Start(ctx, "step", trace.WithTimestamp(s))
		c.End(trace.WithTimestamp(s.Add(15 * time.Microsecond)))
		made++
	}
	r.End(trace.WithTimestamp(base.Add(time.Duration(n+1) * 20 * time.Microsecond)))
	return r.SpanContext().TraceID().String()
}

// telemetrygenRun sends traces of 1+children spans from service svc over
// proto ("grpc" or "http"), throttled by its --rate (200 traces of 10 spans
// take 20 s at 100, 2 s at 1000): unthrottled, telemetrygen drops spans
// itself under load.
func telemetrygenRun(ctx context.Context, bin, proto, addr, svc string, traces, children, rate int) error {
	args := []string{"traces", "--otlp-insecure", "--service", svc,
		"--traces", strconv.Itoa(traces), "--child-spans", strconv.Itoa(children),
		"--workers", "1", "--rate", strconv.Itoa(rate), "--otlp-endpoint", addr}
	if proto == "http" {
		args = append(args, "--otlp-http")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("telemetrygen %v: %w\n%s", args, err, out)
	}
	return nil
}

// hookserviceRun runs the sdkhook example service with -selftest, exporting
// over OTLP/HTTP to addr: requests whose function calls are child spans.
func hookserviceRun(ctx context.Context, bin, addr string, requests int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-selftest", "-otlp", addr, "-requests", strconv.Itoa(requests)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("hookservice -selftest -otlp %s: %w\n%s", addr, err, out)
	}
	return nil
}

// buildHookservice builds examples/hookservice into dir.
func buildHookservice(ctx context.Context, dir string) (string, error) {
	bin := dir + "/hookservice"
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/otel2chrome/otel2chrome/examples/hookservice").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./examples/hookservice: %w\n%s", err, out)
	}
	return bin, nil
}
