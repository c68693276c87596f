package converter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// jaegerExport writes td as the Jaeger query service's JSON. With dedupe it
// first applies what Jaeger's span ID deduper does to the trace it serves: a
// server span sharing its ID with a client span gets the lowest unused ID,
// the shared ID as parent, and the shared ID's children as its own.
func jaegerExport(t testing.TB, td ptrace.Traces, dedupe bool) []byte {
	t.Helper()
	td2 := ptrace.NewTraces()
	td.CopyTo(td2)
	td = td2
	all := func(fn func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, sp ptrace.Span)) {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j)
				for k := 0; k < ss.Spans().Len(); k++ {
					fn(rs, ss, ss.Spans().At(k))
				}
			}
		}
	}
	if dedupe {
		used := map[pcommon.SpanID]bool{}
		clients := map[pcommon.SpanID]bool{}
		all(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			used[sp.SpanID()] = true
			if sp.Kind() == ptrace.SpanKindClient {
				clients[sp.SpanID()] = true
			}
		})
		moved := map[pcommon.SpanID]pcommon.SpanID{}
		next := uint64(0)
		all(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			if sp.Kind() != ptrace.SpanKindServer || !clients[sp.SpanID()] {
				return
			}
			for next++; used[spanID(next)]; next++ {
			}
			moved[sp.SpanID()] = spanID(next)
			sp.SetParentSpanID(sp.SpanID())
			sp.SetSpanID(spanID(next))
		})
		all(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			if id, ok := moved[sp.ParentSpanID()]; ok && sp.SpanID() != id {
				sp.SetParentSpanID(id)
			}
		})
	}
	type kv struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	type ref struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	}
	type span struct {
		TraceID       string `json:"traceID"`
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []ref  `json:"references"`
		StartTime     int64  `json:"startTime"`
		Duration      int64  `json:"duration"`
		Tags          []kv   `json:"tags"`
		Logs          []any  `json:"logs"`
		ProcessID     string `json:"processID"`
	}
	type process struct {
		ServiceName string `json:"serviceName"`
		Tags        []kv   `json:"tags"`
	}
	type trace struct {
		TraceID   string             `json:"traceID"`
		Spans     []span             `json:"spans"`
		Processes map[string]process `json:"processes"`
	}
	traces := map[pcommon.TraceID]*trace{}
	var order []pcommon.TraceID
	procs := map[ptrace.ResourceSpans]string{}
	all(func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, sp ptrace.Span) {
		tr, ok := traces[sp.TraceID()]
		if !ok {
			tr = &trace{TraceID: sp.TraceID().String(), Processes: map[string]process{}}
			traces[sp.TraceID()] = tr
			order = append(order, sp.TraceID())
		}
		pid, ok := procs[rs]
		if !ok {
			pid = fmt.Sprintf("p%d", len(procs)+1)
			procs[rs] = pid
		}
		p := process{Tags: []kv{}}
		rs.Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
			if k == "service.name" {
				p.ServiceName = v.Str()
			} else {
				p.Tags = append(p.Tags, kv{k, "string", v.AsString()})
			}
			return true
		})
		tr.Processes[pid] = p
		js := span{
			TraceID: sp.TraceID().String(), SpanID: sp.SpanID().String(), OperationName: sp.Name(),
			References: []ref{}, Logs: []any{}, ProcessID: pid,
			StartTime: int64(sp.StartTimestamp()) / 1000,
			Duration:  int64(sp.EndTimestamp()-sp.StartTimestamp()) / 1000,
			Tags: []kv{{"otel.scope.name", "string", ss.Scope().Name()},
				{"span.kind", "string", map[ptrace.SpanKind]string{ptrace.SpanKindServer: "server", ptrace.SpanKindClient: "client"}[sp.Kind()]}},
		}
		if !sp.ParentSpanID().IsEmpty() {
			js.References = append(js.References, ref{"CHILD_OF", sp.TraceID().String(), sp.ParentSpanID().String()})
		}
		tr.Spans = append(tr.Spans, js)
	})
	var doc struct {
		Data []*trace `json:"data"`
	}
	for _, id := range order {
		doc.Data = append(doc.Data, traces[id])
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sharedIDTrace is three spans where the client call and its server share
// span ID 7, as Zipkin-style instrumentation reports them; serverParent is
// the server's parent: the client's parent (B3) or the shared ID itself.
func sharedIDTrace(serverParent uint64) ptrace.Traces {
	b := newTB()
	b.add(spec{trace: 1, id: 1, service: "front", name: "GET", end: 100 * ms, kind: ptrace.SpanKindServer})
	b.add(spec{trace: 1, id: 7, parent: 1, service: "front", name: "call", start: 10*ms + 321, end: 90*ms + 5, kind: ptrace.SpanKindClient})
	b.add(spec{trace: 1, id: 7, parent: serverParent, service: "back", name: "serve", start: 20*ms + 123, end: 80*ms + 999, kind: ptrace.SpanKindServer})
	return b.td
}

// TestSharedIDDuplicates: a trace whose client and server share a span ID,
// given more than once (the same file twice, or an OTLP and a Jaeger copy,
// split by Jaeger or raw), is still three slices, whatever the order.
func TestSharedIDDuplicates(t *testing.T) {
	for _, serverParent := range []uint64{1, 7} {
		td := sharedIDTrace(serverParent)
		otlp, otlpJSON := protoBytes(t, td), jsonBytes(t, td)
		jaeger, jaegerRaw := jaegerExport(t, td, true), jaegerExport(t, td, false)
		tests := []struct {
			name   string
			inputs [][]byte
			shared int    // Stats.SharedIDs
			group  string // every test of a group gives the same output
		}{
			{"otlp", [][]byte{otlp}, 1, "otlp"},
			{"otlp twice", [][]byte{otlp, otlp}, 1, "otlp"},
			{"otlp proto and json", [][]byte{otlp, otlpJSON}, 1, "otlp"},
			{"otlp and raw jaeger", [][]byte{otlp, jaegerRaw}, 1, "otlp"},
			{"raw jaeger and otlp", [][]byte{jaegerRaw, otlp}, 1, "otlp"},
			{"jaeger twice", [][]byte{jaeger, jaeger}, 0, "jaeger"},
			{"otlp and jaeger", [][]byte{otlp, jaeger}, 1, "mixed"},
			{"jaeger and otlp", [][]byte{jaeger, otlp}, 1, "mixed"},
			{"otlp, jaeger, otlp", [][]byte{otlp, jaeger, otlp}, 1, "mixed"},
			{"raw jaeger, jaeger, otlp", [][]byte{jaegerRaw, jaeger, otlp}, 1, "mixed"},
			{"jaeger, raw jaeger", [][]byte{jaeger, jaegerRaw}, 1, "mixed raw"},
			{"raw jaeger, jaeger", [][]byte{jaegerRaw, jaeger}, 1, "mixed raw"},
		}
		outs := map[string][]byte{}
		for _, tt := range tests {
			name := fmt.Sprintf("%s, server parent %d", tt.name, serverParent)
			c := New()
			for i, in := range tt.inputs {
				if err := c.Decode(fmt.Sprintf("in%d", i), bytes.NewReader(in)); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			var out bytes.Buffer
			st, err := c.Encode(&out)
			if err != nil {
				t.Fatal(err)
			}
			r := validateOrFail(t, out.Bytes())
			if len(r.Slices) != 3 {
				t.Errorf("%s: %d slices, want 3", name, len(r.Slices))
				continue
			}
			if call := r.SpanSlices[sid(7)]; call.Name != "call" {
				t.Errorf("%s: span 7 is %q, want the client", name, call.Name)
			}
			for id, s := range r.SpanSlices {
				if id != sid(1) && id != sid(7) && (s.Name != "serve" || s.Args["parent_span_id"] != sid(7)) {
					t.Errorf("%s: server half %q has parent %v, want %s", name, s.Name, s.Args["parent_span_id"], sid(7))
				}
			}
			if st.SharedIDs != tt.shared {
				t.Errorf("%s: SharedIDs = %d, want %d", name, st.SharedIDs, tt.shared)
			}
			if prev, ok := outs[tt.group]; !ok {
				outs[tt.group] = out.Bytes()
			} else if !sameTimeline(out.Bytes(), prev) {
				t.Errorf("%s: output differs from the first of group %q", name, tt.group)
			}
		}
	}
}

// singleSpans returns every span of the inputs as a ptrace.Traces of its own.
func singleSpans(t *testing.T, inputs ...[]byte) []ptrace.Traces {
	var out []ptrace.Traces
	for _, in := range inputs {
		err := decode("in", bytes.NewReader(in), 1<<30, nil, func(td ptrace.Traces) {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				rs := td.ResourceSpans().At(i)
				for j := 0; j < rs.ScopeSpans().Len(); j++ {
					ss := rs.ScopeSpans().At(j)
					for k := 0; k < ss.Spans().Len(); k++ {
						one := ptrace.NewTraces()
						ors := one.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(ors.Resource())
						oss := ors.ScopeSpans().AppendEmpty()
						ss.Scope().CopyTo(oss.Scope())
						ss.Spans().At(k).CopyTo(oss.Spans().AppendEmpty())
						out = append(out, one)
					}
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// permutations calls fn with every order of 0..n-1.
func permutations(n int, fn func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			fn(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

// TestSharedIDDuplicatesAnyOrder feeds the spans of an OTLP and a Jaeger copy
// of a shared-ID trace one at a time, in every order: always the same three
// slices.
func TestSharedIDDuplicatesAnyOrder(t *testing.T) {
	for _, jaegerSplit := range []bool{true, false} {
		td := sharedIDTrace(1)
		spans := singleSpans(t, protoBytes(t, td), jaegerExport(t, td, jaegerSplit))
		var want []byte
		permutations(len(spans), func(order []int) {
			c := New()
			for _, i := range order {
				c.AddTraces(spans[i])
			}
			out := encodeOrFail(t, c)
			if want == nil {
				want = out
				if r := validateOrFail(t, out); len(r.Slices) != 3 {
					t.Fatalf("jaeger split %v, order %v: %d slices, want 3", jaegerSplit, order, len(r.Slices))
				}
			} else if !bytes.Equal(out, want) {
				t.Fatalf("jaeger split %v, order %v: output differs from order [0 1 2 ...]:\n%s\n%s", jaegerSplit, order, out, want)
			}
		})
	}
}

// TestUnknownEnums: kind and status values no OTLP version defines (the
// fuzzer found a negative kind) read as unspecified and unset.
func TestUnknownEnums(t *testing.T) {
	for _, v := range []int32{-42, 6, 1 << 30} {
		b := newTB()
		sp := b.add(spec{trace: 1, id: 1, service: "a", name: "x", end: ms})
		sp.SetKind(ptrace.SpanKind(v))
		sp.Status().SetCode(ptrace.StatusCode(v))
		c := New()
		if err := c.Decode("in.pb", bytes.NewReader(protoBytes(t, b.td))); err != nil {
			t.Fatal(err)
		}
		r := validateOrFail(t, encodeOrFail(t, c))
		if a := r.Slices[0].Args; a["kind"] != "unspecified" || a["status"] != "unset" {
			t.Errorf("%d: kind %v, status %v; want unspecified, unset", v, a["kind"], a["status"])
		}
	}
}
