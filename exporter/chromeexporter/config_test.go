package chromeexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

func TestUnmarshalDefaultConfig(t *testing.T) {
	factory := NewFactory()
	cfg := factory.CreateDefaultConfig()
	require.NoError(t, confmap.New().Unmarshal(&cfg))
	assert.Equal(t, factory.CreateDefaultConfig(), cfg)
	require.NoError(t, confmap.Validate(cfg), "`chrome:` with no settings must work")
}

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	assert.Equal(t, ModePerTrace, cfg.Mode)
	assert.Equal(t, "chrome-traces", cfg.Directory)
	assert.Equal(t, 5*time.Second, cfg.TraceIdleTimeout)
	assert.Equal(t, 30*time.Second, cfg.TraceRetention)
	assert.Equal(t, 1000, cfg.MaxTracesInMemory)
	assert.Equal(t, 10000, cfg.MaxSpansPerTrace)
	assert.Equal(t, 256, cfg.MaxMemoryMB)
	assert.Empty(t, cfg.Path)
	assert.Equal(t, 100, cfg.MaxSizeMB)
	assert.Equal(t, 10, cfg.MaxBackups)
	assert.Equal(t, 5*time.Second, cfg.FlushInterval)
	assert.Equal(t, CompressionNone, cfg.Compression)
	assert.True(t, cfg.QueueConfig.HasValue(), "queue on by default: writes must not block receivers")
	assert.True(t, cfg.RetryConfig.Enabled)
}

func TestUnmarshalConfig(t *testing.T) {
	withDefaults := func(f func(*Config)) *Config {
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		f(cfg)
		return cfg
	}
	tests := []struct {
		filename             string
		cfg                  *Config
		expectedUnmarshalErr string
		expectedValidateErr  string
	}{
		{
			filename: "config_per_trace.yaml",
			cfg: withDefaults(func(c *Config) {
				c.Directory = "/var/lib/otelcol/chrome"
				c.TraceIdleTimeout = 10 * time.Second
				c.TraceRetention = 2 * time.Minute
				c.MaxTracesInMemory = 500
				c.MaxSpansPerTrace = 20000
				c.MaxMemoryMB = 512
				c.Compression = CompressionGzip
			}),
		},
		{
			filename: "config_rolling.yaml",
			cfg: withDefaults(func(c *Config) {
				c.Mode = ModeRolling
				c.Path = "/var/log/otelcol/traces.json.gz"
				c.MaxSizeMB = 50
				c.MaxBackups = 3
				c.FlushInterval = 2 * time.Second
				c.Compression = CompressionGzip
				c.TimeoutConfig = exporterhelper.TimeoutConfig{Timeout: 10 * time.Second}
				q := exporterhelper.NewDefaultQueueConfig()
				q.NumConsumers = 2
				q.QueueSize = 100
				c.QueueConfig = configoptional.Some(q)
				c.RetryConfig = configretry.BackOffConfig{
					Enabled:             true,
					InitialInterval:     time.Second,
					RandomizationFactor: configretry.NewDefaultBackOffConfig().RandomizationFactor,
					Multiplier:          configretry.NewDefaultBackOffConfig().Multiplier,
					MaxInterval:         10 * time.Second,
					MaxElapsedTime:      time.Minute,
				}
			}),
		},
		{
			filename: "config_queue_disabled.yaml",
			cfg: withDefaults(func(c *Config) {
				c.Directory = "out"
				c.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
				c.RetryConfig.Enabled = false
			}),
		},
		{filename: "config_typo.yaml", expectedUnmarshalErr: "has invalid keys: max_traces_in_memroy"},
		{filename: "config_mode_typo.yaml", expectedUnmarshalErr: "has invalid keys: Mode"},
		{filename: "config_max_spans_not_number.yaml", expectedUnmarshalErr: "max_spans_per_trace"},
		{filename: "config_mode_invalid.yaml", expectedValidateErr: `mode "per_service" is not supported; use "per_trace" or "rolling"`},
		{filename: "config_per_trace_no_directory.yaml", expectedValidateErr: "directory must be set in mode per_trace"},
		{filename: "config_per_trace_with_path.yaml", expectedValidateErr: "path is only used in mode rolling"},
		{filename: "config_idle_timeout_zero.yaml", expectedValidateErr: "trace_idle_timeout must be positive, got 0s"},
		{filename: "config_retention_negative.yaml", expectedValidateErr: "trace_retention must not be negative, got -1s"},
		{filename: "config_max_traces_zero.yaml", expectedValidateErr: "max_traces_in_memory must be positive, got 0"},
		{filename: "config_max_spans_negative.yaml", expectedValidateErr: "max_spans_per_trace must be positive, got -5"},
		{filename: "config_max_memory_zero.yaml", expectedValidateErr: "max_memory_mb must be positive, got 0"},
		{filename: "config_rolling_no_path.yaml", expectedValidateErr: "path must be set in mode rolling"},
		{filename: "config_rolling_path_directory.yaml", expectedValidateErr: `path "/var/log/otelcol/" names a directory`},
		{filename: "config_rolling_size_negative.yaml", expectedValidateErr: "max_size_mb must not be negative, got -1"},
		{filename: "config_rolling_backups_negative.yaml", expectedValidateErr: "max_backups must not be negative, got -1"},
		{filename: "config_rolling_flush_zero.yaml", expectedValidateErr: "flush_interval must be positive, got 0s"},
		{filename: "config_rolling_gzip_json_path.yaml", expectedValidateErr: `path "traces.json" does not end in .gz but the file is gzipped: set compression to gzip exactly when path ends in .gz`},
		{filename: "config_rolling_gz_path_no_compression.yaml", expectedValidateErr: `path "traces.json.gz" ends in .gz but the file is not gzipped: set compression to gzip exactly when path ends in .gz`},
		{filename: "config_compression_invalid.yaml", expectedValidateErr: `compression "zstd" is not supported; use "none" or "gzip"`},
		{filename: "config_timeout_negative.yaml", expectedValidateErr: "timeout"},
		{filename: "config_queue_invalid.yaml", expectedValidateErr: "sending_queue"},
	}

	for _, tt := range tests {
		t.Run(tt.filename, func(t *testing.T) {
			cm, err := confmaptest.LoadConf(filepath.Join("testdata", tt.filename))
			require.NoError(t, err)
			cfg := NewFactory().CreateDefaultConfig()
			err = cm.Unmarshal(&cfg)
			if tt.expectedUnmarshalErr != "" {
				require.ErrorContains(t, err, tt.expectedUnmarshalErr)
				return
			}
			require.NoError(t, err)
			err = confmap.Validate(cfg)
			if tt.expectedValidateErr != "" {
				require.ErrorContains(t, err, tt.expectedValidateErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.cfg, cfg)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = ""
	cfg.MaxTracesInMemory = -1
	cfg.Compression = "lz4"
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{"directory must be set", "max_traces_in_memory must be positive", `compression "lz4"`} {
		assert.ErrorContains(t, err, want)
	}
}
