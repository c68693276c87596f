//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otel2chrome/otel2chrome/cmd/otel2chrome/internal/jaegerquery"
	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
)

// These tests run the real Jaeger all-in-one built by .ci/tools.sh:
//
//	bash .ci/tools.sh
//	go test -tags integration -run Jaeger ./cmd/otel2chrome/

// toolPath returns the path of a tool built by .ci/tools.sh, or skips the
// test loudly (fails it when OTEL2CHROME_REQUIRE_TOOLS is set, as in CI).
func toolPath(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(toolsDir(), name)
	needTool(t, p, "bash .ci/tools.sh (or point OTEL2CHROME_TOOLS_DIR at it)")
	return p
}

// freePorts returns n distinct ports of 127.0.0.1 that were free a moment
// ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	// All held open until all are picked: one closed before the next is
	// asked for can come back again, and Jaeger then cannot bind both.
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// lockedBuffer collects a process's output for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// jaegerConfig is the all-in-one configuration: memory store, OTLP/HTTP and
// the query service, all on 127.0.0.1, no self-tracing, no metrics port.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// jaeger is a running all-in-one.
type jaeger struct {
	query string // base URL of the query service
	otlp  string // host:port of the OTLP/HTTP receiver
	logs  *lockedBuffer
}

// startJaeger runs Jaeger on free ports of 127.0.0.1 and waits until both the
// query service and the OTLP receiver answer. It stops Jaeger when the test
// ends.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := toolPath(t, "jaeger")
	ports := freePorts(t, 3)
	queryPort, grpcPort, otlpPort := ports[0], ports[1], ports[2]
	cfg := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, queryPort, grpcPort, otlpPort), 0o644); err != nil {
		t.Fatal(err)
	}
	j := &jaeger{
		query: fmt.Sprintf("http://127.0.0.1:%d", queryPort),
		otlp:  fmt.Sprintf("127.0.0.1:%d", otlpPort),
		logs:  &lockedBuffer{},
	}
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = j.logs, j.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("Jaeger output:\n%s", j.logs.String())
		}
	})

	// Ready when the query service lists services and the OTLP receiver
	// accepts an empty export request.
	empty, _ := ptraceotlp.NewExportRequest().MarshalProto()
	client := &http.Client{Timeout: 2 * time.Second}
	ready := func() bool {
		resp, err := client.Get(j.query + "/api/services")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		resp, err = client.Post("http://"+j.otlp+"/v1/traces", "application/x-protobuf", bytes.NewReader(empty))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("Jaeger exited early (%v):\n%s", err, j.logs.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger not ready after 60s:\n%s", j.logs.String())
		}
	}
	return j
}

// sendSample runs examples/sampleapp, which writes the OTLP sample files into
// dir and forwards the same export requests to Jaeger. It returns the trace ID.
func sendSample(t *testing.T, j *jaeger, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./examples/sampleapp", "-out", dir, "-jaeger-otlp", j.otlp)
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run ./examples/sampleapp: %v\n%s", err, stderr.String())
	}
	id := strings.TrimSpace(string(out))
	if len(id) != 32 {
		t.Fatalf("sampleapp printed %q, want a trace ID", out)
	}
	return id
}

// fetchUntil runs the fetch command until its output has want spans: Jaeger
// acknowledges spans before every one of them is searchable.
func fetchUntil(t *testing.T, want int, args ...string) *check.Report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fetched.json")
	var last string
	for try := 0; try < 50; try++ {
		_, stderr, err := run(t, nil, append([]string{"fetch", "-q", "-o", out}, args...)...)
		if err == nil {
			data, rerr := os.ReadFile(out)
			if rerr != nil {
				t.Fatal(rerr)
			}
			r, verr := check.Validate(data)
			if verr != nil {
				t.Fatalf("fetch %v: invalid output: %v", args, verr)
			}
			if len(r.Slices) == want {
				perfetto.Check(t, data, perfetto.AllowDeclaredOmissions())
				return r
			}
			last = fmt.Sprintf("%d spans", len(r.Slices))
		} else {
			last = fmt.Sprintf("%v %s", err, stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("fetch %v: no %d spans after 10s; last: %s", args, want, last)
	return nil
}

// convertFile converts a local file with the main command.
func convertFile(t *testing.T, args ...string) *check.Report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "direct.json")
	if _, stderr, err := run(t, nil, append([]string{"-q", "-o", out}, args...)...); err != nil {
		t.Fatalf("otel2chrome %v: %v %s", args, err, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r, err := check.Validate(data)
	if err != nil {
		t.Fatalf("otel2chrome %v: invalid output: %v", args, err)
	}
	perfetto.Check(t, data, perfetto.AllowDeclaredOmissions())
	return r
}

// micros writes the file exporter stream at path again with every span's
// start and duration cut to the microsecond, as Jaeger's /api/traces keeps
// them, and returns the new file's path.
func micros(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for len(data) > 0 {
		if len(data) < 4 || int(binary.BigEndian.Uint32(data)) > len(data)-4 {
			t.Fatalf("%s: not a length-prefixed OTLP stream", path)
		}
		size := int(binary.BigEndian.Uint32(data))
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data[4 : 4+size])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data = data[4+size:]
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				spans := sss.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					sp := spans.At(k)
					start := sp.StartTimestamp() / 1000 * 1000
					dur := (sp.EndTimestamp() - sp.StartTimestamp()) / 1000 * 1000
					sp.SetStartTimestamp(start)
					sp.SetEndTimestamp(start + dur)
				}
			}
		}
		msg, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			t.Fatal(err)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(msg)))
		out = append(out, msg...)
	}
	micro := filepath.Join(t.TempDir(), "sample.micros.otlp.pb")
	if err := os.WriteFile(micro, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return micro
}

