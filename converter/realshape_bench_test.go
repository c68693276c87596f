//go:build unix

package converter

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// realBenchSpans is the size of the real-shaped benchmark inputs.
const realBenchSpans = 100_000

// ownDecode is the converter's own decoding alone: sniffing, unframing,
// decompressing, pdata decoding and the batched hand-off between its two
// goroutines, with a sink that only counts spans instead of the model.
func ownDecode(data []byte) (int, error) {
	n := 0
	err := decode("bench", bytes.NewReader(data), DefaultMaxInputSize, nil, func(td ptrace.Traces) { n += td.SpanCount() })
	return n, err
}

// readSink counts the spans decodeModel reads, preparing pdata messages as
// the model's side does, but keeps nothing.
type readSink struct {
	p *preparer
	n int
}

func (r *readSink) addTraces(td ptrace.Traces) {
	r.p.traces(td)
	r.n += len(r.p.b.spans)
	r.p.reset()
}

func (r *readSink) commit(b *spanBatch) { r.n += len(b.spans) }

// ownRead is the converter's own reading alone, as it reads for the model:
// OTLP JSON and protobuf straight into prepared batches
// (attributes encoded, spans named), the rest through pdata, with the
// batched hand-off, but no model, layout or output.
func ownRead(data []byte) (int, error) {
	cfg := newConfig(nil)
	sink := &readSink{p: newPreparer(&cfg)}
	err := decodeModel("bench", bytes.NewReader(data), &cfg, sink, nil)
	return sink.n, err
}

// convertAll is the whole job: decode, model, layout, Chrome JSON.
func convertAll(data []byte) error {
	c := New()
	if err := c.Decode("bench", bytes.NewReader(data)); err != nil {
		return err
	}
	_, err := c.Encode(io.Discard)
	return err
}

// BenchmarkRealShape measures, on 100,000 spans of collector-shaped data in
// each layout the file exporter writes, pdata's decoding alone, the
// converter's own decoding alone and the whole conversion.
func BenchmarkRealShape(b *testing.B) {
	for _, f := range realFormats {
		data := realShape(b, f, realBenchSpans, true)
		spans := realSpans(b, realBenchSpans)
		zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			b.Fatal(err)
		}
		stages := []struct {
			name string
			fn   func() error
		}{
			{"pdata", func() error { _, err := pdataDecode(f, data, zdec); return err }},
			{"decode", func() error { _, err := ownDecode(data); return err }},
			{"read", func() error { _, err := ownRead(data); return err }},
			{"convert", func() error { return convertAll(data) }},
		}
		for _, s := range stages {
			b.Run(f.name+"/"+s.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := s.fn(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(spans), "ns/span")
			})
		}
		zdec.Close()
	}
}

// cost is one measured run: wall-clock time and CPU time (user + system) of
// the whole process while it ran, the garbage collector's included.
type cost struct{ wall, cpu time.Duration }

