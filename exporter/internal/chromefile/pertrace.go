package chromefile

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter"
)

// PerTraceConfig configures a PerTrace sink. Zero limits are replaced by the
// defaults below; the exporters validate user input before it gets here.
type PerTraceConfig struct {
	Dir string
	// IdleTimeout is how long a trace must go without new spans before its file
	// is written. Spans of one trace arrive in many batches, from many services.
	IdleTimeout time.Duration
	// Retention is how long the spans of a written trace stay in memory, so that
	// late spans rewrite the file with everything instead of starting a part file.
	// Zero drops them as soon as the file is written.
	Retention time.Duration
	// MaxTraces bounds the traces held in memory, written or not. When a new
	// trace needs room, the oldest written trace kept for late spans is dropped;
	// when there is none, the least recently updated trace is written early and
	// dropped.
	MaxTraces int
	// MaxSpansPerTrace bounds the spans held, and written, for one trace: the
	// spans it receives past the limit are dropped and counted, also within one
	// batch. The trace is still written when it goes idle, like any other; its
	// file holds its first MaxSpansPerTrace spans, in the order they arrived,
	// and otherData.spans_dropped says how many more there were.
	MaxSpansPerTrace int
	Gzip             bool
	// FileMode is the permission of the files; zero means DefaultFileMode.
	FileMode fs.FileMode
	// WrapWriter is FileOptions.WrapWriter, for tests.
	WrapWriter func(io.Writer) io.Writer
	Converter  []converter.Option
	// OnError receives errors of background writes, which have no caller to
	// return them to. Nil discards them.
	OnError func(error)
	// OnDrop is told of spans dropped by a limit, from Add. Nil ignores them.
	OnDrop func(Drop)
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Defaults for PerTraceConfig.
const (
	DefaultIdleTimeout      = 5 * time.Second
	DefaultRetention        = 30 * time.Second
	DefaultMaxTraces        = 1000
	DefaultMaxSpansPerTrace = 10000
)

// DropReason says which limit dropped spans.
type DropReason string

// Drop reasons.
const (
	// DropSpansPerTrace: the trace already held MaxSpansPerTrace spans.
	DropSpansPerTrace DropReason = "spans_per_trace"
)

// Drop reports spans of one trace that a limit dropped in one call of Add.
type Drop struct {
	Trace  pcommon.TraceID
	Reason DropReason
	Spans  int
	// First is set on the first drop of the trace since its spans were last
	// released from memory, so that a caller can log once per trace rather
	// than once per batch.
	First bool
}

// PartialError reports that only part of a batch was stored. Remaining holds the
// spans that were not, so a caller can retry just those.
type PartialError struct {
	Err       error
	Remaining ptrace.Traces
}

// Error returns the message of the write that failed.
func (e *PartialError) Error() string { return e.Err.Error() }

// Unwrap returns the error of the write that failed.
func (e *PartialError) Unwrap() error { return e.Err }

// PerTrace writes one Chrome trace file per trace into a directory.
//
// A trace is written when it has been idle for IdleTimeout, when memory limits
// force it out, and at Flush or Shutdown. File names are
// "<service>-<trace id>.json" (".json.gz" when gzipped), with the service of the
// trace's root span, sanitised.
//
// Late spans: after a trace is written its spans stay in memory for Retention;
// a late span in that window rewrites the file (atomically) with all spans. Once
// they are released, later spans go to a new file named as above from the late spans themselves, with a ".2", ".3"…
// part suffix when that name is taken: an existing file is never replaced by one
// holding fewer spans, so nothing already written is lost.
type PerTrace struct {
	cfg PerTraceConfig
	ext string

	// mu guards traces, the lists and every traceState field except wmu.
	// Lock order: a traceState's wmu before mu.
	mu     sync.Mutex
	traces map[pcommon.TraceID]*traceState
	// Every state is on one of two lists. active holds traces with spans not
	// yet on disk, least recently updated first; retained holds written traces
	// kept for late spans, oldest write first. Both orders make the idle and
	// retention scans stop at the first trace that is not due, and make room
	// cheaply: a retained trace is dropped before an active one is written early.
	active   *list.List
	retained *list.List

	cancel context.CancelFunc // stops the background loop and its writes
	done   chan struct{}

	files, rewrites, spans atomic.Int64
}

type traceState struct {
	// wmu serialises the writes of this trace, so that the snapshot, the write
	// and the bookkeeping of one write never interleave with another of the same
	// trace. Different traces write in parallel. A state that replaced a dropped
	// one for the same trace never writes the old one's file: it only creates new
	// names (CreateFile never replaces), so the two cannot collide.
	wmu     sync.Mutex
	id      pcommon.TraceID
	service string
	root    bool
	// chunks are batches of this trace's spans as OTLP protobuf: far smaller
	// than pdata, and the converter reads them back only when a file is written.
	chunks    [][]byte
	spans     int
	written   int    // chunks[:written] are in the file name
	name      string // file holding chunks[:written]; "" when there is none
	part      int    // part number of the last file written for this trace
	updated   time.Time
	writtenAt time.Time
	elem      *list.Element // in active or retained
	onList    *list.List

	// droppedLimit counts the spans dropped by MaxSpansPerTrace since the
	// spans were last released; droppedWritten is how many of them the file
	// already says were dropped.
	droppedLimit   int
	droppedWritten int
}

// dirty reports whether the file lacks spans held, or a count of dropped spans.
func (s *traceState) dirty() bool {
	return s.written < len(s.chunks) || s.droppedWritten < s.droppedLimit
}

// NewPerTrace returns a PerTrace sink for cfg. It creates the directory.
// Call Start to write idle traces in the background and Shutdown to stop.
func NewPerTrace(cfg PerTraceConfig) (*PerTrace, error) {
	if cfg.Dir == "" {
		return nil, errors.New("per-trace output: no directory")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Retention < 0 {
		cfg.Retention = 0
	}
	if cfg.MaxTraces <= 0 {
		cfg.MaxTraces = DefaultMaxTraces
	}
	if cfg.MaxSpansPerTrace <= 0 {
		cfg.MaxSpansPerTrace = DefaultMaxSpansPerTrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	if cfg.OnDrop == nil {
		cfg.OnDrop = func(Drop) {}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("per-trace output: %w", err)
	}
	RemoveStaleTemp(cfg.Dir, cfg.Now().Add(-time.Hour))
	ext := ".json"
	if cfg.Gzip {
		ext = ".json.gz"
	}
	return &PerTrace{
		cfg:      cfg,
		ext:      ext,
		traces:   map[pcommon.TraceID]*traceState{},
		active:   list.New(),
		retained: list.New(),
	}, nil
}

// Start writes idle traces in the background until Shutdown.
func (p *PerTrace) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	tick := min(max(p.cfg.IdleTimeout/4, 10*time.Millisecond), time.Second)
	go func() {
		defer close(p.done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.flushIdle(ctx)
			}
		}
	}()
}

// Add stores the spans of td (td is not retained). Spans past
// MaxSpansPerTrace are dropped and reported to OnDrop. Add writes traces early
// when MaxTraces requires; if such a write fails, Add returns a *PartialError
// holding the spans it did not store.
func (p *PerTrace) Add(td ptrace.Traces) error {
	groups := splitByTrace(td, p.cfg.MaxSpansPerTrace)
	for i, g := range groups {
		if err := p.add(g); err != nil {
			// The spans past the limit are not handed back: a retry could
			// not store them either.
			for _, g := range groups[i:] {
				if g.overLimit > 0 {
					p.cfg.OnDrop(Drop{Trace: g.id, Reason: DropSpansPerTrace, Spans: g.overLimit, First: true})
				}
			}
			return &PartialError{Err: err, Remaining: merge(groups[i:])}
		}
	}
	return nil
}

var protoMarshaler ptrace.ProtoMarshaler

// add stores the spans of one trace from one batch. The spans are encoded
// outside p.mu, so the room checked before encoding is checked again after.
func (p *PerTrace) add(g *group) error {
	var chunk []byte
	for {
		p.mu.Lock()
		st := p.traces[g.id]
		if st == nil && len(p.traces) >= p.cfg.MaxTraces {
			if e := p.retained.Front(); e != nil {
				p.removeLocked(e.Value.(*traceState))
				p.mu.Unlock()
				continue
			}
			victim := p.active.Front().Value.(*traceState)
			p.mu.Unlock()
			if err := p.flush(context.Background(), victim.id, true); err != nil {
				return fmt.Errorf("make room for trace %s: %w", g.id, err)
			}
			continue
		}
		held := 0
		if st != nil {
			held = st.spans
		}
		if room := p.cfg.MaxSpansPerTrace - held; g.spans > room {
			if room > 0 {
				p.mu.Unlock()
				g.overLimit += g.spans - room
				g.truncate(room)
				chunk = nil
				continue
			}
			// The trace is full (room > 0 when st is nil): count the spans
			// and keep the trace active, so that its file, written once it
			// is idle, says how many it lost.
			g.overLimit += g.spans
			g.spans = 0
			p.moveLocked(st, p.active)
			st.updated = p.cfg.Now()
			drop := p.countDropsLocked(st, g)
			p.mu.Unlock()
			p.report(drop)
			return nil
		}
		if chunk == nil {
			p.mu.Unlock()
			var err error
			if chunk, err = protoMarshaler.MarshalTraces(g.td); err != nil {
				return fmt.Errorf("encode spans of trace %s: %w", g.id, err)
			}
			continue
		}
		if st == nil {
			st = &traceState{id: g.id}
			p.traces[g.id] = st
		}
		p.moveLocked(st, p.active)
		if st.name == "" && (st.service == "" || g.root && !st.root) {
			st.service, st.root = g.service, g.root
		}
		st.chunks = append(st.chunks, chunk)
		st.spans += g.spans
		st.updated = p.cfg.Now()
		drop := p.countDropsLocked(st, g)
		p.mu.Unlock()
		p.report(drop)
		return nil
	}
}

// countDropsLocked adds the spans g lost to the counts of st and returns
// the report for OnDrop; Spans is zero when g lost none.
func (p *PerTrace) countDropsLocked(st *traceState, g *group) Drop {
	d := Drop{Trace: g.id, Reason: DropSpansPerTrace, Spans: g.overLimit, First: st.droppedLimit == 0}
	st.droppedLimit += g.overLimit
	return d
}

func (p *PerTrace) report(d Drop) {
	if d.Spans > 0 {
		p.cfg.OnDrop(d)
	}
}

func (p *PerTrace) removeLocked(st *traceState) {
	st.onList.Remove(st.elem)
	st.onList = nil
	delete(p.traces, st.id)
}

// moveLocked puts st at the back of l.
func (p *PerTrace) moveLocked(st *traceState, l *list.List) {
	if st.onList == l {
		l.MoveToBack(st.elem)
		return
	}
	if st.onList != nil {
		st.onList.Remove(st.elem)
	}
	st.elem, st.onList = l.PushBack(st), l
}

// flush writes the spans held for trace id. With drop, or without retention,
// the written spans are then released from memory. A write under way when ctx
// is done stops and keeps the spans.
func (p *PerTrace) flush(ctx context.Context, id pcommon.TraceID, drop bool) error {
	p.mu.Lock()
	st := p.traces[id]
	p.mu.Unlock()
	if st == nil {
		return nil
	}
	st.wmu.Lock()
	defer st.wmu.Unlock()

	p.mu.Lock()
	if p.traces[id] != st {
		// Dropped while this waited for wmu: whoever dropped it wrote it.
		p.mu.Unlock()
		return nil
	}
	if !st.dirty() {
		if drop {
			p.removeLocked(st)
		}
		p.mu.Unlock()
		return nil
	}
	chunks := st.chunks[:len(st.chunks):len(st.chunks)]
	spans := st.spans
	dropped := st.droppedLimit
	name, part := st.name, st.part
	base := SanitizeName(st.service) + "-" + id.String()
	p.mu.Unlock()

	conv := converter.New(p.cfg.Converter...)
	var u ptrace.ProtoUnmarshaler
	for _, c := range chunks {
		td, err := u.UnmarshalTraces(c)
		if err != nil {
			// Cannot happen for chunks this process marshalled; report rather than panic.
			return fmt.Errorf("decode stored spans of trace %s: %w", id, err)
		}
		conv.AddTraces(td)
	}
	var stats converter.Stats
	fill := func(w io.Writer) error {
		ow := newOtherDataWriter(w, p.dropFields(dropped))
		var err error
		if stats, err = conv.Encode(ow); err != nil {
			return err
		}
		return ow.Close()
	}
	var err error
	opt := FileOptions{Gzip: p.cfg.Gzip, Mode: p.cfg.FileMode, WrapWriter: p.cfg.WrapWriter}
	rewrite := name != ""
	if rewrite {
		_, err = WriteFile(ctx, filepath.Join(p.cfg.Dir, name), opt, fill)
	} else {
		name, part, _, err = CreateFile(ctx, p.cfg.Dir, base, p.ext, part+1, opt, fill)
	}
	if err != nil {
		return fmt.Errorf("write trace %s: %w", id, err)
	}
	if rewrite {
		p.rewrites.Add(1)
	} else {
		p.files.Add(1)
	}
	p.spans.Add(int64(stats.Spans))

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.traces[id] != st {
		return nil
	}
	st.name, st.part = name, part
	st.written = len(chunks)
	st.writtenAt = p.cfg.Now()
	if drop || p.cfg.Retention == 0 {
		// What is on disk can no longer be merged with: later spans start the
		// next part file.
		st.chunks = append([][]byte(nil), st.chunks[len(chunks):]...)
		st.spans -= spans
		st.written = 0
		st.name = ""
		st.droppedLimit -= dropped
		st.droppedWritten = 0
		if len(st.chunks) == 0 {
			p.removeLocked(st)
		}
		return nil
	}
	st.droppedWritten = dropped
	if !st.dirty() {
		p.moveLocked(st, p.retained)
	}
	return nil
}

// dropFields returns the otherData fields saying that a file lacks dropped
// spans of its trace, or nil when it lacks none.
func (p *PerTrace) dropFields(dropped int) []byte {
	if dropped == 0 {
		return nil
	}
	return fmt.Appendf(nil, `"spans_dropped":"%d","spans_dropped_reason":"the trace had more than %d spans; the file holds the first %d received",`,
		dropped, p.cfg.MaxSpansPerTrace, p.cfg.MaxSpansPerTrace)
}

// flushIdle writes the traces idle for IdleTimeout and releases the written
// ones whose retention has passed. It stops between files, and in a file, when
// ctx is done.
func (p *PerTrace) flushIdle(ctx context.Context) {
	now := p.cfg.Now()
	var idle []pcommon.TraceID
	p.mu.Lock()
	for e := p.active.Front(); e != nil; e = e.Next() {
		st := e.Value.(*traceState)
		if now.Sub(st.updated) < p.cfg.IdleTimeout {
			break
		}
		idle = append(idle, st.id)
	}
	for e := p.retained.Front(); e != nil; {
		st := e.Value.(*traceState)
		if now.Sub(st.writtenAt) < p.cfg.Retention {
			break
		}
		e = e.Next()
		p.removeLocked(st)
	}
	p.mu.Unlock()
	for _, err := range p.flushAll(ctx, idle) {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			continue // stopped by Shutdown, which writes those traces itself
		}
		p.cfg.OnError(err)
	}
}

