package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestSelftest runs the service as CI does and checks the OTLP JSON lines it
// writes: function spans of the sdkhook scope, children in the request's trace.
func TestSelftest(t *testing.T) {
	out := filepath.Join(t.TempDir(), "spans.jsonl")
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-selftest", "-out", out, "-requests", "3"}, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type spanInfo struct {
		trace, parent string
		scope         string
	}
	byID := map[string]spanInfo{}
	var functions int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(sc.Bytes())
		if err != nil {
			t.Fatalf("line is not OTLP JSON: %v", err)
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					byID[s.SpanID().String()] = spanInfo{s.TraceID().String(), s.ParentSpanID().String(), ss.Scope().Name()}
					if ss.Scope().Name() == "github.com/otel2chrome/otel2chrome/sdkhook" {
						functions++
						if _, ok := s.Attributes().Get("thread.id"); !ok {
							t.Errorf("%s: no thread.id", s.Name())
						}
					}
				}
			}
		}
	}
	if functions == 0 {
		t.Fatal("no function spans in the file")
	}
	for id, s := range byID {
		if s.scope != "github.com/otel2chrome/otel2chrome/sdkhook" {
			continue
		}
		p, ok := byID[s.parent]
		if !ok || p.trace != s.trace {
			t.Errorf("span %s: parent %s missing or in another trace", id, s.parent)
		}
	}
}

// TestSelftestOTLP exports over OTLP/HTTP (-otlp) to a loopback receiver.
func TestSelftestOTLP(t *testing.T) {
	out := filepath.Join(t.TempDir(), "received.jsonl")
	sink, err := newFileSink(out)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"-selftest", "-otlp", sink.Addr(), "-requests", "2", "-capture", "slow=1ns,failed"}, &bytes.Buffer{}, &stderr)
	if cerr := sink.Close(context.Background()); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if sink.lines.Load() == 0 {
		t.Fatal("the OTLP endpoint received nothing")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-capture", "sometimes"}, {"-capture", "slow=fast"}, {"-nope"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}
