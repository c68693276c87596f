package chromeexporter

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/exporter/chromeexporter/internal/metadata"
)

// batch returns spans [from, to) of trace tr for service svc; span 0 is the
// root and encloses the others.
func batch(svc string, tr, from, to int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", svc)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("chromeexporter-test")
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := from; i < to; i++ {
		sp := ss.Spans().AppendEmpty()
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[8:], uint64(tr)+1)
		sp.SetTraceID(tid)
		var sid pcommon.SpanID
		binary.BigEndian.PutUint32(sid[:4], uint32(tr)+1)
		binary.BigEndian.PutUint32(sid[4:], uint32(i)+1)
		sp.SetSpanID(sid)
		if i > 0 {
			var root pcommon.SpanID
			binary.BigEndian.PutUint32(root[:4], uint32(tr)+1)
			binary.BigEndian.PutUint32(root[4:], 1)
			sp.SetParentSpanID(root)
		}
		sp.SetName("op")
		start := base.Add(time.Duration(i) * time.Millisecond)
		end := start.Add(time.Millisecond / 2)
		if i == 0 {
			end = base.Add(time.Minute)
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	}
	return td
}

func newTraces(t *testing.T, cfg *Config) exporter.Traces {
	t.Helper()
	require.NoError(t, cfg.Validate())
	exp, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(typ), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	return exp
}

// readChrome reads a Chrome file, gunzipping ".gz", and checks its invariants.
func readChrome(t *testing.T, path string) *check.Report {
	t.Helper()
	rep, err := check.ValidateFile(path)
	require.NoError(t, err)
	return rep
}

func TestPerTraceEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.TraceIdleTimeout = 100 * time.Millisecond
	exp := newTraces(t, cfg)

	const traces, spansPerTrace = 20, 12
	// Each trace arrives in three batches from two services.
	for part := range 3 {
		for tr := range traces {
			svc := "frontend"
			if part > 0 {
				svc = "backend"
			}
			require.NoError(t, exp.ConsumeTraces(context.Background(), batch(svc, tr, part*4, part*4+4)))
		}
	}
	// Idle traces are written without waiting for shutdown.
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir(dir)
		return len(entries) == traces
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, traces)
	seen := map[string]bool{}
	for _, e := range entries {
		assert.True(t, strings.HasPrefix(e.Name(), "frontend-"), e.Name())
		rep := readChrome(t, filepath.Join(dir, e.Name()))
		assert.Len(t, rep.SpanSlices, spansPerTrace)
		assert.Len(t, rep.Processes, 2)
		for id := range rep.SpanSlices {
			assert.False(t, seen[id], "span %s in two files", id)
			seen[id] = true
		}
	}
	assert.Len(t, seen, traces*spansPerTrace)
}

func TestShutdownFlushesEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.TraceIdleTimeout = time.Hour
	exp := newTraces(t, cfg)
	for tr := range 5 {
		require.NoError(t, exp.ConsumeTraces(context.Background(), batch("svc", tr, 0, 3)))
	}
	require.NoError(t, exp.Shutdown(context.Background()))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 5, "shutdown writes traces that were never idle long enough")
}

func TestRollingEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Mode = ModeRolling
	cfg.Directory = ""
	cfg.Path = filepath.Join(dir, "sub", "all.json.gz")
	cfg.Compression = CompressionGzip
	cfg.FlushInterval = 20 * time.Millisecond
	exp := newTraces(t, cfg)
	for tr := range 10 {
		require.NoError(t, exp.ConsumeTraces(context.Background(), batch("svc", tr, 0, 5)))
	}
	require.NoError(t, exp.Shutdown(context.Background()))
	rep := readChrome(t, cfg.Path)
	assert.Len(t, rep.SpanSlices, 50)
}

func TestStartFailsOnUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = filepath.Join(file, "dir")
	exp, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(typ), cfg)
	require.NoError(t, err)
	err = exp.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "per-trace output")
	require.NoError(t, exp.Shutdown(context.Background()))
}

func TestPushReturnsUnstoredSpansForRetry(t *testing.T) {
	// Writes fail while the directory is replaced by a regular file: unlike
	// chmod, that stops root too, so the test runs under CI as root.
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.Mkdir(dir, 0o755))
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.MaxTracesInMemory = 1
	telemetry, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	e := newChromeExporter(cfg, component.MustNewID("chrome"), zap.NewNop(), telemetry)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e.pushTraces(context.Background(), batch("svc", 1, 0, 2)))
	require.NoError(t, os.Rename(dir, dir+".moved"))
	require.NoError(t, os.WriteFile(dir, nil, 0o644))
	err = e.pushTraces(context.Background(), batch("svc", 2, 0, 3))
	var te consumererror.Traces
	require.True(t, errors.As(err, &te), "got %v", err)
	assert.Equal(t, 3, te.Data().SpanCount())
	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.Rename(dir+".moved", dir))
	require.NoError(t, e.pushTraces(context.Background(), te.Data()))
	require.NoError(t, e.shutdown(context.Background()))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 2)
}

// withPayload gives every span of td an attribute of n bytes.
func withPayload(td ptrace.Traces, n int) ptrace.Traces {
	payload := strings.Repeat("x", n)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		spans.At(i).Attributes().PutStr("payload", payload)
	}
	return td
}

