package chromefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// fakeClock is a settable clock for idle and retention decisions.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newPerTrace(t *testing.T, cfg PerTraceConfig) (*PerTrace, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: t0}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Now = clk.Now
	cfg.OnError = func(err error) { t.Errorf("background error: %v", err) }
	p, err := NewPerTrace(cfg)
	require.NoError(t, err)
	return p, clk
}

func TestPerTraceIdleFlushAndLateSpans(t *testing.T) {
	dir := t.TempDir()
	p, clk := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Second, Retention: 10 * time.Second})

	// The spans of one trace arrive in three batches; nothing is written while
	// the trace is still receiving spans.
	require.NoError(t, p.Add(makeTraces("frontend", []int{1}, 0, 3)))
	clk.Advance(500 * time.Millisecond)
	require.NoError(t, p.Add(makeTraces("backend", []int{1}, 3, 6)))
	p.flushIdle(context.Background())
	assert.Empty(t, listDir(t, dir))

	clk.Advance(time.Second)
	p.flushIdle(context.Background())
	name := "frontend-" + traceID(1).String() + ".json"
	require.Equal(t, []string{name}, listDir(t, dir))
	rep := readReport(t, filepath.Join(dir, name))
	assert.Len(t, rep.SpanSlices, 6)
	assert.Len(t, rep.Processes, 2, "two services, two processes")

	// A late span within retention rewrites the same file with everything.
	clk.Advance(2 * time.Second)
	require.NoError(t, p.Add(makeTraces("backend", []int{1}, 6, 7)))
	clk.Advance(2 * time.Second)
	p.flushIdle(context.Background())
	require.Equal(t, []string{name}, listDir(t, dir))
	assert.Len(t, readReport(t, filepath.Join(dir, name)).SpanSlices, 7)

	// After retention the spans are dropped from memory; a later span goes to a
	// part file and the complete file stays as it was.
	clk.Advance(11 * time.Second)
	p.flushIdle(context.Background())
	traces, _ := p.Len()
	assert.Zero(t, traces)
	require.NoError(t, p.Add(makeTraces("backend", []int{1}, 7, 8)))
	require.NoError(t, p.Shutdown(context.Background()))
	// The late batch names its own file (its service, as it holds no root span);
	// were the name taken, it would get a ".2" part suffix instead.
	part := "backend-" + traceID(1).String() + ".json"
	assert.Equal(t, []string{part, name}, listDir(t, dir))
	assert.Len(t, readReport(t, filepath.Join(dir, name)).SpanSlices, 7)
	assert.Len(t, readReport(t, filepath.Join(dir, part)).SpanSlices, 1)

	files, rewrites, spans := p.Stats()
	assert.EqualValues(t, 2, files)
	assert.EqualValues(t, 1, rewrites)
	assert.EqualValues(t, 6+7+1, spans)
}

func TestPerTraceMaxTraces(t *testing.T) {
	dir := t.TempDir()
	p, _ := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Hour, Retention: time.Hour, MaxTraces: 3})
	for i := range 10 {
		require.NoError(t, p.Add(makeTraces("svc", []int{i}, 0, 2)))
		traces, _ := p.Len()
		assert.LessOrEqual(t, traces, 3)
	}
	assert.Len(t, listDir(t, dir), 7, "the 7 oldest traces were written to make room")
	require.NoError(t, p.Shutdown(context.Background()))
	ids := spanIDsIn(t, dir)
	assert.Len(t, ids, 20)
	for id, n := range ids {
		assert.Equal(t, 1, n, "span %s written once", id)
	}
}

// dropLog records what OnDrop is told.
type dropLog struct {
	mu    sync.Mutex
	drops []Drop
}

func (d *dropLog) add(x Drop) {
	d.mu.Lock()
	d.drops = append(d.drops, x)
	d.mu.Unlock()
}

func (d *dropLog) total(reason DropReason) (spans, firsts int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.drops {
		if x.Reason == reason {
			spans += x.Spans
			if x.First {
				firsts++
			}
		}
	}
	return spans, firsts
}

