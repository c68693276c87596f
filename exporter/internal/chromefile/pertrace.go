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
	"strconv"
	"strings"
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
	// MaxSpansPerTrace bounds the spans held for one trace, and so the spans
	// of one file: the spans it receives past the limit are dropped and
	// counted, also within one batch. The trace is still written when it goes
	// idle, like any other; its file holds its first MaxSpansPerTrace spans, in
	// the order they arrived, and otherData.spans_dropped says how many more
	// there were. Once a trace's spans have left memory (written early to make
	// room, or released after Retention), spans arriving later start a part
	// file (".2", …), which again holds up to MaxSpansPerTrace: the bound is
	// per file and on memory, not on a trace's total on disk.
	MaxSpansPerTrace int
	// MaxBytes bounds the spans held in memory, all traces together, as
	// their OTLP protobuf encoding (the converter's working set while a file
	// is written comes on top, bounded by MaxSpansPerTrace per write). To make
	// room, written traces kept for late spans are released first, then the
	// least recently updated traces are written early, as for MaxTraces. Spans
	// of one trace in one batch that alone exceed MaxBytes keep the first that
	// fit; the others are dropped and counted.
	MaxBytes int64
	Gzip     bool
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
	// OnSplit is told of each trace found split over files or collectors (see
	// Split). It is called with the sink's lock held: it must be quick and
	// must not call the sink. Nil ignores them.
	OnSplit func(Split)
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// beforeConvert, when set, is called with the trace's ID before each
	// file is converted. Tests use it to make a conversion slow.
	beforeConvert func(pcommon.TraceID)
}

// Defaults for PerTraceConfig.
const (
	DefaultIdleTimeout      = 5 * time.Second
	DefaultRetention        = 30 * time.Second
	DefaultMaxTraces        = 1000
	DefaultMaxSpansPerTrace = 10000
	DefaultMaxBytes         = 256 << 20
)

// DropReason says which limit dropped spans.
type DropReason string

// Drop reasons.
const (
	// DropSpansPerTrace: the trace already held MaxSpansPerTrace spans.
	DropSpansPerTrace DropReason = "spans_per_trace"
	// DropMemory: the spans of the trace in one batch alone exceeded MaxBytes.
	DropMemory DropReason = "memory"
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

// SplitReason says how a trace was found split.
type SplitReason string

// Split reasons.
const (
	// SplitLateSpans: spans of a trace arrived after its earlier spans had
	// been written and released from memory, so they went to a new file (a
	// ".2", ".3"… part, or a file named after another root service). Found
	// when the file name is taken on disk, or when the trace is among the
	// last MaxTraces traces this sink released.
	SplitLateSpans SplitReason = "late_spans"
	// SplitMissingParent: a trace left memory without its root span (a span
	// with no parent): the root and the spans above the ones held went to
	// another collector (after a load-balancing ring change, say) or never
	// arrived. Counted when the trace is released, so a trace completed by a
	// rewrite within Retention is not counted. Only the part without the root
	// counts: when a ring change splits a trace in two, the collector holding
	// the root may also hold spans whose parents went to the other one, and
	// counting both would count the trace twice. A trace whose top span has a
	// parent that never sends spans (an uninstrumented caller) counts too.
	SplitMissingParent SplitReason = "missing_parent"
)

// Split reports one trace found split. A sink reports a trace at most once,
// for the first reason found, as long as it remembers the trace (the last
// MaxTraces released): a trace whose part without a root was released and
// whose root came later is one trace split, not two.
type Split struct {
	Trace  pcommon.TraceID
	Reason SplitReason
	// Name is the file (without directory) holding this sink's part.
	Name string
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
// a late span in that window rewrites the file (atomically) with all spans, up
// to MaxSpansPerTrace. Once they are released, later spans go to a new file
// named as above from the late spans themselves, with a ".2", ".3"… part
// suffix when that name is taken: an existing file is never replaced by one
// holding fewer spans, so nothing already written is lost.
//
// Idle traces are written in the background by flushWorkers writers (see
// Start); Add writes a trace itself only when a limit forces one out early.
type PerTrace struct {
	cfg PerTraceConfig
	ext string

	// mu guards traces, the lists and every traceState field except wmu.
	// Lock order: a traceState's wmu before mu.
	mu     sync.Mutex
	traces map[pcommon.TraceID]*traceState
	bytes  int64 // encoded spans held, all traces
	// Every state is on one of two lists. active holds traces with spans (or
	// a count of dropped spans) not yet on disk, least recently updated
	// first; retained holds written traces kept for late spans, oldest write
	// first. Both orders make the idle and
	// retention scans stop at the first trace that is not due, and make room
	// cheaply: a retained trace is dropped before an active one is written early.
	active   *list.List
	retained *list.List

	// released remembers the last MaxTraces traces whose written spans left
	// memory, oldest first, so that late spans of one of them are known to
	// split it even when they go to a file of another name; the value says
	// whether the split was reported already.
	released    map[pcommon.TraceID]bool
	releasedIDs []pcommon.TraceID
	releasedAt  int // next slot of releasedIDs to reuse once it is full

	cancel context.CancelFunc // stops the background writers and their writes
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
	bytes     int64  // of chunks
	written   int    // chunks[:written] are in the file name
	name      string // file holding chunks[:written]; "" when there is none
	part      int    // part number of the last file written for this trace
	updated   time.Time
	writtenAt time.Time
	elem      *list.Element // in active or retained
	onList    *list.List
	busy      bool      // a background writer holds it
	retryAt   time.Time // after a failed background write: not before this

	// late: spans came after this trace's earlier spans left memory; the
	// next file created is reported as SplitLateSpans. rootless: the spans
	// on disk lack the root span, as of the last write. split: the trace was
	// reported split, for either reason; it is not reported again.
	late, split, rootless bool

	// dropped counts the spans lost to limits since the spans were last
	// released; droppedWritten is how many of them the file already names.
	dropped        dropCounts
	droppedWritten int
}

// dirty reports whether the file lacks spans held, or a count of dropped spans.
func (s *traceState) dirty() bool {
	return s.written < len(s.chunks) || s.droppedWritten < s.dropped.total()
}

// dropCounts counts the spans a trace lost, by the limit that dropped them.
type dropCounts struct{ limit, memory int }

func (d dropCounts) total() int { return d.limit + d.memory }

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
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
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
	if cfg.OnSplit == nil {
		cfg.OnSplit = func(Split) {}
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
		released: map[pcommon.TraceID]bool{},
		active:   list.New(),
		retained: list.New(),
	}, nil
}

// Start writes idle traces in the background until Shutdown. flushWorkers
// writers each take the least recently updated idle trace that no other
// writer holds, and look for the next as soon as they are done: a trace that
// takes long to convert holds up one writer, never the files of other traces.
func (p *PerTrace) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	tick := min(max(p.cfg.IdleTimeout/4, 10*time.Millisecond), time.Second)
	var wg sync.WaitGroup
	for range flushWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.writeIdle(ctx, tick)
		}()
	}
	go func() {
		wg.Wait()
		close(p.done)
	}()
}

