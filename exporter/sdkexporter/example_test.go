package sdkexporter_test

import (
	"context"
	"fmt"
	"log"
	"os"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otel2chrome/otel2chrome/exporter/sdkexporter"
)

// A program writes one Chrome trace file per trace; each opens in
// https://ui.perfetto.dev.
func Example() {
	dir, err := os.MkdirTemp("", "traces")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	exp, err := sdkexporter.New(sdkexporter.WithDirectory(dir))
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))

	ctx, span := tp.Tracer("example").Start(context.Background(), "request")
	_, child := tp.Tracer("example").Start(ctx, "query")
	child.End()
	span.End()

	// Shutdown flushes the batcher and writes the trace's file.
	if err := tp.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	files, _ := os.ReadDir(dir)
	fmt.Println(len(files), "file")
	// Output: 1 file
}
