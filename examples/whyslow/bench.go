package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// benchConfig is one configuration of the overhead measurement.
type benchConfig struct {
	name     string
	recorder bool // a flight recorder runs
	capture  bool // the processor saves snapshots of captured requests
}

var benchConfigs = []benchConfig{
	{name: "flight recorder off"},
	{name: "flight recorder on", recorder: true},
	{name: "on, capturing", recorder: true, capture: true},
}

// runBench measures the request throughput of /fast under closed-loop load
// from clients goroutines, in rounds that interleave the configurations (so
// drift of the machine hits all alike), and reports the median of each.
// Every configuration captures 1% of requests (function spans emitted);
// "capturing" also snapshots them, at the recorder's default rate limit of
// one a second, of its default 2 s window.
func runBench(ctx context.Context, d time.Duration, rounds, clients int, w io.Writer) error {
	snapDir, err := os.MkdirTemp("", "whyslow-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(snapDir)
	svcCtx, stop := context.WithCancel(ctx)
	defer stop()
	var current atomic.Pointer[http.Handler]
	base, shutdown, err := serve(svcCtx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*current.Load()).ServeHTTP(w, r)
	}))
	if err != nil {
		return err
	}
	defer shutdown(context.Background())
	sh := newShop(svcCtx)
	rates := make([][]float64, len(benchConfigs))
	var costs []time.Duration
	var sizes []int64
	for round := 0; round < rounds; round++ {
		for ci, cfg := range benchConfigs {
			var fr *sdkhook.FlightRecorder
			opts := []sdkhook.Option{sdkhook.WithCapture(sdkhook.CaptureFraction(0.01))}
			if cfg.recorder {
				if fr, err = sdkhook.NewFlightRecorder(sdkhook.FlightRecorderConfig{Dir: snapDir, MaxSnapshots: 1 << 20, MaxDiskBytes: 1 << 40}); err != nil {
					return err
				}
				if cfg.capture {
					opts = append(opts, sdkhook.WithFlightRecorder(fr))
				}
			}
			tp := sdktrace.NewTracerProvider(
				sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("whyslow"))),
				sdktrace.WithSpanProcessor(sdkhook.NewProcessor(
					sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter(), sdktrace.WithMaxQueueSize(65536)), opts...)))
			var h http.Handler = otelhttp.NewHandler(sh.mux(), "whyslow", otelhttp.WithTracerProvider(tp))
			current.Store(&h)
			if cfg.recorder {
				time.Sleep(2 * time.Second) // fill the recorder's window first
			}
			rate := measure(ctx, base+"/fast", clients, d)
			rates[ci] = append(rates[ci], rate)
			tp.Shutdown(context.Background())
			if fr != nil {
				fr.Stop(context.Background())
				if st := fr.Stats(); cfg.capture && st.Snapshots > 0 {
					costs = append(costs, st.Cost/time.Duration(st.Snapshots))
					sizes = append(sizes, st.Bytes/int64(st.Snapshots))
				}
			}
			fmt.Fprintf(w, "whyslow: round %d, %-20s %8.0f req/s\n", round+1, cfg.name, rate)
		}
	}
	off := median(rates[0])
	for ci, cfg := range benchConfigs {
		m := median(rates[ci])
		fmt.Fprintf(w, "whyslow: %-20s median %8.0f req/s (%+.1f%%)\n", cfg.name, m, 100*(m-off)/off)
	}
	if len(costs) > 0 {
		sort.Slice(costs, func(i, j int) bool { return costs[i] < costs[j] })
		sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
		fmt.Fprintf(w, "whyslow: snapshot of the 2 s window: median %v, %d bytes (per round means, %d rounds)\n",
			costs[len(costs)/2].Round(10*time.Microsecond), sizes[len(sizes)/2], len(costs))
	}
	return nil
}

// measure runs clients closed-loop clients against url for d and returns
// requests per second.
func measure(ctx context.Context, url string, clients int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for ctx.Err() == nil {
				if get(ctx, client, url) == nil {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
