// Command otel2chrome converts OpenTelemetry traces (OTLP protobuf or JSON, Jaeger
// JSON) into Chrome Trace Event files for Perfetto UI and chrome://tracing.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := newRootCmd()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "otel2chrome:", err)
		os.Exit(1)
	}
}
