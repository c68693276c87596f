package converter

import (
	"bytes"
	"fmt"
	"math/rand"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

const ms = time.Millisecond

// convert runs the converter over td and validates the output with the shared
// invariant checker, failing the test on any violation.
func convert(t testing.TB, td ptrace.Traces, opts ...Option) (*check.Report, Stats, []byte) {
	t.Helper()
	c := New(opts...)
	c.AddTraces(td)
	var out bytes.Buffer
	st, err := c.Encode(&out)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	r, err := check.Validate(out.Bytes())
	if err != nil {
		t.Fatalf("invariant violated: %v\n%s", err, out.String())
	}
	return r, st, out.Bytes()
}

func sid(n uint64) string { return spanID(n).String() }

func lane(t *testing.T, r *check.Report, span uint64) check.Lane {
	t.Helper()
	s, ok := r.SpanSlices[sid(span)]
	if !ok {
		t.Fatalf("span %d not in output", span)
	}
	return check.Lane{Pid: s.Pid, Tid: s.Tid}
}

func TestLayoutRules(t *testing.T) {
	tests := []struct {
		name  string
		spans []spec
		opts  []Option
		check func(t *testing.T, r *check.Report, st Stats)
	}{
		{
			name: "child nests on its parent's lane",
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "root", end: 100 * ms},
				{trace: 1, id: 2, parent: 1, service: "a", name: "child", start: 10 * ms, end: 90 * ms},
				{trace: 1, id: 3, parent: 2, service: "a", name: "grandchild", start: 20 * ms, end: 30 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if lane(t, r, 1) != lane(t, r, 2) || lane(t, r, 2) != lane(t, r, 3) {
					t.Errorf("nested spans on different lanes: %v %v %v", lane(t, r, 1), lane(t, r, 2), lane(t, r, 3))
				}
				if r.Flows != 0 {
					t.Errorf("flows = %d, want 0 within one lane", r.Flows)
				}
			},
		},
		{
			name: "overlapping siblings get separate lanes and a flow",
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "root", end: 100 * ms},
				{trace: 1, id: 2, parent: 1, service: "a", name: "fan1", start: 10 * ms, end: 50 * ms},
				{trace: 1, id: 3, parent: 1, service: "a", name: "fan2", start: 20 * ms, end: 60 * ms},
				{trace: 1, id: 4, parent: 1, service: "a", name: "fan3", start: 30 * ms, end: 70 * ms},
				{trace: 1, id: 5, parent: 1, service: "a", name: "after", start: 80 * ms, end: 90 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				lanes := map[check.Lane]bool{lane(t, r, 2): true, lane(t, r, 3): true, lane(t, r, 4): true}
				if len(lanes) != 3 {
					t.Errorf("concurrent siblings share lanes: %v", lanes)
				}
				if lane(t, r, 5) != lane(t, r, 1) {
					t.Errorf("sequential child not on parent's lane")
				}
				if r.Flows != 2 {
					t.Errorf("flows = %d, want 2 (to the two siblings off the parent's lane)", r.Flows)
				}
			},
		},
		{
			name: "a sibling that fits inside a concurrent sibling does not nest under it",
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "root", end: 100 * ms},
				{trace: 1, id: 2, parent: 1, service: "a", name: "outer sibling", start: 10 * ms, end: 60 * ms},
				{trace: 1, id: 3, parent: 1, service: "a", name: "inner sibling", start: 20 * ms, end: 50 * ms},
				{trace: 2, id: 4, service: "a", name: "other trace", start: 30 * ms, end: 40 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if lane(t, r, 3) == lane(t, r, 2) {
					t.Errorf("inner sibling nested under the outer one: a call that did not happen")
				}
				if l := lane(t, r, 4); l == lane(t, r, 1) || l == lane(t, r, 2) || l == lane(t, r, 3) {
					t.Errorf("a root of another trace nested under this trace's spans")
				}
			},
		},
		{
			name: "flow ends bind to their own spans, not to nested calls open at the same time",
			spans: []spec{
				{trace: 1, id: 1, service: "front", name: "handler", end: 100 * ms},
				{trace: 1, id: 2, parent: 1, service: "front", name: "fanout-a", start: 10 * ms, end: 60 * ms, kind: ptrace.SpanKindClient},
				{trace: 1, id: 3, parent: 1, service: "front", name: "fanout-b", start: 10 * ms, end: 70 * ms, kind: ptrace.SpanKindClient},
				{trace: 1, id: 4, parent: 3, service: "back", name: "server", start: 20 * ms, end: 60 * ms, kind: ptrace.SpanKindServer},
				{trace: 1, id: 5, parent: 4, service: "back", name: "same-start call", start: 20 * ms, end: 40 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				// check.Validate already proved each arrow joins parent
				// and child; here: both arrows exist.
				if r.Flows != 2 {
					t.Errorf("flows = %d, want 2", r.Flows)
				}
			},
		},
		{
			name: "cross-service child gets its own process and a flow",
			spans: []spec{
				{trace: 1, id: 1, service: "front", name: "GET", end: 100 * ms, kind: ptrace.SpanKindServer, attrs: map[string]any{"http.route": "/cart/{id}"}},
				{trace: 1, id: 2, parent: 1, service: "front", name: "call", start: 10 * ms, end: 90 * ms, kind: ptrace.SpanKindClient},
				{trace: 1, id: 3, parent: 2, service: "back", name: "POST", start: 20 * ms, end: 80 * ms, kind: ptrace.SpanKindServer, attrs: map[string]any{"url.path": "/price?x=1"}},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if len(r.Processes) != 2 || r.Processes[1] != "front" || r.Processes[2] != "back" {
					t.Errorf("processes = %v, want front (first span) then back", r.Processes)
				}
				if r.Flows != 1 {
					t.Errorf("flows = %d, want 1", r.Flows)
				}
				if got := r.SpanSlices[sid(1)].Name; got != "GET /cart/{id}" {
					t.Errorf("server name = %q, want route added", got)
				}
				if got := r.SpanSlices[sid(3)].Name; got != "POST /price" {
					t.Errorf("server name = %q, want path without query", got)
				}
				if len(st.Shifts) != 0 {
					t.Errorf("unexpected shifts %v", st.Shifts)
				}
			},
		},
		{
			name: "clock skew: server before its client is centred and reported",
			spans: []spec{
				{trace: 1, id: 1, service: "front", name: "call", end: 100 * ms, kind: ptrace.SpanKindClient},
				{trace: 1, id: 2, parent: 1, service: "back", name: "serve", start: -50 * ms, end: 30 * ms, kind: ptrace.SpanKindServer},
				{trace: 1, id: 3, parent: 2, service: "back", name: "db", start: -40 * ms, end: 20 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if len(st.Shifts) != 1 || st.Shifts[0].Delta != int64(60*ms) || st.Shifts[0].Service != "back" {
					t.Fatalf("shifts = %+v, want one of +60ms for back", st.Shifts)
				}
				if !check.Contains(r.SpanSlices[sid(1)], r.SpanSlices[sid(2)]) {
					t.Errorf("server not inside client after the shift")
				}
				if !check.Contains(r.SpanSlices[sid(2)], r.SpanSlices[sid(3)]) {
					t.Errorf("the shift did not carry to the server's child")
				}
				if got := r.SpanSlices[sid(1)].Ts; got != 0 {
					t.Errorf("origin not rebased to earliest adjusted span: ts = %v", got)
				}
			},
		},
		{
			name: "clock skew correction can be turned off",
			opts: []Option{WithoutSkewCorrection()},
			spans: []spec{
				{trace: 1, id: 1, service: "front", name: "call", end: 100 * ms, kind: ptrace.SpanKindClient},
				{trace: 1, id: 2, parent: 1, service: "back", name: "serve", start: -50 * ms, end: 30 * ms, kind: ptrace.SpanKindServer},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if len(st.Shifts) != 0 {
					t.Errorf("shifts = %v", st.Shifts)
				}
				if got := r.SpanSlices[sid(1)].Ts; got != 50000 {
					t.Errorf("client ts = %v, want 50000 (origin at the earlier server)", got)
				}
			},
		},
		{
			name: "thread.id lanes nest under their request, with a fallback when they would overlap",
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "req", end: 100 * ms},
				{trace: 1, id: 2, parent: 1, service: "a", name: "f1", start: 10 * ms, end: 40 * ms, attrs: map[string]any{"thread.id": int64(7), "thread.name": "worker"}},
				{trace: 1, id: 3, parent: 1, service: "a", name: "f2", start: 50 * ms, end: 60 * ms, attrs: map[string]any{"thread.id": int64(7)}},
				{trace: 1, id: 4, parent: 1, service: "a", name: "bad", start: 30 * ms, end: 55 * ms, attrs: map[string]any{"thread.id": int64(7)}},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				l := lane(t, r, 2)
				if l != lane(t, r, 1) || r.Threads[l] != "worker" {
					t.Errorf("first thread lane = %v %q, want the request's lane %v, named worker", l, r.Threads[l], lane(t, r, 1))
				}
				if lane(t, r, 3) != l {
					t.Errorf("same thread.id on a different lane")
				}
				if lane(t, r, 4) == l {
					t.Errorf("partially overlapping span kept on the thread lane")
				}
			},
		},
		{
			name: "a forked goroutine's thread.id gets a lane of its own",
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "req", end: 100 * ms},
				{trace: 1, id: 2, parent: 1, service: "a", name: "main", start: 10 * ms, end: 90 * ms, attrs: map[string]any{"thread.id": int64(1)}},
				{trace: 1, id: 3, parent: 2, service: "a", name: "worker", start: 20 * ms, end: 95 * ms, attrs: map[string]any{"thread.id": int64(2), "thread.name": "goroutine 2"}},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				l := lane(t, r, 3)
				if l.Tid != 2 || r.Threads[l] != "goroutine 2" {
					t.Errorf("forked lane = %v %q, want tid 2 named goroutine 2", l, r.Threads[l])
				}
				if lane(t, r, 2) != lane(t, r, 1) {
					t.Errorf("main goroutine's calls not under the request")
				}
				if r.Flows != 1 {
					t.Errorf("flows = %d, want 1 (to the forked goroutine)", r.Flows)
				}
			},
		},
		{
			name: "a thread.id too large for a viewer gets a small tid and keeps its name",
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "x", end: 10 * ms, attrs: map[string]any{"thread.id": int64(140735285434176)}},
				{trace: 1, id: 2, service: "a", name: "y", start: 5 * ms, end: 15 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				l := lane(t, r, 1)
				if l.Tid > 1<<31-1 || r.Threads[l] != "thread 140735285434176" || l == lane(t, r, 2) {
					t.Errorf("lane %v %q, other %v", l, r.Threads[l], lane(t, r, 2))
				}
			},
		},
		{
			name: "span links draw flows; missing targets are ignored",
			spans: []spec{
				{trace: 1, id: 1, service: "producer", name: "send", end: 10 * ms, kind: ptrace.SpanKindProducer},
				{trace: 2, id: 2, service: "consumer", name: "receive", start: 20 * ms, end: 30 * ms, kind: ptrace.SpanKindConsumer},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if r.Flows != 1 {
					t.Errorf("flows = %d, want 1 link flow", r.Flows)
				}
			},
		},
		{
			name: "filters: trace, service, min duration",
			opts: []Option{WithTraceIDs(traceID(1)), WithServices("a"), WithMinDuration(5 * ms)},
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "keep", end: 10 * ms},
				{trace: 1, id: 2, parent: 1, service: "a", name: "short", start: 1 * ms, end: 2 * ms},
				{trace: 1, id: 3, parent: 1, service: "b", name: "other service", end: 10 * ms},
				{trace: 2, id: 4, service: "a", name: "other trace", end: 10 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if len(r.Slices) != 1 || r.Slices[0].Name != "keep" {
					t.Errorf("slices = %v, want only keep", r.Slices)
				}
			},
		},
		{
			name: "min duration: children of dropped spans hang from the nearest kept ancestor",
			opts: []Option{WithMinDuration(5 * ms)},
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "request", end: 100 * ms},
				{trace: 1, id: 2, parent: 1, service: "a", name: "tiny", start: 10 * ms, end: 12 * ms},
				{trace: 1, id: 3, parent: 2, service: "a", name: "tinier", start: 10 * ms, end: 11 * ms},
				{trace: 1, id: 4, parent: 3, service: "a", name: "async long", start: 10 * ms, end: 60 * ms},
				{trace: 1, id: 5, parent: 1, service: "a", name: "sibling", start: 20 * ms, end: 50 * ms},
				{trace: 1, id: 6, parent: 2, service: "b", name: "remote", start: 11 * ms, end: 30 * ms, kind: ptrace.SpanKindServer},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if len(r.Slices) != 4 {
					t.Fatalf("slices = %d, want request, async long, sibling, remote", len(r.Slices))
				}
				long := r.SpanSlices[sid(4)]
				if long.Args["timeline_parent_span_id"] != sid(1) || long.Args["parent_span_id"] != sid(3) {
					t.Errorf("async long args = %v, want parent 3 kept and ancestor 1", long.Args)
				}
				if lane(t, r, 4) != lane(t, r, 1) {
					t.Errorf("async long not nested under the request")
				}
				// sibling overlaps async long: a lane of its own, with an
				// arrow from the request; so does the remote server span.
				if r.Flows != 2 {
					t.Errorf("flows = %d, want 2 (request -> sibling, request -> remote)", r.Flows)
				}
			},
		},
		{
			name: "time window",
			opts: []Option{WithTimeWindow(base.Add(15*ms), base.Add(25*ms))},
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "before", end: 10 * ms},
				{trace: 1, id: 2, service: "a", name: "overlaps", start: 10 * ms, end: 20 * ms},
				{trace: 1, id: 3, service: "a", name: "after", start: 25 * ms, end: 30 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if len(r.Slices) != 1 || r.Slices[0].Name != "overlaps" {
					t.Errorf("slices = %v, want only overlaps", r.Slices)
				}
			},
		},
		{
			name: "nanoseconds survive; absolute time keeps epoch",
			opts: []Option{WithAbsoluteTime(true)},
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "x", start: 1234567, end: 1234567 + 1001},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				s := r.Slices[0]
				ns := base.UnixNano() + 1234567
				want, _ := strconv.ParseFloat(fmt.Sprintf("%d.%03d", ns/1000, ns%1000), 64)
				if s.Ts != want || s.Dur != 1.001 {
					t.Errorf("ts, dur = %v, %v; want %v, 1.001", s.Ts, s.Dur, want)
				}
			},
		},
		{
			name: "parent cycles and self parents do not hang or break nesting",
			spans: []spec{
				{trace: 1, id: 1, parent: 2, service: "a", name: "x", end: 10 * ms},
				{trace: 1, id: 2, parent: 1, service: "a", name: "y", start: 5 * ms, end: 15 * ms},
				{trace: 1, id: 3, parent: 3, service: "a", name: "z", start: 1 * ms, end: 2 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if len(r.Slices) != 3 {
					t.Errorf("slices = %d, want 3", len(r.Slices))
				}
			},
		},
		{
			name: "end before start is clamped to zero duration",
			spans: []spec{
				{trace: 1, id: 1, service: "a", name: "x", start: 10 * ms, end: 5 * ms},
			},
			check: func(t *testing.T, r *check.Report, st Stats) {
				if r.Slices[0].Dur != 0 {
					t.Errorf("dur = %v", r.Slices[0].Dur)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTB()
			for _, s := range tt.spans {
				sp := b.add(s)
				if tt.name == "span links draw flows; missing targets are ignored" && s.id == 2 {
					l := sp.Links().AppendEmpty()
					l.SetTraceID(traceID(1))
					l.SetSpanID(spanID(1))
					l = sp.Links().AppendEmpty()
					l.SetTraceID(traceID(9))
					l.SetSpanID(spanID(9))
				}
			}
			r, st, _ := convert(t, b.td, tt.opts...)
			tt.check(t, r, st)
		})
	}
}

