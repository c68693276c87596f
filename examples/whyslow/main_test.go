package main

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
)

// TestDemo runs the demo and checks that the timeline says why each slow
// request was slow: inside its slice, its goroutine's state thread shows
// mostly the reason its endpoint stands for, and the GC ran during /gc. The
// timeline passes the checker and Perfetto's importer.
func TestDemo(t *testing.T) {
	res, err := demo(context.Background(), t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r, err := check.ValidateFile(res.timeline)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(res.timeline)
	if err != nil {
		t.Fatal(err)
	}
	perfetto.Check(t, data)
	for _, g := range res.stats.GoTraces {
		if g.Clock != "clock snapshot" || g.AlignedSpans == 0 || g.AlignMedian.Microseconds() >= 100 {
			t.Errorf("%s: clock %s, alignment error median %v over %d spans; want the clock snapshot, under 100µs", g.Name, g.Clock, g.AlignMedian, g.AlignedSpans)
		}
	}
	want := map[string]string{"/lock": "blocked: sync", "/chan": "blocked: chan receive", "/syscall": "syscall"}
	if !hasSyscalls {
		delete(want, "/syscall")
	}
	threads := map[string]check.Lane{}
	for l, name := range r.Threads {
		threads[name] = l
	}
	for _, path := range slowPaths {
		var req check.Slice
		for _, s := range r.Slices {
			if s.Name == "GET "+path {
				req = s
			}
		}
		attrs, _ := req.Args["attributes"].(map[string]any)
		g, _ := attrs["go.goroutine.id"].(float64)
		if g == 0 {
			t.Errorf("GET %s: no request slice with go.goroutine.id", path)
			continue
		}
		state, ok := threads["G"+strconv.Itoa(int(g))+" state"]
		if !ok {
			t.Errorf("GET %s: no state thread for goroutine %v", path, g)
			continue
		}
		in := map[string]float64{}
		var gc float64
		for _, s := range r.Slices {
			ov := min(s.End(), req.End()) - max(s.Ts, req.Ts)
			if ov <= 0 || s.Pid != req.Pid {
				continue
			}
			if s.Tid == state.Tid {
				in[s.Name] += ov
			}
			if s.Name == "GC" && s.Cat == "go.runtime" {
				gc += ov
			}
		}
		if reason, ok := want[path]; ok && in[reason] < 0.5*req.Dur {
			t.Errorf("GET %s (%.0fµs): %q for %.0fµs of it, want most; states %v", path, req.Dur, reason, in[reason], in)
		}
		if path == "/gc" && gc == 0 {
			t.Errorf("GET /gc: no GC slice during the request; states %v", in)
		}
	}
}
