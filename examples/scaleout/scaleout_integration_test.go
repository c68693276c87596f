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
//	SCALEOUT_DEBUG_WORK        TestScaleOutFault and TestScaleOutRingChange keep their logs, configs and files there

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
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
				assert.Equal(t, 1+c.tgChildren, tt.spans, "%s: a telemetrygen trace whole", svc)
			}
		}
		assert.Equal(t, want, got, "%s spans written", svc)
		assert.Equal(t, c.tgTraces, traces, "%s traces written", svc)
	}
	hook := 0
	for _, tt := range tierRes.tally.traces {
		if tt.services["hookservice"] {
			hook++
			assert.Len(t, tt.files, 1, "a hookservice trace in one file of one backend")
		}
	}
	assert.Equal(t, c.hookRequests, hook, "hookservice traces")
	assert.Equal(t, len(tierRes.sent)+2*c.tgTraces+c.hookRequests, len(tierRes.tally.traces),
		"traces written: every one sent, no other")
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
	if w := os.Getenv("SCALEOUT_DEBUG_WORK"); w != "" {
		work = w
	}
	c := setup(t, work)
	c.telemetrygen, c.hookservice = "", ""
	const rate, seconds = 300, 12
	c.load = sdkLoad{services: 4, traces: rate * seconds, spansPerTrace: 17, rate: rate}
	c.work = filepath.Join(work, "fault")
	var killed, restarted, firstFile time.Time
	// onDisk: the traces whose file the victim had written when it died.
	onDisk := map[string]bool{}
	c.during = func(ctx context.Context, tr *tier) {
		victim := tr.backends[1]
		select {
		case <-ctx.Done():
			return
		case <-time.After(4 * time.Second):
		}
		victim.kill()
		// After it is reaped: nothing sent from now on can have reached it.
		killed = time.Now()
		entries, err := os.ReadDir(tr.dirs[1])
		if err != nil {
			t.Errorf("read %s: %v", tr.dirs[1], err)
		}
		for _, e := range entries {
			if m := fileName.FindStringSubmatch(e.Name()); m != nil {
				onDisk[m[2]] = true
			}
		}
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
		// Written before the kill, or sent after it (queued by the
		// balancer while the backend was down, or sent after the restart):
		// whole. Only what the killed backend held in memory is lost.
		if onDisk[id] || s.first.After(killed) {
			assert.True(t, whole, "trace %s sent %v..%v relative to the kill (on disk then: %v) is whole",
				id, s.first.Sub(killed), s.last.Sub(killed), onDisk[id])
		}
	})
	t.Logf("FAULT RUN: %d SDK traces (%d spans) at %d traces/s; backend-2 SIGKILLed %v into the run, restarted 3s later",
		len(res.sent), len(res.sent)*c.load.spansPerTrace, rate, 4*time.Second)
	t.Logf("FAULT RUN: %s; span IDs in two files: %d", v, res.tally.duplicated())
	sentInOutage := 0
	for _, s := range res.sent {
		if s.first.After(killed) && s.last.Before(restarted) {
			sentInOutage++
		}
	}
	t.Logf("FAULT RUN: %d traces lost entirely, %d partial (one file lacking spans), %d split over files; %d traces on the other backends, all whole; "+
		"%d traces on the killed backend's disk at the kill and every trace sent after the kill (%d during the outage) whole",
		len(lostTraces), len(partial), len(split), wholeOthers, len(onDisk), sentInOutage)
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

// ringChange is one restart of the balancer with another static ring.
type ringChange struct {
	what        string
	ring        []int // backend indexes
	begin, done time.Time
}

