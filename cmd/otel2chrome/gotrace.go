package main

import (
	"fmt"
	"io"

	"github.com/otel2chrome/otel2chrome/converter"
)

// reportGoTraces says, per Go execution trace, where it was drawn and how well
// its clock agreed with the spans'.
func reportGoTraces(w io.Writer, traces []converter.GoTraceStats) {
	for _, g := range traces {
		if g.Clock == "none" {
			fmt.Fprintf(w, "otel2chrome: %s: Go execution trace left out: it has no clock snapshot (Go before 1.25) "+
				"and records no request of the spans to align it by\n", printableName(g.Name))
			continue
		}
		where := "a process of its own (no spans matched)"
		if g.Service != "" {
			where = fmt.Sprintf("%q", g.Service)
		}
		fmt.Fprintf(w, "otel2chrome: %s: Go execution trace in %s: %d goroutine tracks, %d states, %d GC, %d stop-the-world, %d CPU samples; clock: %s",
			printableName(g.Name), where, g.Goroutines, g.States, g.GC, g.STW, g.CPUSamples, g.Clock)
		if g.Shift != 0 {
			fmt.Fprintf(w, ", moved %v with its process's spans (clock skew)", g.Shift)
		}
		if g.AlignedSpans > 0 {
			fmt.Fprintf(w, ", alignment error median %v, max %v, min %v (%d request starts)", g.AlignMedian, g.AlignMax, g.AlignMin, g.AlignedSpans)
		} else {
			fmt.Fprint(w, ", alignment error not measured (no sdkhook request start in the trace)")
		}
		fmt.Fprintln(w)
	}
}
