// Package otlpsink is a loopback OTLP/HTTP trace receiver for the examples:
// fed by the real otlptracehttp exporter, it hands every export request on,
// raw and decoded, so what the examples write is what SDKs really send.
package otlpsink

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// maxBody bounds one export request; the examples send far less.
const maxBody = 16 << 20

// Sink receives OTLP/HTTP trace exports on a free port of 127.0.0.1.
type Sink struct {
	ln     net.Listener
	srv    *http.Server
	done   chan error
	handle func(body []byte, req ptraceotlp.ExportRequest) error
}

// New starts a sink that calls handle for every export request, with the
// uncompressed protobuf body and its decoding. An error from handle fails the
// export with HTTP 500. handle may be called concurrently.
func New(handle func(body []byte, req ptraceotlp.ExportRequest) error) (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("OTLP sink: %w", err)
	}
	s := &Sink{ln: ln, done: make(chan error, 1), handle: handle}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.export)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the host:port to give otlptracehttp.WithEndpoint.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Endpoint is the URL to give otlptracehttp.WithEndpointURL.
func (s *Sink) Endpoint() string { return "http://" + s.Addr() + "/v1/traces" }

func (s *Sink) export(w http.ResponseWriter, r *http.Request) {
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
		defer zr.Close()
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
	if err := s.handle(data, req); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := ptraceotlp.NewExportResponse().MarshalProto()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// Close stops the sink, after the exporters flushed, and waits for its server
// goroutine.
func (s *Sink) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