func TestEventsAndStatus(t *testing.T) {
	b := newTB()
	sp := b.add(spec{trace: 1, id: 1, service: "a", name: "work", end: 10 * ms})
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("boom")
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(sp.StartTimestamp() + 1000)
	ev.Attributes().PutStr("exception.type", "io.Error")
	ev.Attributes().PutStr("exception.message", "disk full")
	ev.Attributes().PutStr("exception.stacktrace", "main.f()\n\tmain.go:12")
	r, st, _ := convert(t, b.td)
	if st.Instants != 1 || len(r.Instants) != 1 {
		t.Fatalf("instants = %d", len(r.Instants))
	}
	in := r.Instants[0]
	if in.Name != "exception: io.Error: disk full" {
		t.Errorf("instant name = %q", in.Name)
	}
	attrs := in.Args["attributes"].(map[string]any)
	if attrs["exception.stacktrace"] != "main.f()\n\tmain.go:12" {
		t.Errorf("stack lost: %v", attrs)
	}
	if *in.Ts != 1 || in.Pid != r.Slices[0].Pid || in.Tid != r.Slices[0].Tid {
		t.Errorf("instant at %v on %d/%d, want 1µs on the span's lane", *in.Ts, in.Pid, in.Tid)
	}
	args := r.Slices[0].Args
	if args["status"] != "error" || args["status_message"] != "boom" || args["kind"] != "unspecified" {
		t.Errorf("args = %v", args)
	}
	if r.Slices[0].Cat != "test/a" {
		t.Errorf("cat = %q, want the scope name", r.Slices[0].Cat)
	}
}

