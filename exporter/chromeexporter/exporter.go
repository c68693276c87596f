package chromeexporter // import "github.com/otel2chrome/otel2chrome/exporter/chromeexporter"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel2chrome/otel2chrome/exporter/chromeexporter/internal/metadata"
	"github.com/otel2chrome/otel2chrome/exporter/internal/chromefile"
)

// chromeExporter is the exporter's state between Start and Shutdown. The sink is
// made in start, not at creation: a collector may create components and then
// fail to start the pipeline, and should not have created directories by then.
type chromeExporter struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	sink      chromefile.Sink
	// Attributes of the dropped-spans counter: the exporter, as exporterhelper
	// names it in its own metrics (the meter is shared by every chrome
	// exporter), and the setting that dropped the spans.
	droppedBySpans, droppedByMemory metric.AddOption
	// Attributes of the split-traces counter, by reason.
	splitLate, splitOrphans metric.AddOption
}

func newChromeExporter(cfg *Config, id component.ID, logger *zap.Logger, telemetry *metadata.TelemetryBuilder) *chromeExporter {
	attrs := func(reason string) metric.AddOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String("exporter", id.String()), attribute.String("reason", reason)))
	}
	return &chromeExporter{cfg: cfg, logger: logger, telemetry: telemetry,
		droppedBySpans: attrs("max_spans_per_trace"), droppedByMemory: attrs("max_memory_mb"),
		splitLate: attrs(string(chromefile.SplitLateSpans)), splitOrphans: attrs(string(chromefile.SplitMissingParent))}
}

func (e *chromeExporter) start(_ context.Context, _ component.Host) error {
	onError := func(err error) { e.logger.Warn("writing Chrome trace file failed; will retry", zap.Error(err)) }
	gz := e.cfg.Compression == CompressionGzip
	// The sink is assigned only on success: a typed nil in the interface would
	// look started to shutdown.
	var sink chromefile.Sink
	switch e.cfg.Mode {
	case ModeRolling:
		r, err := chromefile.NewRolling(chromefile.RollingConfig{
			Path:          e.cfg.Path,
			MaxSize:       int64(e.cfg.MaxSizeMB) << 20,
			MaxBackups:    e.cfg.MaxBackups,
			FlushInterval: e.cfg.FlushInterval,
			Gzip:          gz,
			OnError:       onError,
		})
		if err != nil {
			return err
		}
		sink = r
	default:
		p, err := chromefile.NewPerTrace(chromefile.PerTraceConfig{
			Dir:              e.cfg.Directory,
			IdleTimeout:      e.cfg.TraceIdleTimeout,
			Retention:        e.cfg.TraceRetention,
			MaxTraces:        e.cfg.MaxTracesInMemory,
			MaxSpansPerTrace: e.cfg.MaxSpansPerTrace,
			MaxBytes:         int64(e.cfg.MaxMemoryMB) << 20,
			Gzip:             gz,
			OnError:          onError,
			OnDrop:           e.onDrop,
			OnSplit:          e.onSplit,
		})
		if err != nil {
			return err
		}
		sink = p
	}
	e.sink = sink
	e.sink.Start()
	return nil
}

// onDrop counts spans a limit dropped and logs, once per trace, that it did.
func (e *chromeExporter) onDrop(d chromefile.Drop) {
	reason := e.droppedBySpans
	if d.Reason == chromefile.DropMemory {
		reason = e.droppedByMemory
	}
	e.telemetry.ExporterChromeSpansDropped.Add(context.Background(), int64(d.Spans), reason)
	if !d.First {
		return
	}
	switch d.Reason {
	case chromefile.DropMemory:
		e.logger.Warn("spans of one trace in one request exceed max_memory_mb: the first that fit are kept, the rest dropped; the trace's file says in otherData.spans_dropped how many it lacks",
			zap.Stringer("trace_id", d.Trace), zap.Int("max_memory_mb", e.cfg.MaxMemoryMB), zap.Int("dropped", d.Spans))
	default:
		e.logger.Warn("trace has more spans than max_spans_per_trace: later spans are dropped; its file holds the first ones and says in otherData.spans_dropped how many it lacks",
			zap.Stringer("trace_id", d.Trace), zap.Int("max_spans_per_trace", e.cfg.MaxSpansPerTrace), zap.Int("dropped", d.Spans))
	}
}

// onSplit counts a trace found split over files or collectors. It is logged
// at debug level only: after a load-balancing ring change every trace in
// flight splits, and the counter says how many.
func (e *chromeExporter) onSplit(s chromefile.Split) {
	reason := e.splitLate
	if s.Reason == chromefile.SplitMissingParent {
		reason = e.splitOrphans
	}
	e.telemetry.ExporterChromeTracesSplit.Add(context.Background(), 1, reason)
	e.logger.Debug("trace split over files or collectors", zap.Stringer("trace_id", s.Trace),
		zap.String("reason", string(s.Reason)), zap.String("file", s.Name))
}

// pushTraces stores td in the sink. When a write needed to make room fails, the
// spans not stored are returned as a consumererror.Traces so that the retry
// sender resends only those.
func (e *chromeExporter) pushTraces(_ context.Context, td ptrace.Traces) error {
	err := e.sink.Add(td)
	var pe *chromefile.PartialError
	if errors.As(err, &pe) {
		return consumererror.NewTraces(pe.Err, pe.Remaining)
	}
	return err
}

// shutdown writes everything still held. exporterhelper has drained the queue
// by the time it is called.
func (e *chromeExporter) shutdown(ctx context.Context) error {
	if e.sink == nil {
		return nil
	}
	err := e.sink.Shutdown(ctx)
	switch s := e.sink.(type) {
	case *chromefile.PerTrace:
		files, rewrites, spans := s.Stats()
		e.logger.Info("chrome exporter stopped", zap.String("directory", e.cfg.Directory),
			zap.Int64("files", files), zap.Int64("rewrites", rewrites), zap.Int64("spans_written", spans))
	case *chromefile.Rolling:
		files, rotations := s.Stats()
		e.logger.Info("chrome exporter stopped", zap.String("path", e.cfg.Path),
			zap.Int64("writes", files), zap.Int64("rotations", rotations))
	}
	e.sink = nil
	return err
}
