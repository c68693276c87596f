package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// shop is a service whose slow requests are slow for different runtime
// reasons, each behind one endpoint:
//
//	/lock     waits for a mutex another goroutine holds (lock contention)
//	/chan     waits for a worker's answer on a channel
//	/gc       allocates hard enough to make the GC run and the request assist it
//	/syscall  blocks in a read(2) on a pipe (a blocking system call)
//	/fast     a little CPU work: the load for the overhead measurement
type shop struct {
	inventory sync.Mutex
	pricing   chan chan int // the pricing worker's queue
	sink      []byte        // keeps /gc's allocations reachable for a moment
	sinkMu    sync.Mutex
}

// holdFor is how long the slow paths wait.
const holdFor = 25 * time.Millisecond

func newShop(ctx context.Context) *shop {
	s := &shop{pricing: make(chan chan int)}
	go s.pricingWorker(ctx)
	return s
}

func (s *shop) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/lock", func(w http.ResponseWriter, r *http.Request) { s.updateInventory(r.Context()); ok(w) })
	m.HandleFunc("/chan", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, s.quotePrice(r.Context())) })
	m.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, s.buildReport(r.Context())) })
	m.HandleFunc("/syscall", func(w http.ResponseWriter, r *http.Request) { readDevice(r.Context()); ok(w) })
	m.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, s.browse(r.Context())) })
	return m
}

func ok(w http.ResponseWriter) { w.Write([]byte("ok\n")) }

// updateInventory takes the inventory lock while a stock-taking goroutine
// holds it: the request's goroutine is blocked on the mutex ("sync").
func (s *shop) updateInventory(ctx context.Context) {
	defer sdkhook.Enter(ctx, "shop.updateInventory").End()
	held := make(chan struct{})
	go func() { // stock-taking, started by someone else in real life
		s.inventory.Lock()
		close(held)
		time.Sleep(holdFor)
		s.inventory.Unlock()
	}()
	<-held
	func() {
		defer sdkhook.Enter(ctx, "shop.lockInventory").End()
		s.inventory.Lock()
	}()
	s.inventory.Unlock()
}

// quotePrice asks the pricing worker and waits for its answer on a channel.
func (s *shop) quotePrice(ctx context.Context) int {
	defer sdkhook.Enter(ctx, "shop.quotePrice").End()
	reply := make(chan int, 1)
	s.pricing <- reply
	defer sdkhook.Enter(ctx, "shop.awaitPrice").End()
	return <-reply
}

func (s *shop) pricingWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case reply := <-s.pricing:
			time.Sleep(holdFor) // a slow backend
			reply <- 42
		}
	}
}

// buildReport allocates hard: the GC runs, and the request's goroutine is
// made to assist it.
func (s *shop) buildReport(ctx context.Context) int {
	defer sdkhook.Enter(ctx, "shop.buildReport").End()
	total := 0
	for i := 0; i < 12; i++ {
		func() {
			defer sdkhook.Enter(ctx, "shop.renderPage").End()
			rows := make([][]byte, 0, 2048)
			for j := 0; j < 2048; j++ {
				rows = append(rows, make([]byte, 4096))
			}
			s.sinkMu.Lock()
			s.sink = rows[len(rows)-1]
			s.sinkMu.Unlock()
			total += len(rows)
		}()
	}
	return total
}

// browse is a little CPU work with a few hooked calls.
func (s *shop) browse(ctx context.Context) int {
	defer sdkhook.Enter(ctx, "shop.browse").End()
	sum := 0
	for i := 0; i < 4; i++ {
		func() {
			defer sdkhook.Enter(ctx, "shop.item").End()
			for j := 0; j < 5000; j++ {
				sum += j * i
			}
		}()
	}
	return sum
}
