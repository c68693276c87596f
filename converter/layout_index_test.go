package converter

import (
	"bytes"
	"runtime"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// refsInput is several lookup chunks of spans whose parent and link IDs
// name spans present, missing, themselves, in other traces, and shared by a
// client and a server (which the model splits in two).
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

// TestLayoutRefs checks that the lookups made up front, on one goroutine or
// several, find what looking each ID up in model.index finds, and that the
// output does not depend on how many goroutines made them.
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
		r := l.resolveRefs(m)
		runtime.GOMAXPROCS(old)
		want := func(k spanKey) int32 {
			if g, ok := m.index[k]; ok {
				return g
			}
			return -1
		}
		for i := range l.ids {
			s := l.rec(int32(i))
			p := int32(-1)
			if !s.parent.IsEmpty() && s.parent != s.id {
				p = want(keyOf(s.trace, s.parent))
			}
			if r.parent[i] != p {
				t.Fatalf("GOMAXPROCS=%d: span %d: parent ref %d, want %d", procs, i, r.parent[i], p)
			}
			if got := r.linkAt[i+1] - r.linkAt[i]; got != s.nLinks {
				t.Fatalf("GOMAXPROCS=%d: span %d: %d link refs, want %d", procs, i, got, s.nLinks)
			}
			for j := int32(0); j < s.nLinks; j++ {
				lk := m.links[s.links+j]
				if got, w := r.link[r.linkAt[i]+j], want(keyOf(lk.trace, lk.id)); got != w {
					t.Fatalf("GOMAXPROCS=%d: span %d link %d: ref %d, want %d", procs, i, j, got, w)
				}
			}
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