func TestHostileAttributes(t *testing.T) {
	b := newTB()
	long := strings.Repeat("é", 10000)
	sp := b.add(spec{trace: 1, id: 1, service: "a\"\n\x00svc", name: "bad\xff\"name\u2028", end: 10 * ms})
	a := sp.Attributes()
	a.PutStr("long", long)
	a.PutStr("ctl", "\x01\x1f</script>")
	a.PutDouble("nan", 0)
	nested := a.PutEmptyMap("deep")
	for i := 0; i < 100; i++ {
		nested = nested.PutEmptyMap("d")
	}
	a.PutEmptyBytes("bytes").FromRaw(make([]byte, 100000))
	r, _, out := convert(t, b.td, WithMaxAttributeLen(100))
	attrs := r.Slices[0].Args["attributes"].(map[string]any)
	if got := attrs["long"].(string); len(got) > 104 || !strings.HasSuffix(got, "…") {
		t.Errorf("long value not truncated on a rune boundary: %d bytes", len(got))
	}
	if len(out) > 10000 {
		t.Errorf("output %d bytes: huge values not bounded", len(out))
	}
	if r.Processes[1] != "a\"\n\x00svc" {
		t.Errorf("process name = %q", r.Processes[1])
	}
}

// TestDeterministic checks that the same spans give the same bytes, whatever
// order they arrive in and however they are split across inputs.
func TestDeterministic(t *testing.T) {
	specs := []spec{
		{trace: 1, id: 1, service: "front", name: "root", end: 100 * ms, kind: ptrace.SpanKindServer},
		{trace: 1, id: 2, parent: 1, service: "front", name: "a", start: 10 * ms, end: 50 * ms, kind: ptrace.SpanKindClient},
		{trace: 1, id: 3, parent: 1, service: "front", name: "b", start: 10 * ms, end: 50 * ms, kind: ptrace.SpanKindClient},
		{trace: 1, id: 4, parent: 2, service: "back", name: "s", start: 12 * ms, end: 40 * ms, kind: ptrace.SpanKindServer},
		{trace: 1, id: 5, parent: 3, service: "back", name: "s", start: 12 * ms, end: 40 * ms, kind: ptrace.SpanKindServer},
		{trace: 2, id: 6, service: "back", name: "other", start: 5 * ms, end: 6 * ms},
	}
	var want []byte
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 20; round++ {
		c := New()
		order := rng.Perm(len(specs))
		for _, i := range order {
			b := newTB()
			b.add(specs[i])
			c.AddTraces(b.td)
			if round%2 == 1 {
				c.AddTraces(b.td) // duplicates merge away
			}
		}
		var out bytes.Buffer
		if _, err := c.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = out.Bytes()
			if _, err := check.Validate(want); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !sameTimeline(want, out.Bytes()) {
			t.Fatalf("round %d (order %v): output differs", round, order)
		}
	}
}

