// Command whyslow shows why slow requests were slow: a small HTTP service
// (otelhttp + sdkhook) whose slow requests wait for a mutex, a channel, the
// garbage collector or a system call, with sdkhook's flight recorder saving
// the Go execution trace of every slow request.
//
// By default it runs the service, sends it requests (a background load of
// fast ones, and one slow request of each kind), writes the spans
// (spans.jsonl), the snapshots (gotrace/<trace id>-<span id>.gotrace) and the
// converted timeline (whyslow.json) into -dir, and says where each slow
// request spent its time:
//
//	go run ./examples/whyslow -dir /tmp/whyslow
//	otel2chrome /tmp/whyslow/spans.jsonl /tmp/whyslow/gotrace/*.gotrace -o whyslow.json   # the same, by the CLI
//
// With -bench it measures instead what the flight recorder costs: request
// throughput with the recorder off, on, and on with snapshots being taken,
// and what a snapshot of the default 2 s window costs.
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
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/otel2chrome/otel2chrome/converter"
	"github.com/otel2chrome/otel2chrome/examples/internal/otlpsink"
	"github.com/otel2chrome/otel2chrome/sdkhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "whyslow:", err)
		os.Exit(1)
	}
}

// slowPaths are the slow requests the demo sends, one each.
var slowPaths = []string{"/lock", "/chan", "/gc", "/syscall"}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("whyslow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "whyslow-out", "write spans, snapshots and the timeline into `DIR`")
	bench := fs.Duration("bench", 0, "measure the flight recorder's overhead, each configuration for this long per round")
	rounds := fs.Int("rounds", 3, "with -bench: rounds of the three configurations")
	clients := fs.Int("clients", 4, "with -bench: concurrent clients")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bench > 0 {
		return runBench(ctx, *bench, *rounds, *clients, stderr)
	}
	_, err := demo(ctx, *dir, stderr)
	return err
}

// demoResult is what the demo wrote.
type demoResult struct {
	spans, timeline string
	snapshots       []string
	stats           converter.Stats
}

func demo(ctx context.Context, dir string, stderr io.Writer) (*demoResult, error) {
	snapDir := filepath.Join(dir, "gotrace")
	// Snapshots of an earlier run would count against the recorder's bounds.
	if err := os.RemoveAll(snapDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fr, err := sdkhook.NewFlightRecorder(sdkhook.FlightRecorderConfig{Dir: snapDir, MinInterval: 50 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	defer fr.Stop(context.Background())

	var (
		mu     sync.Mutex
		traces []ptrace.Traces
	)
	sink, err := otlpsink.New(func(_ []byte, req ptraceotlp.ExportRequest) error {
		mu.Lock()
		defer mu.Unlock()
		td := ptrace.NewTraces()
		req.Traces().CopyTo(td)
		traces = append(traces, td)
		return nil
	})
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(sink.Addr()), otlptracehttp.WithInsecure())
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("whyslow"))),
		sdktrace.WithSpanProcessor(sdkhook.NewProcessor(
			sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithMaxQueueSize(65536)),
			sdkhook.WithCapture(sdkhook.CaptureSlowerThan(10*time.Millisecond), sdkhook.CaptureFailed()),
			sdkhook.WithFlightRecorder(fr))),
	)
	svcCtx, stopSvc := context.WithCancel(ctx)
	defer stopSvc()
	base, shutdown, err := serve(svcCtx, otelhttp.NewHandler(newShop(svcCtx).mux(), "whyslow", otelhttp.WithTracerProvider(tp),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path })))
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}

	// A background load of fast requests, so the scheduler has other
	// goroutines to run.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	for range 2 {
		load.Go(func() {
			for loadCtx.Err() == nil {
				get(loadCtx, client, base+"/fast")
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	var errs []error
	for _, p := range slowPaths {
		time.Sleep(100 * time.Millisecond) // past the recorder's MinInterval
		start := time.Now()
		if err := get(ctx, client, base+p); err != nil {
			errs = append(errs, fmt.Errorf("GET %s: %w", p, err))
			continue
		}
		fmt.Fprintf(stderr, "whyslow: GET %-8s %v\n", p, time.Since(start).Round(100*time.Microsecond))
	}
	stopLoad()
	load.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs = append(errs, shutdown(sctx), tp.Shutdown(sctx), fr.Stop(sctx), sink.Close(sctx))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	st := fr.Stats()
	fmt.Fprintf(stderr, "whyslow: %d snapshots (%d skipped), last %d bytes in %v\n", st.Snapshots, st.Skipped, st.LastBytes, st.LastCost.Round(time.Microsecond))

	res := &demoResult{spans: filepath.Join(dir, "spans.jsonl"), timeline: filepath.Join(dir, "whyslow.json")}
	if err := writeJSONLines(res.spans, traces); err != nil {
		return nil, err
	}
	res.snapshots, _ = filepath.Glob(filepath.Join(snapDir, "*.gotrace"))
	sort.Strings(res.snapshots)
	if len(res.snapshots) == 0 {
		return nil, errors.New("no execution-trace snapshot was written")
	}
	c := converter.New()
	for _, td := range traces {
		c.AddTraces(td)
	}
	for _, path := range res.snapshots {
		if err := decodeFile(c, path); err != nil {
			return nil, err
		}
	}
	out, err := os.Create(res.timeline)
	if err != nil {
		return nil, err
	}
	res.stats, err = c.Encode(out)
	if err = errors.Join(err, out.Close()); err != nil {
		return nil, err
	}
	for _, g := range res.stats.GoTraces {
		fmt.Fprintf(stderr, "whyslow: %s: %d goroutine tracks, %d GC phases; clock %s, alignment error median %v, max %v\n",
			filepath.Base(g.Name), g.Goroutines, g.GC, g.Clock, g.AlignMedian, g.AlignMax)
	}
	fmt.Fprintf(stderr, "whyslow: wrote %s (%d spans); open it in https://ui.perfetto.dev\n", res.timeline, res.stats.Spans)
	return res, nil
}

func decodeFile(c *converter.Converter, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.Decode(path, f)
}

func writeJSONLines(path string, traces []ptrace.Traces) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var m ptrace.JSONMarshaler
	for _, td := range traces {
		line, err := m.MarshalTraces(td)
		if err != nil {
			f.Close()
			return err
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// serve runs h on a free port of 127.0.0.1.
func serve(ctx context.Context, h http.Handler) (string, func(context.Context) error, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), srv.Shutdown, nil
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
