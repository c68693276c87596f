//go:build integration

// Integration test: the otelcol-chrome distribution, built with go build, run as
// a process on 127.0.0.1, fed over OTLP gRPC and HTTP by the OTel Go SDK and by
// telemetrygen, stopped with SIGTERM; then every span sent must be in exactly
// one valid Chrome file.
//
//	go test -tags integration -run TestCollectorIntegration -v ./exporter/chromeexporter
//
// TestCollectorHostileInput: one 7 MB request of 100,000 overlapping spans of
// one trace, small traces beside it; limits, timing and the exporter's counter.
//
// Environment:
//
//	OTEL2CHROME_OTELCOL        a prebuilt otelcol-chrome binary (else go build)
//	OTEL2CHROME_TOOLS_DIR      where telemetrygen is looked up first (else $PATH)
//	OTEL2CHROME_REQUIRE_TOOLS  set to 1 to fail instead of skipping without telemetrygen
//	OTEL2CHROME_LOAD_SPANS     spans in the load run (default 100000)

package chromeexporter_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
	"github.com/otel2chrome/otel2chrome/internal/listenwait"
)

const telemetrygenInstall = "go install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.161.0"

func TestCollectorIntegration(t *testing.T) {
	testStart := time.Now()
	bin := collectorBinary(t)
	work := t.TempDir()
	perTraceDir := filepath.Join(work, "per-trace")
	rollingPath := filepath.Join(work, "rolling", "all.json.gz")
	logPath := filepath.Join(work, "collector.log")
	col := startCollector(t, bin, work, logPath, func(grpcAddr, httpAddr string) string {
		return fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 2048
    spike_limit_mib: 512
  batch:
    timeout: 200ms
exporters:
  chrome:
    directory: %s
    trace_idle_timeout: 1s
    max_traces_in_memory: 5000
    sending_queue:
      queue_size: 5000
  chrome/rolling:
    mode: rolling
    path: %s
    compression: gzip
    max_size_mb: 16
    max_backups: 0
    flush_interval: 2s
    sending_queue:
      queue_size: 5000
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: info
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [chrome, chrome/rolling]
`, grpcAddr, httpAddr, perTraceDir, rollingPath)
	})
	grpcAddr, httpAddr, exited := col.grpcAddr, col.httpAddr, col.exited
	stopped := false
	defer func() {
		if !stopped {
			col.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			dumpLog(t, logPath)
		}
	}()
	t.Logf("collector up (%s) after %v", bin, time.Since(testStart).Round(time.Millisecond))
	var err error

	want := map[string]bool{} // span IDs sent from the SDK
	var wantMu sync.Mutex
	record := func(ids []string) {
		wantMu.Lock()
		defer wantMu.Unlock()
		for _, id := range ids {
			want[id] = true
		}
	}

	// 1. One trace across two services and both protocols: the root from the
	// frontend over gRPC, its children from the backend over HTTP, in other
	// batches. The file must merge them.
	ctx := context.Background()
	front := newProvider(t, "frontend", grpcExporter(t, grpcAddr))
	back := newProvider(t, "backend", httpExporter(t, httpAddr))
	const crossTraces = 20
	for i := range crossTraces {
		base := time.Now()
		rctx, root := front.Tracer("frontend/http").Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(base), trace.WithAttributes(attribute.String("http.route", "/checkout"), attribute.Int("i", i)))
		var ids []string
		for j := range 3 {
			s := base.Add(time.Duration(j+1) * time.Millisecond)
			_, c := back.Tracer("backend/db").Start(rctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(s))
			c.AddEvent("rows", trace.WithTimestamp(s.Add(100*time.Microsecond)))
			c.End(trace.WithTimestamp(s.Add(500 * time.Microsecond)))
			ids = append(ids, c.SpanContext().SpanID().String())
		}
		root.End(trace.WithTimestamp(base.Add(10 * time.Millisecond)))
		record(append(ids, root.SpanContext().SpanID().String()))
	}
	require.NoError(t, front.Shutdown(ctx))
	require.NoError(t, back.Shutdown(ctx))

	// 2. telemetrygen over both protocols; its span IDs are unknown, so its
	// spans are counted per service.
	tgWant := map[string]int{}
	const tgTraces, tgChildren = 150, 9
	for _, proto := range []string{"grpc", "http"} {
		t.Run("telemetrygen-"+proto, func(t *testing.T) {
			tg := telemetrygen(t)
			svc := "tg-" + proto
			args := []string{"traces", "--otlp-insecure", "--service", svc,
				"--traces", strconv.Itoa(tgTraces), "--child-spans", strconv.Itoa(tgChildren),
				"--workers", "1", "--rate", "0", "--interval", "1h"}
			if proto == "http" {
				args = append(args, "--otlp-endpoint", httpAddr, "--otlp-http")
			} else {
				args = append(args, "--otlp-endpoint", grpcAddr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, tg, args...).CombinedOutput()
			require.NoError(t, err, "telemetrygen %s:\n%s", strings.Join(args, " "), out)
			tgWant[svc] = tgTraces * (tgChildren + 1)
		})
	}

	// 3. Load run: spans from the SDK over gRPC and HTTP at once, with blocking
	// batch processors so the SDK itself drops nothing; any loss is ours.
	loadSpans := 100000
	if v := os.Getenv("OTEL2CHROME_LOAD_SPANS"); v != "" {
		loadSpans, err = strconv.Atoi(v)
		require.NoError(t, err, "OTEL2CHROME_LOAD_SPANS")
	}
	const spansPerTrace = 100
	loadStart := time.Now()
	var wg sync.WaitGroup
	for k, exp := range []sdktrace.SpanExporter{grpcExporter(t, grpcAddr), httpExporter(t, httpAddr)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tp := newProvider(t, fmt.Sprintf("load-%d", k), exp)
			ids := sendLoad(tp, loadSpans/2/spansPerTrace, spansPerTrace)
			if err := tp.Shutdown(context.Background()); err != nil {
				t.Errorf("load sender %d: %v", k, err)
			}
			record(ids)
		}()
	}
	wg.Wait()
	sent := time.Since(loadStart)

	// 4. SIGTERM: the collector drains its queues and the exporter writes
	// every trace it still holds.
	stopStart := time.Now()
	require.NoError(t, col.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		stopped = true
		require.NoError(t, err, "collector exit")
	case <-time.After(90 * time.Second):
		t.Fatal("collector did not exit within 90s of SIGTERM")
	}
	total := time.Since(loadStart)
	t.Logf("collector stopped %v after SIGTERM", time.Since(stopStart).Round(time.Millisecond))

	// 5. Count: every span in exactly one per-trace file, every file valid.
	got, byService, files := readPerTrace(t, perTraceDir)
	missing := 0
	for id := range want {
		if got[id] == 0 {
			missing++
		}
	}
	dups := 0
	for _, n := range got {
		if n > 1 {
			dups++
		}
	}
	for svc, n := range tgWant {
		assert.Equal(t, n, byService[svc], "telemetrygen spans of %s in the files", svc)
	}
	loadSent := loadSpans / 2 / spansPerTrace * spansPerTrace * 2
	t.Logf("LOAD RUN: %d spans sent over gRPC+HTTP in %v (%.0f spans/s accepted); "+
		"%v until all were on disk and the collector had exited (%.0f spans/s end to end)",
		loadSent, sent.Round(time.Millisecond), float64(loadSent)/sent.Seconds(),
		total.Round(time.Millisecond), float64(loadSent)/total.Seconds())
	t.Logf("per_trace: %d files, %d SDK spans sent, %d missing, %d span IDs in more than one file", files, len(want), missing, dups)
	assert.Zero(t, missing, "spans lost")
	assert.Zero(t, dups, "spans written twice")

	// The cross-service traces merged both services into one file.
	for _, name := range listNames(t, perTraceDir) {
		if strings.HasPrefix(name, "frontend-") {
			rep := validate(t, filepath.Join(perTraceDir, name))
			assert.Len(t, rep.Processes, 2, "%s: frontend and backend in one file", name)
			assert.Len(t, rep.SpanSlices, 4, name)
			assert.NotZero(t, rep.Flows, "%s: client/server hop drawn as a flow", name)
		}
	}

	// Every file is readable by other users (os.CreateTemp alone makes 0600).
	for _, d := range []string{perTraceDir, filepath.Dir(rollingPath)} {
		for _, name := range listNames(t, d) {
			info, err := os.Stat(filepath.Join(d, name))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), name)
		}
	}

	// 6. The rolling exporter got the same spans, across rotated files.
	rolled := map[string]int{}
	rollFiles := 0
	for _, name := range listNames(t, filepath.Dir(rollingPath)) {
		assert.False(t, strings.HasPrefix(name, ".otel2chrome-tmp-"), "temporary file left: %s", name)
		rep := validate(t, filepath.Join(filepath.Dir(rollingPath), name))
		rollFiles++
		for id := range rep.SpanSlices {
			rolled[id]++
		}
	}
	rollMissing := 0
	for id := range want {
		if rolled[id] == 0 {
			rollMissing++
		}
	}
	t.Logf("rolling: %d files (gzip, max 16 MB each), %d of %d SDK spans missing", rollFiles, rollMissing, len(want))
	assert.Zero(t, rollMissing, "rolling: spans lost")
	if loadSpans >= 50000 { // about 25 MB of JSON: more than one 16 MB file
		assert.Greater(t, rollFiles, 1, "rolling: rotated under load")
	}
	t.Logf("whole test: %v", time.Since(testStart).Round(time.Millisecond))
}

// TestCollectorHostileInput sends, as the issue "Hostile input, signals and
// limits" did, one OTLP/HTTP request of 6 MB holding a single trace of 100,000
// overlapping sibling spans, and small traces right after it. Two exporters
// take them: chrome with the default max_spans_per_trace (10,000) and
// chrome/unbounded with room for the whole trace. The small traces' files must
// appear within trace_idle_timeout and a little slack in both directories,
// while the big trace converts; the bounded file holds the first 10,000 spans
// and says it lacks 90,000, as does the exporter's own counter.
func TestCollectorHostileInput(t *testing.T) {
	bin := collectorBinary(t)
	work := t.TempDir()
	boundedDir := filepath.Join(work, "bounded")
	unboundedDir := filepath.Join(work, "unbounded")
	logPath := filepath.Join(work, "collector.log")
	var metricsAddr string
	const idle = time.Second
	col := startCollector(t, bin, work, logPath, func(grpcAddr, httpAddr string) string {
		metricsAddr = freeAddr(t)
		host, port, err := net.SplitHostPort(metricsAddr)
		require.NoError(t, err)
		return fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  chrome:
    directory: %s
    trace_idle_timeout: %v
  chrome/unbounded:
    directory: %s
    trace_idle_timeout: %v
    max_spans_per_trace: 200000
service:
  telemetry:
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: %s
                port: %s
    logs:
      level: info
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [chrome, chrome/unbounded]
`, grpcAddr, httpAddr, boundedDir, idle, unboundedDir, idle, host, port)
	})
	stopped := false
	defer func() {
		if !stopped {
			col.cmd.Process.Kill()
			<-col.exited
		}
		if t.Failed() {
			dumpLog(t, logPath)
		}
	}()

	// The big request, built by hand: the SDK would split it into batches.
	const bigSpans = 100000
	big, bigID := siblingsRequest(bigSpans)
	t.Logf("big request: %d spans of one trace, %.1f MB of OTLP protobuf", bigSpans, float64(len(big))/1e6)
	posted := time.Now()
	resp, err := http.Post("http://"+col.httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(big))
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Small traces right after it, over gRPC.
	tp := newProvider(t, "small", grpcExporter(t, col.grpcAddr))
	var small []string
	for range 20 {
		ctx, root := tp.Tracer("small").Start(context.Background(), "request")
		for range 3 {
			_, c := tp.Tracer("small").Start(ctx, "step")
			c.End()
		}
		root.End()
		small = append(small, root.SpanContext().TraceID().String())
	}
	require.NoError(t, tp.Shutdown(context.Background()))
	sent := time.Now()

	// Every small trace's file appears within the idle timeout and slack,
	// in both directories, whatever the big trace is doing.
	const slack = 2 * time.Second
	bigFile := func(dir string) string { return filepath.Join(dir, "big-"+bigID+".json") }
	for _, dir := range []string{boundedDir, unboundedDir} {
		var last time.Duration
		for _, id := range small {
			name := filepath.Join(dir, "small-"+id+".json")
			require.Eventually(t, func() bool { _, err := os.Stat(name); return err == nil }, time.Until(sent.Add(idle+slack)), 10*time.Millisecond,
				"%s: small trace %s not written within %v of being sent", filepath.Base(dir), id, idle+slack)
			last = max(last, time.Since(sent))
		}
		_, bigErr := os.Stat(bigFile(dir))
		t.Logf("%s: all 20 small-trace files %v after they were sent (trace_idle_timeout %v); big trace's file there yet: %v",
			filepath.Base(dir), last.Round(time.Millisecond), idle, bigErr == nil)
	}
	for _, dir := range []string{boundedDir, unboundedDir} {
		require.Eventually(t, func() bool { _, err := os.Stat(bigFile(dir)); return err == nil }, 2*time.Minute, 20*time.Millisecond)
		t.Logf("%s: big trace's file %v after its request", filepath.Base(dir), time.Since(posted).Round(time.Millisecond))
	}

	// The exporter's own counter, scraped before shutdown.
	dropped := scrapeCounter(t, "http://"+metricsAddr+"/metrics", "otelcol_exporter_chrome_spans_dropped", `reason="max_spans_per_trace"`, `exporter="chrome"`)
	assert.Equal(t, float64(bigSpans-10000), dropped, "spans dropped by the bounded exporter, in its own telemetry")

	require.NoError(t, col.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-col.exited:
		stopped = true
		require.NoError(t, err, "collector exit")
	case <-time.After(90 * time.Second):
		t.Fatal("collector did not exit within 90s of SIGTERM")
	}

	rep := validate(t, bigFile(boundedDir))
	assert.Equal(t, 10000, len(rep.SpanSlices), "the bounded file holds max_spans_per_trace spans")
	assert.Equal(t, fmt.Sprint(bigSpans-10000), rep.OtherData["spans_dropped"])
	rep = validate(t, bigFile(unboundedDir))
	assert.Equal(t, bigSpans, len(rep.SpanSlices), "the unbounded file holds every span")
	assert.NotContains(t, rep.OtherData, "spans_dropped")
	for _, dir := range []string{boundedDir, unboundedDir} {
		for _, id := range small {
			assert.Len(t, validate(t, filepath.Join(dir, "small-"+id+".json")).SpanSlices, 4)
		}
	}
	log, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(log), "trace has more spans than max_spans_per_trace"), "one warning for the trace")
}