// flushWorkers is how many traces are written at once. Writes spend most of
// their time waiting for fsync, so a few in parallel raise throughput even on
// one core.
const flushWorkers = 4

// flushAll writes the traces ids with up to flushWorkers goroutines, which all
// return before it does. It stops starting writes when ctx is done and then
// reports how many traces were left.
func (p *PerTrace) flushAll(ctx context.Context, ids []pcommon.TraceID) []error {
	var (
		mu   sync.Mutex
		errs []error
		next int
		left int
		wg   sync.WaitGroup
	)
	for range min(flushWorkers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next == len(ids) || ctx.Err() != nil {
					if next < len(ids) {
						left = len(ids) - next
					}
					mu.Unlock()
					return
				}
				id := ids[next]
				next++
				mu.Unlock()
				if err := p.flush(ctx, id, false); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if left > 0 {
		errs = append(errs, fmt.Errorf("%d of %d traces not written: %w", left, len(ids), ctx.Err()))
	}
	return errs
}

// Flush writes every trace that has spans not yet on disk. It stops at the
// context's deadline and then reports how many traces were left unwritten.
func (p *PerTrace) Flush(ctx context.Context) error {
	p.mu.Lock()
	var ids []pcommon.TraceID
	for e := p.active.Front(); e != nil; e = e.Next() {
		ids = append(ids, e.Value.(*traceState).id)
	}
	p.mu.Unlock()
	if err := ctx.Err(); err != nil && len(ids) > 0 {
		return fmt.Errorf("%d of %d traces not written: %w", len(ids), len(ids), err)
	}
	return errors.Join(p.flushAll(ctx, ids)...)
}

// Shutdown stops the background loop and writes everything still held. It
// stops at ctx's deadline, also while the background loop finishes a pass, and
// then reports how many traces were left unwritten.
func (p *PerTrace) Shutdown(ctx context.Context) error {
	if p.cancel != nil {
		// Cancelling stops a pass of the loop between files and a write
		// under way at its next block, so the wait is short; still, it must
		// not outlast ctx.
		p.cancel()
		select {
		case <-p.done:
		case <-ctx.Done():
		}
		p.cancel = nil
	}
	return p.Flush(ctx)
}

// Stats reports files created, files rewritten with late spans, and slices
// written (a rewritten span counts again).
func (p *PerTrace) Stats() (files, rewrites, spans int64) {
	return p.files.Load(), p.rewrites.Load(), p.spans.Load()
}

// Len reports the traces and spans held in memory.
func (p *PerTrace) Len() (traces, spans int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.traces {
		spans += st.spans
	}
	return len(p.traces), spans
}
