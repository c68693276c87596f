//go:build integration

// Integration tests of the scaled-out tier: the real otelcol-balancer (the
// contrib load_balancing exporter, built by .ci/tools.sh) in front of real
// otelcol-chrome backends, all on 127.0.0.1.
//
//	bash .ci/tools.sh
//	go test -tags integration -run 'TestScaleOut' -v ./examples/scaleout
//
// Environment:
//
//	OTEL2CHROME_OTELCOL        a prebuilt otelcol-chrome binary (else go build)
//	OTEL2CHROME_TOOLS_DIR      where otelcol-balancer and telemetrygen are (default ~/.cache/otel2chrome/tools)
//	OTEL2CHROME_REQUIRE_TOOLS  1: fail instead of skipping when a tool is missing

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
)

// setup returns the mixed-traffic run of the command, or skips (fails with
// OTEL2CHROME_REQUIRE_TOOLS=1) when a tool is missing.
func setup(t *testing.T, work string) runConfig {
	for _, tool := range []string{"otelcol-balancer", "telemetrygen"} {
		if _, err := findTool(tool); err != nil {
			msg := fmt.Sprintf("SKIPPING: %v", err)
			if os.Getenv("OTEL2CHROME_REQUIRE_TOOLS") == "1" {
				t.Fatal(msg)
			}
			fmt.Fprintln(os.Stderr, "\n*** "+msg+" ***")
			t.Skip(msg)
		}
	}
	c, err := defaultRun(context.Background(), work, "", os.Getenv("OTEL2CHROME_OTELCOL"), t.Logf)
	require.NoError(t, err)
	return c
}

// TestScaleOut: >= 100k spans in >= 5k traces from several services through the
// balancer into three backends; every SDK trace written whole by exactly one
// backend, nothing lost or written twice, every file valid. Then the same
// traffic into one backend behind the balancer: the throughput ratio.
func TestScaleOut(t *testing.T) {
	work := t.TempDir()
	c := setup(t, work)
	c.load.traces, c.load.spansPerTrace = 6000, 17

	c.work = filepath.Join(work, "tier")
	tierRes, err := runTier(context.Background(), c)
	require.NoError(t, err, "logs in %s", c.work)
	tierRes.tally.report(t.Logf)

	v := tierRes.tally.judge(tierRes.sent, nil)
	t.Logf("SDK: %d traces, %d spans sent: %s; span IDs in two files: %d",
		len(tierRes.sent), c.load.traces*c.load.spansPerTrace, v, tierRes.tally.duplicated())
	assert.Equal(t, c.load.traces, v.whole, "every SDK trace whole in one file of one backend")
	assert.Zero(t, v.lostSpans, "spans lost")
	assert.Zero(t, tierRes.tally.duplicated(), "spans written twice")
	for svc, want := range tierRes.tgSpans {
		got, traces := 0, 0
		for _, tt := range tierRes.tally.traces {
			if tt.services[svc] {
				got += tt.spans
				traces++
				assert.Len(t, tt.files, 1, "%s: a telemetrygen trace in one file", svc)
			}
		}
		assert.Equal(t, want, got, "%s spans written", svc)
		assert.Equal(t, c.tgTraces, traces, "%s traces written", svc)
	}
	hook := 0
	for _, tt := range tierRes.tally.traces {
		if tt.services["hookservice"] {
			hook++
			assert.Len(t, tt.backends, 1, "a hookservice trace on one backend")
		}
	}
	assert.Equal(t, c.hookRequests, hook, "hookservice traces")
	for i, b := range tierRes.tally.backends {
		assert.Greater(t, b.traces, len(tierRes.sent)/6, "backend-%d takes its share", i+1)
		assert.Zero(t, b.tmp, "backend-%d: temporary files left after a clean stop", i+1)
	}
	assert.GreaterOrEqual(t, tierRes.spansWritten(), 100000)
	assert.GreaterOrEqual(t, len(tierRes.tally.traces), 5000)
	perfettoSample(t, tierRes)

	// The same traffic into one backend (listed three times in the ring).
	c.work, c.backends = filepath.Join(work, "one"), 1
	oneRes, err := runTier(context.Background(), c)
	require.NoError(t, err, "logs in %s", c.work)
	v1 := oneRes.tally.judge(oneRes.sent, nil)
	assert.Equal(t, c.load.traces, v1.whole, "one backend: every SDK trace whole")

	rate := func(r *runResult) float64 { return float64(r.spansWritten()) / r.elapsed.Seconds() }
	t.Logf("THROUGHPUT (%d cores, GOMAXPROCS %d; load generators, balancer and backends share them): "+
		"one backend %d spans in %v = %.0f spans/s; three backends %d spans in %v = %.0f spans/s; tier/one = %.2fx",
		runtime.NumCPU(), runtime.GOMAXPROCS(0),
		oneRes.spansWritten(), oneRes.elapsed.Round(time.Millisecond), rate(oneRes),
		tierRes.spansWritten(), tierRes.elapsed.Round(time.Millisecond), rate(tierRes), rate(tierRes)/rate(oneRes))
	t.Logf("PEAK RSS: three backends: balancer %.0f MiB, backends %s; one backend: balancer %.0f MiB, backend %s",
		mib(tierRes.peakRSS[0]), mibs(tierRes.peakRSS[1:]), mib(oneRes.peakRSS[0]), mibs(oneRes.peakRSS[1:]))
}

