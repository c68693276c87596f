// Command hookservice is a small HTTP service instrumented with otelhttp and
// sdkhook: each request's function calls become child spans of its request.
//
// It listens on 127.0.0.1 (a random port unless -addr says otherwise) and
// exports spans to stdout (default), an OTLP/HTTP endpoint (-otlp), or a file
// of OTLP JSON lines (-out) that otel2chrome converts. With -selftest it sends
// a few requests to itself, flushes, checks that function spans were
// exported, and exits 0, so CI can run it:
//
//	go run ./examples/hookservice -selftest -out /tmp/hookservice.jsonl
//	otel2chrome /tmp/hookservice.jsonl > hookservice.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hookservice:", err)
		os.Exit(1)
	}
}

type options struct {
	addr     string
	otlp     string
	out      string
	stdout   bool
	selftest bool
	requests int
	capture  string
}

// queueSize is the batch processors' queue: a captured request hands on all
// its function spans at once (up to sdkhook's 4096 records), more than the
// SDK's default queue of 2048 holds.
const queueSize = 65536

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("hookservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address (loopback; port 0 picks a free one)")
	fs.StringVar(&o.otlp, "otlp", "", "export over OTLP/HTTP to this host:port (e.g. 127.0.0.1:4318) or URL")
	fs.StringVar(&o.out, "out", "", "write spans as OTLP JSON lines to this file")
	fs.BoolVar(&o.stdout, "stdout", false, "export to stdout (the default when neither -otlp nor -out is given)")
	fs.BoolVar(&o.selftest, "selftest", false, "send requests to itself, flush, check, exit")
	fs.IntVar(&o.requests, "requests", 6, "requests to send with -selftest")
	fs.StringVar(&o.capture, "capture", "all", "which requests keep function spans: all, or a comma list of slow=DURATION, failed, fraction=F")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.otlp == "" && o.out == "" {
		o.stdout = true
	}
	return o, nil
}

func parseCapture(s string) ([]sdkhook.CapturePolicy, error) {
	var ps []sdkhook.CapturePolicy
	for _, part := range strings.Split(s, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch name {
		case "all":
			ps = append(ps, sdkhook.CaptureAll())
		case "failed":
			ps = append(ps, sdkhook.CaptureFailed())
		case "slow":
			d, err := time.ParseDuration(val)
			if err != nil {
				return nil, fmt.Errorf("-capture slow=%q: %w", val, err)
			}
			ps = append(ps, sdkhook.CaptureSlowerThan(d))
		case "fraction":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return nil, fmt.Errorf("-capture fraction=%q: %w", val, err)
			}
			ps = append(ps, sdkhook.CaptureFraction(f))
		default:
			return nil, fmt.Errorf("-capture: unknown policy %q (want all, slow=D, failed, fraction=F)", part)
		}
	}
	return ps, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	policies, err := parseCapture(o.capture)
	if err != nil {
		return err
	}

	// Exporters: one batch processor each, fanned out behind sdkhook.
	var (
		procs   []sdktrace.SpanProcessor
		sink    *fileSink
		cleanup []func(context.Context) error
	)
	if o.out != "" {
		sink, err = newFileSink(o.out)
		if err != nil {
			return err
		}
		cleanup = append(cleanup, sink.Close)
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(sink.Addr()), otlptracehttp.WithInsecure())
		if err != nil {
			return fmt.Errorf("OTLP exporter for %s: %w", o.out, err)
		}
		procs = append(procs, sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithMaxQueueSize(queueSize)))
	}
	if o.otlp != "" {
		opt := otlptracehttp.WithEndpoint(o.otlp)
		if strings.Contains(o.otlp, "://") {
			opt = otlptracehttp.WithEndpointURL(o.otlp)
		}
		exp, err := otlptracehttp.New(ctx, opt, otlptracehttp.WithInsecure())
		if err != nil {
			return fmt.Errorf("OTLP exporter for %s: %w", o.otlp, err)
		}
		procs = append(procs, sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithMaxQueueSize(queueSize)))
	}
	if o.stdout {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(stdout))
		if err != nil {
			return err
		}
		procs = append(procs, sdktrace.NewSimpleSpanProcessor(exp))
	}
	counts := &counter{next: procs}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("hookservice"))),
		sdktrace.WithSpanProcessor(sdkhook.NewProcessor(counts, sdkhook.WithCapture(policies...))),
	)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	srv := &http.Server{
		Handler:           otelhttp.NewHandler(newMux(tp), "hookservice", otelhttp.WithTracerProvider(tp)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	fmt.Fprintln(stderr, "hookservice: listening on", base)

	if o.selftest {
		err = selftest(ctx, base, o.requests, stderr)
	} else {
		select {
		case <-ctx.Done():
		case err = <-serveErr:
		}
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(shutdownCtx), tp.Shutdown(shutdownCtx))
	for _, c := range cleanup {
		err = errors.Join(err, c(shutdownCtx))
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil || !o.selftest {
		return err
	}
	fmt.Fprintf(stderr, "hookservice: exported %d spans, %d of them function spans\n", counts.all.Load(), counts.functions.Load())
	if counts.functions.Load() == 0 {
		return errors.New("selftest: no function spans exported")
	}
	if sink != nil {
		if sink.lines.Load() == 0 {
			return fmt.Errorf("selftest: nothing written to %s", o.out)
		}
		fmt.Fprintf(stderr, "hookservice: wrote %d OTLP JSON lines to %s\n", sink.lines.Load(), o.out)
	}
	return nil
}

// selftest sends requests to the service, two at a time so that requests
// overlap: ordinary ones, failing ones and ones with fan-out.
func selftest(ctx context.Context, base string, n int, stderr io.Writer) error {
	client := &http.Client{Timeout: 10 * time.Second}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 2)
	)
	for i := 0; i < n; i++ {
		url := fmt.Sprintf("%s/checkout?items=%d", base, 2+i%4)
		if i%3 == 2 {
			url += "&fail=1"
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, err := get(ctx, client, url)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("selftest request %s: %w", url, err))
				return
			}
			fmt.Fprintf(stderr, "hookservice: GET %s -> %d\n", strings.TrimPrefix(url, base), status)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func get(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// counter counts the spans handed on by sdkhook and fans them out.
type counter struct {
	next      []sdktrace.SpanProcessor
	all       atomic.Int64
	functions atomic.Int64
}

func (c *counter) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	for _, p := range c.next {
		p.OnStart(parent, s)
	}
}

func (c *counter) OnEnd(s sdktrace.ReadOnlySpan) {
	c.all.Add(1)
	if s.InstrumentationScope().Name == sdkhook.ScopeName {
		c.functions.Add(1)
	}
	for _, p := range c.next {
		p.OnEnd(s)
	}
}

func (c *counter) Shutdown(ctx context.Context) error {
	var err error
	for _, p := range c.next {
		err = errors.Join(err, p.Shutdown(ctx))
	}
	return err
}

func (c *counter) ForceFlush(ctx context.Context) error {
	var err error
	for _, p := range c.next {
		err = errors.Join(err, p.ForceFlush(ctx))
	}
	return err
}