// TestLimitsDropCountedLoggedAndNamedInFile: spans past max_spans_per_trace,
// in one request, and spans of one trace in one request larger than
// max_memory_mb are dropped; the exporter's own counter, a warning per trace
// and the files' otherData all say how many.
func TestLimitsDropCountedLoggedAndNamedInFile(t *testing.T) {
	dir := t.TempDir()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.TraceIdleTimeout = time.Hour
	cfg.MaxSpansPerTrace = 10
	cfg.MaxMemoryMB = 1
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	require.NoError(t, cfg.Validate())

	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	set := exportertest.NewNopSettings(typ)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	core, logs := observer.New(zap.WarnLevel)
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))

	// Trace 1: 25 spans in one request, 5 more in another: 20 dropped.
	require.NoError(t, exp.ConsumeTraces(context.Background(), batch("svc", 1, 0, 25)))
	require.NoError(t, exp.ConsumeTraces(context.Background(), batch("svc", 1, 25, 30)))
	// Trace 2: 5 spans of 400 KB in one request, 2 MB: only 2 fit in 1 MiB.
	require.NoError(t, exp.ConsumeTraces(context.Background(), withPayload(batch("big", 2, 0, 5), 400<<10)))
	require.NoError(t, exp.Shutdown(context.Background()))

	byReason := countsByReason(t, tt, "otelcol_exporter_chrome_spans_dropped", set.ID)
	assert.Equal(t, map[string]int64{"max_spans_per_trace": 20, "max_memory_mb": 3}, byReason)

	warnings := logs.All()
	require.Len(t, warnings, 2, "one warning per trace, not per request")
	assert.Contains(t, warnings[0].Message, "max_spans_per_trace")
	assert.Contains(t, warnings[1].Message, "max_memory_mb")

	rep := readChrome(t, filepath.Join(dir, "svc-"+traceIDString(1)+".json"))
	assert.Len(t, rep.SpanSlices, 10)
	assert.Equal(t, "20", rep.OtherData["spans_dropped"])
	rep = readChrome(t, filepath.Join(dir, "big-"+traceIDString(2)+".json"))
	assert.Len(t, rep.SpanSlices, 2)
	assert.Equal(t, "3", rep.OtherData["spans_dropped"])
}

// TestMaxMemoryWritesEarly: traces that together exceed max_memory_mb are
// written before they are idle, and none of their spans is lost.
func TestMaxMemoryWritesEarly(t *testing.T) {
	dir := t.TempDir()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.TraceIdleTimeout = time.Hour
	cfg.MaxMemoryMB = 1
	exp := newTraces(t, cfg)
	for tr := range 10 { // 10 traces of 200 KB: 2 MB
		require.NoError(t, exp.ConsumeTraces(context.Background(), withPayload(batch("svc", tr, 0, 4), 50<<10)))
	}
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir(dir)
		return len(entries) >= 5
	}, 10*time.Second, 10*time.Millisecond, "traces written early to stay under 1 MiB")
	require.NoError(t, exp.Shutdown(context.Background()))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 10)
	for _, e := range entries {
		rep := readChrome(t, filepath.Join(dir, e.Name()))
		assert.Len(t, rep.SpanSlices, 4, e.Name())
		assert.NotContains(t, rep.OtherData, "spans_dropped", e.Name())
	}
}

func traceIDString(tr int) string {
	var tid pcommon.TraceID
	binary.BigEndian.PutUint64(tid[8:], uint64(tr)+1)
	return tid.String()
}

// TestSplitTracesCounted: spans of a trace that come after its file was
// written and released start a part file and count as late_spans; a trace
// released without its root span (the root went to another
// collector) counts as missing_parent. Both in the exporter's own telemetry.
func TestSplitTracesCounted(t *testing.T) {
	dir := t.TempDir()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.TraceIdleTimeout = 50 * time.Millisecond
	cfg.TraceRetention = 0
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	set := exportertest.NewNopSettings(typ)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	exp, err := NewFactory().CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))

	ctx := context.Background()
	require.NoError(t, exp.ConsumeTraces(ctx, batch("svc", 1, 0, 4))) // whole
	require.NoError(t, exp.ConsumeTraces(ctx, batch("svc", 2, 1, 4))) // no root
	first := filepath.Join(dir, "svc-"+traceIDString(1)+".json")
	require.Eventually(t, func() bool { _, err := os.Stat(first); return err == nil }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, exp.ConsumeTraces(ctx, batch("svc", 1, 4, 6))) // late: a part file
	require.NoError(t, exp.Shutdown(ctx))

	byReason := countsByReason(t, tt, "otelcol_exporter_chrome_traces_split", set.ID)
	assert.Equal(t, map[string]int64{"late_spans": 1, "missing_parent": 1}, byReason)
	assert.Len(t, readChrome(t, first).SpanSlices, 4)
	assert.Len(t, readChrome(t, filepath.Join(dir, "svc-"+traceIDString(1)+".2.json")).SpanSlices, 2, "the part file holds every late span")
}

// countsByReason reads the exporter's monotonic counter name, every data
// point naming this exporter as exporterhelper names it, by its reason.
func countsByReason(t *testing.T, tt *componenttest.Telemetry, name string, id component.ID) map[string]int64 {
	t.Helper()
	got, err := tt.GetMetric(name)
	require.NoError(t, err)
	sum, ok := got.Data.(metricdata.Sum[int64])
	require.True(t, ok, "a sum, got %T", got.Data)
	assert.True(t, sum.IsMonotonic)
	byReason := map[string]int64{}
	for _, dp := range sum.DataPoints {
		reason, _ := dp.Attributes.Value("reason")
		byReason[reason.AsString()] = dp.Value
		exporter, _ := dp.Attributes.Value("exporter")
		assert.Equal(t, id.String(), exporter.AsString(), "the exporter named, as exporterhelper names it")
	}
	return byReason
}
