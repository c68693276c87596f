package converter

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

// fuzzDecode is the property every decoder must keep: whatever the bytes, no
// panic, a bounded run, and when decoding succeeds the timeline written from
// it passes every invariant.
func fuzzDecode(t *testing.T, data []byte) {
	// A hang is a bug too: fail with every goroutine's stack, so the fuzzer
	// keeps the input and the stack says where it hung.
	watchdog := time.AfterFunc(5*time.Second, func() {
		buf := make([]byte, 1<<20)
		panic(fmt.Sprintf("decode of %d bytes still running after 5s:\n%s", len(data), buf[:runtime.Stack(buf, true)]))
	})
	defer watchdog.Stop()
	c := New(WithMaxInputSize(1 << 20))
	if err := c.Decode("fuzz", bytes.NewReader(data)); err != nil {
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		return
	}
	var out bytes.Buffer
	if _, err := c.Encode(&out); err != nil {
		t.Fatal(err)
	}
	if _, err := check.Validate(out.Bytes()); err != nil {
		t.Fatalf("invariant violated: %v", err)
	}
}

// addFileExporterSamples seeds f with the real file exporter output in
// testdata/fileexporter whose names match the patterns.
func addFileExporterSamples(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(filepath.Join("testdata/fileexporter", p))
		if len(files) == 0 {
			f.Fatalf("no file exporter sample matches %s", p)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

func FuzzDecodeOTLPProto(f *testing.F) {
	td := sampleTraces()
	p := protoBytes(f, td)
	f.Add(p)
	f.Add(lengthPrefixed(p, p))
	f.Add(lengthPrefixed(zst(p)))
	f.Add(gz(p))
	addFileExporterSamples(f, "traces.proto.*", "traces.native.proto.*")
	f.Fuzz(fuzzDecode)
}

func FuzzDecodeOTLPJSON(f *testing.F) {
	td := sampleTraces()
	j := jsonBytes(f, td)
	f.Add(j)
	var lines [][]byte
	for _, p := range splitTraces(td) {
		lines = append(lines, jsonBytes(f, p))
	}
	jsonl := bytes.Join(lines, []byte("\n"))
	f.Add(jsonl)
	f.Add([]byte(`{"result":` + string(j) + `}`))
	// The file exporter's json with compression: length-prefixed zstd frames
	// of OTLP JSON; and the same without zstd.
	var frames [][]byte
	for _, l := range lines {
		frames = append(frames, zst(l))
	}
	f.Add(lengthPrefixed(frames...))
	f.Add(lengthPrefixed(lines...))
	f.Add(zst(jsonl)) // the exporter's native compression
	addFileExporterSamples(f, "traces.json.*", "traces.native.json.*")
	f.Fuzz(fuzzDecode)
}

func FuzzDecodeJaegerJSON(f *testing.F) {
	f.Add([]byte(`{"data":[{"traceID":"1","spans":[{"traceID":"1","spanID":"2","operationName":"x","references":[{"refType":"CHILD_OF","traceID":"1","spanID":"3"}],"startTime":1,"duration":2,"tags":[{"key":"k","type":"int64","value":5}],"logs":[{"timestamp":2,"fields":[{"key":"event","type":"string","value":"e"}]}],"processID":"p1"}],"processes":{"p1":{"serviceName":"s","tags":[]}}}]}`))
	f.Add([]byte(`{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}`))
	f.Add([]byte(`{"error":{"httpCode":500,"message":"search depth"}}`))
	f.Fuzz(fuzzDecode)
}

// byteSource drives the random trace generator from fuzz input: each number
// it draws is mixed from the next 8 bytes, so the fuzzer's mutations steer
// the shape of the traces; once they run out it goes on as a plain PRNG (a
// constant would stall rejection sampling).
type byteSource struct {
	data  []byte
	state uint64
}

func (s *byteSource) Uint64() uint64 {
	var b [8]byte
	n := copy(b[:], s.data)
	s.data = s.data[n:]
	// splitmix64 over the bytes drawn so far.
	s.state += 0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[:])
	z := s.state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// FuzzLayout feeds the layout random span trees (the property test's
// generator, steered by the fuzz input): concurrent requests, reused thread
// ids, forks, remote calls, shared IDs, skew, same-nanosecond starts, events
// and links. Every timeline must pass the checker: truthful nesting, every
// arrow bound to exactly its spans, nothing left out undeclared.
func FuzzLayout(f *testing.F) {
	for seed := range 8 {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(seed*31 + i*7)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		g := &traceGen{r: rand.New(&byteSource{data: data}), events: map[uint64][]time.Duration{}, links: map[uint64][]spec{}}
		g.quant = len(data)%3 == 1
		g.generate()
		c := New()
		for _, in := range g.inputs() {
			c.AddTraces(in)
		}
		var out bytes.Buffer
		if _, err := c.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := check.Validate(out.Bytes()); err != nil {
			t.Fatalf("invariant violated: %v", err)
		}
	})
}
