package sdkhook

import (
	"context"
	rtrace "runtime/trace"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the function spans sdkhook emits.
const ScopeName = "github.com/otel2chrome/otel2chrome/sdkhook"

// Attributes sdkhook adds to a request span it recorded, as the next processor
// sees it. The span itself has ended when sdkhook counts, and a ReadOnlySpan
// cannot be changed, so the processor hands on a copy that carries them:
// processors registered beside sdkhook's, rather than after it, do not see
// them.
const (
	// AttrRecorded counts calls recorded for the request.
	AttrRecorded = attribute.Key("sdkhook.recorded")
	// AttrDropped counts calls not recorded: the buffer was full
	// (WithMaxRecords), the call was too deep (WithMaxDepth), or it started
	// after the request span ended (a goroutine outliving its request).
	AttrDropped = attribute.Key("sdkhook.dropped")
	// AttrFiltered counts calls shorter than WithMinDuration.
	AttrFiltered = attribute.Key("sdkhook.filtered")
	// AttrEmitted counts function spans emitted; 0 when the capture policy
	// did not keep the request.
	AttrEmitted = attribute.Key("sdkhook.emitted")
	// AttrLanesDropped counts Fork calls beyond WithMaxLanes.
	AttrLanesDropped = attribute.Key("sdkhook.lanes_dropped")
	// AttrClockFaults counts calls whose exit read the clock earlier than
	// their entry (the kernel found the TSC unstable); they are kept with
	// zero duration. Present only when not zero.
	AttrClockFaults = attribute.Key("sdkhook.clock_faults")
)

// Defaults of the processor options.
const (
	DefaultMaxRecords = 4096
	DefaultMaxDepth   = 64
	DefaultMaxLanes   = 64
)

type config struct {
	maxRecords  int
	maxDepth    int
	maxLanes    int
	minDuration time.Duration
	capture     CapturePolicy
	isRequest   func(sdktrace.ReadOnlySpan) bool
	flight      *FlightRecorder
}

func newConfig(opts []Option) config {
	c := config{
		maxRecords: DefaultMaxRecords,
		maxDepth:   DefaultMaxDepth,
		maxLanes:   DefaultMaxLanes,
		capture:    CaptureAll(),
		isRequest:  IsRequest,
	}
	for _, o := range opts {
		c = o.apply(c)
	}
	return c
}

// Option configures the processor made by NewProcessor.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithMaxRecords bounds the calls recorded per request (default
// DefaultMaxRecords); further calls are counted in AttrDropped. Each pooled
// recorder holds this many records of about 64 bytes.
func WithMaxRecords(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxRecords = n
		}
		return c
	})
}

// WithMaxDepth bounds the nesting of recorded calls per lane (default
// DefaultMaxDepth); deeper calls are counted in AttrDropped.
func WithMaxDepth(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxDepth = n
		}
		return c
	})
}

// WithMaxLanes bounds the lanes (the request's goroutine plus forks) per
// request (default DefaultMaxLanes). Hooks on a fork beyond it record nothing.
func WithMaxLanes(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxLanes = n
		}
		return c
	})
}

// WithMinDuration drops calls shorter than d (default 0: keep all), counted
// in AttrFiltered; calls that failed are always kept. A short call's slot is
// reused, so this also stretches WithMaxRecords.
func WithMinDuration(d time.Duration) Option {
	return optionFunc(func(c config) config {
		c.minDuration = d
		return c
	})
}

// WithCapture sets which requests' records become spans: any of the policies
// (default CaptureAll).
func WithCapture(policies ...CapturePolicy) Option {
	return optionFunc(func(c config) config {
		switch len(policies) {
		case 0:
		case 1:
			c.capture = policies[0]
		default:
			c.capture = CaptureAny(policies...)
		}
		return c
	})
}

// WithRequestFunc sets which spans are requests, the spans hooks attach to
// (default IsRequest). It is called from OnStart, with the span just started.
func WithRequestFunc(f func(sdktrace.ReadOnlySpan) bool) Option {
	return optionFunc(func(c config) config {
		if f != nil {
			c.isRequest = f
		}
		return c
	})
}

