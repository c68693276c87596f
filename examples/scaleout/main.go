// Command scaleout runs otel2chrome scaled out on 127.0.0.1: a load-balancing
// collector (otelcol-balancer) routing by trace ID to three otelcol-chrome backends.
//
// It starts the tier from balancer.yaml and backend.yaml beside it, sends
// mixed traffic — traces from the OTel Go SDK over gRPC and HTTP across
// several services, telemetrygen over both protocols, and the sdkhook example
// service (examples/hookservice) — stops the tier front to back so that every
// span is written, checks every file with the converter's checker and reports
// per backend how many traces and spans it wrote:
//
//	bash .ci/tools.sh                 # builds otelcol-balancer and telemetrygen
//	go run ./examples/scaleout -out scaleout-run
//
// Run it from the repository root. The integration test
// (scaleout_integration_test.go) runs the same, plus a one-backend run, a
// backend killed mid-load, and the balancer's ring changed under traffic.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scaleout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "scaleout-run", "directory for logs and the backends' trace files (backend-1, …)")
	balancer := fs.String("balancer", "", "otelcol-balancer binary (default: from $OTEL2CHROME_TOOLS_DIR, as .ci/tools.sh builds it)")
	collector := fs.String("collector", "", "otelcol-chrome binary (default: go build ./cmd/otelcol-chrome)")
	traces := fs.Int("traces", 2000, "SDK traces to send")
	spans := fs.Int("spans-per-trace", 17, "spans per SDK trace")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	work, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "scaleout: "+format+"\n", a...) }
	c, err := defaultRun(ctx, work, *balancer, *collector, logf)
	if err != nil {
		return err
	}
	c.load.traces, c.load.spansPerTrace = *traces, *spans
	res, err := runTier(ctx, c)
	if err != nil {
		return err
	}
	p := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	res.tally.report(p)
	p("SDK traces: %d sent, %s; %d span IDs in more than one file",
		len(res.sent), res.tally.judge(res.sent, nil), res.tally.duplicated())
	for svc, n := range res.tgSpans {
		got := 0
		for _, tt := range res.tally.traces {
			if tt.services[svc] {
				got += tt.spans
			}
		}
		p("%s: %d spans sent, %d written", svc, n, got)
	}
	p("%d spans written in %v end to end (%.0f spans/s); peak RSS: balancer %.0f MiB, backends %s",
		res.spansWritten(), res.elapsed.Round(time.Millisecond), float64(res.spansWritten())/res.elapsed.Seconds(),
		mib(res.peakRSS[0]), mibs(res.peakRSS[1:]))
	p("files: %s/backend-{1,2,3}; logs: %s/*.log", work, work)
	return nil
}

// defaultRun is the mixed traffic of the command and the integration test:
// the caller sets the SDK load's size.
func defaultRun(ctx context.Context, work, balancer, collector string, logf func(string, ...any)) (runConfig, error) {
	var err error
	if balancer == "" {
		if balancer, err = findTool("otelcol-balancer"); err != nil {
			return runConfig{}, err
		}
	}
	tg, err := findTool("telemetrygen")
	if err != nil {
		return runConfig{}, err
	}
	bins := filepath.Join(work, "bin")
	if err := os.MkdirAll(bins, 0o755); err != nil {
		return runConfig{}, err
	}
	if collector == "" {
		if collector, err = buildCollector(ctx, bins); err != nil {
			return runConfig{}, err
		}
	}
	hook, err := buildHookservice(ctx, bins)
	if err != nil {
		return runConfig{}, err
	}
	configDir, err := filepath.Abs(filepath.Join("examples", "scaleout"))
	if err != nil {
		return runConfig{}, err
	}
	if _, err := os.Stat(filepath.Join(configDir, "balancer.yaml")); err != nil {
		// Run from this directory (go test does).
		configDir, _ = os.Getwd()
	}
	return runConfig{
		tierConfig: tierConfig{balancerBin: balancer, backendBin: collector, configDir: configDir,
			work: work, backends: 3, idle: time.Second},
		load:         sdkLoad{services: 4},
		telemetrygen: tg, tgTraces: 200, tgChildren: 9, tgRate: 1000,
		hookservice: hook, hookRequests: 20,
		logf: logf,
	}, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func mibs(bs []int64) string {
	s := ""
	for i, b := range bs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.0f", mib(b))
	}
	return s + " MiB"
}
