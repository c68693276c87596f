package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// service is one instrumented HTTP service: its own TracerProvider (so its
// own resource and service.name), sdkhook's processor in front of a batch
// processor exporting OTLP/gRPC, and an otelhttp-wrapped handler.
type service struct {
	name   string
	tp     *sdktrace.TracerProvider
	srv    *http.Server
	addr   string
	client *http.Client
}

func newService(ctx context.Context, name, otlpAddr string, handler func(s *service) http.Handler) (*service, error) {
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(otlpAddr), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, err
	}
	res := resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(name),
		semconv.ServiceInstanceID(name+"-1"),
		semconv.HostName("e2e"),
	)
	s := &service{name: name}
	s.tp = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		// A captured request hands on all its function spans at once: the
		// batch queue must hold them (its default of 2048 would drop some).
		sdktrace.WithSpanProcessor(sdkhook.NewProcessor(
			sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithMaxQueueSize(65536)))),
	)
	prop := propagation.TraceContext{}
	s.client = &http.Client{
		Transport: otelhttp.NewTransport(http.DefaultTransport,
			otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(prop)),
		Timeout: 10 * time.Second,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = l.Addr().String()
	s.srv = &http.Server{
		Handler: otelhttp.NewHandler(handler(s), name,
			otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(prop)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go s.srv.Serve(l)
	return s, nil
}

// shutdown stops serving and flushes every span to the collector.
func (s *service) shutdown(ctx context.Context) error {
	return errors.Join(s.srv.Shutdown(ctx), s.tp.Shutdown(ctx))
}

func (s *service) get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), err
}

// work stands in for real computation: a short, measurable pause.
func work(d time.Duration) { time.Sleep(d) }

// catalogHandler serves GET /item/{id}: a lookup through a cache and a
// database, each a hooked function.
func catalogHandler(s *service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /item/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		item, err := lookupItem(ctx, r.PathValue("id"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, item)
	})
	return mux
}

func lookupItem(ctx context.Context, id string) (item string, err error) {
	ctx, region := sdkhook.Start(ctx, "catalog.lookupItem")
	defer region.Done(&err)
	if cached := readCache(ctx, id); cached != "" {
		return cached, nil
	}
	return queryDB(ctx, id), nil
}

func readCache(ctx context.Context, id string) string {
	defer sdkhook.Enter(ctx, "catalog.readCache").End()
	work(300 * time.Microsecond)
	return ""
}

func queryDB(ctx context.Context, id string) string {
	ctx, region := sdkhook.Start(ctx, "catalog.queryDB")
	defer region.End()
	work(time.Millisecond)
	decodeRow(ctx)
	return "item-" + id
}

func decodeRow(ctx context.Context) {
	defer sdkhook.EnterFunc(ctx).End() // name found from the caller
	work(100 * time.Microsecond)
}

// gatewayHandler serves GET /order/{id}: it validates, fetches two items from
// the catalog in parallel (each on its own lane), and renders.
func gatewayHandler(catalog func() string) func(s *service) http.Handler {
	return func(s *service) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /order/{id}", func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			validate(ctx)
			items, err := fetchItems(ctx, s, catalog(), r.PathValue("id"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			fmt.Fprint(w, render(ctx, items))
		})
		return mux
	}
}

func validate(ctx context.Context) {
	defer sdkhook.Enter(ctx, "gateway.validate").End()
	work(200 * time.Microsecond)
}

func fetchItems(ctx context.Context, s *service, catalogAddr, order string) (items []string, err error) {
	ctx, region := sdkhook.Start(ctx, "gateway.fetchItems")
	defer region.Done(&err)
	ids := []string{order + "a", order + "b"}
	results := make([]string, len(ids))
	errs := make([]error, len(ids))
	done := make(chan struct{}, len(ids))
	for i, id := range ids {
		// Each goroutine gets its own lane (thread.id), so the two calls
		// show side by side instead of overlapping.
		sdkhook.Go(ctx, func(ctx context.Context) {
			defer func() { done <- struct{}{} }()
			defer sdkhook.Enter(ctx, "gateway.fetchItem").End()
			results[i], errs[i] = s.get(ctx, "http://"+catalogAddr+"/item/"+id)
		})
	}
	for range ids {
		<-done
	}
	return results, errors.Join(errs...)
}

func render(ctx context.Context, items []string) string {
	defer sdkhook.Enter(ctx, "gateway.render").End()
	work(200 * time.Microsecond)
	return strings.Join(items, ",")
}

// runServices starts the catalog and gateway services, sends n requests to
// the gateway as an instrumented client, shuts both down (flushing their
// spans) and returns the trace IDs of the requests.
func runServices(ctx context.Context, otlpAddr string, n int, stderr io.Writer) ([]string, error) {
	catalog, err := newService(ctx, "catalog", otlpAddr, catalogHandler)
	if err != nil {
		return nil, err
	}
	gateway, err := newService(ctx, "gateway", otlpAddr, gatewayHandler(func() string { return catalog.addr }))
	if err != nil {
		catalog.shutdown(ctx)
		return nil, err
	}
	var ids []string
	tracer := gateway.tp.Tracer("github.com/otel2chrome/otel2chrome/examples/e2e")
	var reqErr error
	for i := 0; i < n && reqErr == nil; i++ {
		// A client span as the root, so each request is its own trace.
		rctx, span := tracer.Start(ctx, "e2e client", trace.WithSpanKind(trace.SpanKindClient))
		ids = append(ids, span.SpanContext().TraceID().String())
		_, reqErr = gateway.get(rctx, fmt.Sprintf("http://%s/order/%d", gateway.addr, i+1))
		span.End()
		fmt.Fprintf(stderr, "e2e: request %d: trace %s\n", i+1, ids[len(ids)-1])
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := errors.Join(reqErr, gateway.shutdown(sctx), catalog.shutdown(sctx)); err != nil {
		return nil, err
	}
	return ids, nil
}