func TestEncodeTrace(t *testing.T) {
	b := newTB()
	b.add(spec{trace: 1, id: 1, service: "a", name: "one", end: 10 * ms})
	b.add(spec{trace: 2, id: 2, service: "a", name: "two", start: 20 * ms, end: 30 * ms})
	c := New()
	c.AddTraces(b.td)
	ids := c.TraceIDs()
	if len(ids) != 2 || ids[0] != traceID(1) {
		t.Fatalf("TraceIDs = %v", ids)
	}
	var out bytes.Buffer
	if _, err := c.EncodeTrace(&out, ids[1]); err != nil {
		t.Fatal(err)
	}
	r, err := check.Validate(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Slices) != 1 || r.Slices[0].Name != "two" || r.Slices[0].Ts != 0 {
		t.Errorf("slices = %+v, want only trace 2, rebased", r.Slices)
	}
}

func validateOrFail(t testing.TB, data []byte) *check.Report {
	t.Helper()
	r, err := check.Validate(data)
	if err != nil {
		t.Fatalf("invariant violated: %v\n%s", err, data)
	}
	return r
}

// TestSmallConverterIsSmall guards the exporters' use: one converter per
// trace written must not reserve megabytes up front.
func TestSmallConverterIsSmall(t *testing.T) {
	noShadowIndex(t)
	b := newTB()
	b.add(spec{trace: 1, id: 1, service: "a", name: "x", end: ms, attrs: map[string]any{"k": "v"}})
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	c := New()
	c.AddTraces(b.td)
	runtime.ReadMemStats(&ms1)
	if got := ms1.TotalAlloc - ms0.TotalAlloc; got > 64<<10 {
		t.Errorf("one span allocated %d bytes in the model, want < 64 KiB", got)
	}
	runtime.KeepAlive(c)
}

