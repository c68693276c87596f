//go:build integration

package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestViewCommand runs "otel2chrome view" on a real port of 127.0.0.1,
// reads the links it prints, fetches the page and the trace the way Perfetto
// UI does, and stops it by cancelling its context, as Ctrl-C does.
func TestViewCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "out.json")
	const trace = `{"traceEvents":[]}`
	if err := os.WriteFile(file, []byte(trace), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	cmd := newRootCmd()
	cmd.SetArgs([]string{"view", "--no-open", "--port", "0", file})
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(runCtx)
		pw.Close()
	}()

	var page, traceURL string
	lines := bufio.NewScanner(pr)
	for (page == "" || traceURL == "") && lines.Scan() {
		f := strings.Fields(lines.Text())
		switch {
		case len(f) == 0:
		case strings.HasPrefix(lines.Text(), "  open in Perfetto UI:"):
			page = f[len(f)-1]
		case strings.HasPrefix(lines.Text(), "  trace file:"):
			traceURL = f[len(f)-1]
		case strings.Contains(lines.Text(), "ui.perfetto.dev/#!/?url="):
			t.Errorf("deep link printed for a port other than 9001: %s", lines.Text())
		}
	}
	go io.Copy(io.Discard, pr)
	if !strings.HasPrefix(page, "http://127.0.0.1:") || traceURL != strings.TrimSuffix(page, "/")+"/trace.json" {
		t.Fatalf("printed links: page %q, trace %q", page, traceURL)
	}

	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		url, origin string
		status      int
		cors        string
		body        string
	}{
		{url: page, status: 200, body: "Open in Perfetto UI"},
		{url: traceURL, origin: "https://ui.perfetto.dev", status: 200, cors: "https://ui.perfetto.dev", body: trace},
		{url: traceURL, origin: "https://example.com", status: 403},
		{url: strings.TrimSuffix(page, "/") + "/out.json", status: 404},
	} {
		req, _ := http.NewRequest("GET", tc.url, nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != tc.cors || !strings.Contains(string(body), tc.body) {
			t.Errorf("GET %s (Origin %q): %d, CORS %q, body %.80q; want %d, %q, %q",
				tc.url, tc.origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), body, tc.status, tc.cors, tc.body)
		}
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("view after Ctrl-C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("view did not stop when its context ended")
	}
}

func TestViewErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file := filepath.Join(t.TempDir(), "out.json")
	os.WriteFile(file, []byte(`{"traceEvents":[]}`), 0o644)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"view", "--no-open", "--port", port, file}, "--port 0 picks a free port"},
		{[]string{"view", "--no-open", filepath.Join(t.TempDir(), "missing.json")}, "missing.json"},
		{[]string{"view", "--no-open", "--port", "-1", file}, "port -1"},
		{[]string{"view"}, "accepts 1 arg"},
		{[]string{"view", "--no-open", "--port", "0", "../../examples/data/sample.otlp.jsonl"}, "holds OTLP or Jaeger JSON, which Perfetto UI cannot open; convert it first"},
		{[]string{"view", "--no-open", "--port", "0", "../../examples/data/sample.jaeger.json"}, "otel2chrome -o out.json ../../examples/data/sample.jaeger.json"},
	} {
		if _, _, err := run(t, nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("otel2chrome %v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
