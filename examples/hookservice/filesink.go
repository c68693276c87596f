package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otel2chrome/otel2chrome/examples/internal/otlpsink"
)

// fileSink writes each export request the real otlptracehttp exporter sends
// it as one line of OTLP JSON, exactly what a collector's file exporter would
// write.
type fileSink struct {
	*otlpsink.Sink
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
	s := &fileSink{f: f, w: bufio.NewWriter(f)}
	if s.Sink, err = otlpsink.New(s.write); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *fileSink) write(_ []byte, req ptraceotlp.ExportRequest) error {
	line, err := (&ptrace.JSONMarshaler{}).MarshalTraces(req.Traces())
	if err != nil {
		return err
	}
	s.mu.Lock()
	_, err = s.w.Write(append(line, '\n'))
	s.mu.Unlock()
	if err == nil {
		s.lines.Add(1)
	}
	return err
}

// Close stops the receiver, after the exporter flushed, and closes the file.
func (s *fileSink) Close(ctx context.Context) error {
	err := s.Sink.Close(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.w.Flush(), s.f.Close())
}
