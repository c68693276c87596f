// Command sampleapp runs three small HTTP services on 127.0.0.1 — frontend,
// inventory and pricing — instrumented with the OpenTelemetry SDK and otelhttp,
// sends one checkout request through them and writes the spans as sample data.
//
// The trace has client and server spans for every hop, function spans nested
// inside the handlers, a parallel fan-out whose sibling spans overlap, a span
// event, an error span with an exception event (with stack trace) and a span
// link from a retry to the attempt that failed. Each service has its own
// tracer provider and resource (service.name, service.instance.id, host.name)
// and exports with the real otlptracehttp exporter to an in-process OTLP sink,
// which writes:
//
//	sample.otlp.jsonl  OTLP JSON Lines, one export request per line
//	sample.otlp.pb     4-byte big-endian length + TracesData per request
//
// the two formats of the collector's file exporter. With -jaeger-otlp it also
// forwards the same export requests to Jaeger's OTLP/HTTP receiver, and with
// -jaeger-query it then fetches the trace back and writes:
//
//	sample.jaeger.json     the /api/traces/<id> answer
//	sample.jaeger-v3.json  the /api/v3/traces/<id> answer
//
// Run it from the repository root to refresh examples/data:
//
//	go run ./examples/sampleapp -out examples/data \
//	    -jaeger-otlp 127.0.0.1:4318 -jaeger-query http://127.0.0.1:16686
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// config is what the flags set.
type config struct {
	out         string        // directory for the sample files
	items       string        // the cart, comma-separated
	jaegerOTLP  string        // host:port of Jaeger's OTLP/HTTP receiver, or ""
	jaegerQuery string        // base URL of Jaeger's query service, or ""
	timeout     time.Duration // for the whole run
}

// result says what a run produced.
type result struct {
	traceID pcommon.TraceID
	spans   int
	files   []string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.out, "out", "examples/data", "write the sample files into `DIR`")
	flag.StringVar(&cfg.items, "items", "widget,gadget,gizmo", "the cart to check out (comma-separated; \"gadget\" fails once)")
	flag.StringVar(&cfg.jaegerOTLP, "jaeger-otlp", "", "also send the spans to Jaeger's OTLP/HTTP receiver at `HOST:PORT` (e.g. 127.0.0.1:4318)")
	flag.StringVar(&cfg.jaegerQuery, "jaeger-query", "", "fetch the trace back from Jaeger's query service at `URL` (e.g. http://127.0.0.1:16686) and save its answers; needs -jaeger-otlp")
	flag.DurationVar(&cfg.timeout, "timeout", time.Minute, "give up after this long")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "sampleapp: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sampleapp:", err)
		os.Exit(1)
	}
	fmt.Println(res.traceID)
}

// run starts the services, sends the checkout request, writes the sample
// files and, if configured, the Jaeger answers. It logs progress to log.
func run(ctx context.Context, cfg config, log io.Writer) (res result, err error) {
	if cfg.jaegerQuery != "" && cfg.jaegerOTLP == "" {
		return res, errors.New("-jaeger-query needs -jaeger-otlp: Jaeger must first receive the spans")
	}
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	sink, err := newOTLPSink()
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := sink.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("OTLP sink: %w", cerr)
		}
	}()

	bodies, reqs, err := checkout(ctx, cfg.items, sink)
	if err != nil {
		return res, err
	}
	res.traceID, res.spans, err = summarize(reqs)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(log, "sampleapp: trace %s: %d spans in %d export requests\n", res.traceID, res.spans, len(reqs))

	jsonl := filepath.Join(cfg.out, "sample.otlp.jsonl")
	if err := writeJSONLines(jsonl, reqs); err != nil {
		return res, err
	}
	pb := filepath.Join(cfg.out, "sample.otlp.pb")
	if err := writeProtoStream(pb, reqs); err != nil {
		return res, err
	}
	res.files = append(res.files, jsonl, pb)

	if cfg.jaegerOTLP != "" {
		if err := forward(ctx, "http://"+cfg.jaegerOTLP+"/v1/traces", bodies); err != nil {
			return res, err
		}
		fmt.Fprintf(log, "sampleapp: sent %d export requests to Jaeger at %s\n", len(bodies), cfg.jaegerOTLP)
	}
	if cfg.jaegerQuery != "" {
		files, err := saveJaeger(ctx, cfg.jaegerQuery, res.traceID, res.spans, cfg.out)
		if err != nil {
			return res, err
		}
		res.files = append(res.files, files...)
	}
	for _, f := range res.files {
		fmt.Fprintf(log, "sampleapp: wrote %s\n", f)
	}
	return res, nil
}

// checkout runs the three services, sends one checkout request to the
// frontend, stops the services (flushing their spans into the sink) and
// returns what the sink received.
func checkout(ctx context.Context, items string, sink *otlpSink) ([][]byte, []ptraceotlp.ExportRequest, error) {
	inventory, err := newService(ctx, "inventory", "inventory-5d9c", "node-b", sink.endpoint(), inventoryRoutes)
	if err != nil {
		return nil, nil, err
	}
	pricing, err := newService(ctx, "pricing", "pricing-19af", "node-c", sink.endpoint(), pricingRoutes)
	if err != nil {
		inventory.stop(ctx)
		return nil, nil, err
	}
	fe := &frontend{inventory: inventory.url, pricing: pricing.url}
	fe.service, err = newService(ctx, "frontend", "frontend-a801", "node-a", sink.endpoint(), fe.routes)
	if err != nil {
		inventory.stop(ctx)
		pricing.stop(ctx)
		return nil, nil, err
	}

	reqErr := request(ctx, fe.url+"/checkout?items="+items)

	// Stop in a fixed order so the export requests, and so the sample files,
	// come out in the same order every time: backends first.
	var errs []error
	for _, s := range []*service{inventory, pricing, fe.service} {
		if err := s.stop(context.WithoutCancel(ctx)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(append([]error{reqErr}, errs...)...); err != nil {
		return nil, nil, err
	}
	bodies, reqs := sink.requests()
	return bodies, reqs, nil
}

// request sends the user's request with a plain client, so the frontend's
// server span is the root of the trace.
func request(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("checkout request: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("checkout request: %s: %s", resp.Status, body)
	}
	return nil
}

// summarize checks that the requests hold exactly one trace and counts its
// spans.
func summarize(reqs []ptraceotlp.ExportRequest) (pcommon.TraceID, int, error) {
	var id pcommon.TraceID
	n := 0
	for _, req := range reqs {
		rss := req.Traces().ResourceSpans()
		for i := range rss.Len() {
			sss := rss.At(i).ScopeSpans()
			for j := range sss.Len() {
				spans := sss.At(j).Spans()
				for k := range spans.Len() {
					tid := spans.At(k).TraceID()
					if n > 0 && tid != id {
						return id, 0, fmt.Errorf("spans of two traces (%s, %s); want one", id, tid)
					}
					id = tid
					n++
				}
			}
		}
	}
	if n == 0 {
		return id, 0, errors.New("the services exported no spans")
	}
	return id, n, nil
}