// spanView is what must survive the trip through Jaeger for one span.
type spanView struct {
	name, parent, service, kind string
	startNs, durNs              float64 // absolute start, duration
}

func spanViews(t *testing.T, r *check.Report) map[string]spanView {
	t.Helper()
	origin, err := strconv.ParseFloat(fmt.Sprint(r.OtherData["origin_unix_nano"]), 64)
	if err != nil {
		t.Fatalf("otherData.origin_unix_nano: %v", err)
	}
	views := make(map[string]spanView, len(r.SpanSlices))
	for id, s := range r.SpanSlices {
		parent, _ := s.Args["parent_span_id"].(string)
		kind, _ := s.Args["kind"].(string)
		views[id] = spanView{
			name:    s.Name,
			parent:  parent,
			service: r.Processes[s.Pid],
			kind:    kind,
			startNs: origin + s.Ts*1e3,
			durNs:   s.Dur * 1e3,
		}
	}
	return views
}

// sameSpans compares the spans of two conversions: the same span IDs,
// parents, names, services and kinds, and times within tolerance (Jaeger's
// /api/traces keeps µs).
func sameSpans(t *testing.T, what string, want, got *check.Report, toleranceNs float64) {
	t.Helper()
	w, g := spanViews(t, want), spanViews(t, got)
	if len(w) != len(g) {
		t.Errorf("%s: %d spans, want %d", what, len(g), len(w))
	}
	for id, ws := range w {
		gs, ok := g[id]
		if !ok {
			t.Errorf("%s: span %s (%s) missing", what, id, ws.name)
			continue
		}
		if gs.name != ws.name || gs.parent != ws.parent || gs.service != ws.service || gs.kind != ws.kind {
			t.Errorf("%s: span %s = %q parent %q service %q kind %q; want %q parent %q service %q kind %q",
				what, id, gs.name, gs.parent, gs.service, gs.kind, ws.name, ws.parent, ws.service, ws.kind)
		}
		// Float64 holds epoch ns to ~256 ns; compare starts by their
		// difference to the first span, durations directly.
		if d := math.Abs(gs.durNs - ws.durNs); d > toleranceNs {
			t.Errorf("%s: span %s (%s) lasts %.0f ns, want %.0f ns (±%.0f)", what, id, ws.name, gs.durNs, ws.durNs, toleranceNs)
		}
		if d := math.Abs(gs.startNs - ws.startNs); d > toleranceNs+512 {
			t.Errorf("%s: span %s (%s) starts %.0f ns off", what, id, ws.name, d)
		}
	}
	if got.Flows != want.Flows || len(got.Instants) != len(want.Instants) || len(got.Processes) != len(want.Processes) {
		t.Errorf("%s: %d flows, %d instants, %d processes; want %d, %d, %d", what,
			got.Flows, len(got.Instants), len(got.Processes), want.Flows, len(want.Instants), len(want.Processes))
	}
}

