package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// forward posts each raw export request, unchanged, to an OTLP/HTTP receiver,
// so Jaeger stores exactly the spans the sample files hold.
func forward(ctx context.Context, endpoint string, bodies [][]byte) error {
	client := &http.Client{Timeout: 10 * time.Second}
	for i, b := range bodies {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("sending export request %d to %s: %w", i, endpoint, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("sending export request %d to %s: %s: %s", i, endpoint, resp.Status, msg)
		}
	}
	return nil
}

// saveJaeger waits until Jaeger's query service returns all spans of the
// trace, then saves its /api/traces and /api/v3/traces answers into dir.
func saveJaeger(ctx context.Context, base string, id pcommon.TraceID, spans int, dir string) ([]string, error) {
	base = strings.TrimRight(base, "/")
	client := &http.Client{Timeout: 10 * time.Second}
	v1URL := base + "/api/traces/" + id.String()
	var v1 []byte
	// Jaeger stores spans asynchronously after acknowledging them; poll for
	// at most 10 s.
	for try := 0; ; try++ {
		body, status, err := get(ctx, client, v1URL)
		if err != nil {
			return nil, err
		}
		var ans struct {
			Data []struct {
				Spans []json.RawMessage `json:"spans"`
			} `json:"data"`
		}
		if status == http.StatusOK && json.Unmarshal(body, &ans) == nil && len(ans.Data) == 1 && len(ans.Data[0].Spans) == spans {
			v1 = body
			break
		}
		if try == 100 {
			return nil, fmt.Errorf("GET %s: still not %d spans after 10s; last answer %d: %.200s", v1URL, spans, status, body)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("GET %s: %w", v1URL, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}

	v3URL := base + "/api/v3/traces/" + id.String()
	v3, status, err := get(ctx, client, v3URL)
	if err != nil {
		return nil, err
	}
	var ans struct {
		Result struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []json.RawMessage `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		} `json:"result"`
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %.200s", v3URL, status, v3)
	}
	if err := json.Unmarshal(v3, &ans); err != nil {
		return nil, fmt.Errorf("GET %s: %w", v3URL, err)
	}
	n := 0
	for _, rs := range ans.Result.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	if n != spans {
		return nil, fmt.Errorf("GET %s: %d spans, want %d", v3URL, n, spans)
	}

	v1Path := filepath.Join(dir, "sample.jaeger.json")
	v3Path := filepath.Join(dir, "sample.jaeger-v3.json")
	if err := writeFile(v1Path, v1); err != nil {
		return nil, err
	}
	if err := writeFile(v3Path, v3); err != nil {
		return nil, err
	}
	return []string{v1Path, v3Path}, nil
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	return body, resp.StatusCode, nil
}
