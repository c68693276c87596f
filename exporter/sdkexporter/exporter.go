package sdkexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otel2chrome/otel2chrome/exporter/internal/chromefile"
)

// errShutdown is returned by calls after Shutdown.
var errShutdown = errors.New("sdkexporter: exporter is shut down")

// Exporter is an sdktrace.SpanExporter that writes Chrome trace files. It is
// safe for concurrent use.
type Exporter struct {
	// mu guards stopped and busy. busy counts the exports and flushes in
	// progress, which Shutdown waits for, but only until its deadline: a
	// lock held across a slow write would make it wait without one.
	mu      sync.Mutex
	stopped bool
	busy    sync.WaitGroup
	sink    chromefile.Sink
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// New returns an Exporter configured by opts. Exactly one of WithPath (one file)
// and WithDirectory (one file per trace) must be given; New creates the
// directory. In per-trace mode a goroutine writes idle traces until Shutdown.
func New(opts ...Option) (*Exporter, error) {
	cfg := newConfig(opts)
	if cfg.onError == nil {
		cfg.onError = otel.Handle
	}
	var sink chromefile.Sink
	switch {
	case cfg.path != "" && cfg.dir != "":
		return nil, errors.New("sdkexporter: give WithPath or WithDirectory, not both")
	case cfg.path != "":
		r, err := chromefile.NewRolling(chromefile.RollingConfig{Path: cfg.path, Gzip: cfg.gzip, FileMode: cfg.fileMode,
			WrapWriter: cfg.wrapWriter, OnError: cfg.onError})
		if err != nil {
			return nil, fmt.Errorf("sdkexporter: %w", err)
		}
		sink = r
	case cfg.dir != "":
		if cfg.idle <= 0 || cfg.retention < 0 || cfg.maxTraces <= 0 || cfg.maxSpansPerTrace <= 0 || cfg.maxMemory <= 0 {
			return nil, fmt.Errorf("sdkexporter: trace idle timeout (%v), max traces (%d), max spans per trace (%d) and max memory (%d) must be positive, retention (%v) not negative",
				cfg.idle, cfg.maxTraces, cfg.maxSpansPerTrace, cfg.maxMemory, cfg.retention)
		}
		p, err := chromefile.NewPerTrace(chromefile.PerTraceConfig{
			Dir:              cfg.dir,
			IdleTimeout:      cfg.idle,
			Retention:        cfg.retention,
			MaxTraces:        cfg.maxTraces,
			MaxSpansPerTrace: cfg.maxSpansPerTrace,
			MaxBytes:         cfg.maxMemory,
			Gzip:             cfg.gzip,
			FileMode:         cfg.fileMode,
			WrapWriter:       cfg.wrapWriter,
			OnError:          cfg.onError,
			OnDrop:           dropReporter(cfg),
		})
		if err != nil {
			return nil, fmt.Errorf("sdkexporter: %w", err)
		}
		sink = p
	default:
		return nil, errors.New("sdkexporter: give WithPath (one file) or WithDirectory (one file per trace)")
	}
	sink.Start()
	return &Exporter{sink: sink}, nil
}

// ExportSpans stores spans for writing. In per-trace mode it may write files
// when memory limits require it.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(spans) == 0 {
		return nil
	}
	if !e.enter() {
		return errShutdown
	}
	defer e.busy.Done()
	return e.sink.Add(spansToTraces(spans))
}

// ForceFlush writes every span held now. It stops at the context's deadline.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	if !e.enter() {
		return nil
	}
	defer e.busy.Done()
	return e.sink.Flush(ctx)
}

// Shutdown writes every span held and stops background work. It stops at the
// context's deadline and reports what was left unwritten. Later calls do nothing.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	e.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		e.busy.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		// The sink's Shutdown still stops its background work and reports
		// what is left; the export in progress finishes on its own.
	}
	return e.sink.Shutdown(ctx)
}

// enter registers an export or flush, unless the exporter is shut down.
func (e *Exporter) enter() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return false
	}
	e.busy.Add(1)
	return true
}

// dropReporter tells the error handler once per trace that a limit dropped
// some of its spans: once per batch would flood it with a trace that keeps
// sending.
func dropReporter(cfg config) func(chromefile.Drop) {
	return func(d chromefile.Drop) {
		if !d.First {
			return
		}
		limit := fmt.Sprintf("more than %d spans (WithMaxSpansPerTrace)", cfg.maxSpansPerTrace)
		if d.Reason == chromefile.DropMemory {
			limit = fmt.Sprintf("spans in one export larger than %d bytes (WithMaxMemory)", cfg.maxMemory)
		}
		cfg.onError(fmt.Errorf("sdkexporter: trace %s has %s: %d dropped; its file says in otherData.spans_dropped how many it lacks",
			d.Trace, limit, d.Spans))
	}
}
