package chromefile

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPerTrace measures storing and writing traces of 100 spans: the cost
// per trace of the collector exporter in per_trace mode, file I/O included.
func BenchmarkPerTrace(b *testing.B) {
	td := makeTraces("svc", []int{1}, 0, 100)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		p, err := NewPerTrace(PerTraceConfig{Dir: b.TempDir(), IdleTimeout: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := p.Add(td); err != nil {
			b.Fatal(err)
		}
		if err := p.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/span")
}

// BenchmarkSplitByTrace measures grouping a batch of 1000 spans from 10 traces.
func BenchmarkSplitByTrace(b *testing.B) {
	td := makeTraces("svc", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, 100)
	b.ReportAllocs()
	for b.Loop() {
		if len(splitByTrace(td, DefaultMaxSpansPerTrace)) != 10 {
			b.Fatal("wrong split")
		}
	}
}