// TestSharedSpanIDs: Zipkin-style client and server halves of one span, in two
// services, are both kept (the server gets an ID of its own and becomes the
// client's child), whatever order they arrive in.
func TestSharedSpanIDs(t *testing.T) {
	var outs [][]byte
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		specs := []spec{
			{trace: 1, id: 7, parent: 1, service: "client-svc", name: "call", start: 10 * ms, end: 90 * ms, kind: ptrace.SpanKindClient},
			{trace: 1, id: 7, parent: 1, service: "server-svc", name: "serve", start: 20 * ms, end: 80 * ms, kind: ptrace.SpanKindServer},
		}
		c := New()
		for _, i := range order {
			b := newTB()
			b.add(specs[i])
			c.AddTraces(b.td)
		}
		var out bytes.Buffer
		st, err := c.Encode(&out)
		if err != nil {
			t.Fatal(err)
		}
		r := validateOrFail(t, out.Bytes())
		if len(r.Slices) != 2 || st.SharedIDs != 1 {
			t.Fatalf("order %v: %d slices, %d shared IDs; want 2 and 1", order, len(r.Slices), st.SharedIDs)
		}
		call := r.SpanSlices[sid(7)]
		for id, s := range r.SpanSlices {
			if id != sid(7) && (s.Name != "serve" || s.Args["parent_span_id"] != sid(7)) {
				t.Errorf("order %v: server half %q has parent %v, want the client's %s", order, s.Name, s.Args["parent_span_id"], sid(7))
			}
		}
		if call.Name != "call" || r.Flows != 1 {
			t.Errorf("order %v: client %q, %d flows", order, call.Name, r.Flows)
		}
		outs = append(outs, out.Bytes())
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("output depends on arrival order")
	}
}

