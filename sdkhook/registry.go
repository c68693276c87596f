package sdkhook

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

// active counts open request recorders in the process. While it is zero every
// hook returns after this one atomic load.
var active atomic.Int64

// binding names one lane of one request recorder generation. Bindings are
// immutable once published, so a stale one is safe to read; the recorder
// rejects it by generation.
type binding struct {
	rec  *recorder
	gen  uint32
	lane int32
	// mark and link serve spans started inside a request by other
	// instrumentation: a hook whose enclosing record is mark (the innermost
	// record when that span started) becomes a child of link, that span.
	mark int32
	link trace.SpanID
}

// entry registers a live span: a request span, or a span started inside one.
type entry struct {
	id      trace.SpanID
	b       binding
	proc    *processor
	request bool
}

// spanTable maps live span IDs to entries without locks, so a hook that only
// has the otelhttp request context finds its recorder with a few loads. Span
// IDs are random, so a small open-addressed window is enough; a request that
// finds its window full (thousands of live spans) is simply not recorded.
type spanTable struct {
	slots [1 << tableBits]atomic.Pointer[entry]
}

const (
	tableBits = 15 // 256 KiB of pointers, touched only as used
	tableMask = 1<<tableBits - 1
	tableWin  = 8 // one cache line of slots
)

// spans is the process-wide table: hooks are package functions, so every
// processor registers here.
var spans spanTable

func slotOf(id trace.SpanID) uint64 {
	// Fibonacci hashing keeps sequential IDs from custom generators spread.
	return (binary.LittleEndian.Uint64(id[:]) * 0x9E3779B97F4A7C15) >> (64 - tableBits)
}

func (t *spanTable) insert(e *entry) bool {
	i := slotOf(e.id)
	for n := 0; n < tableWin; n++ {
		if t.slots[i].CompareAndSwap(nil, e) {
			return true
		}
		i = (i + 1) & tableMask
	}
	return false
}

func (t *spanTable) find(id trace.SpanID) *entry {
	i := slotOf(id)
	for n := 0; n < tableWin; n++ {
		if e := t.slots[i].Load(); e != nil && e.id == id {
			return e
		}
		i = (i + 1) & tableMask
	}
	return nil
}

// remove unregisters e and reports whether this call did: of OnEnd and a
// concurrent Shutdown, only the one that removes the entry releases it.
func (t *spanTable) remove(e *entry) bool {
	i := slotOf(e.id)
	for n := 0; n < tableWin; n++ {
		if t.slots[i].CompareAndSwap(e, nil) {
			return true
		}
		i = (i + 1) & tableMask
	}
	return false
}

// laneIDs hands out thread.id values: the smallest number not used by a live
// lane. Lanes of concurrent requests therefore never share an id (their
// function spans would overlap on one Chrome thread), while ids of finished
// requests are reused, keeping the timeline compact.
var laneIDs struct {
	mu   sync.Mutex
	used []uint64 // bit set; bit 0 stands for id 1
}

func acquireLaneID() int64 {
	laneIDs.mu.Lock()
	defer laneIDs.mu.Unlock()
	for w, word := range laneIDs.used {
		if word != ^uint64(0) {
			b := bits.TrailingZeros64(^word)
			laneIDs.used[w] |= 1 << b
			return int64(w*64+b) + 1
		}
	}
	laneIDs.used = append(laneIDs.used, 1)
	return int64(len(laneIDs.used)-1)*64 + 1
}

func releaseLaneID(id int64) {
	laneIDs.mu.Lock()
	defer laneIDs.mu.Unlock()
	i := id - 1
	if w := int(i / 64); i >= 0 && w < len(laneIDs.used) {
		laneIDs.used[w] &^= 1 << (i % 64)
	}
}
