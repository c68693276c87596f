package converter

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

// TestGoTraceOfNoProcessIsCut: an execution trace that matches no process of
// the spans (several services, none of whose goroutines or request starts
// it holds) is drawn in a process of its own, cut to the spans' time range
// like any other: a trace of another time leaves nothing (it would stretch
// the timeline over the gap), one that overlaps leaves only what lies within.
func TestGoTraceOfNoProcessIsCut(t *testing.T) {
	seed, err := os.ReadFile(goTraceSeed)
	if err != nil {
		t.Fatal(err)
	}
	probe := New()
	if err := probe.Decode("seed.gotrace", bytes.NewReader(seed)); err != nil {
		t.Fatal(err)
	}
	g := probe.goTraces[0]
	from, to := g.Wall(g.Start), g.Wall(g.End)
	tenth := (to - from) / 10
	for _, tc := range []struct {
		name      string
		lo, hi    int64 // the spans' range, Unix ns
		wantDrawn bool
	}{
		{"a year before", from - int64(365*24*time.Hour), from - int64(365*24*time.Hour) + int64(time.Second), false},
		{"inside", from + tenth, to - tenth, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New()
			td := ptrace.NewTraces()
			for i, svc := range []string{"front", "back"} {
				rs := td.ResourceSpans().AppendEmpty()
				rs.Resource().Attributes().PutStr("service.name", svc)
				sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
				sp.SetTraceID(pcommon.TraceID{1})
				sp.SetSpanID(pcommon.SpanID{byte(i + 1)})
				if i > 0 {
					sp.SetParentSpanID(pcommon.SpanID{1})
				}
				sp.SetName("call")
				sp.SetStartTimestamp(pcommon.Timestamp(tc.lo))
				sp.SetEndTimestamp(pcommon.Timestamp(tc.hi))
			}
			c.AddTraces(td)
			if err := c.Decode("seed.gotrace", bytes.NewReader(seed)); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			st, err := c.Encode(&out)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := check.Validate(out.Bytes()); err != nil {
				t.Fatal(err)
			}
			var file struct {
				TraceEvents []struct {
					Ph, Name, Cat string
					Ts, Dur       float64
					Args          map[string]any
				}
			}
			if err := json.Unmarshal(out.Bytes(), &file); err != nil {
				t.Fatal(err)
			}
			end := float64(tc.hi-tc.lo) / 1e3 // µs after the origin, the spans' start
			drawn, ownProcess := 0, false
			for _, e := range file.TraceEvents {
				if e.Ph == "M" && e.Name == "process_name" && strings.HasPrefix(e.Args["name"].(string), "Go runtime") {
					ownProcess = true
				}
				if !strings.HasPrefix(e.Cat, "go.") {
					continue
				}
				drawn++
				if e.Ts < 0 || e.Ts+e.Dur > end+0.001 {
					t.Errorf("%s %q at [%.3f, %.3f]µs, outside the spans' [0, %.3f]", e.Ph, e.Name, e.Ts, e.Ts+e.Dur, end)
				}
			}
			if tc.wantDrawn != (drawn > 0) || tc.wantDrawn != ownProcess {
				t.Errorf("%d execution-trace events, a process of its own: %v; want them: %v (stats %+v)", drawn, ownProcess, tc.wantDrawn, st.GoTraces)
			}
		})
	}
}