// TestScaleOutRingChange: SDK traces, each lasting a second, at a steady
// rate through the balancer; twice the load_balancing exporter's ring
// changes under the traffic (the balancer restarted with another static
// list: three backends to four, then backend-2 removed). Reports how many
// traces were split and how the backends counted them in
// otelcol_exporter_chrome_traces_split, scraped from their Prometheus
// endpoints once they had released every trace; asserts that no span was
// lost or written twice, every file is valid, only traces in flight at a
// change are split, and each backend counted exactly the splits its files
// show (a trace split in two is counted once over the tier).
func TestScaleOutRingChange(t *testing.T) {
	work := t.TempDir()
	if w := os.Getenv("SCALEOUT_DEBUG_WORK"); w != "" {
		work = w
	}
	c := setup(t, work)
	c.telemetrygen, c.hookservice = "", ""
	const rate, seconds = 250, 8
	c.load = sdkLoad{services: 4, traces: rate * seconds, spansPerTrace: 17, rate: rate, spread: time.Second}
	c.work = filepath.Join(work, "ring")
	c.backends, c.ring = 4, 3
	c.retention = time.Second
	changes := []*ringChange{
		{what: "three backends -> four", ring: []int{0, 1, 2, 3}},
		{what: "backend-2 removed", ring: []int{0, 2, 3}},
	}
	at := []time.Duration{2500 * time.Millisecond, 5 * time.Second}
	c.during = func(ctx context.Context, tr *tier) {
		start := time.Now()
		for i, ch := range changes {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(start.Add(at[i]))):
			}
			ch.begin = time.Now()
			if _, err := tr.changeRing(ch.ring, time.Minute); err != nil {
				t.Errorf("ring change %q: %v", ch.what, err)
				return
			}
			ch.done = time.Now()
		}
	}
	// Once the balancer has drained, wait until the backends have written
	// and released every trace (file names and counters unchanged for
	// longer than trace_idle_timeout + trace_retention), then read them.
	scraped := make([]map[string]float64, c.backends)
	c.drained = func(tr *tier) error {
		settle := c.idle + c.retention + 2*time.Second
		var last string
		stable := time.Now()
		for deadline := time.Now().Add(time.Minute); ; {
			var state strings.Builder
			for i, dir := range tr.dirs {
				entries, err := os.ReadDir(dir)
				if err != nil {
					return err
				}
				got, err := scrapeByReason(context.Background(), tr.metrics[i+1], "otelcol_exporter_chrome_traces_split")
				if err != nil {
					return err
				}
				scraped[i] = got
				fmt.Fprintf(&state, "%d %v;", len(entries), got)
			}
			if state.String() != last {
				last, stable = state.String(), time.Now()
			}
			if time.Since(stable) >= settle {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("backends still writing or counting after a minute: %s", last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	began := time.Now()
	res, err := runTier(context.Background(), c)
	require.NoError(t, err, "logs in %s", c.work)
	t.Logf("tier run, settling and counting took %v", time.Since(began).Round(time.Millisecond))
	for _, ch := range changes {
		require.False(t, ch.done.IsZero(), "ring change %q done", ch.what)
	}
	res.tally.report(t.Logf)

	v := res.tally.judge(res.sent, nil)
	t.Logf("RING CHANGE: %d SDK traces (%d spans, each trace over %v) at %d traces/s; %s; span IDs written twice: %d",
		len(res.sent), len(res.sent)*c.load.spansPerTrace, c.load.spread, rate, v, res.tally.duplicated())
	assert.Zero(t, v.lostSpans, "spans the balancer accepted and no file holds")
	assert.Zero(t, res.tally.duplicated(), "spans written twice")

	// Which change split each trace; traces not in flight at a change
	// (with a second's margin for the senders' batching and retries) whole.
	const margin = time.Second
	near := func(s sentTrace) int {
		for i, ch := range changes {
			if s.last.After(ch.begin.Add(-margin)) && s.first.Before(ch.done.Add(margin)) {
				return i
			}
		}
		return -1
	}
	// counted is how many backends count the trace, by the exporter's rule:
	// those holding it in more than one file or in one without the root.
	counted := func(tt *traceTally) int {
		n := 0
		for b, files := range tt.perBackend {
			if files > 1 || tt.rootless[b] > 0 {
				n++
			}
		}
		return n
	}
	split := res.tally.split()
	byChange := make([]int, len(changes))
	acrossBackends, parts, splitCounted, rejectedTraces, rejectedCounted := 0, 0, 0, 0, 0
	for id, s := range res.sent {
		got := res.tally.traces[id]
		if s.rejected > 0 {
			rejectedTraces++
		}
		if got == nil {
			continue
		}
		if split[id] == nil {
			if n := counted(got); n > 0 {
				// One file without its root: the root's export was refused.
				assert.Positive(t, s.rejected, "trace %s counted split in one file, nothing refused", id)
				rejectedCounted += n
			}
			if near(s) < 0 {
				assert.Equal(t, s.spans, got.spans, "trace %s, not in flight at a ring change, whole", id)
			}
			continue
		}
		if len(got.backends) > 1 {
			acrossBackends++
		}
		parts += len(got.files)
		n := counted(got)
		splitCounted += n
		if s.rejected == 0 {
			assert.Equal(t, 1, n, "trace %s split in %v counted once over the tier", id, got.files)
		}
		if i := near(s); assert.GreaterOrEqual(t, i, 0, "trace %s split, sent %v..%v, not in flight at a ring change", id,
			s.first.Sub(changes[0].begin), s.last.Sub(changes[0].begin)) {
			byChange[i]++
		}
	}
	for i, ch := range changes {
		t.Logf("RING CHANGE %d (%s) %v into the run: balancer restarted in %v; %d traces split",
			i+1, ch.what, at[i], ch.done.Sub(ch.begin).Round(time.Millisecond), byChange[i])
	}
	expected := res.tally.splitsExpected()
	perBackend, countedTotal := "", 0.0
	for i, got := range scraped {
		n := 0.0
		for _, x := range got {
			n += x
		}
		countedTotal += n
		perBackend += fmt.Sprintf(" backend-%d %v;", i+1, got)
		assert.Equal(t, float64(expected[i]), n, "backend-%d: traces_split counts what its files show", i+1)
	}
	t.Logf("RING CHANGE: %d traces split (%d over two backends) into %d files; otelcol_exporter_chrome_traces_split: %.0f in all = "+
		"%d for the split traces + %d for traces whose root's export was refused (%d traces lost spans so):%s",
		len(split), acrossBackends, parts, countedTotal, splitCounted, rejectedCounted, rejectedTraces, perBackend)
	assert.NotEmpty(t, split, "a ring change under traffic splits traces in flight")
	assert.Equal(t, countedTotal, float64(splitCounted+rejectedCounted), "every count is a split trace or a refused root")
}
