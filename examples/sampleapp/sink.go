package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// maxBody bounds one export request; the sample app sends a few kilobytes.
const maxBody = 16 << 20

// otlpSink is a loopback OTLP/HTTP receiver that keeps every export request it
// is sent, both as the raw protobuf body (to forward unchanged to Jaeger) and
// decoded (to write the collector file exporter's formats). Feeding it from the
// real otlptracehttp exporter keeps the sample data what SDKs really send.
type otlpSink struct {
	ln   net.Listener
	srv  *http.Server
	done chan error

	mu     sync.Mutex
	bodies [][]byte
	reqs   []ptraceotlp.ExportRequest
}

// newOTLPSink starts a sink on a free port of 127.0.0.1.
func newOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("OTLP sink: %w", err)
	}
	s := &otlpSink{ln: ln, done: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.export)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// endpoint is the URL the OTLP/HTTP exporters send to.
func (s *otlpSink) endpoint() string { return "http://" + s.ln.Addr().String() + "/v1/traces" }

func (s *otlpSink) export(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "want Content-Type application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, maxBody)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, "bad gzip body: "+err.Error(), http.StatusBadRequest)
			return
		}
		body = io.LimitReader(zr, maxBody)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(data); err != nil {
		http.Error(w, "decoding ExportTraceServiceRequest: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, data)
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	resp, err := ptraceotlp.NewExportResponse().MarshalProto()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(resp)
}

// requests returns what the sink received so far, in arrival order.
func (s *otlpSink) requests() ([][]byte, []ptraceotlp.ExportRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...), append([]ptraceotlp.ExportRequest(nil), s.reqs...)
}

// close stops the sink and waits for its server goroutine.
func (s *otlpSink) close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

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
