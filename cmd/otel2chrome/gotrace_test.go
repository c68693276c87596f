package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	rtrace "runtime/trace"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// hookedRequest runs one request of service "shop" under sdkhook with the
// execution tracer on: its call "waitForChan" waits 20 ms on a channel and
// its call "collect" forces a GC; a few quick requests before it give the
// clocks' agreement more than one measure. It writes the spans as OTLP JSON
// Lines and the execution trace (runtime/trace.Start) into dir.
func hookedRequest(t *testing.T, dir string) (spans, gotrace string) {
	t.Helper()
	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("shop"))),
		sdktrace.WithSpanProcessor(sdkhook.NewProcessor(rec)))
	for range 4 {
		ctx, req := tp.Tracer("test").Start(context.Background(), "GET /health", trace.WithSpanKind(trace.SpanKindServer))
		sdkhook.Enter(ctx, "ping").End()
		req.End()
	}
	ctx, req := tp.Tracer("test").Start(context.Background(), "GET /order", trace.WithSpanKind(trace.SpanKindServer))
	func() {
		defer sdkhook.Enter(ctx, "waitForChan").End()
		ch := make(chan struct{})
		go func() { time.Sleep(20 * time.Millisecond); close(ch) }()
		<-ch
	}()
	func() {
		defer sdkhook.Enter(ctx, "collect").End()
		runtime.GC()
	}()
	req.End()
	rtrace.Stop()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans, gotrace = filepath.Join(dir, "spans.jsonl"), filepath.Join(dir, "req.gotrace")
	line, err := (&ptrace.JSONMarshaler{}).MarshalTraces(toTraces(rec.Ended()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spans, append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gotrace, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return spans, gotrace
}

// TestGoExecutionTrace converts sdkhook's spans and the execution trace
// recorded with them: the goroutine that ran waitForChan shows, inside that
// call, about 20 ms blocked on chan receive; GC slices lie inside collect;
// the trace's clock agrees with the spans' within 100 µs (the closest of
// the request starts it logged: each adds the SDK's work and, on a loaded
// machine, scheduling delays to the clocks' disagreement). When the request is
// the child of a client in another service whose clock runs 50 ms ahead, the
// clock-skew fix moves the request's spans, and the trace moves with them.
func TestGoExecutionTrace(t *testing.T) {
	dir := t.TempDir()
	spans, gotrace := hookedRequest(t, dir)
	skewed := withSkewedClient(t, spans, 50*time.Millisecond)
	for _, tc := range []struct {
		name   string
		inputs []string
		moved  string // the shift reported on stderr
	}{
		{"own clock", []string{spans, gotrace}, ""},
		{"clock skew", []string{skewed, gotrace}, "moved 55ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			_, stderr, err := run(t, nil, append([]string{"-o", out}, tc.inputs...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			t.Log(strings.TrimSpace(stderr))
			if tc.moved != "" && !strings.Contains(stderr, tc.moved) {
				t.Errorf("stderr does not say the trace was %s:\n%s", tc.moved, stderr)
			}
			checkGoTimeline(t, out)
		})
	}
}

// checkGoTimeline checks the timeline hookedRequest's inputs converted to
// (see TestGoExecutionTrace).
func checkGoTimeline(t *testing.T, out string) {
	t.Helper()
	r, err := check.ValidateFile(out)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	perfetto.Check(t, data)

	calls := map[string]check.Slice{}
	for _, s := range r.Slices {
		if s.Cat == sdkhook.ScopeName {
			calls[s.Name] = s
		}
	}
	wait, collect := calls["waitForChan"], calls["collect"]
	attrs, _ := wait.Args["attributes"].(map[string]any)
	goid := int64(0)
	if v, ok := attrs["go.goroutine.id"].(float64); ok {
		goid = int64(v)
	}
	if goid == 0 {
		t.Fatalf("waitForChan carries no go.goroutine.id: %v", wait.Args)
	}
	var state check.Lane
	for l, name := range r.Threads {
		if name == "G"+strconv.FormatInt(goid, 10)+" state" && l.Pid == wait.Pid {
			state = l
		}
	}
	if state == (check.Lane{}) {
		t.Fatalf("no state thread for goroutine %d in the process of waitForChan; threads %v", goid, r.Threads)
	}
	var blocked, gc float64
	for _, s := range r.Slices {
		in := min(s.End(), wait.End()) - max(s.Ts, wait.Ts)
		switch {
		case s.Pid == state.Pid && s.Tid == state.Tid && s.Name == "blocked: chan receive" && in > 0:
			blocked += in
		case s.Pid == wait.Pid && s.Name == "GC" && s.Cat == "go.runtime":
			if c := min(s.End(), collect.End()) - max(s.Ts, collect.Ts); c > 0 {
				gc += c
			}
		}
	}
	if blocked < 15_000 || blocked > 60_000 {
		t.Errorf("goroutine %d is blocked on chan receive for %.0fµs inside waitForChan (%.0fµs long), want about 20 ms", goid, blocked, wait.Dur)
	}
	if gc <= 0 {
		t.Errorf("no GC slice inside collect [%v, %v]", collect.Ts, collect.End())
	}
	align, _ := r.OtherData["go_alignment"].(string)
	m := regexp.MustCompile(`clock snapshot, error median (\d+)ns max (\d+)ns min (\d+)ns over (\d+) spans`).FindStringSubmatch(align)
	if m == nil {
		t.Fatalf("otherData.go_alignment = %q, want the clock snapshot and a measured error", align)
	}
	if least, _ := strconv.Atoi(m[3]); least > 100_000 || m[4] != "5" {
		t.Errorf("alignment error at least %dns over %s request starts, want under 100µs over 5", least, m[4])
	}
}

