//go:build integration

package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
)

// TestEndToEnd runs the example as CI would and checks the story it tells:
// every request has a valid Chrome trace with both services, and every
// function slice sdkhook recorded sits inside the request slice of its own
// service, below it in its span tree.
func TestEndToEnd(t *testing.T) {
	var stderr strings.Builder
	o := options{out: t.TempDir(), collector: os.Getenv("OTEL2CHROME_OTELCOL"), requests: 3, timeout: 4 * time.Minute}
	res, err := runE2E(context.Background(), o, io.Discard, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if len(res.files) != o.requests {
		t.Fatalf("%d files for %d requests", len(res.files), o.requests)
	}
	for _, f := range res.files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := check.Validate(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		perfetto.Check(t, data, perfetto.AllowDeclaredOmissions())
		services := map[string]bool{}
		for _, name := range r.Processes {
			services[name] = true
		}
		if !services["gateway"] || !services["catalog"] {
			t.Errorf("%s: processes %v, want gateway and catalog", f, r.Processes)
		}
		funcs := map[string]int{}
		for id, s := range r.SpanSlices {
			attrs, _ := s.Args["attributes"].(map[string]any)
			if _, ok := attrs["code.function.name"]; !ok {
				continue
			}
			funcs[r.Processes[s.Pid]]++
			// Walk up to the request (server) span of the same service.
			req, cur := check.Slice{}, s
			for {
				pid, _ := cur.Args["parent_span_id"].(string)
				p, ok := r.SpanSlices[pid]
				if !ok {
					t.Errorf("%s: function %s (%s) has no server span above it", f, s.Name, id)
					break
				}
				if p.Args["kind"] == "server" {
					req = p
					break
				}
				cur = p
			}
			if req.Name == "" {
				continue
			}
			if req.Pid != s.Pid {
				t.Errorf("%s: function %s in %q, its request %q in %q", f, s.Name, r.Processes[s.Pid], req.Name, r.Processes[req.Pid])
			}
			if !check.Contains(req, s) {
				t.Errorf("%s: function %s [%v+%v] not inside its request %s [%v+%v]", f, s.Name, s.Ts, s.Dur, req.Name, req.Ts, req.Dur)
			}
		}
		// gateway: validate, fetchItems, 2x fetchItem, render; catalog: 2x
		// (lookupItem, readCache, queryDB, decodeRow).
		if funcs["gateway"] != 5 || funcs["catalog"] != 8 {
			t.Errorf("%s: function spans per service = %v, want gateway 5, catalog 8", f, funcs)
		}
	}
}
