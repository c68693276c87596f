package converter

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Default limits. They are documented here so every shell (CLI, exporters) shares them.
const (
	// DefaultMaxInputSize bounds what is held in memory at once from one
	// input, after decompression: a JSON document, or one protobuf message or
	// top-level field. Streams of many messages are not bounded in total.
	DefaultMaxInputSize = 1 << 30
	// DefaultMaxAttributeLen truncates attribute string values longer than this
	// many bytes in the output args (the value is cut on a UTF-8 boundary and
	// marked with "…").
	DefaultMaxAttributeLen = 4096
)

// Option configures a Converter.
type Option func(*config)

type config struct {
	traceIDs        map[pcommon.TraceID]struct{}
	services        map[string]struct{}
	minDuration     int64
	windowStart     int64
	windowEnd       int64
	absoluteTime    bool
	noSkewFix       bool
	maxInputSize    int64
	maxAttributeLen int
	progress        func(name string, read int64)
}

func newConfig(opts []Option) config {
	cfg := config{
		maxInputSize:    DefaultMaxInputSize,
		maxAttributeLen: DefaultMaxAttributeLen,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// WithTraceIDs keeps only spans of the given traces. It may be given more than once.
func WithTraceIDs(ids ...pcommon.TraceID) Option {
	return func(c *config) {
		if c.traceIDs == nil {
			c.traceIDs = make(map[pcommon.TraceID]struct{})
		}
		for _, id := range ids {
			c.traceIDs[id] = struct{}{}
		}
	}
}

// WithServices keeps only spans whose resource service.name is one of names.
func WithServices(names ...string) Option {
	return func(c *config) {
		if c.services == nil {
			c.services = make(map[string]struct{})
		}
		for _, n := range names {
			c.services[n] = struct{}{}
		}
	}
}

// WithMinDuration drops spans shorter than d. Children of a dropped span are kept
// and hang from their nearest kept ancestor (up to 256 dropped levels up): they
// nest under it or get an arrow from it, and carry its span ID in
// args.timeline_parent_span_id beside their own parent_span_id.
func WithMinDuration(d time.Duration) Option {
	return func(c *config) { c.minDuration = int64(d) }
}

// WithTimeWindow keeps only spans that overlap [start, end). A zero time leaves
// that side open.
func WithTimeWindow(start, end time.Time) Option {
	return func(c *config) {
		if !start.IsZero() {
			c.windowStart = start.UnixNano()
		}
		if !end.IsZero() {
			c.windowEnd = end.UnixNano()
		}
	}
}

// WithAbsoluteTime writes timestamps as microseconds since the Unix epoch instead
// of rebasing them to the earliest span. Absolute timestamps are too large for a
// double to keep nanoseconds, so sub-microsecond detail may be lost; and since
// viewers then order events less finely than the converter can, an arrow is
// kept only where bind_id binds it whatever that rounding does (its spans start
// at least a microsecond apart), the others are left out and counted.
func WithAbsoluteTime(on bool) Option {
	return func(c *config) { c.absoluteTime = on }
}

// WithoutSkewCorrection turns clock-skew correction off.
func WithoutSkewCorrection() Option {
	return func(c *config) { c.noSkewFix = true }
}

// WithMaxInputSize bounds each unit Decode reads whole: a JSON document, a
// JSON line, or one protobuf message or top-level field, after
// decompression. Larger ones fail with an error naming the input and
// position. JSON Lines and message streams are not bounded in total; as
// their lines are decoded on every core, a few units (two per core, and
// those awaiting the model) may be held at once. Default
// DefaultMaxInputSize.
func WithMaxInputSize(n int64) Option {
	return func(c *config) { c.maxInputSize = n }
}

// WithMaxAttributeLen truncates attribute string values in args to n bytes.
// n <= 0 keeps values whole.
func WithMaxAttributeLen(n int) Option {
	return func(c *config) { c.maxAttributeLen = n }
}

// WithProgress registers fn to be called from Decode as input is read, with the
// input name and the bytes read so far (before decompression). fn must be cheap.
func WithProgress(fn func(name string, read int64)) Option {
	return func(c *config) { c.progress = fn }
}
