//go:build unix

package converter

import (
	"bytes"
	"testing"
)

// BenchmarkLayoutRealShape times the layout phase alone (pids, lanes, clock
// skew, flows) on 100,000 collector-shaped spans decoded once.
func BenchmarkLayoutRealShape(b *testing.B) {
	data := realShape(b, realFormatNamed(b, "proto"), realBenchSpans, true)
	spans := realSpans(b, realBenchSpans)
	c := New()
	if err := c.Decode("bench", bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.model.layout(nil, &c.cfg)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(spans), "ns/span")
}
