package converter

import (
	"bytes"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

// TestHostileShapesAreFast converts the shapes that made layout quadratic:
// a 20,000-deep chain with 2,000 overlapping leaves under its deepest span,
// and 100,000 overlapping siblings under one root. Each must convert in
// well under the 10 s any input below 50 MB may take, and its timeline must
// pass the checker.
func TestHostileShapesAreFast(t *testing.T) {
	noShadowIndex(t)
	depth, leaves, fan := 20000, 2000, 100000
	if testing.Short() || raceEnabled {
		depth, leaves, fan = 2000, 200, 10000
	}
	shapes := map[string]func(b *tb){
		"deep chain with nested leaves": func(b *tb) {
			for i := 1; i <= depth; i++ {
				b.add(spec{trace: 1, id: uint64(i), parent: uint64(i - 1), service: "a", name: "chain",
					start: time.Duration(i) * time.Microsecond, end: time.Hour - time.Duration(i)*time.Microsecond})
			}
			for k := 0; k < leaves; k++ {
				b.add(spec{trace: 1, id: uint64(depth + 1 + k), parent: uint64(depth), service: "a", name: "leaf",
					start: time.Second + time.Duration(k)*time.Microsecond, end: 2*time.Second + time.Duration(k)*time.Microsecond})
			}
		},
		"overlapping siblings": func(b *tb) {
			b.add(spec{trace: 1, id: 1, service: "a", name: "root", end: time.Hour})
			for k := 0; k < fan; k++ {
				b.add(spec{trace: 1, id: uint64(2 + k), parent: 1, service: "a", name: "sibling",
					start: time.Duration(k) * time.Microsecond, end: time.Minute + time.Duration(k)*time.Microsecond})
			}
		},
	}
	for name, build := range shapes {
		t.Run(name, func(t *testing.T) {
			b := newTB()
			build(b)
			c := New()
			c.AddTraces(b.td)
			start := time.Now()
			var out bytes.Buffer
			st, err := c.Encode(&out)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d spans: layout and encoding took %v (%d lanes, %d flows)", st.Spans, took, st.Threads, st.Flows)
			if took > 5*time.Second {
				t.Errorf("took %v, want well under 10 s", took)
			}
			if _, err := check.Validate(out.Bytes()); err != nil {
				t.Error(err)
			}
		})
	}
}
