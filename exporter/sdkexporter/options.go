package sdkexporter

import (
	"io"
	"io/fs"
	"time"

	"github.com/otel2chrome/otel2chrome/exporter/internal/chromefile"
)

// Defaults of the per-trace options.
const (
	// DefaultTraceIdleTimeout is how long a trace must receive no spans before
	// its file is written.
	DefaultTraceIdleTimeout = chromefile.DefaultIdleTimeout
	// DefaultTraceRetention is how long a written trace's spans are kept so that
	// late spans rewrite its file.
	DefaultTraceRetention = chromefile.DefaultRetention
	// DefaultMaxTraces bounds the traces held in memory.
	DefaultMaxTraces = chromefile.DefaultMaxTraces
	// DefaultMaxSpansPerTrace bounds the spans held for one trace.
	DefaultMaxSpansPerTrace = chromefile.DefaultMaxSpansPerTrace
	// DefaultMaxMemory bounds the bytes of spans held in memory.
	DefaultMaxMemory = chromefile.DefaultMaxBytes
)

// Option configures an Exporter.
type Option func(*config)

type config struct {
	path, dir        string
	idle, retention  time.Duration
	maxTraces        int
	maxSpansPerTrace int
	maxMemory        int64
	gzip             bool
	fileMode         fs.FileMode
	onError          func(error)
	wrapWriter       func(io.Writer) io.Writer // tests: a slow disk
}

func newConfig(opts []Option) config {
	c := config{
		idle:             DefaultTraceIdleTimeout,
		retention:        DefaultTraceRetention,
		maxTraces:        DefaultMaxTraces,
		maxSpansPerTrace: DefaultMaxSpansPerTrace,
		maxMemory:        DefaultMaxMemory,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithPath writes every span into one file at path, at Shutdown and at each
// ForceFlush (each write replaces the file with everything so far). The spans
// are held in memory, compactly, until then: use it for runs of bounded size.
// A file already at path (from an earlier run) is renamed to
// "<name>-<UTC time><ext>" beside it rather than overwritten.
// Exactly one of WithPath and WithDirectory must be given.
func WithPath(path string) Option {
	return func(c *config) { c.path = path }
}

// WithDirectory writes one file per trace into dir, named
// "<service>-<trace id>.json", once the trace has been idle for the trace idle
// timeout, and at ForceFlush and Shutdown.
func WithDirectory(dir string) Option {
	return func(c *config) { c.dir = dir }
}

// WithTraceIdleTimeout sets how long a trace must receive no spans before its
// file is written (per-trace output). Default DefaultTraceIdleTimeout.
func WithTraceIdleTimeout(d time.Duration) Option {
	return func(c *config) { c.idle = d }
}

// WithTraceRetention sets how long a written trace's spans stay in memory so
// that late spans rewrite its file with everything (per-trace output); later
// spans go to a new part file. Default DefaultTraceRetention.
func WithTraceRetention(d time.Duration) Option {
	return func(c *config) { c.retention = d }
}

// WithMaxTraces bounds the traces held in memory (per-trace output); the least
// recently updated is written early to make room. Default DefaultMaxTraces.
func WithMaxTraces(n int) Option {
	return func(c *config) { c.maxTraces = n }
}

// WithMaxSpansPerTrace bounds the spans held, and written, for one trace
// (per-trace output): later spans of the trace are dropped, the trace's file
// holds its first n spans and says in otherData.spans_dropped how many more
// there were, and the error handler is told once per trace.
// Default DefaultMaxSpansPerTrace.
func WithMaxSpansPerTrace(n int) Option {
	return func(c *config) { c.maxSpansPerTrace = n }
}

// WithMaxMemory bounds the spans held in memory (per-trace output), all
// traces together, as bytes of their OTLP protobuf encoding. To make room,
// written traces kept for late spans are released first, then the least
// recently updated traces are written early. Spans of one trace in one export
// that alone exceed n keep the first that fit; the rest are dropped and
// reported like WithMaxSpansPerTrace's. Default DefaultMaxMemory.
func WithMaxMemory(n int64) Option {
	return func(c *config) { c.maxMemory = n }
}

// WithGzip gzips the files; per-trace files are then named ".json.gz", and a
// WithPath file must end in ".gz" exactly when WithGzip is on.
func WithGzip(on bool) Option {
	return func(c *config) { c.gzip = on }
}

// WithFileMode sets the permission bits of the files written. They are set
// with chmod, so the umask does not narrow them. Default 0644 (readable by
// other users); use 0600 for traces others must not read.
func WithFileMode(mode fs.FileMode) Option {
	return func(c *config) { c.fileMode = mode }
}

// WithErrorHandler receives errors of background writes, which have no caller
// to return them to, and a report for each trace a limit dropped spans of.
// The default is otel.Handle.
func WithErrorHandler(fn func(error)) Option {
	return func(c *config) { c.onError = fn }
}
