package sdkexporter

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

func readChrome(t *testing.T, path string) *check.Report {
	t.Helper()
	rep, err := check.ValidateFile(path)
	require.NoError(t, err)
	return rep
}

// request records one request: a server span with a client child, an event, a
// link and an error status. It returns the span IDs created.
func request(ctx context.Context, tp trace.TracerProvider, link trace.SpanContext) []string {
	tr := tp.Tracer("shop/http", trace.WithInstrumentationVersion("1.2"))
	ctx, srv := tr.Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.route", "/cart")),
		trace.WithLinks(trace.Link{SpanContext: link}))
	_, cli := tr.Start(ctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient))
	time.Sleep(time.Millisecond)
	cli.AddEvent("rows", trace.WithAttributes(attribute.Int("n", 3)))
	cli.End()
	srv.RecordError(errors.New("out of stock"))
	srv.SetStatus(codes.Error, "out of stock")
	srv.End()
	return []string{srv.SpanContext().SpanID().String(), cli.SpanContext().SpanID().String()}
}

func newProvider(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "shop"))),
	)
}

func TestPerTraceFiles(t *testing.T) {
	dir := t.TempDir()
	exp, err := New(WithDirectory(dir), WithTraceIdleTimeout(time.Hour))
	require.NoError(t, err)
	tp := newProvider(exp)
	var want []string
	for range 3 {
		want = append(want, request(context.Background(), tp, trace.SpanContext{})...)
	}
	require.NoError(t, tp.Shutdown(context.Background()))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 3)
	var got []string
	for _, e := range entries {
		assert.Regexp(t, `^shop-[0-9a-f]{32}\.json$`, e.Name())
		rep := readChrome(t, filepath.Join(dir, e.Name()))
		require.Len(t, rep.SpanSlices, 2)
		for id, s := range rep.SpanSlices {
			got = append(got, id)
			assert.Equal(t, "shop/http", s.Cat, "cat is the instrumentation scope")
			switch s.Args["kind"] {
			case "server":
				assert.Equal(t, "error", s.Args["status"])
				assert.Equal(t, "out of stock", s.Args["status_message"])
				assert.Nil(t, s.Args["parent_span_id"])
			case "client":
				assert.NotNil(t, s.Args["parent_span_id"])
			default:
				t.Errorf("span kind %v", s.Args["kind"])
			}
		}
		assert.NotEmpty(t, rep.Instants, "span events become instant events")
	}
	assert.ElementsMatch(t, want, got)
}

func TestPerTraceIdleWrite(t *testing.T) {
	dir := t.TempDir()
	exp, err := New(WithDirectory(dir), WithTraceIdleTimeout(20*time.Millisecond), WithGzip(true))
	require.NoError(t, err)
	tp := newProvider(exp)
	request(context.Background(), tp, trace.SpanContext{})
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir(dir)
		return len(entries) == 1 && strings.HasSuffix(entries[0].Name(), ".json.gz")
	}, 10*time.Second, 10*time.Millisecond, "an idle trace is written before shutdown")
	require.NoError(t, tp.Shutdown(context.Background()))
}

func TestOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "trace.json")
	exp, err := New(WithPath(path))
	require.NoError(t, err)
	tp := newProvider(exp)
	first := request(context.Background(), tp, trace.SpanContext{})
	_, err = os.Stat(path)
	require.True(t, os.IsNotExist(err), "nothing is written before a flush")

	require.NoError(t, exp.ForceFlush(context.Background()))
	assert.Len(t, readChrome(t, path).SpanSlices, 2)

	// A link to a span of the first request.
	var link trace.SpanContext
	link = link.WithTraceID(trace.TraceID{1}).WithSpanID(trace.SpanID{1})
	second := request(context.Background(), tp, link)
	require.NoError(t, tp.Shutdown(context.Background()))
	rep := readChrome(t, path)
	var got []string
	for id := range rep.SpanSlices {
		got = append(got, id)
	}
	assert.ElementsMatch(t, append(first, second...), got)
}

func TestNewErrors(t *testing.T) {
	_, err := New()
	assert.ErrorContains(t, err, "give WithPath (one file) or WithDirectory")
	_, err = New(WithPath("a.json"), WithDirectory("d"))
	assert.ErrorContains(t, err, "not both")
	_, err = New(WithDirectory(t.TempDir()), WithMaxTraces(0))
	assert.ErrorContains(t, err, "must be positive")
	_, err = New(WithDirectory(t.TempDir()), WithMaxMemory(0))
	assert.ErrorContains(t, err, "max memory (0) must be positive")
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = New(WithDirectory(filepath.Join(file, "d")))
	assert.ErrorContains(t, err, "sdkexporter: per-trace output")
}

func TestShutdownHonoursContext(t *testing.T) {
	dir := t.TempDir()
	exp, err := New(WithDirectory(dir), WithTraceIdleTimeout(time.Hour))
	require.NoError(t, err)
	tp := newProvider(exp)
	request(context.Background(), tp, trace.SpanContext{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, exp.ForceFlush(ctx), context.Canceled)
	require.ErrorIs(t, exp.Shutdown(ctx), context.Canceled)
	require.NoError(t, exp.Shutdown(context.Background()), "a second Shutdown does nothing")
	require.NoError(t, exp.ExportSpans(context.Background(), nil))

	err = exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{spanFor(t)})
	require.ErrorIs(t, err, errShutdown)
	require.ErrorIs(t, exp.ExportSpans(ctx, []sdktrace.ReadOnlySpan{spanFor(t)}), context.Canceled)
}

