// Command e2e runs the whole otel2chrome story on one machine: two Go services
// instrumented with otelhttp and sdkhook call each other over HTTP on
// 127.0.0.1 and export OTLP to the project's collector distribution
// (cmd/otelcol-chrome), whose chrome exporter writes one Chrome trace file per
// request. One command:
//
//	go run ./examples/e2e -out e2e-traces
//	otel2chrome view e2e-traces/<file>.json
//
// It builds the collector with `go build` (or uses -collector), starts it on a
// free loopback port with a generated config, sends a few requests through the
// services, shuts everything down so every span is flushed, and checks the
// files with the converter's invariant checker before listing them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

type options struct {
	out       string
	collector string
	requests  int
	timeout   time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "e2e-traces", "directory for the Chrome trace files the collector writes")
	fs.StringVar(&o.collector, "collector", "", "otelcol-chrome binary to use (default: go build ./cmd/otelcol-chrome)")
	fs.IntVar(&o.requests, "requests", 3, "requests to send through the services")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.requests < 1 {
		return o, errors.New("-requests must be at least 1")
	}
	return o, nil
}

// result is what a run produced, for the caller and for tests.
type result struct {
	files    []string // Chrome trace files written by the collector
	traceIDs []string // trace IDs of the requests sent, in order
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	_, err = runE2E(ctx, o, stdout, stderr)
	return err
}

func runE2E(ctx context.Context, o options, stdout, stderr io.Writer) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	bin := o.collector
	if bin == "" {
		tmp, err := os.MkdirTemp("", "otel2chrome-e2e-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		fmt.Fprintln(stderr, "e2e: building the collector distribution (go build ./cmd/otelcol-chrome) ...")
		if bin, err = buildCollector(ctx, tmp); err != nil {
			return nil, err
		}
	}
	col, err := startCollector(ctx, bin, o.out, stderr)
	if err != nil {
		return nil, err
	}
	defer col.kill()
	fmt.Fprintf(stderr, "e2e: collector listening for OTLP on %s, writing to %s\n", col.otlpAddr, o.out)

	ids, err := runServices(ctx, col.otlpAddr, o.requests, stderr)
	if err != nil {
		return nil, err
	}
	// The services flushed their spans on shutdown; stopping the collector
	// makes the chrome exporter write every trace it still holds.
	if err := col.stop(30 * time.Second); err != nil {
		return nil, err
	}
	files, err := checkOutput(o.out, ids)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	fmt.Fprintf(stderr, "e2e: %d requests, %d Chrome trace files in %s; open one with: otel2chrome view %s\n",
		len(ids), len(files), o.out, files[0])
	return &result{files: files, traceIDs: ids}, nil
}
