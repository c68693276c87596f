package converter

import (
	"bytes"
	"runtime"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// refsInput is several lookup chunks of spans whose parent and link IDs
// name spans present, missing, themselves, in other traces, and shared by a
// client and a server (which the model splits in two, and whose children in
// the server's service hang from the server half).
func refsInput() ptrace.Traces {
	b := newTB()
	const spans = 3*lookupChunk + 100
	for n := uint64(1); n <= spans; n++ {
		trace := n/7 + 1
		s := spec{trace: trace, id: n, service: []string{"a", "b", "c"}[n%3], name: "op",
			start: 0, end: 1000}
		switch n % 7 {
		case 1: // a root
		case 2:
			s.parent = n // itself
		case 3:
			s.parent = n + 1_000_000 // missing
		case 4: // a server sharing its client's ID, in another service
			s.kind = ptrace.SpanKindClient
			s.parent = n - 1
		case 5: // a child of that shared ID, half of them in the server's service
			s.parent = n - 1
			if n%2 == 0 {
				s.service = "d"
			}
		default:
			s.parent = n - 1
		}
		sp := b.add(s)
		if n%7 == 4 {
			b.add(spec{trace: trace, id: n, parent: n - 1, service: "d", name: "op", kind: ptrace.SpanKindServer,
				start: 100, end: 900})
		}
		for _, to := range []struct{ trace, id uint64 }{{trace, n - 2}, {trace + 1, n + 7}, {trace, n + 1_000_000}} {
			lk := sp.Links().AppendEmpty()
			lk.SetTraceID(traceID(to.trace))
			lk.SetSpanID(spanID(to.id))
		}
	}
	return b.td
}

// TestLayoutRefs checks that the pass reading every span on one goroutine
// or several finds what looking each ID up in turn finds, and that the
// output does not depend on how many goroutines made the lookups.
func TestLayoutRefs(t *testing.T) {
	td := refsInput()
	var outs [][]byte
	for _, procs := range []int{1, 2, 4} {
		old := runtime.GOMAXPROCS(procs)
		c := New()
		c.AddTraces(td)
		m := c.model
		l := &layout{spans: &m.spans}
		l.ids = make([]int32, m.spans.len())
		for i := range l.ids {
			l.ids[i] = int32(i)
		}
		l.resolve(m)
		runtime.GOMAXPROCS(old)

		// The same, one span at a time.
		want := &layout{spans: &m.spans, ids: l.ids}
		traces := map[pcommon.TraceID]bool{}
		for i := range l.ids {
			k := int32(i)
			s := l.rec(k)
			traces[s.trace] = true
			p, moved := int32(-1), false
			if !s.parent.IsEmpty() && s.parent != s.id {
				if g, ok := want.find(m, s.trace, s.parent); ok {
					p = g
					if want.rec(g).kind == ptrace.SpanKindClient {
						if h, ok := m.halves[halfKey{keyOf(s.trace, s.parent), s.proc}]; ok && h.idx != k {
							p, moved = h.idx, true
						}
					}
				} else if g, ok := want.keptAncestor(m, s.trace, s.parent); ok {
					p, moved = g, true
				}
			}
			if l.parent[k] != p || l.reparented[k] != moved {
				t.Fatalf("GOMAXPROCS=%d: span %d: parent %d (moved %v), want %d (%v)", procs, i, l.parent[k], l.reparented[k], p, moved)
			}
			if got := l.refs.linkAt[i+1] - l.refs.linkAt[i]; got != s.nLinks {
				t.Fatalf("GOMAXPROCS=%d: span %d: %d link refs, want %d", procs, i, got, s.nLinks)
			}
			for j := int32(0); j < s.nLinks; j++ {
				lk := m.links[s.links+j]
				w := int32(-1)
				if g, ok := m.index.get(keyOf(lk.trace, lk.id)); ok {
					w = g
				}
				if got := l.refs.link[l.refs.linkAt[i]+j]; got != w {
					t.Fatalf("GOMAXPROCS=%d: span %d link %d: ref %d, want %d", procs, i, j, got, w)
				}
			}
		}
		if l.traces != len(traces) {
			t.Fatalf("GOMAXPROCS=%d: %d traces, want %d", procs, l.traces, len(traces))
		}
		if m.sharedIDs == 0 || len(l.reparented) == 0 {
			t.Fatal("no shared span IDs or no reparented spans: the input tests less than it should")
		}

		old = runtime.GOMAXPROCS(procs)
		_, _, out := convert(t, td)
		runtime.GOMAXPROCS(old)
		outs = append(outs, out)
	}
	for k := 1; k < len(outs); k++ {
		if !bytes.Equal(outs[k], outs[0]) {
			t.Fatalf("output differs with the lookups on more goroutines")
		}
	}
}
