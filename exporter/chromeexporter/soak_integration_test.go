//go:build integration

// Soak test: the otelcol-chrome distribution under mixed traffic for
// $OTEL2CHROME_SOAK (default 2m), its RSS sampled throughout, killed with
// SIGKILL once in the middle and stopped with SIGTERM at the end.
//
//	go test -tags integration -run TestSoak -v ./exporter/chromeexporter/
//	OTEL2CHROME_SOAK=30m go test -tags integration -run TestSoak -v -timeout 40m ./exporter/chromeexporter/
//
// Environment, besides integration_test.go's:
//
//	OTEL2CHROME_SOAK  the run's length, a Go duration (default 2m; 0 or "off" skips it)

package chromeexporter_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/internal/listenwait"
)

const (
	// soakDefault is the length CI runs; the soak is 30m, by hand.
	soakDefault = 2 * time.Minute
	// soakMin leaves each collector instance a warm-up and three RSS windows
	// of a few samples.
	soakMin = 40 * time.Second
	// soakWarmup is the share of the run, from each instance's start, whose
	// RSS is not judged: queues, trace retention and the rolling file fill up.
	soakWarmup = 0.2
	// soakRSSRatio and soakRSSSlack bound RSS growth: the highest sample of
	// an instance's last third may exceed that of its first third (both
	// after warm-up) by this factor plus this much, for GC and rotation noise.
	soakRSSRatio = 1.2
	soakRSSSlack = 16 << 20
	// soakDead is the least time the collector stays dead after SIGKILL;
	// checking the files it left takes longer on long runs.
	soakDead = 3 * time.Second
	// soakPerfettoFiles bounds the files per directory and check that go
	// through Perfetto's importer (about 30 ms each); every file goes through
	// the invariant checker.
	soakPerfettoFiles = 150
	// Each SDK sender ends a trace of soakSDKSpans spans every soakSDKEvery.
	soakSDKSpans = 40
	soakSDKEvery = 200 * time.Millisecond
	// soakTGRate is each telemetrygen process's spans per second. Throttled:
	// unthrottled, telemetrygen's own batch processor drops spans under load,
	// and then nothing can be counted.
	soakTGRate = 100
)

// soakTG is one telemetrygen process of each phase.
type soakTG struct {
	name           string
	http           bool
	children, link int
}

var soakTGs = []soakTG{
	{name: "tg-grpc-a", children: 9},
	{name: "tg-grpc-b", children: 4, link: 2},
	{name: "tg-http-a", http: true, children: 14, link: 1},
	{name: "tg-http-b", http: true, children: 19},
}