// TestPerTraceMaxSpansPerTrace: the limit holds per span, within one batch as
// across batches; the file holds the first spans and says how many it lacks.
func TestPerTraceMaxSpansPerTrace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		batches [][2]int // span ranges [from, to) of trace 0, one batch each
	}{
		{"one batch", [][2]int{{0, 351}}},
		{"batches at the limit", [][2]int{{0, 50}, {50, 100}, {100, 351}}},
		{"batch across the limit", [][2]int{{0, 60}, {60, 200}, {200, 351}}},
		{"many small batches", func() (b [][2]int) {
			for i := 0; i < 351; i += 7 {
				b = append(b, [2]int{i, min(i+7, 351)})
			}
			return b
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var drops dropLog
			p, _ := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Hour, MaxSpansPerTrace: 100, OnDrop: drops.add})
			for _, b := range tc.batches {
				require.NoError(t, p.Add(makeTraces("svc", []int{0}, b[0], b[1])))
				_, spans := p.Len()
				assert.LessOrEqual(t, spans, 100)
			}
			require.NoError(t, p.Shutdown(context.Background()))
			name := "svc-" + traceID(0).String() + ".json"
			require.Equal(t, []string{name}, listDir(t, dir), "one file: the trace is not split into parts")
			rep := readReport(t, filepath.Join(dir, name))
			require.Equal(t, 100, len(rep.SpanSlices), "spans in the file")
			for i := range 100 {
				_, ok := rep.SpanSlices[spanID(0, i).String()]
				assert.True(t, ok, "span %d kept: the first 100 spans are kept", i)
			}
			assert.Equal(t, "251", rep.OtherData["spans_dropped"])
			assert.Contains(t, rep.OtherData["spans_dropped_reason"], "251 past the limit of 100 spans per trace")
			spans, firsts := drops.total(DropSpansPerTrace)
			assert.Equal(t, 251, spans)
			assert.Equal(t, 1, firsts, "First is set once per trace")
		})
	}
}

// TestPerTraceDropsAfterWriteRewriteCount: a full trace kept for late spans
// counts the spans it still receives, and its file is rewritten to say so.
func TestPerTraceDropsAfterWriteRewriteCount(t *testing.T) {
	dir := t.TempDir()
	p, clk := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Second, Retention: time.Hour, MaxSpansPerTrace: 4})
	name := filepath.Join(dir, "svc-"+traceID(0).String()+".json")
	require.NoError(t, p.Add(makeTraces("svc", []int{0}, 0, 4)))
	clk.Advance(2 * time.Second)
	p.flushIdle(context.Background())
	rep := readReport(t, name)
	assert.Len(t, rep.SpanSlices, 4)
	assert.NotContains(t, rep.OtherData, "spans_dropped", "a complete trace says nothing about drops")

	require.NoError(t, p.Add(makeTraces("svc", []int{0}, 4, 7)))
	clk.Advance(2 * time.Second)
	p.flushIdle(context.Background())
	rep = readReport(t, name)
	assert.Len(t, rep.SpanSlices, 4)
	assert.Equal(t, "3", rep.OtherData["spans_dropped"])
	_, rewrites, _ := p.Stats()
	assert.EqualValues(t, 1, rewrites)

	// Nothing new: no rewrite.
	clk.Advance(2 * time.Second)
	p.flushIdle(context.Background())
	require.NoError(t, p.Shutdown(context.Background()))
	_, rewrites, _ = p.Stats()
	assert.EqualValues(t, 1, rewrites)
	assert.Equal(t, []string{filepath.Base(name)}, listDir(t, dir))
}

func TestPerTraceSplitsBatches(t *testing.T) {
	dir := t.TempDir()
	p, _ := newPerTrace(t, PerTraceConfig{Dir: dir, Gzip: true})
	td := makeTraces("api", []int{1, 2, 3}, 0, 4)
	makeTraces("db", []int{2}, 4, 5).ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	require.NoError(t, p.Add(td))
	require.NoError(t, p.Shutdown(context.Background()))
	names := listDir(t, dir)
	require.Len(t, names, 3)
	for _, n := range names {
		assert.Regexp(t, `^api-ab0+[234]\.json\.gz$`, n)
	}
}

func TestPerTraceSanitisesServiceName(t *testing.T) {
	dir := t.TempDir()
	p, _ := newPerTrace(t, PerTraceConfig{Dir: filepath.Join(dir, "out")})
	require.NoError(t, p.Add(makeTraces("../../evil/x", []int{1}, 0, 2)))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, []string{"out"}, listDir(t, dir), "nothing written outside the directory")
	assert.Equal(t, []string{"evil_x-" + traceID(1).String() + ".json"}, listDir(t, filepath.Join(dir, "out")))
}

