package chromeexporter // import "github.com/otel2chrome/otel2chrome/exporter/chromeexporter"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otel2chrome/otel2chrome/exporter/internal/chromefile"
)

// Mode selects how traces are laid out in files.
type Mode string

const (
	// ModePerTrace writes one file per trace into Directory.
	ModePerTrace Mode = "per_trace"
	// ModeRolling writes every trace into one file at Path, rotated by size.
	ModeRolling Mode = "rolling"
)

// Compression values.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
)

// Config defines the configuration of the chrome exporter.
type Config struct {
	// Mode is per_trace (default) or rolling.
	Mode Mode `mapstructure:"mode"`

	// Directory receives one file per trace in mode per_trace, named
	// "<service>-<trace id>.json" after the service of the trace's root span.
	// Default "chrome-traces", relative to the collector's working directory.
	Directory string `mapstructure:"directory"`
	// TraceIdleTimeout is how long a trace must receive no spans before its file
	// is written: spans of one trace arrive in many batches from many services.
	// Default 5s.
	TraceIdleTimeout time.Duration `mapstructure:"trace_idle_timeout"`
	// TraceRetention is how long a written trace's spans stay in memory so that
	// late spans rewrite its file with everything. Later spans go to a new part
	// file. 0 releases them at once. Default 30s.
	TraceRetention time.Duration `mapstructure:"trace_retention"`
	// MaxTracesInMemory bounds the traces held, written or not. To make room,
	// written traces kept for late spans are dropped first, then the least
	// recently updated trace is written early. Raise it when more than
	// max_traces_in_memory / trace_idle_timeout traces arrive per second, or
	// traces are written before they are complete. Default 1000.
	MaxTracesInMemory int `mapstructure:"max_traces_in_memory"`
	// MaxSpansPerTrace bounds the spans held for one trace, and so the spans
	// of one file: later spans of the trace are dropped and counted, also
	// within one request. The trace is written once idle, as any other; its
	// file holds the first MaxSpansPerTrace spans received and says in
	// otherData.spans_dropped how many more there were. Spans arriving after
	// the trace left memory (written early under max_traces_in_memory or
	// max_memory_mb, or released after trace_retention) start a part file
	// with a bound of its own. Default 10000.
	MaxSpansPerTrace int `mapstructure:"max_spans_per_trace"`
	// MaxMemoryMB bounds the spans held in memory, all traces together, in
	// MiB of their OTLP protobuf encoding, whatever the span sizes. To make
	// room, written traces kept for late spans are released first, then the
	// least recently updated traces are written early (nothing is lost). The
	// spans of one trace in one request that alone exceed it keep the first
	// that fit; the rest are dropped and counted. Default 256.
	MaxMemoryMB int `mapstructure:"max_memory_mb"`

	// Path is the file written in mode rolling. It is rewritten atomically every
	// FlushInterval and rotated to "<name>-<UTC time><ext>" beside it.
	Path string `mapstructure:"path"`
	// MaxSizeMB is the uncompressed size at which the rolling file is rotated;
	// it also bounds the spans held in memory. 0 never rotates. Default 100.
	MaxSizeMB int `mapstructure:"max_size_mb"`
	// MaxBackups is how many rotated files are kept; 0 keeps all. Default 10.
	MaxBackups int `mapstructure:"max_backups"`
	// FlushInterval is how often the rolling file is rewritten with new spans.
	// Each rewrite costs the whole current file. Default 5s.
	FlushInterval time.Duration `mapstructure:"flush_interval"`

	// Compression is none (default) or gzip, for both modes. In per_trace mode
	// gzip files are named ".json.gz"; in rolling mode Path is used as given and
	// must end in ".gz" exactly when compression is gzip.
	Compression string `mapstructure:"compression"`

	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig   configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the exporter configuration. Nested settings (timeout, queue,
// retry) are validated by the collector through their own Validate methods.
func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.Mode {
	case ModePerTrace:
		if strings.TrimSpace(cfg.Directory) == "" {
			errs = append(errs, errors.New("directory must be set in mode per_trace"))
		}
		if cfg.Path != "" {
			errs = append(errs, errors.New("path is only used in mode rolling; per_trace writes into directory"))
		}
		if cfg.TraceIdleTimeout <= 0 {
			errs = append(errs, fmt.Errorf("trace_idle_timeout must be positive, got %v", cfg.TraceIdleTimeout))
		}
		if cfg.TraceRetention < 0 {
			errs = append(errs, fmt.Errorf("trace_retention must not be negative, got %v", cfg.TraceRetention))
		}
		if cfg.MaxTracesInMemory <= 0 {
			errs = append(errs, fmt.Errorf("max_traces_in_memory must be positive, got %d", cfg.MaxTracesInMemory))
		}
		if cfg.MaxSpansPerTrace <= 0 {
			errs = append(errs, fmt.Errorf("max_spans_per_trace must be positive, got %d", cfg.MaxSpansPerTrace))
		}
		if cfg.MaxMemoryMB <= 0 {
			errs = append(errs, fmt.Errorf("max_memory_mb must be positive, got %d", cfg.MaxMemoryMB))
		}
	case ModeRolling:
		if strings.TrimSpace(cfg.Path) == "" {
			errs = append(errs, errors.New("path must be set in mode rolling"))
		} else if strings.HasSuffix(cfg.Path, "/") || strings.HasSuffix(cfg.Path, `\`) {
			errs = append(errs, fmt.Errorf("path %q names a directory; give a file name", cfg.Path))
		}
		// A mismatch is rejected rather than one setting derived from the
		// other: both are explicit, and guessing would hide a typo.
		if err := chromefile.CheckRollingPath(cfg.Path, cfg.Compression == CompressionGzip); err != nil && strings.TrimSpace(cfg.Path) != "" {
			errs = append(errs, fmt.Errorf("%w: set compression to gzip exactly when path ends in .gz", err))
		}
		if cfg.MaxSizeMB < 0 {
			errs = append(errs, fmt.Errorf("max_size_mb must not be negative, got %d", cfg.MaxSizeMB))
		}
		if cfg.MaxBackups < 0 {
			errs = append(errs, fmt.Errorf("max_backups must not be negative, got %d", cfg.MaxBackups))
		}
		if cfg.FlushInterval <= 0 {
			errs = append(errs, fmt.Errorf("flush_interval must be positive, got %v", cfg.FlushInterval))
		}
	default:
		errs = append(errs, fmt.Errorf("mode %q is not supported; use %q or %q", cfg.Mode, ModePerTrace, ModeRolling))
	}
	switch cfg.Compression {
	case "", CompressionNone, CompressionGzip:
	default:
		errs = append(errs, fmt.Errorf("compression %q is not supported; use %q or %q", cfg.Compression, CompressionNone, CompressionGzip))
	}
	return errors.Join(errs...)
}