// writeIdle writes idle traces one at a time until ctx is done, looking for
// one every tick while there is none.
func (p *PerTrace) writeIdle(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for ctx.Err() == nil {
		st := p.claimIdle()
		if st == nil {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			continue
		}
		err := p.flush(ctx, st.id, false)
		p.mu.Lock()
		st.busy = false
		if err != nil {
			// A disk that refuses writes is retried every tick, not in
			// a tight loop.
			st.retryAt = p.cfg.Now().Add(tick)
		}
		p.mu.Unlock()
		if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
			// A write stopped by Shutdown is not reported: Shutdown
			// writes that trace itself.
			p.cfg.OnError(err)
		}
	}
}

// claimIdle releases the written traces whose retention has passed and
// returns the least recently updated trace idle for IdleTimeout that no
// writer holds, marked busy; nil when there is none.
func (p *PerTrace) claimIdle() *traceState {
	now := p.cfg.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseExpiredLocked(now)
	for e := p.active.Front(); e != nil; e = e.Next() {
		st := e.Value.(*traceState)
		if now.Sub(st.updated) < p.cfg.IdleTimeout {
			return nil
		}
		if !st.busy && !now.Before(st.retryAt) {
			st.busy = true
			return st
		}
	}
	return nil
}

// releaseExpiredLocked drops the written traces kept past Retention.
func (p *PerTrace) releaseExpiredLocked(now time.Time) {
	for e := p.retained.Front(); e != nil; {
		st := e.Value.(*traceState)
		if now.Sub(st.writtenAt) < p.cfg.Retention {
			return
		}
		e = e.Next()
		p.removeLocked(st)
	}
}