// TestSharedSpanIDChildren: a child of a shared span ID in the server's
// process ran inside the server half, as Jaeger's deduper has it: it nests
// under the server slice, whatever the arrival order.
func TestSharedSpanIDChildren(t *testing.T) {
	specs := []spec{
		{trace: 1, id: 1, service: "front", name: "root", end: 100 * ms, kind: ptrace.SpanKindServer},
		{trace: 1, id: 7, parent: 1, service: "front", name: "call", start: 10 * ms, end: 90 * ms, kind: ptrace.SpanKindClient},
		{trace: 1, id: 7, parent: 1, service: "back", name: "serve", start: 20 * ms, end: 80 * ms, kind: ptrace.SpanKindServer},
		{trace: 1, id: 9, parent: 7, service: "back", name: "db", start: 30 * ms, end: 40 * ms, kind: ptrace.SpanKindClient},
		{trace: 1, id: 10, parent: 7, service: "front", name: "retry", start: 50 * ms, end: 60 * ms},
	}
	var outs [][]byte
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {3, 2, 4, 1, 0}, {2, 3, 0, 4, 1}} {
		c := New()
		for _, i := range order {
			b := newTB()
			b.add(specs[i])
			c.AddTraces(b.td)
		}
		var out bytes.Buffer
		if _, err := c.Encode(&out); err != nil {
			t.Fatal(err)
		}
		r := validateOrFail(t, out.Bytes())
		var serve check.Slice
		for _, s := range r.Slices {
			if s.Name == "serve" {
				serve = s
			}
		}
		db := r.SpanSlices[sid(9)]
		if lane(t, r, 9) != (check.Lane{Pid: serve.Pid, Tid: serve.Tid}) || db.Args["timeline_parent_span_id"] != serve.Args["span_id"] {
			t.Errorf("order %v: db on %v (args %v), want nested under serve on pid %d tid %d", order, lane(t, r, 9), db.Args, serve.Pid, serve.Tid)
		}
		if lane(t, r, 10) != lane(t, r, 7) {
			t.Errorf("order %v: the client's own child left its lane", order)
		}
		outs = append(outs, out.Bytes())
	}
	for _, o := range outs[1:] {
		if !bytes.Equal(outs[0], o) {
			t.Errorf("output depends on arrival order")
		}
	}
}

