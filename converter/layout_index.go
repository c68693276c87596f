package converter

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Looking spans up by ID is most of the layout's cost on large inputs: each
// parent and link reference is a lookup in model.index, a map far larger
// than the caches, so nearly every lookup waits on memory. The layout makes
// them all in one pass before anything else, where they are independent of
// each other: the processor overlaps their misses, and with more than one
// core they are shared out in chunks. The model is not changed during
// layout, so reading its index from several goroutines is safe.

// refs holds what each parent and link reference of the layout's spans names
// in model.index: a model span index, or -1 where the index has no such
// span. What a found span means for the layout (whether it is in it, a
// shared ID's server half, an ancestor WithMinDuration left out) is decided
// after, in order, as before.
type refs struct {
	parent []int32 // per local span; -1 also for a root or a span naming itself
	linkAt []int32 // per local span: its links are link[linkAt[k]:linkAt[k+1]]
	link   []int32
}

// lookupChunk is how many spans a worker resolves at a time: enough to make
// handing out chunks cheap, few enough that the workers finish together.
const lookupChunk = 4096

// resolveRefs looks up every parent and link reference of the layout's
// spans in model.index. Visiting every record anyway, it also fills l.hot.
func (l *layout) resolveRefs(m *model) refs {
	n := len(l.ids)
	l.hot = make([]spanHot, n)
	r := refs{parent: make([]int32, n), linkAt: make([]int32, n+1)}
	for k := range l.ids {
		r.linkAt[k+1] = r.linkAt[k] + l.rec(int32(k)).nLinks
	}
	r.link = make([]int32, r.linkAt[n])
	forChunks(n, lookupChunk, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			s := l.rec(int32(k))
			l.hot[k] = spanHot{start: s.start, end: s.end, proc: s.proc, nEvents: s.nEvents, hasTID: s.hasTID}
			r.parent[k] = -1
			if !s.parent.IsEmpty() && s.parent != s.id {
				if g, ok := m.index[keyOf(s.trace, s.parent)]; ok {
					r.parent[k] = g
				}
			}
			out := r.link[r.linkAt[k]:r.linkAt[k+1]]
			for j := range out {
				lk := &m.links[s.links+int32(j)]
				out[j] = -1
				if g, ok := m.index[keyOf(lk.trace, lk.id)]; ok {
					out[j] = g
				}
			}
		}
	})
	return r
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
