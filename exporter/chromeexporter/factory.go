package chromeexporter // import "github.com/otel2chrome/otel2chrome/exporter/chromeexporter"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otel2chrome/otel2chrome/exporter/chromeexporter/internal/metadata"
	"github.com/otel2chrome/otel2chrome/exporter/internal/chromefile"
)

// Defaults of the settings that are not the sinks' own.
const (
	defaultDirectory     = "chrome-traces"
	defaultMaxSizeMB     = 100
	defaultMaxBackups    = 10
	defaultFlushInterval = 5 * time.Second
)

// NewFactory returns a factory for the chrome exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Mode:              ModePerTrace,
		Directory:         defaultDirectory,
		TraceIdleTimeout:  chromefile.DefaultIdleTimeout,
		TraceRetention:    chromefile.DefaultRetention,
		MaxTracesInMemory: chromefile.DefaultMaxTraces,
		MaxSpansPerTrace:  chromefile.DefaultMaxSpansPerTrace,
		MaxMemoryMB:       chromefile.DefaultMaxBytes >> 20,
		MaxSizeMB:         defaultMaxSizeMB,
		MaxBackups:        defaultMaxBackups,
		FlushInterval:     defaultFlushInterval,
		Compression:       CompressionNone,
		TimeoutConfig:     exporterhelper.NewDefaultTimeoutConfig(),
		QueueConfig:       configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:       configretry.NewDefaultBackOffConfig(),
	}
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	telemetry, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := newChromeExporter(c, set.ID, set.Logger, telemetry)
	return exporterhelper.NewTraces(ctx, set, cfg,
		e.pushTraces,
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithQueue(c.QueueConfig),
		exporterhelper.WithRetry(c.RetryConfig),
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
	)
}