// IsRequest is the default request test: a sampled span of kind SERVER, or a
// local root (no parent, or a remote one).
func IsRequest(s sdktrace.ReadOnlySpan) bool {
	if !s.SpanContext().IsSampled() {
		return false
	}
	p := s.Parent()
	return s.SpanKind() == trace.SpanKindServer || !p.IsValid() || p.IsRemote()
}

// liveRecorders counts recorders taken from pools and not yet returned;
// tests use it to prove that every request gives its recorder back.
var liveRecorders atomic.Int64

type processor struct {
	next    sdktrace.SpanProcessor
	cfg     config
	pool    sync.Pool
	scope   instrumentation.Scope
	stopped atomic.Bool
}

var _ sdktrace.SpanProcessor = (*processor)(nil)

// NewProcessor returns a SpanProcessor that records function calls during
// request spans and hands every span, plus the function spans of captured
// requests, to next (usually a BatchSpanProcessor). Register it instead of
// next, not beside it:
//
//	bsp := sdktrace.NewBatchSpanProcessor(exporter)
//	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdkhook.NewProcessor(bsp)))
//
// Function spans are handed to next.OnEnd only; next.OnStart never sees them.
// A captured request hands on all its function spans at once, up to
// MaxRecords: size the batch processor's queue for that
// (sdktrace.WithMaxQueueSize; its default of 2048 drops the excess).
func NewProcessor(next sdktrace.SpanProcessor, opts ...Option) sdktrace.SpanProcessor {
	p := &processor{
		next:  next,
		cfg:   newConfig(opts),
		scope: instrumentation.Scope{Name: ScopeName},
	}
	p.pool.New = func() any { return newRecorder(&p.cfg) }
	ticksPerNs() // calibrate the hook clock now, not in a request
	return p
}

// OnStart attaches a recorder to a request span, and binds spans started
// inside a request to its lane, so hooks under them still find it.
func (p *processor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	p.next.OnStart(parent, s)
	if p.stopped.Load() {
		return
	}
	if p.cfg.isRequest(s) {
		p.startRequest(s)
		return
	}
	if active.Load() == 0 {
		return
	}
	b := lookup(parent)
	if b == nil {
		return
	}
	id := s.SpanContext().SpanID()
	if nb, tid, ok := b.rec.aliasFor(b, id); ok {
		if e := (&entry{id: id, b: nb, proc: p}); spans.insert(e) && !nb.rec.addAlias(e, nb.gen) {
			return // the request ended meanwhile
		}
		// The span ran on this lane: saying so puts it on the lane's
		// timeline track, nested in the recorded call that started it
		// (an HTTP client span under the function that made the call),
		// although its parent ID names the request span.
		s.SetAttributes(semconv.ThreadID(int(tid)))
	}
}

func (p *processor) startRequest(s sdktrace.ReadWriteSpan) {
	if rtrace.IsEnabled() {
		// First, so that the record follows the span's start time as
		// closely as it can (~0.5 µs, only while the execution tracer
		// runs): a converter measures the clocks' agreement by it.
		logRequest(s.SpanContext())
	}
	recheckClock()
	rec := p.pool.Get().(*recorder)
	liveRecorders.Add(1)
	sc := s.SpanContext()
	e := &entry{id: sc.SpanID(), proc: p, request: true}
	e.b = rec.openRequest(sc, s.StartTime())
	// Counted before it is visible, so whoever removes it (OnEnd, Shutdown
	// or the undo below) can uncount it.
	active.Add(1)
	if !spans.insert(e) {
		// Too many live spans in one table window; the request goes
		// unrecorded rather than the table growing.
		active.Add(-1)
		p.release(rec)
		return
	}
	// Shutdown sets stopped before scanning the table: either its scan saw
	// this entry, or this load sees stopped and undoes the insert, as the
	// provider will not call OnEnd after shutting down.
	if p.stopped.Load() && spans.remove(e) {
		active.Add(-1)
		p.release(rec)
	}
}

