package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

// run executes the CLI in-process and returns stdout, stderr and the error.
func run(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	cmd.SetIn(stdin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// writeTrace writes a two-service trace as OTLP protobuf and JSON files.
func writeTrace(t *testing.T, dir string) (pb, js string) {
	t.Helper()
	td := ptrace.NewTraces()
	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i, svc := range []string{"front", "back"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, 2, 3})
		sp.SetSpanID(pcommon.SpanID{byte(i + 1)})
		if i > 0 {
			sp.SetParentSpanID(pcommon.SpanID{1})
		}
		sp.SetName("op-" + svc)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(10-i) * time.Millisecond)))
	}
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	pb = filepath.Join(dir, "trace.otlp")
	if err := os.WriteFile(pb, b, 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	js = filepath.Join(dir, "trace.json")
	if err := os.WriteFile(js, j, 0o644); err != nil {
		t.Fatal(err)
	}
	return pb, js
}

func TestConvertToStdout(t *testing.T) {
	pb, _ := writeTrace(t, t.TempDir())
	out, stderr, err := run(t, nil, pb)
	if err != nil {
		t.Fatal(err)
	}
	r, err := check.Validate([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Slices) != 2 || len(r.Processes) != 2 || r.Flows != 1 {
		t.Errorf("got %d slices, %d processes, %d flows; want 2, 2, 1", len(r.Slices), len(r.Processes), r.Flows)
	}
	if !strings.Contains(stderr, "wrote stdout: 2 spans, 2 services") {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestConvertStdin(t *testing.T) {
	_, js := writeTrace(t, t.TempDir())
	data, _ := os.ReadFile(js)
	out, _, err := run(t, bytes.NewReader(data), "-q")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := check.Validate([]byte(out)); err != nil {
		t.Fatal(err)
	}
}

func TestConvertOutputFileGzipAndMerge(t *testing.T) {
	dir := t.TempDir()
	pb, js := writeTrace(t, dir)
	outPath := filepath.Join(dir, "out.json.gz")
	if _, _, err := run(t, nil, "-q", "-o", outPath, pb, js); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("output is not gzip: %v", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := check.Validate(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Slices) != 2 {
		t.Errorf("merged the same trace twice: %d slices, want 2", len(r.Slices))
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestBadInputKeepsOldOutput checks that a failed conversion names the input
// and leaves an existing -o file untouched.
func TestBadInputKeepsOldOutput(t *testing.T) {
	dir := t.TempDir()
	outPath := filepath.Join(dir, "out.json")
	if err := os.WriteFile(outPath, []byte("previous good file"), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, _ := writeTrace(t, dir)
	data, _ := os.ReadFile(pb)
	bad := filepath.Join(dir, "bad.otlp")
	os.WriteFile(bad, data[:len(data)-7], 0o644)
	_, _, err := run(t, nil, "-o", outPath, pb, bad)
	if err == nil || !strings.Contains(err.Error(), "bad.otlp: OTLP protobuf") || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v, want a truncation error naming bad.otlp", err)
	}
	if got, _ := os.ReadFile(outPath); string(got) != "previous good file" {
		t.Errorf("output replaced after a failure: %q", got)
	}
	if _, _, err := run(t, nil, filepath.Join(dir, "missing.otlp")); err == nil || !strings.Contains(err.Error(), "missing.otlp") {
		t.Errorf("missing file: err = %v", err)
	}
	if _, _, err := run(t, strings.NewReader("not a trace")); err == nil || !strings.Contains(err.Error(), "<stdin>: unrecognised format") {
		t.Errorf("stdin garbage: err = %v", err)
	}
}

func TestFiltersAndSplit(t *testing.T) {
	dir := t.TempDir()
	pb, js := writeTrace(t, dir)
	out, _, err := run(t, nil, "-q", "--service", "back", pb)
	if err != nil {
		t.Fatal(err)
	}
	r, err := check.Validate([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Slices) != 1 || r.Slices[0].Name != "op-back" {
		t.Errorf("--service: slices = %v", r.Slices)
	}
	if _, _, err := run(t, nil, "-q", "--min-duration", "1h", pb); err == nil || !strings.Contains(err.Error(), "no spans left after the filters") {
		t.Errorf("--min-duration 1h: err = %v", err)
	}
	if _, _, err := run(t, nil, "-q", "--max-input-size", "9223372036854775807", js); err != nil {
		t.Errorf("--max-input-size MaxInt64: %v", err)
	}
	for _, n := range []string{"0", "-1"} {
		if _, _, err := run(t, nil, "--max-input-size", n, pb); err == nil || !strings.Contains(err.Error(), "--max-input-size "+n+": must be positive") {
			t.Errorf("--max-input-size %s: err = %v", n, err)
		}
	}
	if _, _, err := run(t, nil, "--trace-id", "xyz", pb); err == nil || !strings.Contains(err.Error(), "--trace-id") {
		t.Errorf("bad --trace-id: err = %v", err)
	}
	split := filepath.Join(dir, "split")
	if _, _, err := run(t, nil, "-q", "--split", split, "--trace-id", "01020300000000000000000000000000", pb); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(split, "trace-*.json"))
	if len(files) != 1 || filepath.Base(files[0]) != "trace-01020300000000000000000000000000.json" {
		t.Errorf("split files = %v", files)
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, _, err := run(t, nil, "--version")
	if err != nil || !strings.Contains(out, "otel2chrome version") {
		t.Errorf("--version: %q, %v", out, err)
	}
	out, _, err = run(t, nil, "--help")
	if err != nil || !strings.Contains(out, "otel2chrome trace.otlp > out.json") {
		t.Errorf("--help has no examples: %v", err)
	}
}

// TestInterruptStopsConversion: a cancelled context (Ctrl-C) stops reading,
// and no output file appears.
func TestInterruptStopsConversion(t *testing.T) {
	dir := t.TempDir()
	pb, _ := writeTrace(t, dir)
	outPath := filepath.Join(dir, "out.json")
	cmd := newRootCmd()
	cmd.SetArgs([]string{"-q", "-o", outPath, pb})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := cmd.ExecuteContext(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(outPath); !os.IsNotExist(err) {
		t.Errorf("output written after an interrupt: %v", err)
	}
}

func TestOutputFileMode(t *testing.T) {
	dir := t.TempDir()
	pb, _ := writeTrace(t, dir)
	outPath := filepath.Join(dir, "out.json")
	if _, _, err := run(t, nil, "-q", "-o", outPath, pb); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := newFileMode(); fi.Mode().Perm() != want {
		t.Errorf("new file mode %v, want %v (0666 less the umask)", fi.Mode().Perm(), want)
	}
	if err := os.Chmod(outPath, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, nil, "-q", "-o", outPath, pb); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(outPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("rewritten file mode %v, want the old 0600 kept", fi.Mode().Perm())
	}
	if _, _, err := run(t, nil, "-o", filepath.Join(dir, "no", "such", "dir.json"), pb); err == nil || !strings.Contains(err.Error(), "creating "+filepath.Join(dir, "no", "such", "dir.json")) {
		t.Errorf("missing directory: err = %v", err)
	}
	if _, _, err := run(t, nil, "-o", outPath, "--split", dir, pb); err == nil || !strings.Contains(err.Error(), "do not go together") {
		t.Errorf("-o with --split: err = %v", err)
	}
}
