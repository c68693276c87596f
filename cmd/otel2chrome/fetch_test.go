package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/otel2chrome/otel2chrome/cmd/otel2chrome/internal/jaegerquery"
	"github.com/otel2chrome/otel2chrome/converter/check"
)

// TestFetchCommand checks the fetch command's flags and errors against a
// fake query service; it needs no tools.
func TestFetchCommand(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("..", "..", "examples", "data", "sample.jaeger-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.String())
		mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v3/traces/0000"):
			http.Error(w, `{"error":{"httpCode":404,"message":"No traces found"}}`, http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/api/v3/traces"):
			w.Write(sample)
		case r.URL.Path == "/slow":
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	requests := func() []string {
		mu.Lock()
		defer mu.Unlock()
		r := got
		got = nil
		return r
	}

	out, stderr, err := run(t, nil, "fetch", "--jaeger", srv.URL, "47f03fd436629b3bbd3a80b343c18890")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := check.Validate([]byte(out)); err != nil || len(r.Slices) != 44 {
		t.Errorf("fetch by ID: %v", err)
	}
	if !strings.Contains(stderr, "otel2chrome: fetched "+srv.URL+"/api/v3/traces/47f03fd436629b3bbd3a80b343c18890?raw_traces=true") {
		t.Errorf("stderr = %q", stderr)
	}
	requests()

	// --service: the search window and limit go to Jaeger, and the spans of
	// every service stay (it is not the span filter here).
	out, _, err = run(t, nil, "fetch", "-q", "--jaeger", srv.URL, "--service", "pricing", "--start", "2026-11-23T09:00:00Z",
		"--end", "2026-11-23T09:10:00Z", "--limit", "3", "--operation", "GET /price", "--jaeger-adjust")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := check.Validate([]byte(out)); err != nil || len(r.Processes) != 3 {
		t.Errorf("fetch --service pricing: %v, want all 3 services", err)
	}
	if rs := requests(); len(rs) != 1 || rs[0] != "/api/v3/traces?query.num_traces=3&query.operation_name=GET+%2Fprice&query.service_name=pricing&query.start_time_max=2026-11-23T09%3A10%3A00Z&query.start_time_min=2026-11-23T09%3A00%3A00Z" {
		t.Errorf("requests = %v", rs)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "give trace IDs or --service NAME"},
		{[]string{"--operation", "x", "abc"}, "--operation needs --service"},
		{[]string{"--since", "5m", "abc"}, "--since needs --service"},
		{[]string{"--service", "a", "--since", "5m", "--start", "2026-11-23T09:00:00Z"}, "--since or --start, not both"},
		{[]string{"--service", "a", "--limit", "0"}, "--limit 0: must be positive"},
		{[]string{"--service", "a", "--start", "yesterday"}, "--start: "},
		{[]string{"xyz"}, `trace ID "xyz": not hex`},
		{[]string{"1"}, "trace 00000000000000000000000000000001: not found in Jaeger at " + srv.URL},
		{[]string{"--jaeger", "127.0.0.1:16686", "abc"}, "--jaeger: Jaeger URL"},
		{[]string{"--jaeger", srv.URL + "/slow", "--timeout", "1ns", "abc"}, "no complete answer within 1ns"},
	} {
		args := append([]string{"fetch", "-q"}, tc.args...)
		if !slices.Contains(tc.args, "--jaeger") {
			args = append(args, "--jaeger", srv.URL)
		}
		_, _, err := run(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("otel2chrome %v: err = %v, want %q", args, err, tc.want)
		}
	}

	// An unreachable server is named.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, _, err = run(t, nil, "fetch", "--jaeger", dead, "abc")
	if err == nil || !strings.Contains(err.Error(), "Jaeger query service at "+dead+" unreachable") {
		t.Errorf("unreachable: err = %v", err)
	}
	if errors.Is(err, jaegerquery.ErrNotFound) {
		t.Error("unreachable reported as not found")
	}
}
