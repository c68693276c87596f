package converter

import (
	"bytes"
	"math/rand"
	"sort"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestOwnKeysIndexedRandomShared adds random spans from a few services
// with a handful of span IDs in one trace — shared IDs, duplicates, server
// halves that name a shared ID as parent, as Jaeger's deduper leaves them —
// and checks after every message that every record's own IDs name it in the
// index, which the layout's chunk-local lookups rely on.
func TestOwnKeysIndexedRandomShared(t *testing.T) {
	withShadowIndex(t) // and the IDs it lists are picked from
	trace := pcommon.TraceID{1, 2, 3}
	kinds := []ptrace.SpanKind{ptrace.SpanKindServer, ptrace.SpanKindClient, ptrace.SpanKindInternal}
	services := []string{"a", "b", "c"}
	names := []string{"x", "y"}
	for seed := int64(0); seed < 20000; seed++ {
		rng := rand.New(rand.NewSource(seed))
		c := New()
		nIDs := 2 + rng.Intn(5)
		id := func() pcommon.SpanID {
			if n := c.model.spans.len(); n > 0 && rng.Intn(3) == 0 {
				// An ID the model holds, made up by freshID too: an
				// input may use one.
				return c.model.spans.at(int32(rng.Intn(n))).id
			}
			if rng.Intn(4) == 0 && len(c.model.index.shadow) > 0 {
				// Any ID the index knows, one a merge left behind too.
				keys := make([]spanKey, 0, len(c.model.index.shadow))
				for k := range c.model.index.shadow {
					keys = append(keys, k)
				}
				sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i][:], keys[j][:]) < 0 })
				return keys[rng.Intn(len(keys))].id()
			}
			return pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, byte(1 + rng.Intn(nIDs))}
		}
		for msg := 0; msg < 1+rng.Intn(6); msg++ {
			td := ptrace.NewTraces()
			for r := 0; r < 1+rng.Intn(3); r++ {
				rs := td.ResourceSpans().AppendEmpty()
				rs.Resource().Attributes().PutStr("service.name", services[rng.Intn(len(services))])
				ss := rs.ScopeSpans().AppendEmpty()
				for k := 0; k < 1+rng.Intn(4); k++ {
					sp := ss.Spans().AppendEmpty()
					sp.SetTraceID(trace)
					sp.SetSpanID(id())
					if rng.Intn(3) > 0 {
						sp.SetParentSpanID(id())
					}
					sp.SetKind(kinds[rng.Intn(len(kinds))])
					sp.SetName(names[rng.Intn(len(names))])
					start := int64(1_700_000_000_000_000_000 + 1000*rng.Intn(3))
					if rng.Intn(4) == 0 {
						start += int64(rng.Intn(3)) // nanoseconds: not through Jaeger
					}
					sp.SetStartTimestamp(pcommon.Timestamp(start))
					sp.SetEndTimestamp(pcommon.Timestamp(start + 1000*int64(1+rng.Intn(2))))
					if rng.Intn(3) == 0 {
						sp.Attributes().PutInt("n", int64(rng.Intn(2)))
					}
				}
			}
			c.AddTraces(td)
			if err := ownKeysIndexed(c.model); err != nil {
				t.Fatalf("seed %d, message %d: %v", seed, msg, err)
			}
		}
	}
}

// TestOwnKeysAfterAliasedSharedSpan replays a case the random test reaches
// only by chance: a client arrives under an ID that names a merged server
// half only as an alias, and the server half it splits from is another
// record. The alias's record keeps the client; the IDs it had go on naming
// the server half.
func TestOwnKeysAfterAliasedSharedSpan(t *testing.T) {
	withShadowIndex(t)
	trace := pcommon.TraceID{1, 2, 3}
	id := func(b byte) pcommon.SpanID { return pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, b} }
	const start = 1_700_000_000_000_000_000
	c := New()
	for n, s := range []struct {
		service      string
		kind         ptrace.SpanKind
		span, parent byte
	}{
		{"b", ptrace.SpanKindServer, 1, 5},
		{"a", ptrace.SpanKindClient, 5, 0},
		{"b", ptrace.SpanKindServer, 5, 0},
		{"b", ptrace.SpanKindServer, 7, 5},
		{"b", ptrace.SpanKindServer, 9, 7},
		{"a", ptrace.SpanKindClient, 7, 0},
	} {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.service)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(trace)
		sp.SetSpanID(id(s.span))
		if s.parent != 0 {
			sp.SetParentSpanID(id(s.parent))
		}
		sp.SetKind(s.kind)
		sp.SetName("x")
		sp.SetStartTimestamp(start)
		sp.SetEndTimestamp(start + 1000)
		c.AddTraces(td)
		if err := ownKeysIndexed(c.model); err != nil {
			t.Fatalf("after span %d: %v", n+1, err)
		}
	}
}