func TestSpansWithoutStartAreLeftOut(t *testing.T) {
	b := newTB()
	b.add(spec{trace: 1, id: 1, service: "a", name: "good", start: 5 * ms, end: 10 * ms})
	bad := b.add(spec{trace: 1, id: 2, service: "a", name: "unset", end: 10 * ms})
	bad.SetStartTimestamp(0)
	r, st, _ := convert(t, b.td)
	if len(r.Slices) != 1 || st.NoStart != 1 || r.Slices[0].Ts != 0 {
		t.Errorf("slices %v, NoStart %d: want only the good span, at the origin", r.Slices, st.NoStart)
	}
}

// TestDuplicatesAreCounted: spans given again are merged, and spans that
// reuse a taken ID with other content are dropped; both are counted in Stats
// and in the output's metadata.
func TestDuplicatesAreCounted(t *testing.T) {
	b := newTB()
	b.add(spec{trace: 1, id: 1, service: "a", name: "root", end: 10 * ms})
	for k := 0; k < 1000; k++ {
		b.add(spec{trace: 1, id: 2, parent: 1, service: "a", name: fmt.Sprintf("n%d", k), start: time.Duration(k) * time.Microsecond, end: 5 * ms})
	}
	c := New()
	c.AddTraces(b.td)
	c.AddTraces(b.td) // all of it again
	var out bytes.Buffer
	st, err := c.Encode(&out)
	if err != nil {
		t.Fatal(err)
	}
	r := validateOrFail(t, out.Bytes())
	if len(r.Slices) != 2 {
		t.Fatalf("%d slices, want 2", len(r.Slices))
	}
	// The first input holds 999 conflicting copies of span 2; the second
	// holds all 1,001 spans again, 2 of them identical to the kept ones.
	if st.Conflicts+st.Duplicates != 2000 || st.Duplicates != 2 {
		t.Errorf("duplicates %d, conflicts %d: want 2 merged (root and the kept copy, given again) of 2000 dropped spans", st.Duplicates, st.Conflicts)
	}
	if r.OtherData["conflicting_spans_dropped"] != fmt.Sprint(st.Conflicts) || r.OtherData["duplicate_spans_merged"] != fmt.Sprint(st.Duplicates) {
		t.Errorf("otherData = %v, want the counts %d and %d", r.OtherData, st.Duplicates, st.Conflicts)
	}
}