func TestPerTraceRootServiceNamesFile(t *testing.T) {
	dir := t.TempDir()
	p, _ := newPerTrace(t, PerTraceConfig{Dir: dir})
	require.NoError(t, p.Add(makeTraces("child-svc", []int{1}, 1, 3)))
	require.NoError(t, p.Add(makeTraces("root-svc", []int{1}, 0, 1)))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, []string{"root-svc-" + traceID(1).String() + ".json"}, listDir(t, dir))
}

func TestPerTraceWriteFailureKeepsSpans(t *testing.T) {
	// Writes fail while the directory is replaced by a regular file: unlike
	// chmod, that stops root too, so the test runs under CI as root.
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.Mkdir(dir, 0o755))
	p, _ := newPerTrace(t, PerTraceConfig{Dir: dir, MaxTraces: 1})
	require.NoError(t, p.Add(makeTraces("svc", []int{1}, 0, 2)))
	require.NoError(t, os.Rename(dir, dir+".moved"))
	require.NoError(t, os.WriteFile(dir, nil, 0o644))
	err := p.Add(makeTraces("svc", []int{2, 3}, 0, 2))
	var pe *PartialError
	require.True(t, errors.As(err, &pe), "got %v", err)
	assert.Equal(t, 4, pe.Remaining.SpanCount(), "both new traces handed back")
	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.Rename(dir+".moved", dir))
	require.NoError(t, p.Add(pe.Remaining))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Len(t, spanIDsIn(t, dir), 6)
}

func TestPerTraceShutdownHonoursContext(t *testing.T) {
	dir := t.TempDir()
	p, _ := newPerTrace(t, PerTraceConfig{Dir: dir})
	p.Start()
	require.NoError(t, p.Add(makeTraces("svc", []int{1, 2}, 0, 2)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Shutdown(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "2 of 2 traces not written")
	require.NoError(t, p.Flush(context.Background()))
	assert.Len(t, listDir(t, dir), 2)
}

func TestPerTraceBackgroundConcurrent(t *testing.T) {
	dir := t.TempDir()
	p, err := NewPerTrace(PerTraceConfig{Dir: dir, IdleTimeout: 20 * time.Millisecond, Retention: 50 * time.Millisecond, MaxTraces: 20, MaxSpansPerTrace: 50})
	require.NoError(t, err)
	p.Start()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				tr := w*1000 + i%25
				require.NoError(t, p.Add(makeTraces(fmt.Sprint("svc", w), []int{tr}, (i/25)*5, (i/25)*5+5)))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Shutdown(context.Background()))
	ids := spanIDsIn(t, dir)
	assert.Len(t, ids, 4*25*10, "every span written")
	for id, n := range ids {
		if n != 1 {
			// A span appears twice only if a trace was written, dropped, and an
			// earlier copy of its file kept: never expected here.
			t.Errorf("span %s in %d files", id, n)
		}
	}
	_ = ptrace.NewTraces
}

func TestPerTraceMakesRoomFromWrittenTracesFirst(t *testing.T) {
	dir := t.TempDir()
	p, clk := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Second, Retention: time.Hour, MaxTraces: 3})
	// Traces 1 and 2 are written, one after the other, and kept for late spans.
	require.NoError(t, p.Add(makeTraces("svc", []int{1}, 0, 2)))
	clk.Advance(2 * time.Second)
	p.flushIdle(context.Background())
	require.NoError(t, p.Add(makeTraces("svc", []int{2}, 0, 2)))
	clk.Advance(2 * time.Second)
	p.flushIdle(context.Background())
	require.Len(t, listDir(t, dir), 2)
	require.NoError(t, p.Add(makeTraces("svc", []int{3}, 0, 2)))
	require.NoError(t, p.Add(makeTraces("svc", []int{4}, 0, 2)))
	// Room for trace 4 came from dropping written trace 1, not from writing
	// trace 3 before it was idle.
	assert.Len(t, listDir(t, dir), 2)
	traces, _ := p.Len()
	assert.Equal(t, 3, traces)
	require.NoError(t, p.Add(makeTraces("svc", []int{2}, 2, 3)))
	require.NoError(t, p.Add(makeTraces("svc", []int{5}, 0, 1)))
	require.NoError(t, p.Shutdown(context.Background()))
	// Trace 2 got its late span merged (it was retained), 3, 4 and 5 written once.
	assert.Len(t, listDir(t, dir), 5)
	assert.Len(t, readReport(t, filepath.Join(dir, "svc-"+traceID(2).String()+".json")).SpanSlices, 3)
	assert.Len(t, spanIDsIn(t, dir), 4*2+1+1)
}