func (p *processor) release(rec *recorder) {
	rec.close()
	rec.reset()
	p.pool.Put(rec)
	liveRecorders.Add(-1)
}

// OnEnd emits the function spans of a captured request before handing the
// request span on.
func (p *processor) OnEnd(s sdktrace.ReadOnlySpan) {
	if active.Load() > 0 {
		if e := spans.find(s.SpanContext().SpanID()); e != nil && e.proc == p && spans.remove(e) {
			if e.request {
				active.Add(-1)
				s = p.endRequest(s, e.b.rec)
			}
		}
	}
	if p.stopped.Load() {
		return
	}
	p.next.OnEnd(s)
}

func (p *processor) endRequest(s sdktrace.ReadOnlySpan, rec *recorder) sdktrace.ReadOnlySpan {
	rec.close()
	defer p.release(rec)
	emitted, late := 0, 0
	capture := !p.stopped.Load() && (len(rec.recs) > 0 || p.cfg.flight != nil) && p.cfg.capture.ShouldCapture(s)
	if capture && rec.traced {
		// Only for captured requests, the ones worth a look (it costs
		// ~1.5 µs): the request span ends on the goroutine that ran it
		// (otelhttp, otelgrpc).
		rec.lanes[0].goid = goroutineID()
	}
	if capture && len(rec.recs) > 0 {
		emitted, late = p.emit(s, rec, p.next.OnEnd)
	}
	var snapshot, skipped string
	if capture && p.cfg.flight != nil {
		snapshot, skipped = p.cfg.flight.request(s.SpanContext())
	}
	goid := rec.lanes[0].goid
	recorded := len(rec.recs) - countFiltered(rec) - late
	rec.dropped += late
	if recorded == 0 && rec.dropped == 0 && rec.filtered == 0 && rec.droppedLanes == 0 && rec.clockFaults == 0 &&
		goid == 0 && snapshot == "" && skipped == "" {
		return s
	}
	own := s.Attributes()
	attrs := append(own[:len(own):len(own)], // never write into the snapshot's array
		AttrRecorded.Int(recorded),
		AttrDropped.Int(rec.dropped),
		AttrFiltered.Int(rec.filtered),
		AttrEmitted.Int(emitted),
	)
	if rec.droppedLanes > 0 {
		attrs = append(attrs, AttrLanesDropped.Int(rec.droppedLanes))
	}
	if rec.clockFaults > 0 {
		attrs = append(attrs, AttrClockFaults.Int(rec.clockFaults))
	}
	if goid != 0 {
		attrs = append(attrs, AttrGoroutineID.Int64(goid))
	}
	if snapshot != "" {
		attrs = append(attrs, AttrGoTrace.String(snapshot))
	}
	if skipped != "" {
		attrs = append(attrs, AttrGoTraceSkipped.String(skipped))
	}
	return &requestSpan{ReadOnlySpan: s, attrs: attrs}
}

func countFiltered(rec *recorder) int {
	n := 0
	for i := range rec.recs {
		if rec.recs[i].flags&flagFiltered != 0 {
			n++
		}
	}
	return n
}

// requestSpan is the ended request span with sdkhook's counters added.
type requestSpan struct {
	sdktrace.ReadOnlySpan
	attrs []attribute.KeyValue
}

func (s *requestSpan) Attributes() []attribute.KeyValue { return s.attrs }

// Shutdown stops recording, gives back the recorders of requests still open
// (the provider will not call OnEnd for them), and shuts next down.
func (p *processor) Shutdown(ctx context.Context) error {
	p.stopped.Store(true)
	for i := range spans.slots {
		if e := spans.slots[i].Load(); e != nil && e.proc == p && spans.slots[i].CompareAndSwap(e, nil) {
			if e.request {
				active.Add(-1)
				p.release(e.b.rec)
			}
		}
	}
	return p.next.Shutdown(ctx)
}

// ForceFlush flushes next. Function spans are handed on when their request
// ends, so sdkhook itself holds nothing to flush.
func (p *processor) ForceFlush(ctx context.Context) error {
	return p.next.ForceFlush(ctx)
}
