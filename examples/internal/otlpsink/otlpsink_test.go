package otlpsink

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func TestSink(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies [][]byte
		spans  int
	)
	var fail atomic.Bool
	s, err := New(func(body []byte, req ptraceotlp.ExportRequest) error {
		if fail.Load() {
			return errors.New("disk full")
		}
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, body)
		spans += req.Traces().SpanCount()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("x")
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	post := func(ct string) int {
		resp, err := http.Post(s.Endpoint(), ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("application/x-protobuf"); code != http.StatusOK {
		t.Errorf("export: HTTP %d", code)
	}
	if code := post("application/json"); code != http.StatusUnsupportedMediaType {
		t.Errorf("JSON export: HTTP %d, want 415", code)
	}
	fail.Store(true)
	if code := post("application/x-protobuf"); code != http.StatusInternalServerError {
		t.Errorf("failing handler: HTTP %d, want 500", code)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 1 || !bytes.Equal(bodies[0], body) || spans != 1 {
		t.Errorf("got %d bodies, %d spans", len(bodies), spans)
	}
}