// TestPerTraceFullTraceDropsWhileWritesFail checks that a full trace does not
// grow while the disk refuses writes: its later spans are dropped, not held
// or handed back, and the spans it holds are written once the disk recovers.
func TestPerTraceFullTraceDropsWhileWritesFail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var bgErrs []error
	var drops dropLog
	p, err := NewPerTrace(PerTraceConfig{Dir: dir, IdleTimeout: time.Hour, MaxSpansPerTrace: 4,
		OnError: func(err error) { bgErrs = append(bgErrs, err) }, OnDrop: drops.add})
	require.NoError(t, err)
	restore := breakDir(t, dir)
	require.NoError(t, p.Add(makeTraces("svc", []int{1}, 0, 4)))
	for i := 4; i < 40; i += 4 {
		require.NoError(t, p.Add(makeTraces("svc", []int{1}, i, i+4)))
	}
	_, spans := p.Len()
	assert.Equal(t, 4, spans, "nothing stored past the limit")
	require.Error(t, p.Flush(context.Background()))
	restore()
	require.NoError(t, p.Shutdown(context.Background()))
	got := spanIDsIn(t, dir)
	assert.Len(t, got, 4)
	dropped, _ := drops.total(DropSpansPerTrace)
	assert.Equal(t, 36, dropped)
	assert.Empty(t, bgErrs)
}

func TestPerTraceFileModes(t *testing.T) {
	dir := t.TempDir()
	p, _ := newPerTrace(t, PerTraceConfig{Dir: dir, Retention: time.Hour, FileMode: 0o640})
	require.NoError(t, p.Add(makeTraces("svc", []int{1}, 0, 2)))
	require.NoError(t, p.Flush(context.Background()))
	require.NoError(t, p.Add(makeTraces("svc", []int{1}, 2, 3))) // a rewrite
	require.NoError(t, p.Shutdown(context.Background()))
	names := listDir(t, dir)
	require.Len(t, names, 1)
	info, err := os.Stat(filepath.Join(dir, names[0]))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), info.Mode().Perm())
}

// TestPerTraceShutdownStopsIdlePassAtDeadline: a background pass writing many
// traces to a slow disk must not hold Shutdown past its deadline.
func TestPerTraceShutdownStopsIdlePassAtDeadline(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{}, 1)
	p, clk := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: 40 * time.Millisecond,
		WrapWriter: func(w io.Writer) io.Writer { return slowWriter{w: w, delay: 50 * time.Millisecond, started: started} }})
	const traces = 40 // ten rounds of four parallel 50 ms writes: half a second
	for i := range traces {
		require.NoError(t, p.Add(makeTraces("svc", []int{i}, 0, 2)))
	}
	clk.Advance(time.Second)
	p.Start()
	<-started // the idle pass is under way
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := p.Shutdown(ctx)
	elapsed := time.Since(begin)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "traces not written")
	assert.Less(t, elapsed, 300*time.Millisecond, "Shutdown returns near its deadline")
	select {
	case <-p.done:
	case <-time.After(time.Second):
		t.Fatal("the background loop did not stop")
	}
	// Nothing was lost: what the pass and Shutdown left is still held.
	require.NoError(t, p.Flush(context.Background()))
	got := spanIDsIn(t, dir)
	assert.Len(t, got, traces*2)
	for id, n := range got {
		assert.Equal(t, 1, n, "span %s written once", id)
	}
}

// withPayload gives every span of td an attribute of n bytes: spans of any
// size from the same shapes.
func withPayload(td ptrace.Traces, n int) ptrace.Traces {
	payload := strings.Repeat("x", n)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				spans.At(k).Attributes().PutStr("payload", payload)
			}
		}
	}
	return td
}

func encodedSize(t *testing.T, td ptrace.Traces) int64 {
	t.Helper()
	b, err := protoMarshaler.MarshalTraces(td)
	require.NoError(t, err)
	return int64(len(b))
}