// Add stores the spans of td (td is not retained). Spans past
// MaxSpansPerTrace, and spans of one trace in td that alone exceed MaxBytes,
// are dropped and reported to OnDrop. Add writes traces early when MaxTraces
// or MaxBytes requires; if such a write fails, Add returns a *PartialError
// holding the spans it did not store.
func (p *PerTrace) Add(td ptrace.Traces) error {
	groups := splitByTrace(td, p.cfg.MaxSpansPerTrace)
	for i, g := range groups {
		if err := p.add(g); err != nil {
			// The spans cut by a limit are not handed back: a retry could
			// not store them either.
			for _, g := range groups[i:] {
				p.report(g.drops(true))
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
			if err := p.makeRoomLocked(); err != nil {
				return fmt.Errorf("make room for trace %s (max traces %d): %w", g.id, p.cfg.MaxTraces, err)
			}
			continue
		}
		held := 0
		if st != nil {
			held = st.spans
		}
		if room := p.cfg.MaxSpansPerTrace - held; g.spans > room {
			p.mu.Unlock()
			g.overLimit += g.spans - max(room, 0)
			g.truncate(max(room, 0))
			chunk = nil
			continue
		}
		if g.spans == 0 {
			// Everything was cut. A held trace counts the spans and becomes
			// active, so that its file, written once it is idle, says how
			// many it lacks.
			var drops []Drop
			if st != nil {
				p.moveLocked(st, p.active)
				st.updated = p.cfg.Now()
				drops = p.countDropsLocked(st, g)
			} else {
				drops = g.drops(true)
			}
			p.mu.Unlock()
			p.report(drops)
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
		size := int64(len(chunk))
		if size > p.cfg.MaxBytes {
			// These spans alone exceed the bound: keep the first that fit,
			// estimated from the mean span size, and try again.
			p.mu.Unlock()
			keep := min(int(int64(g.spans)*p.cfg.MaxBytes/size), g.spans-1)
			g.overMemory += g.spans - keep
			g.truncate(keep)
			chunk = nil
			continue
		}
		if p.bytes+size > p.cfg.MaxBytes {
			if err := p.makeRoomLocked(); err != nil {
				return fmt.Errorf("make room for trace %s (max memory %d bytes): %w", g.id, p.cfg.MaxBytes, err)
			}
			continue
		}
		if st == nil {
			split, late := p.released[g.id]
			st = &traceState{id: g.id, late: late, split: split}
			p.traces[g.id] = st
		}
		p.moveLocked(st, p.active)
		if st.name == "" && (st.service == "" || g.root && !st.root) {
			st.service, st.root = g.service, g.root
		}
		st.chunks = append(st.chunks, chunk)
		st.bytes += size
		p.bytes += size
		st.spans += g.spans
		st.updated = p.cfg.Now()
		drops := p.countDropsLocked(st, g)
		p.mu.Unlock()
		p.report(drops)
		return nil
	}
}

// makeRoomLocked frees memory for another trace or more spans, and unlocks
// p.mu. It releases the written trace kept longest for late spans or, when
// there is none, writes the least recently updated trace early and releases
// it. Only that write can fail.
func (p *PerTrace) makeRoomLocked() error {
	if e := p.retained.Front(); e != nil {
		p.removeLocked(e.Value.(*traceState))
		p.mu.Unlock()
		return nil
	}
	// A trace a writer holds is passed over: writing it would wait for that
	// write, which may be a long conversion.
	victim := p.active.Front().Value.(*traceState)
	for e := p.active.Front(); e != nil; e = e.Next() {
		if st := e.Value.(*traceState); !st.busy {
			victim = st
			break
		}
	}
	p.mu.Unlock()
	return p.flush(context.Background(), victim.id, true)
}

// countDropsLocked adds the spans g lost to the counts of st and returns the
// reports for OnDrop.
func (p *PerTrace) countDropsLocked(st *traceState, g *group) []Drop {
	first := st.dropped.total() == 0
	st.dropped.limit += g.overLimit
	st.dropped.memory += g.overMemory
	return g.drops(first)
}

// drops returns the reports for the spans g lost; first says whether they
// are the first its trace lost.
func (g *group) drops(first bool) []Drop {
	var out []Drop
	if g.overLimit > 0 {
		out = append(out, Drop{Trace: g.id, Reason: DropSpansPerTrace, Spans: g.overLimit, First: first})
		first = false
	}
	if g.overMemory > 0 {
		out = append(out, Drop{Trace: g.id, Reason: DropMemory, Spans: g.overMemory, First: first})
	}
	return out
}

func (p *PerTrace) report(drops []Drop) {
	for _, d := range drops {
		p.cfg.OnDrop(d)
	}
}

func (p *PerTrace) removeLocked(st *traceState) {
	p.bytes -= st.bytes
	st.onList.Remove(st.elem)
	st.onList = nil
	delete(p.traces, st.id)
	if st.name != "" {
		p.releaseWrittenLocked(st)
	}
}

// releaseWrittenLocked notes that the written spans of st left memory: a
// trace whose file lacks its root is reported split, unless it was already,
// and the trace is remembered so that its later spans are known to split it.
func (p *PerTrace) releaseWrittenLocked(st *traceState) {
	if st.rootless && !st.split {
		p.cfg.OnSplit(Split{Trace: st.id, Reason: SplitMissingParent, Name: st.name})
		st.split = true
	}
	st.rootless = false
	if _, ok := p.released[st.id]; ok {
		p.released[st.id] = st.split
		return
	}
	if len(p.releasedIDs) < p.cfg.MaxTraces {
		p.releasedIDs = append(p.releasedIDs, st.id)
	} else {
		delete(p.released, p.releasedIDs[p.releasedAt])
		p.releasedIDs[p.releasedAt] = st.id
		p.releasedAt = (p.releasedAt + 1) % len(p.releasedIDs)
	}
	p.released[st.id] = st.split
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
	dropped := st.dropped
	name, part := st.name, st.part
	base := SanitizeName(st.service) + "-" + id.String()
	p.mu.Unlock()

	if p.cfg.beforeConvert != nil {
		p.cfg.beforeConvert(id)
	}
	conv := converter.New(p.cfg.Converter...)
	var u ptrace.ProtoUnmarshaler
	var fam family
	for _, c := range chunks {
		td, err := u.UnmarshalTraces(c)
		if err != nil {
			// Cannot happen for chunks this process marshalled; report rather than panic.
			return fmt.Errorf("decode stored spans of trace %s: %w", id, err)
		}
		fam.add(td)
		conv.AddTraces(td)
	}
	var stats converter.Stats
	if err := p.noteDrops(conv, dropped); err != nil {
		return fmt.Errorf("write trace %s: %w", id, err)
	}
	fill := func(w io.Writer) error {
		var err error
		stats, err = conv.Encode(w)
		return err
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
	if !rewrite && (part > 1 || st.late) && !st.split {
		// A name taken on disk is an earlier part of the trace, from this
		// process or from one that shared the directory before.
		p.cfg.OnSplit(Split{Trace: id, Reason: SplitLateSpans, Name: name})
		st.split = true
	}
	st.late = false
	if p.traces[id] != st {
		return nil
	}
	st.rootless = !fam.root
	st.name, st.part = name, part
	st.written = len(chunks)
	st.writtenAt = p.cfg.Now()
	if drop || p.cfg.Retention == 0 {
		// What is on disk can no longer be merged with: later spans start the
		// next part file.
		var freed int64
		for _, c := range chunks {
			freed += int64(len(c))
		}
		st.chunks = append([][]byte(nil), st.chunks[len(chunks):]...)
		st.bytes -= freed
		p.bytes -= freed
		st.spans -= spans
		st.written = 0
		p.releaseWrittenLocked(st)
		st.name = ""
		st.dropped.limit -= dropped.limit
		st.dropped.memory -= dropped.memory
		st.droppedWritten = 0
		if len(st.chunks) == 0 {
			p.removeLocked(st)
		}
		return nil
	}
	st.droppedWritten = dropped.total()
	if !st.dirty() {
		p.moveLocked(st, p.retained)
	}
	return nil
}

// noteDrops says in the file's otherData that it lacks spans of its trace,
// how many and why.
func (p *PerTrace) noteDrops(conv *converter.Converter, d dropCounts) error {
	if d.total() == 0 {
		return nil
	}
	var why []string
	if d.limit > 0 {
		why = append(why, fmt.Sprintf("%d past the limit of %d spans per trace (the file holds the first received)", d.limit, p.cfg.MaxSpansPerTrace))
	}
	if d.memory > 0 {
		why = append(why, fmt.Sprintf("%d of a batch larger than the memory limit of %d bytes", d.memory, p.cfg.MaxBytes))
	}
	if err := conv.SetOtherData("spans_dropped", strconv.Itoa(d.total())); err != nil {
		return err
	}
	return conv.SetOtherData("spans_dropped_reason", strings.Join(why, "; "))
}

// flushWorkers is how many traces the background writers, and Flush, write
// at once. Writes spend most of their time waiting for fsync, so a few in
// parallel raise throughput even on one core; more than one also keeps a trace
// that takes long to convert from holding up the others.
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
	err := p.Flush(ctx)
	// What is still held is released now: report the files that lack roots.
	p.mu.Lock()
	for _, st := range p.traces {
		if st.name != "" && !st.dirty() {
			p.releaseWrittenLocked(st)
		}
	}
	p.mu.Unlock()
	return err
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

// Bytes reports the memory the spans held take, as counted against MaxBytes.
func (p *PerTrace) Bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}