// perfettoSample loads a few files of each backend into Perfetto's importer
// (about 30 ms a file; every file already passed the converter's checker).
func perfettoSample(t *testing.T, r *runResult) {
	var names []string
	for _, tt := range r.tally.traces {
		names = append(names, tt.files...)
	}
	sort.Strings(names)
	for i := 0; i < len(names); i += max(len(names)/30, 1) {
		data, err := os.ReadFile(filepath.Join(r.tally.root, names[i]))
		require.NoError(t, err)
		perfetto.Check(t, data, perfetto.AllowDeclaredOmissions())
	}
}

// TestScaleOutFault: SDK traffic at a steady rate through the balancer; one
// backend is killed with SIGKILL mid-load and restarted on the same port and
// directory. Reports what was lost, what was split and how soon the
// restarted backend wrote again; asserts that every trace on the other
// backends, and every trace that was on disk before the kill or sent wholly
// after the restart, is whole, and that nothing is written twice.
func TestScaleOutFault(t *testing.T) {
	work := t.TempDir()
	c := setup(t, work)
	c.telemetrygen, c.hookservice = "", ""
	const rate, seconds = 300, 12
	c.load = sdkLoad{services: 4, traces: rate * seconds, spansPerTrace: 17, rate: rate}
	c.work = filepath.Join(work, "fault")
	var killed, restarted, firstFile time.Time
	c.during = func(ctx context.Context, tr *tier) {
		victim := tr.backends[1]
		select {
		case <-ctx.Done():
			return
		case <-time.After(4 * time.Second):
		}
		killed = time.Now()
		victim.kill()
		time.Sleep(3 * time.Second)
		if err := victim.start(); err != nil {
			t.Errorf("restart: %v", err)
			return
		}
		restarted = time.Now()
		// The restarted backend's first new file: its first trace received
		// after the restart, written after trace_idle_timeout.
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			entries, _ := os.ReadDir(tr.dirs[1])
			for _, e := range entries {
				if info, err := e.Info(); err == nil && info.ModTime().After(restarted) {
					firstFile = info.ModTime()
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	res, err := runTier(context.Background(), c)
	require.NoError(t, err, "logs in %s", c.work)
	require.False(t, restarted.IsZero(), "backend restarted")
	res.tally.report(t.Logf)

	var lostTraces, partial, split, notWhole []string
	wholeOthers := 0
	var firstHit, lastHit time.Time
	v := res.tally.judge(res.sent, func(id string, s sentTrace, got *traceTally) {
		whole := got != nil && len(got.files) == 1 && got.spans == s.spans
		if !whole {
			if firstHit.IsZero() || s.first.Before(firstHit) {
				firstHit = s.first
			}
			if s.last.After(lastHit) {
				lastHit = s.last
			}
			notWhole = append(notWhole, id)
		}
		switch {
		case got == nil:
			lostTraces = append(lostTraces, id)
		case len(got.files) > 1:
			split = append(split, id)
		case !whole:
			partial = append(partial, id)
		}
		if got != nil && !got.backends[1] {
			assert.True(t, whole, "trace %s on a backend that was not killed is whole", id)
			wholeOthers++
		}
		// On disk before the kill (sent more than two idle timeouts before
		// it), or sent after the restart: whole.
		if s.last.Before(killed.Add(-2*c.idle)) || s.first.After(restarted) {
			assert.True(t, whole, "trace %s sent %v..%v, outside the outage, is whole", id, s.first.Sub(killed), s.last.Sub(killed))
		}
	})
	t.Logf("FAULT RUN: %d SDK traces (%d spans) at %d traces/s; backend-2 SIGKILLed %v into the run, restarted 3s later",
		len(res.sent), len(res.sent)*c.load.spansPerTrace, rate, 4*time.Second)
	t.Logf("FAULT RUN: %s; span IDs in two files: %d", v, res.tally.duplicated())
	t.Logf("FAULT RUN: %d traces lost entirely, %d partial (one file lacking spans), %d split over files; %d traces on the other backends, all whole",
		len(lostTraces), len(partial), len(split), wholeOthers)
	if len(notWhole) > 0 {
		t.Logf("FAULT RUN: the traces not whole were sent from %v to %v relative to the kill (trace_idle_timeout %v)",
			firstHit.Sub(killed).Round(time.Millisecond), lastHit.Sub(killed).Round(time.Millisecond), c.idle)
	}
	if !firstFile.IsZero() {
		t.Logf("FAULT RUN: restarted backend's first file %v after its restart (%v after the kill; includes trace_idle_timeout %v)",
			firstFile.Sub(restarted).Round(time.Millisecond), firstFile.Sub(killed).Round(time.Millisecond), c.idle)
	}
	assert.Zero(t, res.tally.duplicated(), "spans written twice")
	assert.False(t, firstFile.IsZero(), "the restarted backend writes again")
}