// TestPerTraceMaxBytes: memory stays under MaxBytes whatever the span sizes;
// traces are written early to make room, written traces kept for late spans
// are released first, and nothing is lost.
func TestPerTraceMaxBytes(t *testing.T) {
	dir := t.TempDir()
	one := encodedSize(t, withPayload(makeTraces("svc", []int{0}, 0, 10), 1000))
	var drops dropLog
	p, clk := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Second, Retention: time.Hour,
		MaxBytes: 3*one + one/2, OnDrop: drops.add})

	// Trace 0 is written and kept for late spans; 1 and 2 fill the rest.
	require.NoError(t, p.Add(withPayload(makeTraces("svc", []int{0}, 0, 10), 1000)))
	clk.Advance(2 * time.Second)
	p.flushIdle(context.Background())
	require.NoError(t, p.Add(withPayload(makeTraces("svc", []int{1, 2}, 0, 10), 1000)))
	require.Len(t, listDir(t, dir), 1)
	// Room for trace 3 comes from releasing written trace 0, not from writing
	// trace 1 before it is idle.
	require.NoError(t, p.Add(withPayload(makeTraces("svc", []int{3}, 0, 10), 1000)))
	assert.Len(t, listDir(t, dir), 1)
	traces, _ := p.Len()
	assert.Equal(t, 3, traces)
	// Then traces are written early, least recently updated first.
	for tr := 4; tr < 20; tr++ {
		require.NoError(t, p.Add(withPayload(makeTraces("svc", []int{tr}, 0, 10), 1000+tr)))
		assert.LessOrEqual(t, p.Bytes(), 3*one+one/2)
	}
	assert.Len(t, listDir(t, dir), 1+20-4, "trace 0, and 1 to 16 written early")
	assert.FileExists(t, filepath.Join(dir, "svc-"+traceID(1).String()+".json"))
	require.NoError(t, p.Shutdown(context.Background()))
	got := spanIDsIn(t, dir)
	assert.Len(t, got, 20*10)
	for id, n := range got {
		assert.Equal(t, 1, n, "span %s written once", id)
	}
	assert.Empty(t, drops.drops, "nothing dropped: early writes made room")
}

// TestPerTraceBatchLargerThanMaxBytes: the spans of one trace in one batch
// that cannot fit in MaxBytes even alone keep the first that fit; the file
// says how many it lacks and OnDrop is told.
func TestPerTraceBatchLargerThanMaxBytes(t *testing.T) {
	dir := t.TempDir()
	var drops dropLog
	const limit = 64 << 10
	p, _ := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Hour, MaxBytes: limit, OnDrop: drops.add})
	td := withPayload(makeTraces("big", []int{0}, 0, 100), 4<<10) // about 400 KiB
	require.Greater(t, encodedSize(t, td), int64(limit))
	require.NoError(t, p.Add(td))
	assert.LessOrEqual(t, p.Bytes(), int64(limit))
	_, held := p.Len()
	assert.Positive(t, held)
	assert.Less(t, held, 100)
	dropped, firsts := drops.total(DropMemory)
	assert.Equal(t, 100-held, dropped)
	assert.Equal(t, 1, firsts)
	require.NoError(t, p.Shutdown(context.Background()))

	rep := readReport(t, filepath.Join(dir, "big-"+traceID(0).String()+".json"))
	assert.Equal(t, held, len(rep.SpanSlices))
	for i := range held {
		_, ok := rep.SpanSlices[spanID(0, i).String()]
		assert.True(t, ok, "span %d kept: the first spans are kept", i)
	}
	assert.Equal(t, fmt.Sprint(100-held), rep.OtherData["spans_dropped"])
	assert.Contains(t, rep.OtherData["spans_dropped_reason"], fmt.Sprintf("of a batch larger than the memory limit of %d bytes", limit))

	// A single span larger than the bound is dropped whole.
	var drops2 dropLog
	p2, _ := newPerTrace(t, PerTraceConfig{Dir: t.TempDir(), MaxBytes: 1 << 10, OnDrop: drops2.add})
	require.NoError(t, p2.Add(withPayload(makeTraces("huge", []int{0}, 0, 1), 4<<10)))
	_, held = p2.Len()
	assert.Zero(t, held)
	dropped, _ = drops2.total(DropMemory)
	assert.Equal(t, 1, dropped)
	require.NoError(t, p2.Shutdown(context.Background()))
}

