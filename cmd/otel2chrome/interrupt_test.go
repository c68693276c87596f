package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// writeLargeTrace writes n×1000 spans (traces of 100 spans over five
// services, with attributes) as one OTLP protobuf message and returns its
// path and size.
func writeLargeTrace(t *testing.T, dir string, n int) (string, int64) {
	t.Helper()
	td := ptrace.NewTraces()
	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var spans []ptrace.Span
	for svc := 0; svc < 5; svc++ {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "service-"+string(rune('a'+svc)))
		ss := rs.ScopeSpans().AppendEmpty().Spans()
		for i := svc; i < 1000; i += 5 {
			sp := ss.AppendEmpty()
			tr, k := i/100, i%100
			sp.SetSpanID(pcommon.SpanID{byte(tr), byte(k), 1})
			if k > 0 {
				sp.SetParentSpanID(pcommon.SpanID{byte(tr), byte((k - 1) / 2), 1})
			}
			sp.SetName("operation-" + string(rune('a'+k%26)))
			start := base.Add(time.Duration(tr)*time.Second + time.Duration(k)*time.Millisecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(200-k) * time.Millisecond)))
			a := sp.Attributes()
			a.PutStr("http.route", "/api/v1/items/{id}")
			a.PutInt("http.status_code", 200)
			a.PutStr("db.statement", "SELECT * FROM items WHERE id = ? AND owner = ?")
			spans = append(spans, sp)
		}
	}
	path := filepath.Join(dir, "large.otlp")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := &ptrace.ProtoMarshaler{}
	// Concatenated TracesData messages are one message with all their
	// resource spans; each batch gets trace IDs of its own.
	for b := 0; b < n; b++ {
		for _, sp := range spans {
			sp.SetTraceID(pcommon.TraceID{byte(b >> 8), byte(b), sp.SpanID()[0], 7})
		}
		buf, err := m.MarshalTraces(td)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return path, fi.Size()
}

// TestInterruptWhileEncoding sends SIGINT, then SIGTERM, to a real
// otel2chrome process once its temporary output file is growing: it must
// stop, exit 130, leave the old -o file as it was and remove its temporary
// file.
func TestInterruptWhileEncoding(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and converts a large trace")
	}
	dir := t.TempDir()
	in, size := writeLargeTrace(t, dir, 200)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { interruptWhileEncoding(t, in, size, sig) })
	}
}

func interruptWhileEncoding(t *testing.T, in string, size int64, sig syscall.Signal) {
	outDir := t.TempDir()
	// gzip makes encoding take seconds rather than a fraction of one, so
	// the signal surely comes while it runs.
	out := filepath.Join(outDir, "trace.json.gz")
	const old = "the previous trace, which must survive"
	os.WriteFile(out, []byte(old), 0o644)

	cmd := cliCommand(t, "-o", out, in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait for the temporary file to hold encoded output, then interrupt.
	var seen int64
	deadline := time.After(2 * time.Minute)
wait:
	for {
		matches, _ := filepath.Glob(filepath.Join(outDir, ".trace.json.gz.tmp-*"))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Size() > 0 {
				seen = fi.Size()
				break wait
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("otel2chrome ended (%v) before its output grew; stderr: %s", err, stderr.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no growing temporary file after 2 minutes; stderr: %s", stderr.String())
		case <-time.After(time.Millisecond):
		}
	}
	signalled := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("otel2chrome still running a minute after %v", sig)
	}
	t.Logf("input %d MiB; interrupted %v after start with %d KiB in the temporary file; exited %v later: %v",
		size>>20, signalled.Sub(start).Round(time.Millisecond), seen>>10, time.Since(signalled).Round(time.Millisecond), err)

	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit: %v, want status 130; stderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "otel2chrome: interrupted") {
		t.Errorf("stderr %q does not say it was interrupted", stderr.String())
	}
	if got, _ := os.ReadFile(out); string(got) != old {
		t.Errorf("-o file replaced by an interrupted run: %d bytes", len(got))
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files left in the output directory: %v, want only trace.json.gz", names)
	}
}
