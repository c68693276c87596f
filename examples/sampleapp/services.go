package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// scopePrefix names each service's instrumentation scope, so viewers can
// filter the function spans by service code.
const scopePrefix = "github.com/otel2chrome/otel2chrome/examples/sampleapp/"

// propagator carries the trace context across the HTTP hops; it is passed
// explicitly so the program sets no globals.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// service is one instrumented HTTP server on 127.0.0.1 with its own tracer
// provider, as if it ran in its own process.
type service struct {
	name   string
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	client *http.Client // instrumented client for calls to other services
	srv    *http.Server
	url    string
	done   chan error
}

// newService creates the tracer provider of one service, exporting with
// otlptracehttp to endpoint, and starts its HTTP server with routes.
func newService(ctx context.Context, name, instance, host, endpoint string, routes func(*service, *http.ServeMux)) (*service, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("%s: OTLP exporter: %w", name, err)
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", name),
			attribute.String("service.version", "1.0.0"),
			attribute.String("service.instance.id", instance),
			attribute.String("host.name", host),
		))
	if err != nil {
		return nil, fmt.Errorf("%s: resource: %w", name, err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(exp),
	)
	s := &service{
		name:   name,
		tp:     tp,
		tracer: tp.Tracer(scopePrefix+name, trace.WithInstrumentationVersion("1.0.0")),
		client: &http.Client{
			Timeout: 10 * time.Second,
			Transport: otelhttp.NewTransport(http.DefaultTransport.(*http.Transport).Clone(),
				otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagator)),
		},
		done: make(chan error, 1),
	}
	mux := http.NewServeMux()
	routes(s, mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tp.Shutdown(ctx)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           otelhttp.NewHandler(mux, name, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagator)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// stop shuts the server down and flushes the service's spans.
func (s *service) stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if terr := s.tp.Shutdown(ctx); terr != nil && err == nil {
		err = fmt.Errorf("%s: flushing spans: %w", s.name, terr)
	}
	return err
}

// get calls another service and decodes its JSON answer into v.
func (s *service) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, v)
}

// work stands in for real computation: it takes a known time, so the sample
// timeline has visible, stable slices.
func work(d time.Duration) { time.Sleep(d) }

// inventoryRoutes: GET /stock?item=X answers the stock level of one item.
func inventoryRoutes(s *service, mux *http.ServeMux) {
	mux.HandleFunc("GET /stock", func(w http.ResponseWriter, r *http.Request) {
		item := r.URL.Query().Get("item")
		ctx, span := s.tracer.Start(r.Context(), "lookupStock", trace.WithAttributes(attribute.String("item", item)))
		defer span.End()
		_, cache := s.tracer.Start(ctx, "readCache")
		work(300 * time.Microsecond)
		cache.SetAttributes(attribute.Bool("cache.hit", false))
		cache.End()
		_, db := s.tracer.Start(ctx, "queryDB", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("db.system.name", "sqlite"),
			attribute.String("db.query.text", "SELECT qty FROM stock WHERE item = ?"),
		))
		// Items take different times, so the frontend's parallel calls end
		// in a different order than they started.
		work(time.Duration(2+len(item)%4) * time.Millisecond)
		db.End()
		writeJSON(w, map[string]any{"item": item, "qty": 3 + len(item)})
	})
}

