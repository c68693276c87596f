package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Meter returns the meter of the exporter's own telemetry.
func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

// TelemetryBuilder holds the instruments of the exporter's own telemetry, as
// declared under telemetry in metadata.yaml.
type TelemetryBuilder struct {
	meter                      metric.Meter
	ExporterChromeSpansDropped metric.Int64Counter
	ExporterChromeTracesSplit  metric.Int64Counter
}

// NewTelemetryBuilder creates the instruments from the component's telemetry
// settings.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	builder := TelemetryBuilder{meter: Meter(settings)}
	var err, errs error
	builder.ExporterChromeSpansDropped, err = builder.meter.Int64Counter(
		"otelcol_exporter_chrome_spans_dropped",
		metric.WithDescription("Spans the chrome exporter dropped by its limits; the trace's file says in otherData.spans_dropped how many it lacks. Attributes: exporter (the component ID) and reason (max_spans_per_trace or max_memory_mb). [Development]"),
		metric.WithUnit("{span}"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterChromeTracesSplit, err = builder.meter.Int64Counter(
		"otelcol_exporter_chrome_traces_split",
		metric.WithDescription("Traces the chrome exporter found split over files or collectors. reason late_spans: spans came after the trace's earlier spans were written and left memory, so they start a part file; reason missing_parent: a trace left memory without its root span (the root went to another collector, e.g. after a load-balancing ring change, or was lost); only the part without the root counts, and each exporter counts a trace once. Attributes: exporter (the component ID) and reason. [Development]"),
		metric.WithUnit("{trace}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
