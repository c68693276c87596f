package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otel2chrome/otel2chrome/examples/internal/otlpsink"
)

// otlpSink keeps every export request the real otlptracehttp exporters send
// it, both as the raw protobuf body (to forward unchanged to Jaeger) and
// decoded (to write the collector file exporter's formats).
type otlpSink struct {
	*otlpsink.Sink

	mu     sync.Mutex
	bodies [][]byte
	reqs   []ptraceotlp.ExportRequest
}

// newOTLPSink starts a sink on a free port of 127.0.0.1.
func newOTLPSink() (*otlpSink, error) {
	s := &otlpSink{}
	var err error
	s.Sink, err = otlpsink.New(func(body []byte, req ptraceotlp.ExportRequest) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.bodies = append(s.bodies, body)
		s.reqs = append(s.reqs, req)
		return nil
	})
	return s, err
}

// endpoint is the URL the OTLP/HTTP exporters send to.
func (s *otlpSink) endpoint() string { return s.Endpoint() }

// requests returns what the sink received so far, in arrival order.
func (s *otlpSink) requests() ([][]byte, []ptraceotlp.ExportRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...), append([]ptraceotlp.ExportRequest(nil), s.reqs...)
}

// close stops the sink and waits for its server goroutine.
func (s *otlpSink) close(ctx context.Context) error { return s.Close(ctx) }

// writeJSONLines writes one OTLP JSON object per request and line, as the
// collector file exporter does with its default format.
func writeJSONLines(path string, reqs []ptraceotlp.ExportRequest) error {
	var buf bytes.Buffer
	for i, req := range reqs {
		b, err := req.MarshalJSON()
		if err != nil {
			return fmt.Errorf("%s: encoding request %d as OTLP JSON: %w", path, i, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return writeFile(path, buf.Bytes())
}

// writeProtoStream writes each request as a 4-byte big-endian length followed
// by a TracesData message, the collector file exporter's "proto" format.
func writeProtoStream(path string, reqs []ptraceotlp.ExportRequest) error {
	var buf bytes.Buffer
	var m ptrace.ProtoMarshaler
	for i, req := range reqs {
		b, err := m.MarshalTraces(req.Traces())
		if err != nil {
			return fmt.Errorf("%s: encoding request %d as OTLP protobuf: %w", path, i, err)
		}
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		buf.Write(b)
	}
	return writeFile(path, buf.Bytes())
}

// writeFile replaces path through a temporary file, so a failed run never
// leaves half a sample file behind.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
