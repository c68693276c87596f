package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrapeByReason reads a Prometheus endpoint (host:port) and returns the
// counter name (with or without the _total suffix Prometheus gives counters)
// summed by its reason label. A counter never incremented is absent: zero.
func scrapeByReason(ctx context.Context, addr, name string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", addr, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		rest = strings.TrimPrefix(rest, "_total")
		if !strings.HasPrefix(rest, "{") && !strings.HasPrefix(rest, " ") {
			continue // another metric whose name starts with name
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%s/metrics: %q: %w", addr, line, err)
		}
		reason := ""
		if _, after, ok := strings.Cut(rest, `reason="`); ok {
			reason, _, _ = strings.Cut(after, `"`)
		}
		out[reason] += v
	}
	return out, sc.Err()
}