// TestSoak runs the collector distribution (per_trace and rolling gzip
// exporters in one pipeline) under four throttled telemetrygen processes, two
// over OTLP/gRPC and two over OTLP/HTTP, with child spans and span links, and
// two SDK senders (gRPC, HTTP) whose span IDs are recorded; about 800 spans/s.
//
// Phase 1 runs for half the length and ends with SIGKILL under traffic: every
// file in both directories must then be complete and valid (temporary files
// are counted and removed). Spans in the collector's memory, or sent while it
// is dead, are lost by design: that is the kill window, reported, not judged.
// The collector is restarted on the same ports and directories. Phase 2 runs
// with new services to the end of the length and ends with SIGTERM: every
// span sent in it must then be on disk exactly once in each exporter's files,
// and every span on disk at the kill must still be there.
//
// RSS (VmRSS) is sampled every 2-5 s; for each instance, after a warm-up of
// 20% of the length, the last third's highest sample may exceed the first
// third's by at most 20% plus 16 MiB.
func TestSoak(t *testing.T) {
	length := soakLength(t)
	tgBin := telemetrygen(t)
	bin := collectorBinary(t)
	work := t.TempDir()
	perTraceDir := filepath.Join(work, "per-trace")
	rollingDir := filepath.Join(work, "rolling")
	every := min(max(length/60, 2*time.Second), 5*time.Second)
	logPaths := []string{filepath.Join(work, "collector-1.log"), filepath.Join(work, "collector-2.log")}

	col := startCollector(t, bin, work, logPaths[0], func(grpcAddr, httpAddr string) string {
		return soakConfig(grpcAddr, httpAddr, perTraceDir, rollingDir)
	})
	running := true // col has not exited
	defer func() {
		if running {
			col.cmd.Process.Kill()
			<-col.exited
		}
		if t.Failed() {
			for _, p := range logPaths {
				dumpLog(t, p)
			}
		}
	}()
	sdkErrs := countSDKErrors(t)
	start := time.Now()
	t.Logf("soak: %v, collector up (pid %d), RSS every %v; traffic: %d telemetrygen processes at %d spans/s each, "+
		"2 SDK senders at %d spans/s each", length, col.cmd.Process.Pid, every, len(soakTGs), soakTGRate,
		int(float64(soakSDKSpans)/soakSDKEvery.Seconds()))

	// Phase 1. telemetrygen runs past the kill, into the dead collector.
	killAt := start.Add(length / 2)
	rss1 := sampleRSS(t, col.cmd.Process.Pid, every)
	tg1 := make([]*tgRun, len(soakTGs))
	for i, g := range soakTGs {
		tg1[i] = startTelemetrygen(t, tgBin, work, "p1-", g, col, time.Until(killAt)+time.Second)
	}
	sdk1 := []*sdkSender{
		startSDKSender(t, newProvider(t, "p1-sdk-grpc", grpcExporter(t, col.grpcAddr))),
		startSDKSender(t, newProvider(t, "p1-sdk-http", httpExporter(t, col.httpAddr))),
	}

	// The kill, under traffic. The files it left are linked into a snapshot
	// and checked after the run, so the dead time does not grow with the run.
	time.Sleep(time.Until(killAt))
	require.NoError(t, col.cmd.Process.Kill())
	<-col.exited
	running = false
	killed := time.Now()
	inst1 := rss1()
	dirs := []string{perTraceDir, rollingDir}
	var snaps [2]string
	var killTmp [2][]string
	for i, dir := range dirs {
		snaps[i] = filepath.Join(work, "at-kill", filepath.Base(dir))
		killTmp[i] = snapshotDir(t, dir, snaps[i])
	}
	t.Logf("SIGKILL at %v under traffic; it left %d temporary files in per_trace, %d in rolling (removed)",
		killed.Sub(start).Round(time.Second), len(killTmp[0]), len(killTmp[1]))
	time.Sleep(time.Until(killed.Add(soakDead)))

	// Restart on the same ports and directories; phase 2.
	col = restartCollector(t, bin, work, logPaths[1], col)
	running = true
	restarted := time.Now()
	rss2 := sampleRSS(t, col.cmd.Process.Pid, every)
	var sdk1IDs []string
	sdk1Errs := make([]error, len(sdk1))
	var sdk1Wait sync.WaitGroup
	defer sdk1Wait.Wait()
	for i, s := range sdk1 {
		sdk1IDs = append(sdk1IDs, s.halt()...)
		sdk1Wait.Go(func() {
			// Batches that failed while the collector was dead are retried into
			// the new one, or dropped after the exporter's retry limit.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			sdk1Errs[i] = s.tp.Shutdown(ctx)
		})
	}
	end := start.Add(length)
	tg2 := make([]*tgRun, len(soakTGs))
	for i, g := range soakTGs {
		tg2[i] = startTelemetrygen(t, tgBin, work, "p2-", g, col, time.Until(end))
	}
	sdk2 := []*sdkSender{
		startSDKSender(t, newProvider(t, "p2-sdk-grpc", grpcExporter(t, col.grpcAddr))),
		startSDKSender(t, newProvider(t, "p2-sdk-http", httpExporter(t, col.httpAddr))),
	}
	time.Sleep(time.Until(end))

	// The end of traffic: every sender flushes, then SIGTERM.
	var sdk2IDs []string
	for _, s := range sdk2 {
		sdk2IDs = append(sdk2IDs, s.halt()...)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		require.NoError(t, s.tp.Shutdown(ctx), "phase 2 SDK sender")
		cancel()
	}
	tgSent := map[string]int{}
	for _, r := range append(tg1, tg2...) {
		tgSent[r.service] = r.wait(t)
	}
	sdk1Wait.Wait()
	for _, err := range sdk1Errs {
		if err != nil {
			t.Logf("phase 1 SDK sender shutdown (kill window): %v", err)
		}
	}
	if n, first := sdkErrs(); n > 0 {
		t.Logf("SDK senders: %d export errors (first: %v)", n, first)
	}
	trafficEnd := time.Now()
	inst2 := rss2()
	require.NoError(t, col.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-col.exited:
		running = false
		require.NoError(t, err, "collector exit after SIGTERM")
	case <-time.After(90 * time.Second):
		t.Fatal("collector did not exit within 90s of SIGTERM")
	}
	t.Logf("SIGTERM %v after the last span was sent; collector exited %v later",
		trafficEnd.Sub(end).Round(time.Millisecond), time.Since(trafficEnd).Round(time.Millisecond))

	// Every file the kill left is complete and valid.
	checked := time.Now()
	var killRep [2]*soakTally
	for i, snap := range snaps {
		killRep[i] = tallyDir(t, snap)
	}
	t.Logf("at the kill: per_trace %d files, rolling %d files: all valid", killRep[0].files, killRep[1].files)

	// Phase 2: everything, exactly once, in both exporters' files.
	sent := soakSent{tg: tgSent, sdk1: sdk1IDs, sdk2: sdk2IDs}
	for i, dir := range dirs {
		judgeDir(t, []string{"per_trace", "rolling"}[i], tallyDir(t, dir), killRep[i], sent)
	}
	t.Logf("files checked in %v (every file by the invariant checker, at most %d per directory by Perfetto's importer)",
		time.Since(checked).Round(time.Millisecond), soakPerfettoFiles)

	warmup := time.Duration(soakWarmup * float64(length))
	judgeRSS(t, 1, inst1, warmup)
	judgeRSS(t, 2, inst2, warmup)
	t.Logf("phases: phase 1 %v, dead %v, phase 2 %v; whole test %v",
		killed.Sub(start).Round(time.Second), restarted.Sub(killed).Round(time.Millisecond),
		trafficEnd.Sub(restarted).Round(time.Second), time.Since(start).Round(time.Second))
}