// TestSetOtherData: the caller's fields follow the converter's own in key
// order, escaped; the converter's own keys are refused.
func TestSetOtherData(t *testing.T) {
	b := newTB()
	b.add(spec{trace: 1, id: 1, service: "a", name: "x", end: ms})
	c := New()
	c.AddTraces(b.td)
	if err := c.SetOtherData("spans", "7"); err == nil {
		t.Error("the converter's own key was accepted")
	}
	for _, kv := range [][2]string{{"z", "last"}, {"a\"b", "quoted \"value\""}, {"z", "replaced"}} {
		if err := c.SetOtherData(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if _, err := c.Encode(&out); err != nil {
		t.Fatal(err)
	}
	r := validateOrFail(t, out.Bytes())
	if r.OtherData["a\"b"] != "quoted \"value\"" || r.OtherData["z"] != "replaced" || r.OtherData["spans"] != "1" {
		t.Errorf("otherData = %v", r.OtherData)
	}
	if i, j := bytes.Index(out.Bytes(), []byte(`"a\"b"`)), bytes.Index(out.Bytes(), []byte(`"z"`)); i < 0 || j < i {
		t.Errorf("fields not in key order after the converter's: %s", out.Bytes()[:300])
	}
}

// TestSharedIDWithinOneService: a service that calls itself Zipkin-style
// (client and server in one instance, one span ID) keeps both halves, the
// server's children under the server half.
func TestSharedIDWithinOneService(t *testing.T) {
	b := newTB()
	b.add(spec{trace: 1, id: 1, service: "a", name: "root", end: 100 * ms, kind: ptrace.SpanKindServer})
	b.add(spec{trace: 1, id: 2, parent: 1, service: "a", name: "call self", start: 10 * ms, end: 90 * ms, kind: ptrace.SpanKindClient})
	b.add(spec{trace: 1, id: 2, parent: 1, service: "a", name: "serve self", start: 20 * ms, end: 80 * ms, kind: ptrace.SpanKindServer})
	b.add(spec{trace: 1, id: 3, parent: 2, service: "a", name: "work", start: 30 * ms, end: 40 * ms})
	c := New()
	c.AddTraces(b.td)
	var out bytes.Buffer
	st, err := c.Encode(&out)
	if err != nil {
		t.Fatal(err)
	}
	r := validateOrFail(t, out.Bytes())
	names := map[string]check.Slice{}
	for _, s := range r.Slices {
		names[s.Name] = s
	}
	if len(r.Slices) != 4 || st.SharedIDs != 1 || st.Duplicates+st.Conflicts != 0 {
		t.Fatalf("%d slices, %d shared, %d+%d dropped; want 4 slices, 1 shared ID, none dropped", len(r.Slices), st.SharedIDs, st.Duplicates, st.Conflicts)
	}
	if w := names["work"]; w.Args["timeline_parent_span_id"] != names["serve self"].Args["span_id"] {
		t.Errorf("work hangs from %v, want the server half %v", w.Args["timeline_parent_span_id"], names["serve self"].Args["span_id"])
	}
}

// TestConflictingCopiesChosenByContent: copies of one span that differ only
// in parent, status message or links keep the same copy whatever the order.
func TestConflictingCopiesChosenByContent(t *testing.T) {
	variants := []func(ptrace.Span, int){
		func(sp ptrace.Span, k int) { sp.SetParentSpanID(spanID(uint64(100 + k))) },
		func(sp ptrace.Span, k int) { sp.Status().SetMessage(fmt.Sprint("message ", k)) },
		func(sp ptrace.Span, k int) {
			l := sp.Links().AppendEmpty()
			l.SetTraceID(traceID(1))
			l.SetSpanID(spanID(uint64(200 + k)))
		},
	}
	for vi, vary := range variants {
		var outs [][]byte
		for _, order := range [][]int{{0, 1}, {1, 0}} {
			c := New()
			for _, k := range order {
				b := newTB()
				vary(b.add(spec{trace: 1, id: 7, service: "a", name: "x", end: ms}), k)
				c.AddTraces(b.td)
			}
			var out bytes.Buffer
			if _, err := c.Encode(&out); err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out.Bytes())
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("variant %d: the copy kept depends on arrival order", vi)
		}
	}
}
