package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// span is what the test needs to know of one exported span.
type span struct {
	service string
	s       ptrace.Span
}

// readProtoStream decodes a length-prefixed TracesData stream.
func readProtoStream(t *testing.T, path string) []ptrace.Traces {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []ptrace.Traces
	var u ptrace.ProtoUnmarshaler
	for off := 0; off < len(data); {
		if len(data)-off < 4 {
			t.Fatalf("%s: %d stray bytes at offset %d", path, len(data)-off, off)
		}
		n := int(binary.BigEndian.Uint32(data[off:]))
		off += 4
		if off+n > len(data) {
			t.Fatalf("%s: message at offset %d claims %d bytes, %d left", path, off-4, n, len(data)-off)
		}
		td, err := u.UnmarshalTraces(data[off : off+n])
		if err != nil {
			t.Fatalf("%s at offset %d: %v", path, off-4, err)
		}
		out = append(out, td)
		off += n
	}
	return out
}

func readJSONLines(t *testing.T, path string) []ptrace.Traces {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []ptrace.Traces
	var u ptrace.JSONUnmarshaler
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		td, err := u.UnmarshalTraces(line)
		if err != nil {
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		out = append(out, td)
	}
	return out
}

func spans(tds []ptrace.Traces) []span {
	var out []span
	for _, td := range tds {
		for _, rs := range td.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					out = append(out, span{svc.Str(), s})
				}
			}
		}
	}
	return out
}

// TestSampleApp runs the services and checks that the files hold the trace
// the converter's tests rely on.
func TestSampleApp(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := run(ctx, config{out: dir, items: "widget,gadget,gizmo"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pb := readProtoStream(t, filepath.Join(dir, "sample.otlp.pb"))
	js := readJSONLines(t, filepath.Join(dir, "sample.otlp.jsonl"))
	if len(pb) != 3 || len(js) != 3 {
		t.Fatalf("got %d proto and %d JSON messages, want one per service (3)", len(pb), len(js))
	}
	for i := range pb {
		a, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(pb[i])
		b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(js[i])
		if !bytes.Equal(a, b) {
			t.Errorf("message %d differs between sample.otlp.pb and sample.otlp.jsonl", i)
		}
	}

	all := spans(pb)
	if len(all) != res.spans {
		t.Fatalf("files hold %d spans, run reported %d", len(all), res.spans)
	}
	byID := map[pcommon.SpanID]span{}
	count := map[string]int{}
	for _, s := range all {
		byID[s.s.SpanID()] = s
		count[s.service+"/"+s.s.Name()]++
	}
	// 3 items: 3 inventory calls; 4 pricing calls (gadget is retried).
	for name, want := range map[string]int{
		"frontend/GET /checkout":  1,
		"frontend/parseRequest":   1,
		"frontend/validateCart":   1,
		"frontend/checkInventory": 1,
		"frontend/HTTP GET":       7,
		"frontend/getPrice":       4,
		"inventory/GET /stock":    3,
		"inventory/queryDB":       3,
		"pricing/GET /price":      4,
		"pricing/loadRates":       4,
		"pricing/applyDiscounts":  3,
	} {
		if count[name] != want {
			t.Errorf("%d spans %q, want %d", count[name], name, want)
		}
	}

	var roots, events, exceptions, links, errs int
	for _, s := range all {
		sp := s.s
		if sp.TraceID() != res.traceID {
			t.Errorf("span %s in trace %s, want %s", sp.Name(), sp.TraceID(), res.traceID)
		}
		if sp.ParentSpanID().IsEmpty() {
			roots++
		} else if _, ok := byID[sp.ParentSpanID()]; !ok {
			t.Errorf("span %s: parent %s not exported", sp.Name(), sp.ParentSpanID())
		}
		for _, ev := range sp.Events().All() {
			events++
			if ev.Name() == "exception" {
				if st, ok := ev.Attributes().Get("exception.stacktrace"); !ok || st.Str() == "" {
					t.Errorf("exception event without stack trace")
				}
				exceptions++
			}
		}
		for _, l := range sp.Links().All() {
			links++
			if target, ok := byID[l.SpanID()]; !ok || target.s.Name() != "getPrice" {
				t.Errorf("link from %s does not point to a failed getPrice span", sp.Name())
			}
		}
		if sp.Status().Code() == ptrace.StatusCodeError {
			errs++
		}
	}
	if roots != 1 || exceptions != 1 || links != 1 || events < 2 || errs < 3 {
		t.Errorf("roots=%d exceptions=%d links=%d events=%d errors=%d; want 1, 1, 1, >=2, >=3", roots, exceptions, links, events, errs)
	}

	// The inventory calls run in parallel: some two of them overlap.
	var calls []ptrace.Span
	for _, s := range all {
		if s.service == "inventory" && s.s.Name() == "GET /stock" {
			calls = append(calls, s.s)
		}
	}
	overlap := false
	for i := range calls {
		for j := range calls {
			if i != j && calls[i].StartTimestamp() < calls[j].StartTimestamp() && calls[j].StartTimestamp() < calls[i].EndTimestamp() {
				overlap = true
			}
		}
	}
	if !overlap {
		t.Error("the parallel inventory calls do not overlap")
	}
}

func TestJaegerQueryNeedsOTLP(t *testing.T) {
	_, err := run(context.Background(), config{out: t.TempDir(), jaegerQuery: "http://127.0.0.1:1"}, io.Discard)
	if err == nil {
		t.Fatal("want an error for -jaeger-query without -jaeger-otlp")
	}
}