// siblingsRequest returns an OTLP/HTTP protobuf request body holding one
// trace of n spans: a root and n-1 children that all overlap one another, the
// shape that needs the most lanes. It returns the trace ID too.
func siblingsRequest(n int) ([]byte, string) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "big")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("hostile")
	var tid pcommon.TraceID
	binary.BigEndian.PutUint64(tid[8:], uint64(time.Now().UnixNano()))
	base := time.Now().Add(-time.Minute)
	spans := ss.Spans()
	spans.EnsureCapacity(n)
	for i := range n {
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i)+1)
		sp.SetSpanID(sid)
		sp.SetName("sibling")
		start := base.Add(time.Duration(i) * time.Microsecond)
		end := start.Add(10 * time.Second)
		if i == 0 {
			sp.SetName("root")
			end = base.Add(time.Minute)
		} else {
			var root pcommon.SpanID
			binary.BigEndian.PutUint64(root[:], 1)
			sp.SetParentSpanID(root)
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err) // cannot happen for spans built here
	}
	return body, tid.String()
}

// scrapeCounter returns the value of the Prometheus counter name (with its
// _total suffix) on the line holding every label in labels.
func scrapeCounter(t *testing.T, url, name string, labels ...string) float64 {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var found []string
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		found = append(found, line)
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			require.NoError(t, err, line)
			return v
		}
	}
	t.Fatalf("no %s with %v in %s; lines for it: %q\n%s", name, labels, url, found, body)
	return 0
}