// soakSent is what the senders sent: telemetrygen's spans by service, and the
// span IDs of the SDK senders of each phase.
type soakSent struct {
	tg         map[string]int
	sdk1, sdk2 []string
}

// judgeDir asserts that final, a directory's files after SIGTERM, holds every
// span of phase 2 exactly once and every span atKill held, and reports the
// kill window: phase 1's spans sent and not on disk.
func judgeDir(t *testing.T, kind string, final, atKill *soakTally, sent soakSent) {
	assert.Empty(t, final.tmp, "%s: temporary files left after SIGTERM", kind)
	kept := 0
	for id := range atKill.ids {
		if final.ids[id] > 0 {
			kept++
		}
	}
	assert.Equal(t, len(atKill.ids), kept, "%s: spans on disk at the kill still on disk at the end", kind)

	var p1Sent, p1Got, p2Sent, p2Got, p2Dups int
	for _, g := range soakTGs {
		svc := "p1-" + g.name
		p1Sent, p1Got = p1Sent+sent.tg[svc], p1Got+final.bySvc[svc]-final.dupsBySvc[svc]
		svc = "p2-" + g.name
		got, dups := final.bySvc[svc], final.dupsBySvc[svc]
		p2Sent, p2Got, p2Dups = p2Sent+sent.tg[svc], p2Got+got-dups, p2Dups+dups
		assert.Equal(t, sent.tg[svc], got-dups, "%s: phase 2 spans of %s on disk", kind, svc)
	}
	sdk1Got, _ := final.count(t, sent.sdk1)
	sdk2Got, sdk2Dups := final.count(t, sent.sdk2)
	p1Sent, p1Got = p1Sent+len(sent.sdk1), p1Got+sdk1Got
	p2Sent, p2Got, p2Dups = p2Sent+len(sent.sdk2), p2Got+sdk2Got, p2Dups+sdk2Dups
	assert.Equal(t, len(sent.sdk2), sdk2Got, "%s: phase 2 SDK spans on disk", kind)
	assert.Zero(t, p2Dups, "%s: phase 2 spans in more than one file", kind)
	t.Logf("%s: %d files; phase 1 (ends with SIGKILL): %d spans sent, %d on disk at the kill, %d at the end, "+
		"%d lost in the kill window; phase 2 (ends with SIGTERM): %d sent, %d on disk, %d lost, %d duplicated",
		kind, final.files, p1Sent, len(atKill.ids), p1Got, p1Sent-p1Got, p2Sent, p2Got, p2Sent-p2Got, p2Dups)
}