// spanFor returns one ended span.
func spanFor(t *testing.T) sdktrace.ReadOnlySpan {
	t.Helper()
	var got sdktrace.ReadOnlySpan
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(endHook(func(s sdktrace.ReadOnlySpan) { got = s })))
	_, s := tp.Tracer("t").Start(context.Background(), "x")
	s.End()
	require.NotNil(t, got)
	return got
}

type endHook func(sdktrace.ReadOnlySpan)

func (h endHook) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (h endHook) OnEnd(s sdktrace.ReadOnlySpan)                   { h(s) }
func (h endHook) Shutdown(context.Context) error                  { return nil }
func (h endHook) ForceFlush(context.Context) error                { return nil }

func TestOneFileKeepsEarlierRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.json")
	for run := range 2 {
		exp, err := New(WithPath(path))
		require.NoError(t, err)
		tp := newProvider(exp)
		request(context.Background(), tp, trace.SpanContext{})
		require.NoError(t, tp.Shutdown(context.Background()))
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, run+1, "the earlier run's file is kept under a time-stamped name")
	}
	for _, e := range listFiles(t, dir) {
		assert.Len(t, readChrome(t, e).SpanSlices, 2)
	}
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out
}

func TestFileModes(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []Option
		want os.FileMode
	}{
		{"per-trace default", []Option{WithDirectory(t.TempDir())}, 0o644},
		{"per-trace 0600", []Option{WithDirectory(t.TempDir()), WithFileMode(0o600)}, 0o600},
		{"one file default", []Option{WithPath(filepath.Join(t.TempDir(), "t.json"))}, 0o644},
		{"one file 0640 gzip", []Option{WithPath(filepath.Join(t.TempDir(), "t.json.gz")), WithGzip(true), WithFileMode(0o640)}, 0o640},
	} {
		t.Run(tt.name, func(t *testing.T) {
			exp, err := New(tt.opts...)
			require.NoError(t, err)
			tp := newProvider(exp)
			request(context.Background(), tp, trace.SpanContext{})
			require.NoError(t, exp.ForceFlush(context.Background()))
			request(context.Background(), tp, trace.SpanContext{}) // the one file is rewritten
			require.NoError(t, tp.Shutdown(context.Background()))
			c := newConfig(tt.opts)
			dir := c.dir
			if dir == "" {
				dir = filepath.Dir(c.path)
			}
			files := listFiles(t, dir)
			require.NotEmpty(t, files)
			for _, f := range files {
				info, err := os.Stat(f)
				require.NoError(t, err)
				assert.Equal(t, tt.want, info.Mode().Perm(), f)
			}
		})
	}
}

func TestOneFilePathMustMatchGzip(t *testing.T) {
	_, err := New(WithPath(filepath.Join(t.TempDir(), "t.json")), WithGzip(true))
	assert.ErrorContains(t, err, "does not end in .gz but the file is gzipped")
}

// blockingWriter holds every write until release is closed.
type blockingWriter struct {
	w       io.Writer
	started chan<- struct{}
	release <-chan struct{}
}

func (b blockingWriter) Write(p []byte) (int, error) {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-b.release
	return b.w.Write(p)
}

// TestShutdownDeadlineWithExportInProgress: an export stuck in a slow write
// (here one making room under WithMaxTraces) must not hold Shutdown past its
// deadline.
func TestShutdownDeadlineWithExportInProgress(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := func(c *config) {
		c.wrapWriter = func(w io.Writer) io.Writer { return blockingWriter{w: w, started: started, release: release} }
	}
	exp, err := New(WithDirectory(dir), WithTraceIdleTimeout(time.Hour), WithMaxTraces(1), slow)
	require.NoError(t, err)
	require.NoError(t, exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{spanFor(t)}))
	exported := make(chan error, 1)
	go func() { exported <- exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{spanFor(t)}) }()
	<-started // the second export is writing the first trace to make room

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = exp.Shutdown(ctx)
	elapsed := time.Since(begin)
	close(release)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, elapsed, time.Second, "Shutdown returns at its deadline")
	require.NoError(t, <-exported)
}

// TestExportDropsPastSpanLimit: a trace past its span limit drops its later
// spans, also while writes fail, the error handler hears of it once, and the
// file says how many spans it lacks.
func TestExportDropsPastSpanLimit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var bg []error
	exp, err := New(WithDirectory(dir), WithTraceIdleTimeout(time.Hour), WithMaxSpansPerTrace(2),
		WithErrorHandler(func(err error) { bg = append(bg, err) }))
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.WriteFile(dir, nil, 0o644)) // nothing can be created in it, even by root
	tr := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)).Tracer("t")
	ctx, root := tr.Start(context.Background(), "root")
	var kept []string
	for i := range 7 {
		_, s := tr.Start(ctx, "child")
		s.End() // WithSyncer: ExportSpans runs here; its error would go to otel.Handle
		if i < 2 {
			kept = append(kept, s.SpanContext().SpanID().String())
		}
	}
	root.End()
	require.Len(t, bg, 1, "one report for the trace")
	assert.ErrorContains(t, bg[0], "has more than 2 spans (WithMaxSpansPerTrace)")
	require.Error(t, exp.ForceFlush(context.Background()), "the directory is still broken")
	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, exp.Shutdown(context.Background()))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	rep, err := check.ValidateFile(filepath.Join(dir, entries[0].Name()))
	require.NoError(t, err)
	assert.Len(t, rep.SpanSlices, 2)
	for _, id := range kept {
		assert.Contains(t, rep.SpanSlices, id, "the first spans are kept")
	}
	assert.Equal(t, "6", rep.OtherData["spans_dropped"], "five children and the root")
}
