package converter

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// TestMain makes every span index in the package's tests check its lookups
// against a plain map (see spanIndex.shadow), except in runs given -bench
// (benchmarks time the index as it is) and in the tests that measure time
// or memory (noShadowIndex).
func TestMain(m *testing.M) {
	flag.Parse()
	shadowIndex = flag.Lookup("test.bench").Value.String() == ""
	os.Exit(m.Run())
}

// noShadowIndex turns the span index's check off for the rest of a test.
func noShadowIndex(tb testing.TB) { setShadowIndex(tb, false) }

// withShadowIndex turns it on for the rest of a test, -bench or not.
func withShadowIndex(tb testing.TB) { setShadowIndex(tb, true) }

func setShadowIndex(tb testing.TB, on bool) {
	was := shadowIndex
	shadowIndex = on
	tb.Cleanup(func() { shadowIndex = was })
}

// TestSpanIndexAsMap sets and looks up keys at random as the model does —
// records stored under their own keys, keys that name another record (for
// a while even one a record holds, as mergeHalf does), records whose IDs
// change (the old key set again, as model.replace does), a table grown from
// empty through many doublings — and holds every answer to a map's. As in
// the model, no two records hold the same IDs. The last run is large: a
// table of 2^19 slots.
func TestSpanIndexAsMap(t *testing.T) {
	noShadowIndex(t) // this test is the check
	const runs = 300
	for seed := int64(0); seed <= runs; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var spans spanStore
		x := newSpanIndex(&spans)
		want := map[spanKey]int32{}
		owner := map[spanKey]int32{} // the record holding each key's IDs
		// Few trace and span IDs, so that keys repeat and share span IDs.
		nIDs, ops := 1+rng.Intn(60), 3000
		if seed == runs {
			nIDs, ops = 100_000, 600_000
		}
		key := func() spanKey {
			id := rng.Intn(nIDs)
			return keyOf(pcommon.TraceID{byte(rng.Intn(3))}, pcommon.SpanID{byte(id), byte(id >> 8), byte(id >> 16), 1})
		}
		set := func(k spanKey, i int32) {
			x.set(k, i)
			want[k] = i
		}
		check := func(k spanKey, op int) {
			i, ok := x.get(k)
			j, wantOK := want[k]
			if ok != wantOK || ok && i != j {
				t.Fatalf("seed %d, op %d: key %x gives %d %v, want %d %v", seed, op, k, i, ok, j, wantOK)
			}
		}
		var lent []spanKey // held keys naming another record for now
		for op := 0; op < ops; op++ {
			n := int32(spans.len())
			k := key()
			holder, held := owner[k]
			switch {
			case held && n > 1 && rng.Intn(8) == 0: // lent to another record for a while
				set(k, (holder+1+rng.Int31n(n-1))%n)
				lent = append(lent, k)
			case held:
			case n == 0 || rng.Intn(3) == 0: // a new record, under its own key
				i := spans.push(spanRec{trace: pcommon.TraceID(k[:16]), id: k.id()})
				owner[k] = i
				set(k, i)
			case rng.Intn(3) == 0: // a key naming another record
				set(k, rng.Int31n(n))
			default: // a record takes other IDs
				i := rng.Int31n(n)
				r := spans.at(i)
				was := keyOf(r.trace, r.id)
				delete(owner, was)
				r.trace, r.id = pcommon.TraceID(k[:16]), k.id()
				owner[k] = i
				set(was, i)
				set(k, i)
			}
			if len(lent) > 0 && rng.Intn(4) == 0 { // a lent key back to its holder
				k := lent[len(lent)-1]
				lent = lent[:len(lent)-1]
				if i, ok := owner[k]; ok {
					set(k, i)
				}
			}
			check(key(), op)
		}
		for k := range want {
			check(k, -1)
		}
	}
}

// BenchmarkSpanIndex adds n spans as the model does (a lookup, then a set)
// to the span index and, as the baseline, to a map keyed by the ID bytes,
// both grown from empty.
func BenchmarkSpanIndex(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		rng := rand.New(rand.NewSource(1))
		keys := make([]spanKey, n)
		for i := range keys {
			rng.Read(keys[i][:])
		}
		recs := make([]spanRec, n)
		for i, k := range keys {
			recs[i] = spanRec{trace: pcommon.TraceID(k[:16]), id: k.id()}
		}
		b.Run(fmt.Sprintf("index/%d", n), func(b *testing.B) {
			for b.Loop() {
				var spans spanStore
				x := newSpanIndex(&spans)
				for i, k := range keys {
					if _, ok := x.get(k); ok {
						b.Fatal("a key twice")
					}
					x.set(k, spans.push(recs[i]))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/span")
		})
		b.Run(fmt.Sprintf("map/%d", n), func(b *testing.B) {
			for b.Loop() {
				var spans spanStore
				m := map[spanKey]int32{}
				for i, k := range keys {
					if _, ok := m[k]; ok {
						b.Fatal("a key twice")
					}
					m[k] = spans.push(recs[i])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/span")
		})
	}
}