// TestJaegerFetch sends the sample app's spans to a real Jaeger over OTLP and
// fetches them back, by trace ID and by search, through the fetch command and
// through each query API; every way must give the spans, parents and timing
// that converting the OTLP directly gives.
func TestJaegerFetch(t *testing.T) {
	j := startJaeger(t)
	dir := t.TempDir()
	id := sendSample(t, j, dir)
	direct := convertFile(t, filepath.Join(dir, "sample.otlp.pb"))
	n := len(direct.Slices)
	if n < 40 {
		t.Fatalf("direct conversion: %d spans, want the sample's 44", n)
	}

	// By trace ID: api_v3, nanosecond times.
	byID := fetchUntil(t, n, "--jaeger", j.query, id)
	sameSpans(t, "fetch TRACE_ID", direct, byID, 1)

	// By search: api_v3 with a trace limit (Jaeger 1.76's memory store
	// answers 500 to an api_v3 search without one).
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	bySearch := fetchUntil(t, n, "--jaeger", j.query, "--service", "frontend", "--start", since, "--operation", "GET /checkout", "--limit", "5")
	sameSpans(t, "fetch --service", direct, bySearch, 1)

	// Through /api/traces (µs times), by ID and by search, as a server
	// without api_v3 would answer. Compared with the direct conversion of
	// the same spans at Jaeger's precision: start and duration cut to the
	// microsecond can end a child after its parent, moving it to a lane of
	// its own with one more arrow (about one run in 40 at full precision).
	directMicro := convertFile(t, micros(t, filepath.Join(dir, "sample.otlp.pb")))
	c, err := jaegerquery.New(j.query, jaegerquery.WithoutAPIv3())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		fetch func() (jaegerquery.Answer, error)
	}{
		{"/api/traces/ID", func() (jaegerquery.Answer, error) { return c.Trace(ctx, id) }},
		{"/api/traces?service=", func() (jaegerquery.Answer, error) {
			return c.Search(ctx, jaegerquery.Query{Service: "pricing", Limit: 5})
		}},
	} {
		a, err := tc.fetch()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if a.API != jaegerquery.APIv1 {
			t.Errorf("%s: answered by %s", tc.name, a.API)
		}
		body, err := io.ReadAll(a.Body)
		a.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p := filepath.Join(t.TempDir(), "jaeger.json")
		os.WriteFile(p, body, 0o644)
		sameSpans(t, tc.name, directMicro, convertFile(t, p), 1000)
	}

	// api_v3 without a trace limit: the known 500 from the memory store,
	// which is why the client always sends query.num_traces and falls back.
	resp, err := http.Get(j.query + "/api/v3/traces?query.service_name=frontend&query.start_time_min=" + since +
		"&query.start_time_max=" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	if err == nil {
		resp.Body.Close()
		t.Logf("api_v3 search without query.num_traces: HTTP %d", resp.StatusCode)
	}

	// Errors: an unknown trace and an unknown service say so.
	_, _, err = run(t, nil, "fetch", "-q", "--jaeger", j.query, "0123456789abcdef0123456789abcdef")
	if err == nil || !strings.Contains(err.Error(), "not found in Jaeger at "+j.query) {
		t.Errorf("unknown trace: err = %v", err)
	}
	_, _, err = run(t, nil, "fetch", "-q", "--jaeger", j.query, "--service", "no-such-service")
	if err == nil || !strings.Contains(err.Error(), `Jaeger knows no service "no-such-service", only:`) || !strings.Contains(err.Error(), "frontend") {
		t.Errorf("unknown service: err = %v", err)
	}
}

// TestJaegerTelemetrygen fetches what another real producer, telemetrygen,
// sent to Jaeger: every trace of its service, each span under its parent.
func TestJaegerTelemetrygen(t *testing.T) {
	gen := toolPath(t, "telemetrygen")
	j := startJaeger(t)
	const traces, children = 3, 4
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gen, "traces", "--otlp-http", "--otlp-insecure", "--otlp-endpoint", j.otlp,
		"--service", "telemetrygen-it", "--traces", strconv.Itoa(traces), "--child-spans", strconv.Itoa(children), "--rate", "0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("telemetrygen: %v\n%s", err, out)
	}
	want := traces * (1 + children) // per trace: the root and its children
	r := fetchUntil(t, want, "--jaeger", j.query, "--service", "telemetrygen-it", "--since", "10m")
	ids := map[string]bool{}
	for id, s := range r.SpanSlices {
		ids[id] = true
		if s.Args["trace_id"] == nil {
			t.Errorf("span %s has no trace_id", id)
		}
	}
	roots := 0
	for id, s := range r.SpanSlices {
		p, _ := s.Args["parent_span_id"].(string)
		switch {
		case p == "":
			roots++
		case !ids[p]:
			t.Errorf("span %s: parent %s not fetched", id, p)
		}
	}
	if roots != traces || len(r.Processes) != 1 {
		t.Errorf("%d roots in %d processes, want %d in 1", roots, len(r.Processes), traces)
	}
}
