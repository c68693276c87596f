package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// fileSink is a loopback OTLP/HTTP receiver that writes each export request
// it gets as one line of OTLP JSON. Feeding it from the real otlptracehttp
// exporter keeps the file's content real OTLP, exactly what a collector's file
// exporter would write.
type fileSink struct {
	ln    net.Listener
	srv   *http.Server
	done  chan error
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	lines atomic.Int64
}

func newFileSink(path string) (*fileSink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("OTLP file sink: %w", err)
	}
	s := &fileSink{ln: ln, f: f, w: bufio.NewWriter(f), done: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.export)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the host:port to give otlptracehttp.WithEndpoint.
func (s *fileSink) Addr() string { return s.ln.Addr().String() }

func (s *fileSink) export(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(data); err != nil {
		http.Error(w, "not an OTLP trace export request: "+err.Error(), http.StatusBadRequest)
		return
	}
	line, err := (&ptrace.JSONMarshaler{}).MarshalTraces(req.Traces())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	_, err = s.w.Write(append(line, '\n'))
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.lines.Add(1)
	resp, _ := ptraceotlp.NewExportResponse().MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// Close stops the receiver, after the exporter flushed, and closes the file.
func (s *fileSink) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.w.Flush(), s.f.Close())
}
