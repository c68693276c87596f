package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// The shop: a handler whose functions are hooked one line each.

func newMux(tp trace.TracerProvider) *http.ServeMux {
	s := &shop{tracer: tp.Tracer("hookservice")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout", s.checkout)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

type shop struct {
	tracer trace.Tracer
}

func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	defer sdkhook.EnterFunc(ctx).End()
	items, _ := strconv.Atoi(r.URL.Query().Get("items"))
	total, err := s.order(ctx, max(items, 1), r.URL.Query().Get("fail") != "")
	if err != nil {
		trace.SpanFromContext(ctx).SetStatus(codes.Error, err.Error())
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	render(ctx, w, total)
}

func (s *shop) order(ctx context.Context, items int, fail bool) (total int, err error) {
	defer sdkhook.Enter(ctx, "shop.order").Done(&err)
	cart := s.loadCart(ctx, items)
	prices := priceAll(ctx, cart)
	for _, p := range prices {
		total += p
	}
	total = applyDiscounts(ctx, total, 3)
	if fail {
		return 0, reserve(ctx)
	}
	return total, nil
}

func (s *shop) loadCart(ctx context.Context, items int) []string {
	defer sdkhook.EnterFunc(ctx).End()
	// Other instrumentation inside a hooked function: hooks below this span
	// become its children.
	ctx, span := s.tracer.Start(ctx, "db.query cart")
	defer span.End()
	time.Sleep(500 * time.Microsecond)
	cart := make([]string, items)
	for i := range cart {
		cart[i] = decodeRow(ctx, i)
	}
	return cart
}

func decodeRow(ctx context.Context, i int) string {
	defer sdkhook.EnterFunc(ctx).End()
	return "item-" + strconv.Itoa(i)
}

// priceAll prices items concurrently; each goroutine gets its own lane.
func priceAll(ctx context.Context, cart []string) []int {
	defer sdkhook.EnterFunc(ctx).End()
	prices := make([]int, len(cart))
	var wg sync.WaitGroup
	for i, item := range cart {
		wg.Add(1)
		sdkhook.Go(ctx, func(ctx context.Context) {
			defer wg.Done()
			prices[i] = price(ctx, item)
		})
	}
	wg.Wait()
	return prices
}

func price(ctx context.Context, item string) int {
	defer sdkhook.EnterFunc(ctx).End()
	time.Sleep(time.Duration(200+100*len(item)) * time.Microsecond)
	return 100 + len(item)
}

func applyDiscounts(ctx context.Context, total, rounds int) int {
	defer sdkhook.EnterFunc(ctx).End()
	if rounds == 0 {
		return total
	}
	return applyDiscounts(ctx, total*99/100, rounds-1)
}

func reserve(ctx context.Context) (err error) {
	defer sdkhook.Enter(ctx, "shop.reserve").Done(&err)
	time.Sleep(300 * time.Microsecond)
	return errors.New("reserve: out of stock")
}

func render(ctx context.Context, w http.ResponseWriter, total int) {
	defer sdkhook.EnterFunc(ctx).End()
	fmt.Fprintf(w, "total %d\n", total)
}
