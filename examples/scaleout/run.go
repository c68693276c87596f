package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runConfig is one run of the tier under mixed traffic.
type runConfig struct {
	tierConfig
	load sdkLoad
	// telemetrygen sends tgTraces traces of 1+tgChildren spans over gRPC and
	// again over HTTP, at tgRate traces per second; "" skips it.
	telemetrygen                 string
	tgTraces, tgChildren, tgRate int
	// hookservice sends hookRequests requests; "" skips it.
	hookservice  string
	hookRequests int
	// during, when set, runs beside the traffic with the running tier (the
	// fault run kills and restarts a backend from it).
	during func(ctx context.Context, t *tier)
	// drained, when set, runs after the balancer has drained into the
	// backends and stopped, before the backends stop (the ring-change run
	// reads their metrics from it).
	drained func(t *tier) error
	logf    func(format string, args ...any)
}

// runResult is what a run sent, what it found written, and how long it took.
type runResult struct {
	sent    map[string]sentTrace // SDK traces, by ID
	tgSpans map[string]int       // telemetrygen spans sent, by service
	tally   *tally
	// elapsed runs from the first span sent until every backend had written
	// its last file and exited.
	elapsed time.Duration
	// peakRSS is each process's peak resident memory (VmHWM) just before it
	// was stopped: the balancer's, then each backend's.
	peakRSS []int64
}

// spansSent is every span the run sent whose count is known (SDK and
// telemetrygen; hookservice's are counted in the files only).
func (r *runResult) spansSent() int {
	n := 0
	for _, s := range r.sent {
		n += s.spans
	}
	for _, s := range r.tgSpans {
		n += s
	}
	return n
}

// spansWritten is every span in every file.
func (r *runResult) spansWritten() int {
	n := 0
	for _, b := range r.tally.backends {
		n += b.spans
	}
	return n
}

// runTier starts the tier, sends the traffic, stops the tier front to back and
// counts what the backends wrote.
func runTier(ctx context.Context, c runConfig) (*runResult, error) {
	t, err := startTier(c.tierConfig)
	if err != nil {
		return nil, err
	}
	res := &runResult{tgSpans: map[string]int{}}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent, err := sendSDK(ctx, t.grpcAddr, t.httpAddr, c.load)
		res.sent = sent
		fail(err)
	}()
	if c.telemetrygen != "" {
		for _, proto := range []string{"grpc", "http"} {
			addr, svc := t.grpcAddr, "telemetrygen-"+proto
			if proto == "http" {
				addr = t.httpAddr
			}
			res.tgSpans[svc] = c.tgTraces * (c.tgChildren + 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				fail(telemetrygenRun(ctx, c.telemetrygen, proto, addr, svc, c.tgTraces, c.tgChildren, c.tgRate))
			}()
		}
	}
	if c.hookservice != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail(hookserviceRun(ctx, c.hookservice, t.httpAddr, c.hookRequests))
		}()
	}
	if c.during != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.during(ctx, t)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.kill()
		return nil, errors.Join(errs...)
	}
	c.logf("traffic sent in %v", time.Since(start).Round(time.Millisecond))
	// A backend that was away (killed, restarting) gets its share from the
	// balancer's retries; stopping the balancer before they are made would
	// drop it.
	waited, err := awaitRetries(t.balancer.log, time.Second, 2*time.Minute)
	if err != nil {
		t.kill()
		return nil, err
	}
	c.logf("balancer's export retries done %v later; stopping the balancer, then the backends", waited.Round(time.Millisecond))
	for _, p := range append([]*proc{t.balancer}, t.backends...) {
		res.peakRSS = append(res.peakRSS, peakRSS(p))
	}
	if c.drained != nil {
		err := t.balancer.stop(2 * time.Minute)
		if err == nil {
			err = c.drained(t)
		}
		if err != nil {
			t.kill()
			return nil, err
		}
	}
	if err := t.stop(2 * time.Minute); err != nil {
		t.kill()
		return nil, err
	}
	res.elapsed = time.Since(start)
	res.tally, err = count(t.dirs)
	return res, err
}

// peakRSS reads a running process's peak resident set size (VmHWM, Linux);
// 0 when it cannot.
func peakRSS(p *proc) int64 {
	if p.cmd == nil {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
