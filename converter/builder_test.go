package converter

import (
	"bytes"
	"encoding/binary"
	"regexp"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// base is the start of every test trace: a fixed time keeps goldens stable.
var base = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// tb builds test traces: services with spans at offsets from base.
type tb struct {
	td    ptrace.Traces
	procs map[string]ptrace.SpanSlice
}

func newTB() *tb { return &tb{td: ptrace.NewTraces(), procs: map[string]ptrace.SpanSlice{}} }

func traceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[8:], n)
	id[0] = 0xab
	return id
}

func spanID(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

// spec describes one test span; times are offsets from base.
type spec struct {
	trace, id, parent uint64
	service           string
	name              string
	start, end        time.Duration
	kind              ptrace.SpanKind
	attrs             map[string]any
}

func (b *tb) add(s spec) ptrace.Span {
	spans, ok := b.procs[s.service]
	if !ok {
		rs := b.td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.service)
		rs.Resource().Attributes().PutStr("host.name", "host-"+s.service)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("test/" + s.service)
		spans = ss.Spans()
		b.procs[s.service] = spans
	}
	sp := spans.AppendEmpty()
	sp.SetTraceID(traceID(s.trace))
	sp.SetSpanID(spanID(s.id))
	if s.parent != 0 {
		sp.SetParentSpanID(spanID(s.parent))
	}
	sp.SetName(s.name)
	sp.SetKind(s.kind)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(s.start)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(s.end)))
	if s.attrs != nil {
		_ = sp.Attributes().FromRaw(s.attrs)
	}
	return sp
}

// dupCounts matches the otherData counts of merged and dropped duplicates,
// which differ when a test feeds the same spans twice on purpose.
var dupCounts = regexp.MustCompile(`,"(duplicate_spans_merged|conflicting_spans_dropped)":"\d+"`)

// sameTimeline reports whether two outputs are equal but for those counts.
func sameTimeline(a, b []byte) bool {
	return bytes.Equal(dupCounts.ReplaceAll(a, nil), dupCounts.ReplaceAll(b, nil))
}