func (c cost) String() string {
	return fmt.Sprintf("%.0f ms wall, %.0f ms CPU", c.wall.Seconds()*1e3, c.cpu.Seconds()*1e3)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fns in interleaved rounds (so drift on a noisy machine hits
// them alike) and returns each one's fastest wall time and least CPU time.
func measure(tb testing.TB, rounds int, fns ...func() error) []cost {
	best := make([]cost, len(fns))
	for r := 0; r < rounds; r++ {
		for i, fn := range fns {
			runtime.GC()
			w0, c0 := time.Now(), cpuTime()
			if err := fn(); err != nil {
				tb.Fatal(err)
			}
			c := cost{time.Since(w0), cpuTime() - c0}
			if r == 0 || c.wall < best[i].wall {
				best[i].wall = c.wall
			}
			if r == 0 || c.cpu < best[i].cpu {
				best[i].cpu = c.cpu
			}
		}
	}
	return best
}

func skipTiming(tb testing.TB) {
	if testing.Short() || raceEnabled || os.Getenv("OTEL2CHROME_TIMING") == "off" {
		tb.Skip("SKIP: timing means nothing under -short, -race or beside other tests (OTEL2CHROME_TIMING=off); .ci/run's ratio step runs it alone")
	}
	noShadowIndex(tb)
}

// TestRealShapeCost measures, in one run, the conversion of 100,000
// collector-shaped spans in each layout against the converter's own decoding
// (into pdata, batched as the converter hands it on) and against pdata's,
// in wall and CPU time, on every core and on one. The targets (proto and
// JSON lines): convert <= 2x decode in wall time and <= 2.5x in CPU time.
// Converting no longer goes through pdata for OTLP JSON and protobuf, so
// it also reports the converter's own reading as it reads
// for the model (ownRead): how much of the conversion the model, layout
// and output are.
func TestRealShapeCost(t *testing.T) {
	skipTiming(t)
	spans := float64(realSpans(t, realBenchSpans))
	t.Logf("%d spans (copies of testdata/realshape with fresh IDs), GOMAXPROCS=%d", int(spans), runtime.GOMAXPROCS(0))
	t.Logf("%-11s %8s %9s %9s | %-21s %-21s | %-12s | %-17s", "layout", "MiB", "pdata", "decode", "convert", "convert/decode", "convert/read", "GOMAXPROCS=1")
	for _, f := range realFormats {
		data := realShape(t, f, realBenchSpans, true)
		zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		pdata := func() error { _, err := pdataDecode(f, data, zdec); return err }
		own := func() error { _, err := ownDecode(data); return err }
		conv := func() error { return convertAll(data) }
		read := func() error { _, err := ownRead(data); return err }
		c := measure(t, 5, pdata, own, conv, read)
		procs := runtime.GOMAXPROCS(1)
		one := measure(t, 3, own, conv)
		runtime.GOMAXPROCS(procs)
		zdec.Close()

		perSpan := func(d time.Duration) string { return fmt.Sprintf("%.0f ns/sp", float64(d.Nanoseconds())/spans) }
		wall := c[2].wall.Seconds() / c[1].wall.Seconds()
		cpu := c[2].cpu.Seconds() / c[1].cpu.Seconds()
		wall1 := one[1].wall.Seconds() / one[0].wall.Seconds()
		t.Logf("%-11s %8.1f %9s %9s | %-21s wall %.2fx cpu %.2fx | %.2fx (%s) | %.2fx; vs pdata %.2fx wall",
			f.name, float64(len(data))/(1<<20), perSpan(c[0].wall), perSpan(c[1].wall),
			perSpan(c[2].wall)+fmt.Sprintf(" (%.0f cpu)", float64(c[2].cpu.Nanoseconds())/spans),
			wall, cpu, c[2].wall.Seconds()/c[3].wall.Seconds(), perSpan(c[3].wall), wall1, c[2].wall.Seconds()/c[0].wall.Seconds())
		if f.name != "proto" && f.name != "jsonl" {
			continue
		}
		// Met today (protobuf 1.40-1.61x wall, 1.81-2.15x CPU; JSON
		// Lines 1.5-1.6x, 1.5x); the test fails only where a fast path
		// would have been lost.
		if wall > 2.2 {
			t.Errorf("%s: convert is %.2fx the converter's own decoding in wall time, want <= 2x (failing above 2.2x)", f.name, wall)
		}
		if cpu > 2.8 {
			t.Errorf("%s: convert is %.2fx the converter's own decoding in CPU time, want <= 2.5x (failing above 2.8x)", f.name, cpu)
		}
	}
}

// TestRealShapeLinear converts 100,000 and 1,000,000 collector-shaped spans:
// ten times the spans should cost at most 11 times the time. It times the
// otel2chrome command, a fresh process per run as a user runs it (less
// what a run on one message costs: starting the process), and the
// conversion inside this process, where the small input runs on memory
// the process already holds and the large one mostly on memory new to it.
func TestRealShapeLinear(t *testing.T) {
	skipTiming(t)
	dir := t.TempDir()
	bin := buildCommand(t, dir)
	for _, name := range []string{"proto", "jsonl"} {
		f := realFormatNamed(t, name)
		small := realShape(t, f, realBenchSpans, true)
		big := realShape(t, f, 10*realBenchSpans, false)
		spans := float64(realSpans(t, 10*realBenchSpans)) / float64(realSpans(t, realBenchSpans))
		files := map[string][]byte{"one": firstMessage(t, f, small), "small": small, "big": big}
		for n, data := range files {
			if err := os.WriteFile(filepath.Join(dir, n+"."+name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		best := func(runs int, n string) time.Duration {
			var d time.Duration
			for r := 0; r < runs; r++ {
				if x := timeCommand(t, dir, bin, filepath.Join(dir, n+"."+name)); r == 0 || x < d {
					d = x
				}
			}
			return d
		}
		one, s, b := best(5, "one"), best(5, "small"), best(3, "big")
		for n := range files {
			os.Remove(filepath.Join(dir, n+"."+name))
		}
		command := (b - one).Seconds() / (s - one).Seconds()
		c := measure(t, 3, func() error { return convertAll(small) }, func() error { return convertAll(big) })
		inProcess := c[1].wall.Seconds() / c[0].wall.Seconds()
		t.Logf("%s: the command on %d spans %.0f ms, on %d spans %.0f ms, on one message %.1f ms: %.1fx the time for %.1fx the spans (target <= 11x for 10x); in one process %v and %v: %.1fx",
			name, realSpans(t, realBenchSpans), s.Seconds()*1e3, realSpans(t, 10*realBenchSpans), b.Seconds()*1e3, one.Seconds()*1e3,
			command, spans, c[0], c[1], inProcess)
		// The command is at 0.82-1.21x the time per 1x the spans today; in
		// one process, 0.94-1.17x: lookups by span ID miss the caches at
		// a million spans, the large run faults in memory the small one
		// finds held, and two runs of a million spans differ by up to a
		// tenth here. Both fail only well past that (a quadratic step
		// would show as 10x per 1x).
		if command/spans > 1.4 {
			t.Errorf("%s: %.1fx the spans took the command %.1fx the time, want at most 1.1x per 1x (failing above 1.4x)", name, spans, command)
		}
		if inProcess/spans > 1.6 {
			t.Errorf("%s: %.1fx the spans took %.1fx the time in one process, want about 1.1x per 1x (failing above 1.6x)", name, spans, inProcess)
		}
	}
}

// firstMessage returns the first OTLP message of data, a real-shaped input
// in layout f: its first line, or its first length-prefixed message.
func firstMessage(t *testing.T, f realFormat, data []byte) []byte {
	if f.zstd {
		t.Fatalf("%s: firstMessage reads proto and jsonl only", f.name)
	}
	if f.json {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return data[:i+1]
		}
		return data
	}
	if len(data) < 4 {
		t.Fatalf("%s: no message", f.name)
	}
	return data[:4+int(binary.BigEndian.Uint32(data))]
}

// buildCommand builds the otel2chrome command into dir.
func buildCommand(t *testing.T, dir string) string {
	bin := filepath.Join(dir, "otel2chrome")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/otel2chrome").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// timeCommand runs a command in dir, its output to /dev/null (a file: no
// pipe to copy), and returns its wall time.
func timeCommand(t *testing.T, dir, name string, args ...string) time.Duration {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = devNull, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	return time.Since(start)
}

// TestRealShapePeakMemory converts 100,000 collector-shaped spans from a
// file at Go's default GOGC=100, in a child process holding nothing else,
// and reports the heap's peak above its baseline. Target: <= 3x the input.
func TestRealShapePeakMemory(t *testing.T) {
	skipTiming(t)
	for _, name := range []string{"proto", "jsonl"} {
		data := realShape(t, realFormatNamed(t, name), realBenchSpans, true)
		used := childPeakHeap(t, data, 100)
		ratio := float64(used) / float64(len(data))
		t.Logf("%s, GOGC=100: input %.1f MiB, peak heap above baseline %.1f MiB: %.2fx the input (target <= 3x)",
			name, float64(len(data))/(1<<20), float64(used)/(1<<20), ratio)
		if ratio > 3.3 {
			t.Errorf("%s: peak heap is %.2fx the input, want <= 3x (failing above 3.3x)", name, ratio)
		}
	}
}

// TestRealShapePeer runs the otel2chrome command and the Python converter
// crepererum/otel2chrome (testdata/peer/convert.py) on the same 100,000
// collector-shaped spans as JSON lines, the only input the peer reads, and
// compares their wall times; it also reports the command's peak RSS on
// every layout. Target: otel2chrome >= 20x faster.
func TestRealShapePeer(t *testing.T) {
	skipTiming(t)
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("OTEL2CHROME_REQUIRE_TOOLS") != "" {
			t.Fatal("python3 not found: the peer comparison needs it")
		}
		t.Skip("SKIP: python3 not found: the peer comparison cannot run")
	}
	dir := t.TempDir()
	bin := buildCommand(t, dir)
	// The peer reads ./data/otel.json.
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "data", "otel.json")
	data := realShape(t, realFormatNamed(t, "jsonl"), realBenchSpans, true)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	peer, err := filepath.Abs(filepath.Join("testdata", "peer", "convert.py"))
	if err != nil {
		t.Fatal(err)
	}
	// peakRSS runs the command on in and returns its wall time and peak
	// RSS, polled from /proc every millisecond (the rusage of a child
	// counts the parent's RSS at fork). Polling takes a core's share from
	// the command, so timed runs do not poll.
	peakRSS := func(in string) (time.Duration, int64) {
		cmd := exec.Command(bin, in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr // output discarded
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var hwm int64
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
				}
				return time.Since(start), hwm
			case <-time.After(time.Millisecond):
				if b, err := os.ReadFile(status); err == nil {
					if i := bytes.Index(b, []byte("VmHWM:")); i >= 0 {
						var kib int64
						fmt.Sscan(string(b[i+len("VmHWM:"):]), &kib)
						hwm = max(hwm, kib*1024)
					}
				}
			}
		}
	}
	var ours, theirs time.Duration
	for r := 0; r < 5; r++ {
		if d := timeCommand(t, dir, bin, in); r == 0 || d < ours {
			ours = d
		}
		if r < 2 {
			if d := timeCommand(t, dir, python, peer); r == 0 || d < theirs {
				theirs = d
			}
		}
	}
	_, rss := peakRSS(in)
	ratio := theirs.Seconds() / ours.Seconds()
	t.Logf("%d spans, %.1f MiB of OTLP JSON lines: otel2chrome %.0f ms, convert.py %.0f ms: %.1fx faster (target >= 20x); otel2chrome peak RSS (VmHWM, polled every ms) %.0f MiB = %.2fx the input",
		realSpans(t, realBenchSpans), float64(len(data))/(1<<20), ours.Seconds()*1e3, theirs.Seconds()*1e3, ratio,
		float64(rss)/(1<<20), float64(rss)/float64(len(data)))
	for _, f := range realFormats {
		if f.name == "jsonl" {
			continue
		}
		data := realShape(t, f, realBenchSpans, true)
		in := filepath.Join(dir, "input."+f.name)
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, hwm := peakRSS(in)
		t.Logf("otel2chrome on %.1f MiB of %s: %.0f ms, peak RSS %.0f MiB = %.2fx the input",
			float64(len(data))/(1<<20), f.name, d.Seconds()*1e3, float64(hwm)/(1<<20), float64(hwm)/float64(len(data)))
	}
	// The peer's own time varies by a fifth from run to run on this
	// machine, so the test fails only well below the target: below 12x
	// something that made the JSON path fast was lost (it was 7.7x before
	// the JSON reader, 10-13x with pdata in between).
	if ratio < 12 {
		t.Errorf("otel2chrome is %.1fx faster than the Python peer on the same JSON lines, want >= 20x (failing below 12x): the OTLP JSON reader, the parallel JSON Lines path or the batched commit lost speed", ratio)
	}
}