// judgeRSS reports one collector instance's RSS by phase and asserts that,
// after warm-up, the last third's highest sample is within soakRSSRatio and
// soakRSSSlack of the first third's.
func judgeRSS(t *testing.T, instance int, samples []rssSample, warmup time.Duration) {
	if len(samples) == 0 {
		t.Errorf("instance %d: no RSS samples", instance)
		return
	}
	ph := rssPhases(samples, warmup)
	t.Logf("RSS, instance %d (%d samples over %v): %s", instance, len(samples), samples[len(samples)-1].at.Round(time.Second), ph)
	if len(ph.thirds[0]) < 3 || len(ph.thirds[2]) < 3 {
		t.Errorf("instance %d: too few RSS samples after warm-up to judge growth", instance)
		return
	}
	first, last := slices.Max(ph.thirds[0]), slices.Max(ph.thirds[2])
	limit := int64(soakRSSRatio*float64(first)) + soakRSSSlack
	assert.LessOrEqual(t, last, limit, "instance %d: RSS grew after warm-up: last third's max %.1f MiB, "+
		"first third's %.1f MiB (limit %.1f MiB)", instance, mib(last), mib(first), mib(limit))
}

// countSDKErrors makes the OTel SDK's global error handler count errors
// instead of logging each (an export fails every few milliseconds while the
// collector is dead), until the test ends. The returned function reports the
// count and the first error.
func countSDKErrors(t *testing.T) func() (int, error) {
	var mu sync.Mutex
	var n int
	var first error
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if n++; first == nil {
			first = err
		}
	}))
	// The SDK's default: log every error.
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) })) })
	return func() (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return n, first
	}
}

// soakLength reads $OTEL2CHROME_SOAK, skipping the test loudly when it is 0
// or "off".
func soakLength(t *testing.T) time.Duration {
	v := os.Getenv("OTEL2CHROME_SOAK")
	if v == "" {
		return soakDefault
	}
	if v == "off" || v == "0" {
		msg := fmt.Sprintf("SKIPPING: the soak test is off (OTEL2CHROME_SOAK=%s); unset it for the %v run", v, soakDefault)
		fmt.Fprintln(os.Stderr, "\n*** "+msg+" ***")
		t.Skip(msg)
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "OTEL2CHROME_SOAK: a Go duration like 2m or 30m, or off")
	require.GreaterOrEqual(t, d, soakMin, "OTEL2CHROME_SOAK: each collector instance needs a warm-up and three RSS windows")
	return d
}

// snapshotDir hard-links every file of dir into snap, which it creates. The
// exporters never change a file in place (each is written under a temporary
// name and renamed), so the links keep the files exactly as they are now.
// Temporary files are not linked but removed from dir, their names returned:
// the next start leaves them there for an hour, and the final count would
// find them.
func snapshotDir(t *testing.T, dir, snap string) (tmp []string) {
	require.NoError(t, os.MkdirAll(snap, 0o755))
	for _, name := range listNames(t, dir) {
		if strings.HasPrefix(name, ".otel2chrome-tmp-") {
			require.NoError(t, os.Remove(filepath.Join(dir, name)))
			tmp = append(tmp, name)
			continue
		}
		require.NoError(t, os.Link(filepath.Join(dir, name), filepath.Join(snap, name)))
	}
	return tmp
}

