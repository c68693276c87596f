package chromefile

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// group holds the spans of one trace from one batch, with their resources and
// scopes copied, so each can be stored and written on its own.
type group struct {
	id    pcommon.TraceID
	td    ptrace.Traces
	spans int
	// overLimit and overMemory count spans of the trace in the batch that are
	// not in td: cut by the span limit per trace, or to fit the memory limit.
	overLimit, overMemory int
	// service names the file: the service of a root span when the batch holds
	// one (it names the request), else of the first span.
	service string
	root    bool

	// The resource and scope most recently copied, so consecutive spans of one
	// scope share them instead of each getting its own copy.
	rs     ptrace.ResourceSpans
	ss     ptrace.ScopeSpans
	rsFrom int
	ssFrom int
}

// splitByTrace returns the spans of td grouped by trace ID, in order of first
// appearance. A group takes at most limit spans, the first in td; the others
// are only counted, in overLimit, so that a batch of a million spans of one
// trace costs no more memory than limit of them. td is not modified.
func splitByTrace(td ptrace.Traces, limit int) []*group {
	var out []*group
	byID := map[pcommon.TraceID]*group{}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		service := serviceName(rs.Resource())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				g := byID[sp.TraceID()]
				if g == nil {
					g = &group{id: sp.TraceID(), td: ptrace.NewTraces(), rsFrom: -1, ssFrom: -1, service: service}
					byID[g.id] = g
					out = append(out, g)
				}
				if g.spans >= limit {
					g.overLimit++
					continue
				}
				if g.rsFrom != i {
					g.rs = g.td.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(g.rs.Resource())
					g.rs.SetSchemaUrl(rs.SchemaUrl())
					g.rsFrom, g.ssFrom = i, -1
				}
				if g.ssFrom != j {
					g.ss = g.rs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(g.ss.Scope())
					g.ss.SetSchemaUrl(ss.SchemaUrl())
					g.ssFrom = j
				}
				sp.CopyTo(g.ss.Spans().AppendEmpty())
				g.spans++
				if !g.root && sp.ParentSpanID().IsEmpty() {
					g.root, g.service = true, service
				}
			}
		}
	}
	return out
}

// truncate keeps the first n spans of g and removes the others; the caller
// counts them. The service and root flag are worked out again from the spans
// kept, as the file is named after what it holds.
func (g *group) truncate(n int) {
	kept := 0
	g.root, g.service = false, ""
	g.td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		service := serviceName(rs.Resource())
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(sp ptrace.Span) bool {
				if kept == n {
					return true
				}
				kept++
				if kept == 1 {
					g.service = service
				}
				if !g.root && sp.ParentSpanID().IsEmpty() {
					g.root, g.service = true, service
				}
				return false
			})
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
	g.spans = kept
}

// merge moves the spans of groups into one Traces, for handing back the part
// of a batch that was not stored.
func merge(groups []*group) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, g := range groups {
		g.td.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	return td
}

func serviceName(r pcommon.Resource) string {
	if v, ok := r.Attributes().Get("service.name"); ok {
		return v.AsString()
	}
	return ""
}

// family tells whether a trace's spans include its root: a span without a
// parent.
type family struct {
	root bool
}

func (f *family) add(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len() && !f.root; i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len() && !f.root; j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len() && !f.root; k++ {
				f.root = spans.At(k).ParentSpanID().IsEmpty()
			}
		}
	}
}
