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
// against a plain map (see spanIndex.shadow), except in benchmarks and in
// the tests that measure time or memory (noShadowIndex).
func TestMain(m *testing.M) {
	flag.Parse()
	shadowIndex = flag.Lookup("test.bench").Value.String() == ""
	os.Exit(m.Run())
}

// noShadowIndex turns the span index's check off for the rest of a test.
func noShadowIndex(tb testing.TB) {
	was := shadowIndex
	shadowIndex = false
	tb.Cleanup(func() { shadowIndex = was })
}

// TestSpanIndexAsMap sets and looks up keys at random as the model does —
// records stored under their own keys, keys that name another record,
// records whose IDs change (the old key set again, as model.replace does),
// a table grown from empty through many rehashes — and holds every answer
// to a map's. As in the model, no two records hold the same IDs.
func TestSpanIndexAsMap(t *testing.T) {
	noShadowIndex(t) // this test is the check
	for seed := int64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var spans spanStore
		x := newSpanIndex(&spans)
		want := map[spanKey]int32{}
		owner := map[spanKey]int32{} // the record holding each key's IDs
		// Few trace and span IDs, so that keys repeat and share span IDs.
		nIDs := 1 + rng.Intn(60)
		key := func() spanKey {
			return keyOf(pcommon.TraceID{byte(rng.Intn(3))}, pcommon.SpanID{byte(rng.Intn(nIDs)), 1})
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
		for op := 0; op < 3000; op++ {
			n := int32(spans.len())
			k := key()
			_, held := owner[k] // a record holds its IDs: they name no other
			switch {
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
			check(key(), op)
		}
		for k := range want {
			check(k, -1)
		}
		if x.empty() != (len(want) == 0) {
			t.Fatalf("seed %d: empty() = %v with %d keys", seed, x.empty(), len(want))
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