// soakConfig is the collector configuration: the shipped example's pipeline
// with a per_trace and a rolling gzip exporter. The idle timeout and
// retention are shorter than the defaults, so memory reaches its plateau
// within the warm-up of the 2-minute run.
func soakConfig(grpcAddr, httpAddr, perTraceDir, rollingDir string) string {
	return fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 1024
    spike_limit_mib: 256
  batch:
    timeout: 200ms
exporters:
  chrome:
    directory: %s
    trace_idle_timeout: 2s
    trace_retention: 10s
  chrome/rolling:
    mode: rolling
    path: %s
    compression: gzip
    max_size_mb: 4
    max_backups: 0
    flush_interval: 2s
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: info
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [chrome, chrome/rolling]
`, grpcAddr, httpAddr, perTraceDir, filepath.Join(rollingDir, "all.json.gz"))
}

// restartCollector starts bin again with the configuration startCollector
// wrote into work, on old's ports, after old has exited.
func restartCollector(t *testing.T, bin, work, logPath string, old *collector) *collector {
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	c := &collector{grpcAddr: old.grpcAddr, httpAddr: old.httpAddr, exited: make(chan error, 1)}
	c.cmd = exec.Command(bin, "--config", filepath.Join(work, "config.yaml"))
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	require.NoError(t, c.cmd.Start())
	go func() {
		c.exited <- c.cmd.Wait()
		logFile.Close()
	}()
	if err := listenwait.Wait(c.exited, time.Minute, c.grpcAddr, c.httpAddr); err != nil {
		c.cmd.Process.Kill()
		<-c.exited
		dumpLog(t, logPath)
		t.Fatalf("collector did not restart on %s and %s: %v", c.grpcAddr, c.httpAddr, err)
	}
	return c
}

// tgRun is one telemetrygen process.
type tgRun struct {
	service       string
	spansPerTrace int
	cmd           *exec.Cmd
	logPath       string
	exited        chan struct{} // closed once err is set
	err           error         // of Wait
}

// startTelemetrygen runs telemetrygen for d as service prefix+g.name, throttled
// to soakTGRate spans/s, its output in a file of work. The process is killed
// when the test ends before it does.
func startTelemetrygen(t *testing.T, bin, work, prefix string, g soakTG, col *collector, d time.Duration) *tgRun {
	r := &tgRun{service: prefix + g.name, spansPerTrace: g.children + 1, exited: make(chan struct{})}
	args := []string{"traces", "--otlp-insecure", "--service", r.service,
		"--child-spans", strconv.Itoa(g.children), "--span-links", strconv.Itoa(g.link),
		"--workers", "1", "--rate", strconv.Itoa(soakTGRate), "--duration", d.Round(time.Millisecond).String()}
	if g.http {
		args = append(args, "--otlp-endpoint", col.httpAddr, "--otlp-http")
	} else {
		args = append(args, "--otlp-endpoint", col.grpcAddr)
	}
	r.logPath = filepath.Join(work, "telemetrygen-"+r.service+".log")
	out, err := os.Create(r.logPath)
	require.NoError(t, err)
	r.cmd = exec.Command(bin, args...)
	r.cmd.Stdout, r.cmd.Stderr = out, out
	require.NoError(t, r.cmd.Start(), "telemetrygen %s", strings.Join(args, " "))
	go func() {
		r.err = r.cmd.Wait()
		out.Close()
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill() // an error once it has exited
		<-r.exited
	})
	return r
}

var tracesGenerated = regexp.MustCompile(`traces generated\s.*"traces": (\d+)`)

// wait waits for the process to exit and returns the spans it generated, from
// its "traces generated" line: each trace is a root and its children, and a
// trace once started is always finished.
func (r *tgRun) wait(t *testing.T) int {
	select {
	case <-r.exited:
		require.NoError(t, r.err, "telemetrygen %s; output in %s", r.service, r.logPath)
	case <-time.After(2 * time.Minute):
		t.Fatalf("telemetrygen %s still running 2 minutes after its duration", r.service)
	}
	out, err := os.ReadFile(r.logPath)
	require.NoError(t, err)
	m := tracesGenerated.FindSubmatch(out)
	require.NotNil(t, m, "telemetrygen %s: no \"traces generated\" line in its output:\n%s", r.service, out)
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	return n * r.spansPerTrace
}

// sdkSender ends a trace of soakSDKSpans spans every soakSDKEvery through tp
// until halted, and remembers every span ID.
type sdkSender struct {
	tp   *sdktrace.TracerProvider
	once sync.Once
	stop chan struct{}
	done chan struct{}
	ids  []string
}

// startSDKSender starts sending; the test's end halts it if nothing did.
func startSDKSender(t *testing.T, tp *sdktrace.TracerProvider) *sdkSender {
	s := &sdkSender{tp: tp, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { s.halt() })
	go func() {
		defer close(s.done)
		tick := time.NewTicker(soakSDKEvery)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.ids = append(s.ids, sendLoad(tp, 1, soakSDKSpans)...)
			}
		}
	}()
	return s
}

// halt stops the sending and returns the span IDs ended; the provider, still
// running, has them queued or exported.
func (s *sdkSender) halt() []string {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return s.ids
}

// soakTally is what one directory holds.
type soakTally struct {
	files     int
	tmp       []string       // temporary files (names)
	ids       map[uint64]int // span ID -> files holding it
	bySvc     map[string]int // service -> spans, counted once per file
	dupsBySvc map[string]int // service -> spans already seen in another file
}

// tallyDir checks every file in dir with the invariant checker, up to
// soakPerfettoFiles of them (evenly spread) also with Perfetto's importer, and
// counts their spans by ID and by service (the process name). Temporary files
// are listed, not read.
func tallyDir(t *testing.T, dir string) *soakTally {
	tl := &soakTally{ids: map[uint64]int{}, bySvc: map[string]int{}, dupsBySvc: map[string]int{}}
	var names []string
	for _, name := range listNames(t, dir) {
		if strings.HasPrefix(name, ".otel2chrome-tmp-") {
			tl.tmp = append(tl.tmp, name)
			continue
		}
		names = append(names, name)
	}
	stride := max(1, int(math.Ceil(float64(len(names))/soakPerfettoFiles)))
	for i, name := range names {
		path := filepath.Join(dir, name)
		var rep *check.Report
		if i%stride == 0 {
			rep = validate(t, path)
		} else {
			var err error
			rep, err = check.ValidateFile(path)
			require.NoError(t, err)
		}
		tl.files++
		for id, s := range rep.SpanSlices {
			u, err := strconv.ParseUint(id, 16, 64)
			require.NoError(t, err, "%s: span ID %q", path, id)
			svc := rep.Processes[s.Pid]
			tl.bySvc[svc]++
			if tl.ids[u] > 0 {
				tl.dupsBySvc[svc]++
			}
			tl.ids[u]++
		}
	}
	return tl
}

// count returns how many of ids are on disk, and how many of those are in
// more than one file.
func (tl *soakTally) count(t *testing.T, ids []string) (got, dups int) {
	for _, id := range ids {
		u, err := strconv.ParseUint(id, 16, 64)
		require.NoError(t, err)
		switch n := tl.ids[u]; {
		case n > 1:
			dups++
			got++
		case n == 1:
			got++
		}
	}
	return got, dups
}

// rssSample is the collector's resident set at a time since its start.
type rssSample struct {
	at  time.Duration
	rss int64 // bytes
}

// sampleRSS reads pid's VmRSS every interval until the returned function is
// called (or the test ends), which returns the samples.
func sampleRSS(t *testing.T, pid int, every time.Duration) func() []rssSample {
	var samples []rssSample
	stop, done := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if rss, err := vmRSS(pid); err == nil {
				samples = append(samples, rssSample{time.Since(start), rss})
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	halt := func() []rssSample {
		once.Do(func() { close(stop) })
		<-done
		return samples
	}
	t.Cleanup(func() { halt() })
	return halt
}

// vmRSS reads the VmRSS line of /proc/<pid>/status.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS line", pid)
}

// rssSplit is one instance's samples by phase.
type rssSplit struct {
	warm   []int64
	thirds [3][]int64 // after warm-up
}

// rssPhases splits samples at warmup, and the samples after it into thirds
// by count.
func rssPhases(samples []rssSample, warmup time.Duration) rssSplit {
	var s rssSplit
	var after []int64
	for _, x := range samples {
		if x.at < warmup {
			s.warm = append(s.warm, x.rss)
		} else {
			after = append(after, x.rss)
		}
	}
	n := len(after)
	s.thirds = [3][]int64{after[:n/3], after[n/3 : n-n/3], after[n-n/3:]}
	return s
}

func (s rssSplit) String() string {
	var b strings.Builder
	for i, p := range [][]int64{s.warm, s.thirds[0], s.thirds[1], s.thirds[2]} {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString([]string{"warm-up", "first third", "middle third", "last third"}[i])
		if len(p) == 0 {
			b.WriteString(" -")
			continue
		}
		q := slices.Clone(p)
		slices.Sort(q)
		fmt.Fprintf(&b, " %.0f/%.0f/%.0f", mib(q[0]), mib(q[len(q)/2]), mib(q[len(q)-1]))
	}
	b.WriteString(" MiB (min/median/max)")
	return b.String()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
