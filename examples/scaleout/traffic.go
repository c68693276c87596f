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
	// spread, when set, is how long each trace lasts: its spans end one
	// after another over that time, as a request's would, instead of all at
	// once, so that traces are in flight when the tier changes. Each trace
	// then has its own goroutine.
	spread time.Duration
}

// sentTrace is what was sent for one trace: its span count and when its
// first and last span were handed to the SDK.
type sentTrace struct {
	spans       int
	first, last time.Time
	// rejected counts the spans whose export failed for good: the balancer
	// never accepted them. (The OTLP/HTTP exporter does not retry a refused
	// connection, as while the balancer restarts.)
	rejected int
}

// rejectCounter counts, by trace ID, the spans whose export failed.
type rejectCounter struct {
	sdktrace.SpanExporter
	mu       *sync.Mutex
	rejected map[string]int
}

func (r rejectCounter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := r.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		r.mu.Lock()
		for _, s := range spans {
			r.rejected[s.SpanContext().TraceID().String()]++
		}
		r.mu.Unlock()
	}
	return err
}

// sendSDK sends l to the balancer and returns what it sent, by trace ID.
// Cancelling ctx ends the traffic early.
func sendSDK(ctx context.Context, grpcAddr, httpAddr string, l sdkLoad) (map[string]sentTrace, error) {
	var tps []*sdktrace.TracerProvider
	var mu sync.Mutex
	rejected := map[string]int{}
	for i := range l.services {
		var exp sdktrace.SpanExporter
		var err error
		// Retries start sooner than the exporters' default (5 s), so that a
		// balancer restarting with a new ring holds up the senders for about
		// as long as it is away.
		if i%2 == 0 {
			exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond,
					MaxInterval: 500 * time.Millisecond, MaxElapsedTime: time.Minute}))
		} else {
			exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure(),
				otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond,
					MaxInterval: 500 * time.Millisecond, MaxElapsedTime: time.Minute}))
		}
		if err != nil {
			return nil, err
		}
		exp = rejectCounter{SpanExporter: exp, mu: &mu, rejected: rejected}
		tps = append(tps, sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exp, sdktrace.WithBlocking(), sdktrace.WithMaxQueueSize(20000),
				sdktrace.WithMaxExportBatchSize(1000), sdktrace.WithBatchTimeout(100*time.Millisecond)),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", fmt.Sprintf("shop-%c", 'a'+i)))),
		))
	}
	sent := make(map[string]sentTrace, l.traces)
	// One goroutine per service sends the traces rooted in it (with spread,
	// starts one goroutine per trace).
	var wg, traces sync.WaitGroup
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
				one := func() {
					first := time.Now()
					id := sendTrace(root, other, l.spansPerTrace, n, l.spread)
					mu.Lock()
					sent[id] = sentTrace{spans: l.spansPerTrace, first: first, last: time.Now()}
					mu.Unlock()
				}
				if l.spread == 0 {
					one()
					continue
				}
				traces.Add(1)
				go func() {
					defer traces.Done()
					one()
				}()
			}
		}()
	}
	wg.Wait()
	traces.Wait()
	var errs []error
	for _, tp := range tps {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		errs = append(errs, tp.Shutdown(sctx))
		cancel()
	}
	for id, n := range rejected {
		s := sent[id]
		s.rejected = n
		sent[id] = s
	}
	return sent, errors.Join(errs...)
}

// sendTrace records one trace of n spans: a server root in one service and
// nested children, every other one in a second service as a server span under
// a client span of the first, all within their parents' time. The children
// follow each other 20 µs apart; with spread they fill that time instead,
// and each span ends when its end time has come, so the trace's spans reach
// the SDK's exporters over that time.
func sendTrace(root, other trace.Tracer, n, seq int, spread time.Duration) string {
	base := time.Now()
	step := 20 * time.Microsecond
	if spread > 0 {
		step = spread / time.Duration(n+1)
	}
	at := func(t time.Time) trace.SpanEndOption {
		if spread > 0 {
			time.Sleep(time.Until(t))
		}
		return trace.WithTimestamp(t)
	}
	ctx, r := root.Start(context.Background(), "GET /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(base), trace.WithAttributes(attribute.Int("seq", seq)))
	made := 1
	for j := 0; made < n; j++ {
		s := base.Add(time.Duration(j+1) * step)
		if j%2 == 1 && made+2 <= n {
			cctx, c := root.Start(ctx, "call", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(s))
			_, srv := other.Start(cctx, "serve", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(s.Add(step/10)))
			srv.End(at(s.Add(step * 6 / 10)))
			c.End(at(s.Add(step * 3 / 4)))
			made += 2
			continue
		}
		_, c := root.Start(ctx, "step", trace.WithTimestamp(s))
		c.End(at(s.Add(step * 3 / 4)))
		made++
	}
	r.End(at(base.Add(time.Duration(n+1) * step)))
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
