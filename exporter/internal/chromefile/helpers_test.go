package chromefile

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func traceID(n int) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[8:], uint64(n)+1)
	id[0] = 0xab
	return id
}

func spanID(trace, n int) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint32(id[:4], uint32(trace)+1)
	binary.BigEndian.PutUint32(id[4:], uint32(n)+1)
	return id
}

// makeTraces returns spans [from, to) of each trace in traces: span 0 is the
// root, the others its children, each inside its parent's time.
func makeTraces(service string, traces []int, from, to int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("test")
	for _, tr := range traces {
		for i := from; i < to; i++ {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(traceID(tr))
			sp.SetSpanID(spanID(tr, i))
			if i > 0 {
				sp.SetParentSpanID(spanID(tr, 0))
			}
			sp.SetName("op")
			start := t0.Add(time.Duration(i) * time.Millisecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			end := start.Add(500 * time.Microsecond)
			if i == 0 {
				end = t0.Add(time.Hour)
			}
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
		}
	}
	return td
}

// readReport validates one Chrome file and returns its report.
func readReport(t *testing.T, path string) *check.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	rep, err := check.Validate(data)
	require.NoError(t, err, "file %s", path)
	return rep
}

// listDir returns the file names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// spanIDsIn returns the span IDs found in the files of dir.
func spanIDsIn(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range listDir(t, dir) {
		rep := readReport(t, filepath.Join(dir, n))
		for id := range rep.SpanSlices {
			out[id]++
		}
	}
	return out
}

// slowWriter simulates a slow disk: every write first waits for delay and
// reports on started, without blocking, that a write has begun.
type slowWriter struct {
	w       io.Writer
	delay   time.Duration
	started chan<- struct{}
}

func (s slowWriter) Write(p []byte) (int, error) {
	select {
	case s.started <- struct{}{}:
	default:
	}
	time.Sleep(s.delay)
	return s.w.Write(p)
}

// breakDir replaces dir with a regular file, so that nothing can be created in
// it even by root, and returns a function that restores it.
func breakDir(t *testing.T, dir string) (restore func()) {
	t.Helper()
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.WriteFile(dir, nil, 0o644))
	return func() {
		require.NoError(t, os.Remove(dir))
		require.NoError(t, os.Mkdir(dir, 0o755))
	}
}

// flushIdle writes, before it returns, what the background writers would
// write now: the traces idle for IdleTimeout, after releasing the written ones
// kept past Retention. Tests call it with a fake clock instead of Start.
func (p *PerTrace) flushIdle(ctx context.Context) {
	now := p.cfg.Now()
	var idle []pcommon.TraceID
	p.mu.Lock()
	p.releaseExpiredLocked(now)
	for e := p.active.Front(); e != nil; e = e.Next() {
		st := e.Value.(*traceState)
		if now.Sub(st.updated) < p.cfg.IdleTimeout {
			break
		}
		idle = append(idle, st.id)
	}
	p.mu.Unlock()
	for _, err := range p.flushAll(ctx, idle) {
		p.cfg.OnError(err)
	}
}