// pricingRoutes: GET /price?item=X&attempt=N answers the price of one item.
// The first attempt for "gadget" fails, as a flaky rate service would.
func pricingRoutes(s *service, mux *http.ServeMux) {
	mux.HandleFunc("GET /price", func(w http.ResponseWriter, r *http.Request) {
		item := r.URL.Query().Get("item")
		attempt, _ := strconv.Atoi(r.URL.Query().Get("attempt"))
		ctx, span := s.tracer.Start(r.Context(), "computePrice", trace.WithAttributes(attribute.String("item", item)))
		defer span.End()
		_, rates := s.tracer.Start(ctx, "loadRates")
		work(time.Millisecond)
		if item == "gadget" && attempt <= 1 {
			err := errors.New("rate table unavailable: upstream timed out after 1ms")
			rates.RecordError(err, trace.WithStackTrace(true))
			rates.SetStatus(codes.Error, err.Error())
			rates.End()
			span.SetStatus(codes.Error, "no rates")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		rates.End()
		_, calc := s.tracer.Start(ctx, "applyDiscounts")
		work(500 * time.Microsecond)
		calc.End()
		writeJSON(w, map[string]any{"item": item, "cents": 100 * len(item)})
	})
}

// frontend is the user-facing service; it calls inventory and pricing.
type frontend struct {
	*service
	inventory, pricing string // base URLs
}

func (f *frontend) routes(_ *service, mux *http.ServeMux) {
	mux.HandleFunc("GET /checkout", f.checkout)
}

// checkout parses the cart, checks stock for all items in parallel, prices
// them one by one (retrying a failed call) and renders the answer.
func (f *frontend) checkout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	items, err := f.parseRequest(ctx, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	stock, err := f.checkInventory(ctx, items)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	total, err := f.priceItems(ctx, items)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	_, span := f.tracer.Start(ctx, "renderResponse")
	defer span.End()
	work(200 * time.Microsecond)
	writeJSON(w, map[string]any{"items": items, "stock": stock, "total_cents": total})
}

func (f *frontend) parseRequest(ctx context.Context, r *http.Request) ([]string, error) {
	ctx, span := f.tracer.Start(ctx, "parseRequest")
	defer span.End()
	items := strings.Split(r.URL.Query().Get("items"), ",")
	work(200 * time.Microsecond)
	_, v := f.tracer.Start(ctx, "validateCart")
	defer v.End()
	for _, it := range items {
		if it == "" {
			err := errors.New("empty item name in cart")
			v.SetStatus(codes.Error, err.Error())
			return nil, err
		}
	}
	work(100 * time.Microsecond)
	span.AddEvent("cart.parsed", trace.WithAttributes(attribute.Int("cart.items", len(items))))
	return items, nil
}

// checkInventory asks inventory about every item at once: the client spans
// are siblings that overlap in time.
func (f *frontend) checkInventory(ctx context.Context, items []string) (map[string]int, error) {
	ctx, span := f.tracer.Start(ctx, "checkInventory", trace.WithAttributes(attribute.Int("fanout", len(items))))
	defer span.End()
	stock := make(map[string]int, len(items))
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, item := range items {
		wg.Go(func() {
			var ans struct{ Qty int }
			err := f.get(ctx, f.inventory+"/stock?item="+url.QueryEscape(item), &ans)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			stock[item] = ans.Qty
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	return stock, nil
}

// priceItems prices the items one after another; a failed call is retried
// once, and the retry's span links to the failed attempt.
func (f *frontend) priceItems(ctx context.Context, items []string) (int, error) {
	ctx, span := f.tracer.Start(ctx, "priceItems")
	defer span.End()
	total := 0
	for _, item := range items {
		var links []trace.Link
		for attempt := 1; ; attempt++ {
			cents, sc, err := f.getPrice(ctx, item, attempt, links)
			if err == nil {
				total += cents
				break
			}
			if attempt == 2 {
				span.SetStatus(codes.Error, err.Error())
				return 0, err
			}
			links = []trace.Link{{
				SpanContext: sc,
				Attributes:  []attribute.KeyValue{attribute.String("link.reason", "retry of failed attempt")},
			}}
		}
	}
	return total, nil
}

// getPrice makes one pricing call inside its own span and returns that span's
// context, so a retry can link to it.
func (f *frontend) getPrice(ctx context.Context, item string, attempt int, links []trace.Link) (int, trace.SpanContext, error) {
	ctx, span := f.tracer.Start(ctx, "getPrice", trace.WithLinks(links...), trace.WithAttributes(
		attribute.String("item", item), attribute.Int("retry.attempt", attempt)))
	defer span.End()
	var ans struct{ Cents int }
	err := f.get(ctx, fmt.Sprintf("%s/price?item=%s&attempt=%d", f.pricing, url.QueryEscape(item), attempt), &ans)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return ans.Cents, span.SpanContext(), err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
