package converter

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Looking spans up by ID is much of the layout's cost on large inputs: each
// parent and link reference is a lookup in model.index, which at a million
// spans is larger than the caches, so nearly every lookup waits on memory.
// The layout makes them all in one pass before anything else, where they
// are independent of each other: the processor overlaps their misses, and
// with more than one core they are shared out in chunks. The model is not changed during
// layout, so reading it from several goroutines is safe.

// refs holds what each link of the layout's spans names in model.index: a
// model span index, or -1 where the index has no such span. Whether a found
// span is in the layout is decided by addFlows.
type refs struct {
	linkAt []int32 // per local span: its links are link[linkAt[k]:linkAt[k+1]]
	link   []int32
}

// lookupChunk is how many spans a worker resolves at a time: enough to make
// handing out chunks cheap, few enough that the workers finish together.
const lookupChunk = 4096

// resolve reads every span record of the layout once, in store order, in
// chunks on all cores: it fills l.hot and l.parent, marks reparented spans,
// looks up link IDs into l.refs and counts the traces.
func (l *layout) resolve(m *model) {
	n := len(l.ids)
	l.hot = make([]spanHot, n)
	l.parent = make([]int32, n)
	r := refs{linkAt: make([]int32, n+1)}
	for k := range l.ids {
		r.linkAt[k+1] = r.linkAt[k] + l.rec(int32(k)).nLinks
	}
	r.link = make([]int32, r.linkAt[n])
	pieces := max(1, (n+lookupChunk-1)/lookupChunk)
	moved := make([][]int32, pieces)          // reparented spans, by chunk
	runs := make([][]pcommon.TraceID, pieces) // trace of each run of spans, by chunk
	forChunks(n, lookupChunk, func(lo, hi int) {
		c := lo / lookupChunk
		// A trace's spans arrive together, so most parents (and many
		// link targets) are in the same chunk: they are looked for first
		// among the chunk's spans, in a table small enough to stay in the
		// caches, and only the rest in the model's index. Every span's own
		// IDs name it in the index (ownKeysIndexed), so both find the same
		// span.
		near := make(map[uint64]int32, hi-lo)
		for k := lo; k < hi; k++ {
			near[binary.LittleEndian.Uint64(l.rec(int32(k)).id[:])] = int32(k)
		}
		find := func(t pcommon.TraceID, id pcommon.SpanID) int32 {
			if k, ok := near[binary.LittleEndian.Uint64(id[:])]; ok {
				if s := l.rec(k); s.trace == t && s.id == id {
					return l.ids[k]
				}
			}
			if g, ok := m.index.get(keyOf(t, id)); ok {
				return g
			}
			return -1
		}
		// The lookups first, in a loop of their own, so their misses
		// overlap; l.parent holds model indices until the loop after.
		for k := lo; k < hi; k++ {
			s := l.rec(int32(k))
			l.hot[k] = spanHot{start: s.start, end: s.end, proc: s.proc, nEvents: s.nEvents, hasTID: s.hasTID}
			l.parent[k] = -1
			if !s.parent.IsEmpty() && s.parent != s.id {
				l.parent[k] = find(s.trace, s.parent)
			}
			out := r.link[r.linkAt[k]:r.linkAt[k+1]]
			for j := range out {
				lk := &m.links[s.links+int32(j)]
				out[j] = find(lk.trace, lk.id)
			}
		}
		for k := int32(lo); k < int32(hi); k++ {
			s := l.rec(k)
			if t := runs[c]; len(t) == 0 || t[len(t)-1] != s.trace {
				// Spans of a trace mostly arrive together: counting
				// traces needs only the first of each run.
				runs[c] = append(t, s.trace)
			}
			var re bool
			if l.parent[k], re = l.parentOf(m, k, l.parent[k]); re {
				moved[c] = append(moved[c], k)
			}
		}
	})
	l.refs = r
	for _, c := range moved {
		for _, k := range c {
			l.markReparented(k)
		}
	}
	traces := map[pcommon.TraceID]struct{}{}
	for _, c := range runs {
		for _, t := range c {
			traces[t] = struct{}{}
		}
	}
	l.traces = len(traces)
}

// parentOf returns the local index of span k's parent (-1 for none) given
// g, the model index its parent ID names (-1 when none does), and whether
// the span hangs from another span than that.
func (l *layout) parentOf(m *model, k, g int32) (int32, bool) {
	s := l.rec(k)
	if s.parent.IsEmpty() || s.parent == s.id {
		return -1, false
	}
	if p, ok := l.found(g); ok {
		if l.rec(p).kind == ptrace.SpanKindClient {
			// A child of a span ID that a client and a server shared
			// (Zipkin style), in the server's process, ran inside the
			// server half, as Jaeger's deduper has it.
			if h, ok := m.halves[halfKey{keyOf(s.trace, s.parent), s.proc}]; ok {
				if h, ok := l.localIndex(h.idx); ok && h != k {
					return h, true
				}
			}
		}
		return p, false
	}
	if p, ok := l.keptAncestor(m, s.trace, s.parent); ok {
		return p, true
	}
	return -1, false
}

// forChunks calls fn on [0, n) in pieces of up to chunk, on up to
// GOMAXPROCS goroutines (on the caller's alone when n is one chunk), and
// returns when every call has. fn must only write what its piece owns.
func forChunks(n, chunk int, fn func(lo, hi int)) {
	pieces := (n + chunk - 1) / chunk
	workers := min(runtime.GOMAXPROCS(0), pieces)
	if workers < 2 {
		fn(0, n)
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			p := int(next.Add(1) - 1)
			if p >= pieces {
				return
			}
			fn(p*chunk, min((p+1)*chunk, n))
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}