// TestPerTraceSlowTraceDoesNotHoldUpOthers: while one trace takes long to
// convert, other traces' files still appear within their idle timeout and a
// little slack; Shutdown then writes the slow one too.
func TestPerTraceSlowTraceDoesNotHoldUpOthers(t *testing.T) {
	dir := t.TempDir()
	const idle = 100 * time.Millisecond
	const slack = 400 * time.Millisecond
	slow := traceID(0)
	converting := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	p, err := NewPerTrace(PerTraceConfig{Dir: dir, IdleTimeout: idle,
		OnError: func(err error) { t.Errorf("background error: %v", err) },
		beforeConvert: func(id pcommon.TraceID) {
			if id == slow {
				once.Do(func() { close(converting) })
				<-release
			}
		}})
	require.NoError(t, err)
	p.Start()
	released := false
	t.Cleanup(func() { // on failure: stop before the directory is removed
		if !released {
			close(release)
			_ = p.Shutdown(context.Background())
		}
	})
	require.NoError(t, p.Add(makeTraces("slow", []int{0}, 0, 5)))
	select {
	case <-converting:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow trace was not written")
	}

	// Traces arriving while the slow one converts, one after the other and
	// several at once: each file appears within idle + slack.
	for round, traces := range [][]int{{1}, {2}, {3, 4, 5, 6, 7, 8}} {
		begin := time.Now()
		require.NoError(t, p.Add(makeTraces("fast", traces, 0, 3)))
		for _, tr := range traces {
			name := filepath.Join(dir, "fast-"+traceID(tr).String()+".json")
			require.Eventually(t, func() bool { _, err := os.Stat(name); return err == nil },
				idle+slack, 5*time.Millisecond, "round %d: trace %d not written within %v while another converts", round, tr, idle+slack)
		}
		t.Logf("round %d: %d files after %v (idle timeout %v)", round, len(traces), time.Since(begin).Round(time.Millisecond), idle)
	}
	_, err = os.Stat(filepath.Join(dir, "slow-"+slow.String()+".json"))
	require.ErrorIs(t, err, os.ErrNotExist, "the slow trace is still converting")

	close(release)
	released = true
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Len(t, spanIDsIn(t, dir), 5+8*3, "shutdown wrote everything")
}

// TestPerTraceBackgroundRetriesEveryTick: a write the disk refuses is retried
// by the background writers once a tick, not in a tight loop, and succeeds
// once the disk recovers.
func TestPerTraceBackgroundRetriesEveryTick(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var mu sync.Mutex
	failures := 0
	p, err := NewPerTrace(PerTraceConfig{Dir: dir, IdleTimeout: 40 * time.Millisecond, // a tick of 10ms
		OnError: func(error) { mu.Lock(); failures++; mu.Unlock() }})
	require.NoError(t, err)
	restore := breakDir(t, dir)
	p.Start()
	require.NoError(t, p.Add(makeTraces("svc", []int{1}, 0, 2)))
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	n := failures
	mu.Unlock()
	assert.Positive(t, n)
	assert.LessOrEqual(t, n, 300/10+1, "at most one attempt a tick")
	restore()
	require.Eventually(t, func() bool { return len(listDir(t, dir)) == 1 }, 2*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Shutdown(context.Background()))
}

// TestPerTraceReportsSplits: a trace whose spans reach the sink after its
// earlier spans left memory is reported once as late_spans, whatever its
// later file is named; a trace that leaves memory lacking its root span is
// reported as missing_parent, unless a rewrite within
// retention completed it. Every span is in exactly one file.
func TestPerTraceReportsSplits(t *testing.T) {
	dir := t.TempDir()
	var splits []Split
	p, clk := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Second, Retention: 5 * time.Second,
		OnSplit: func(s Split) { splits = append(splits, s) }})
	step := func() {
		clk.Advance(2 * time.Second)
		p.flushIdle(context.Background())
	}

	// 1: whole. 2: whole, then a late span of another service after
	// retention. 3: children only, the root never comes. 4: whole, then a late
	// span of the same service (its name is taken: a ".2" part). 5: children
	// first, the root within retention (a rewrite completes it).
	require.NoError(t, p.Add(makeTraces("svc", []int{1, 2, 4}, 0, 4)))
	require.NoError(t, p.Add(makeTraces("svc", []int{3, 5}, 1, 4)))
	step()
	require.NoError(t, p.Add(makeTraces("svc", []int{5}, 0, 1)))
	step()
	step()
	step()
	step() // past retention: everything released
	traces, _ := p.Len()
	require.Zero(t, traces)
	require.NoError(t, p.Add(makeTraces("other", []int{2}, 4, 5)))
	require.NoError(t, p.Add(makeTraces("svc", []int{4}, 4, 6)))
	require.NoError(t, p.Shutdown(context.Background()))

	got := map[string]SplitReason{}
	for _, s := range splits {
		_, dup := got[s.Name]
		assert.False(t, dup, "%s reported twice", s.Name)
		got[s.Name] = s.Reason
	}
	assert.Equal(t, map[string]SplitReason{
		"svc-" + traceID(3).String() + ".json":   SplitMissingParent,
		"other-" + traceID(2).String() + ".json": SplitLateSpans,
		"svc-" + traceID(4).String() + ".2.json": SplitLateSpans,
	}, got)

	ids := spanIDsIn(t, dir)
	assert.Len(t, ids, 4+5+3+6+4)
	for id, n := range ids {
		assert.Equal(t, 1, n, "span %s in more than one file", id)
	}
}