// withSkewedClient writes, beside spans, a copy in which the request is the
// child of a client span of service "gateway" that starts ahead after the
// request (the gateway's clock runs ahead) and ends ahead + 10 ms after it.
func withSkewedClient(t *testing.T, spans string, ahead time.Duration) string {
	t.Helper()
	data, err := os.ReadFile(spans)
	if err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data)
	if err != nil {
		t.Fatal(err)
	}
	var req ptrace.Span
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		for j := 0; j < rss.At(i).ScopeSpans().Len(); j++ {
			ss := rss.At(i).ScopeSpans().At(j).Spans()
			for k := 0; k < ss.Len(); k++ {
				if ss.At(k).Name() == "GET /order" {
					req = ss.At(k)
				}
			}
		}
	}
	rs := rss.AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "gateway")
	c := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	c.SetTraceID(req.TraceID())
	c.SetSpanID(pcommon.SpanID{0xc1, 0x1e, 0x47})
	c.SetName("GET /order")
	c.SetKind(ptrace.SpanKindClient)
	c.SetStartTimestamp(req.StartTimestamp() + pcommon.Timestamp(ahead))
	c.SetEndTimestamp(req.EndTimestamp() + pcommon.Timestamp(ahead+10*time.Millisecond))
	req.SetParentSpanID(c.SpanID())
	line, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSuffix(spans, ".jsonl") + "-skewed.jsonl"
	if err := os.WriteFile(out, append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGoExecutionTraceBadInput: a truncated, foreign-version or garbage
// execution trace fails with the file's name, and nothing is written.
func TestGoExecutionTraceBadInput(t *testing.T) {
	dir := t.TempDir()
	spans, gotrace := hookedRequest(t, dir)
	good, _ := os.ReadFile(gotrace)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)*2/3], "Go execution trace: truncated: input ends at byte"},
		{"version", append([]byte("go 1.99 trace\x00\x00\x00"), good[16:]...), "unsupported trace version go 1.99"},
		{"garbage", append([]byte("go 1.26 trace\x00\x00\x00"), bytes.Repeat([]byte{0xff, 0x13, 'x'}, 300)...), "Go execution trace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(dir, tc.name+".gotrace")
			if err := os.WriteFile(bad, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, tc.name+".json")
			_, _, err := run(t, nil, "-o", out, spans, bad)
			if err == nil || !strings.Contains(err.Error(), bad+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, bad, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s written despite the error", out)
			}
		})
	}
}

// toTraces turns SDK spans into pdata, as an OTLP exporter would send them.
func toTraces(spans []sdktrace.ReadOnlySpan) ptrace.Traces {
	td := ptrace.NewTraces()
	scopes := map[string]ptrace.SpanSlice{}
	rs := td.ResourceSpans().AppendEmpty()
	for _, s := range spans {
		if rs.Resource().Attributes().Len() == 0 {
			putAttrs(rs.Resource().Attributes(), s.Resource().Attributes())
		}
		ss, ok := scopes[s.InstrumentationScope().Name]
		if !ok {
			sc := rs.ScopeSpans().AppendEmpty()
			sc.Scope().SetName(s.InstrumentationScope().Name)
			ss = sc.Spans()
			scopes[s.InstrumentationScope().Name] = ss
		}
		d := ss.AppendEmpty()
		d.SetTraceID(pcommon.TraceID(s.SpanContext().TraceID()))
		d.SetSpanID(pcommon.SpanID(s.SpanContext().SpanID()))
		if p := s.Parent(); p.IsValid() {
			d.SetParentSpanID(pcommon.SpanID(p.SpanID()))
		}
		d.SetName(s.Name())
		d.SetKind(ptrace.SpanKind(s.SpanKind()))
		d.SetStartTimestamp(pcommon.NewTimestampFromTime(s.StartTime()))
		d.SetEndTimestamp(pcommon.NewTimestampFromTime(s.EndTime()))
		putAttrs(d.Attributes(), s.Attributes())
	}
	return td
}

func putAttrs(m pcommon.Map, kvs []attribute.KeyValue) {
	for _, kv := range kvs {
		switch kv.Value.Type() {
		case attribute.INT64:
			m.PutInt(string(kv.Key), kv.Value.AsInt64())
		case attribute.BOOL:
			m.PutBool(string(kv.Key), kv.Value.AsBool())
		default:
			m.PutStr(string(kv.Key), kv.Value.Emit())
		}
	}
}