// collectorBinary returns $OTEL2CHROME_OTELCOL or builds the distribution.
func collectorBinary(t *testing.T) string {
	if p := os.Getenv("OTEL2CHROME_OTELCOL"); p != "" {
		return p
	}
	bin := filepath.Join(t.TempDir(), "otelcol-chrome")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "github.com/otel2chrome/otel2chrome/cmd/otelcol-chrome")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/otelcol-chrome:\n%s", out)
	t.Logf("built otelcol-chrome in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// telemetrygen finds the binary or skips (fails with OTEL2CHROME_REQUIRE_TOOLS=1),
// saying how to get it.
func telemetrygen(t *testing.T) string {
	dir := os.Getenv("OTEL2CHROME_TOOLS_DIR")
	if dir == "" {
		// Where .ci/tools.sh builds it by default.
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "otel2chrome", "tools")
	}
	if p := filepath.Join(dir, "telemetrygen"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("telemetrygen"); err == nil {
		return p
	}
	msg := fmt.Sprintf("SKIPPING: telemetrygen binary not found in %q ($OTEL2CHROME_TOOLS_DIR or its default) or $PATH; "+
		"get it with `%s` (or `bash .ci/tools.sh`)", dir, telemetrygenInstall)
	if os.Getenv("OTEL2CHROME_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "\n*** "+msg+" ***")
	t.Skip(msg)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

type collector struct {
	cmd                *exec.Cmd
	exited             chan error
	grpcAddr, httpAddr string
}

// startCollector runs bin with the configuration config returns for two free
// ports, and waits until both receivers accept connections. A port found free
// can be taken by another process before the collector binds it, so a start
// that fails is retried with new ports, three times at most.
func startCollector(t *testing.T, bin, work, logPath string, config func(grpcAddr, httpAddr string) string) *collector {
	cfgPath := filepath.Join(work, "config.yaml")
	var lastErr error
	for attempt := range 3 {
		c := &collector{grpcAddr: freeAddr(t), httpAddr: freeAddr(t), exited: make(chan error, 1)}
		require.NoError(t, os.WriteFile(cfgPath, []byte(config(c.grpcAddr, c.httpAddr)), 0o644))
		logFile, err := os.Create(logPath)
		require.NoError(t, err)
		c.cmd = exec.Command(bin, "--config", cfgPath)
		c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
		require.NoError(t, c.cmd.Start())
		go func() {
			c.exited <- c.cmd.Wait()
			logFile.Close()
		}()
		if lastErr = listenwait.Wait(c.exited, time.Minute, c.grpcAddr, c.httpAddr); lastErr == nil {
			return c
		}
		c.cmd.Process.Kill()
		<-c.exited
		t.Logf("collector start %d failed: %v", attempt+1, lastErr)
	}
	dumpLog(t, logPath)
	t.Fatalf("collector did not start: %v", lastErr)
	return nil
}

func grpcExporter(t *testing.T, addr string) sdktrace.SpanExporter {
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	return exp
}

func httpExporter(t *testing.T, addr string) sdktrace.SpanExporter {
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(addr), otlptracehttp.WithInsecure())
	require.NoError(t, err)
	return exp
}

func newProvider(t *testing.T, service string, exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBlocking(), sdktrace.WithMaxQueueSize(20000),
			sdktrace.WithMaxExportBatchSize(1000), sdktrace.WithBatchTimeout(100*time.Millisecond)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	)
}

// sendLoad records traces of perTrace spans each: a root and children, every
// fourth child with a grandchild, all properly nested in time.
func sendLoad(tp *sdktrace.TracerProvider, traces, perTrace int) []string {
	tr := tp.Tracer("load")
	ids := make([]string, 0, traces*perTrace)
	for range traces {
		base := time.Now()
		ctx, root := tr.Start(context.Background(), "request", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(base))
		n := 1
		for j := 0; n < perTrace; j++ {
			s := base.Add(time.Duration(j+1) * 10 * time.Microsecond)
			cctx, c := tr.Start(ctx, "step", trace.WithTimestamp(s), trace.WithAttributes(attribute.Int("j", j)))
			n++
			if j%4 == 0 && n < perTrace {
				_, g := tr.Start(cctx, "inner", trace.WithTimestamp(s.Add(time.Microsecond)))
				g.End(trace.WithTimestamp(s.Add(5 * time.Microsecond)))
				ids = append(ids, g.SpanContext().SpanID().String())
				n++
			}
			c.End(trace.WithTimestamp(s.Add(8 * time.Microsecond)))
			ids = append(ids, c.SpanContext().SpanID().String())
		}
		root.End(trace.WithTimestamp(base.Add(time.Duration(perTrace+1) * 10 * time.Microsecond)))
		ids = append(ids, root.SpanContext().SpanID().String())
	}
	return ids
}

// readPerTrace validates every file of dir and returns how often each span ID
// occurs, the span count per service (the file name prefix) and the file count.
func readPerTrace(t *testing.T, dir string) (map[string]int, map[string]int, int) {
	got, byService := map[string]int{}, map[string]int{}
	names := listNames(t, dir)
	for _, name := range names {
		require.False(t, strings.HasPrefix(name, ".otel2chrome-tmp-"), "temporary file left: %s", name)
		require.True(t, strings.HasSuffix(name, ".json"), name)
		rep := validate(t, filepath.Join(dir, name))
		svc := name[:strings.LastIndexByte(name[:len(name)-len(".json")], '-')]
		for id := range rep.SpanSlices {
			got[id]++
			byService[svc]++
		}
	}
	return got, byService, len(names)
}

func validate(t *testing.T, path string) *check.Report {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err, path)
		data, err = io.ReadAll(zr)
		require.NoError(t, err, path)
	}
	rep, err := check.Validate(data)
	require.NoError(t, err, path)
	perfetto.Check(t, data, perfetto.AllowDeclaredOmissions())
	return rep
}

func listNames(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func dumpLog(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Logf("collector log (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
}