// spansOf returns spans of trace tr from service: span i for each i in
// parents, whose parent is span parents[i], none for -1. Times nest.
func spansOf(service string, tr int, parents map[int]int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	ss := rs.ScopeSpans().AppendEmpty()
	for i, parent := range parents {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(traceID(tr))
		sp.SetSpanID(spanID(tr, i))
		if parent >= 0 {
			sp.SetParentSpanID(spanID(tr, parent))
		}
		sp.SetName("op")
		start := t0.Add(time.Duration(i) * time.Millisecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Hour - time.Duration(i)*time.Millisecond)))
	}
	return td
}

// TestPerTraceCountsASplitOnce: a split trace counts once. On one sink, a
// trace whose part without a root was released and whose root came later is
// one split, not a missing_parent and a late_spans. Over two sinks (a ring
// change), only the part without the root counts, although the part with it
// also holds a span whose parent went to the other sink.
func TestPerTraceCountsASplitOnce(t *testing.T) {
	step := func(p *PerTrace, clk *fakeClock) {
		for range 3 {
			clk.Advance(2 * time.Second)
			p.flushIdle(context.Background())
		}
	}
	var splits []Split
	onSplit := func(s Split) { splits = append(splits, s) }

	// One sink: children first, released; the root after.
	dir := t.TempDir()
	p, clk := newPerTrace(t, PerTraceConfig{Dir: dir, IdleTimeout: time.Second, Retention: time.Second, OnSplit: onSplit})
	require.NoError(t, p.Add(spansOf("svc", 1, map[int]int{1: 0, 2: 1})))
	step(p, clk)
	require.NoError(t, p.Add(spansOf("svc", 1, map[int]int{0: -1})))
	step(p, clk)
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, listDir(t, dir), 2)
	assert.Len(t, splits, 1, "one trace split over two files: %v", splits)

	// Two sinks: the root, a client span and a grandchild of the client on
	// a; the server span between them on b.
	splits = nil
	dirA, dirB := t.TempDir(), t.TempDir()
	a, clkA := newPerTrace(t, PerTraceConfig{Dir: dirA, IdleTimeout: time.Second, Retention: time.Second, OnSplit: onSplit})
	b, clkB := newPerTrace(t, PerTraceConfig{Dir: dirB, IdleTimeout: time.Second, Retention: time.Second, OnSplit: onSplit})
	require.NoError(t, a.Add(spansOf("front", 2, map[int]int{0: -1, 1: 0, 3: 2})))
	require.NoError(t, b.Add(spansOf("back", 2, map[int]int{2: 1})))
	step(a, clkA)
	step(b, clkB)
	require.NoError(t, a.Shutdown(context.Background()))
	require.NoError(t, b.Shutdown(context.Background()))
	require.Len(t, splits, 1, "one trace split over two sinks: %v", splits)
	assert.Equal(t, Split{Trace: traceID(2), Reason: SplitMissingParent, Name: "back-" + traceID(2).String() + ".json"}, splits[0])
	ids := spanIDsIn(t, dirA)
	for id, n := range spanIDsIn(t, dirB) {
		ids[id] += n
	}
	assert.Len(t, ids, 4)
	for id, n := range ids {
		assert.Equal(t, 1, n, "span %s in more than one file", id)
	}
}
