package converter

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// realFormat is one layout the collector's file exporter writes.
type realFormat struct {
	name string // as the benchmarks name it
	seed string // the file exporter's own output, in testdata/realshape
	json bool   // OTLP JSON, else protobuf
	zstd bool   // each message a zstd frame
}

var realFormats = []realFormat{
	{"proto", "traces.proto.pb", false, false},
	{"proto+zstd", "traces.proto.zstd.pb", false, true},
	{"jsonl", "traces.json.jsonl", true, false},
	{"json+zstd", "traces.json.zstd", true, true},
}

func realFormatNamed(tb testing.TB, name string) realFormat {
	for _, f := range realFormats {
		if f.name == name {
			return f
		}
	}
	tb.Fatalf("no real-shaped format %q", name)
	return realFormat{}
}

var (
	realSeedOnce  sync.Once
	realSeedMsgs  []ptrace.Traces
	realSeedSpans int
	realSeedSpan  int64 // nanoseconds from the first span start to the last span end
	realSeedErr   error
)

// realSeed returns the messages of the real-shaped corpus
// (testdata/realshape/traces.proto.pb) as the collector received them.
func realSeed(tb testing.TB) ([]ptrace.Traces, int) {
	realSeedOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join("testdata", "realshape", "traces.proto.pb"))
		if err != nil {
			realSeedErr = err
			return
		}
		var lo, hi pcommon.Timestamp
		for off := 0; off < len(data); {
			if off+4 > len(data) {
				realSeedErr = fmt.Errorf("traces.proto.pb: truncated length at byte %d", off)
				return
			}
			size := int(binary.BigEndian.Uint32(data[off:]))
			off += 4
			td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data[off : off+size])
			if err != nil {
				realSeedErr = fmt.Errorf("traces.proto.pb: message at byte %d: %w", off-4, err)
				return
			}
			off += size
			eachSpan(td, func(sp ptrace.Span) {
				if lo == 0 || sp.StartTimestamp() < lo {
					lo = sp.StartTimestamp()
				}
				hi = max(hi, sp.EndTimestamp())
			})
			realSeedMsgs = append(realSeedMsgs, td)
			realSeedSpans += td.SpanCount()
		}
		realSeedSpan = int64(hi - lo)
	})
	if realSeedErr != nil {
		tb.Fatal(realSeedErr)
	}
	return realSeedMsgs, realSeedSpans
}

func eachSpan(td ptrace.Traces, fn func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				fn(spans.At(k))
			}
		}
	}
}

// splitmix64 spreads copy numbers over the whole ID space.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// freshCopy rewrites td in place as copy c of the corpus: every trace and span
// ID (parents and links too) XORed with a key of the copy, so copies share no
// ID and keep every relation, and every time shifted by shift nanoseconds.
func freshCopy(td ptrace.Traces, c uint64, shift int64) {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], splitmix64(c))
	binary.BigEndian.PutUint64(k[8:], splitmix64(^c))
	xt := func(id pcommon.TraceID) pcommon.TraceID {
		if id.IsEmpty() {
			return id
		}
		for i := range id {
			id[i] ^= k[i]
		}
		return id
	}
	xs := func(id pcommon.SpanID) pcommon.SpanID {
		if id.IsEmpty() {
			return id
		}
		for i := range id {
			id[i] ^= k[8+i]
		}
		return id
	}
	at := func(t pcommon.Timestamp) pcommon.Timestamp {
		if t == 0 {
			return 0
		}
		return pcommon.Timestamp(int64(t) + shift)
	}
	eachSpan(td, func(sp ptrace.Span) {
		sp.SetTraceID(xt(sp.TraceID()))
		sp.SetSpanID(xs(sp.SpanID()))
		sp.SetParentSpanID(xs(sp.ParentSpanID()))
		sp.SetStartTimestamp(at(sp.StartTimestamp()))
		sp.SetEndTimestamp(at(sp.EndTimestamp()))
		for i := 0; i < sp.Events().Len(); i++ {
			e := sp.Events().At(i)
			e.SetTimestamp(at(e.Timestamp()))
		}
		for i := 0; i < sp.Links().Len(); i++ {
			l := sp.Links().At(i)
			l.SetTraceID(xt(l.TraceID()))
			l.SetSpanID(xs(l.SpanID()))
		}
	})
}

var (
	realInputsMu sync.Mutex
	realInputs   = map[string][]byte{}
)

// realShape returns at least n spans of the real-shaped corpus in format f:
// copies of the collector's messages, each copy with fresh IDs and its times
// moved past the previous copy's, framed as the file exporter frames them.
// Inputs are kept for the life of the test binary, the largest only on
// request (keep=false builds without keeping).
func realShape(tb testing.TB, f realFormat, n int, keep bool) []byte {
	key := fmt.Sprintf("%s/%d", f.name, n)
	realInputsMu.Lock()
	defer realInputsMu.Unlock()
	if b, ok := realInputs[key]; ok {
		return b
	}
	seed, seedSpans := realSeed(tb)
	var zenc *zstd.Encoder
	if f.zstd {
		var err error
		if zenc, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1)); err != nil {
			tb.Fatal(err)
		}
		defer zenc.Close()
	}
	var out []byte
	var lenBuf [4]byte
	frame := func(msg []byte) {
		if f.zstd {
			msg = zenc.EncodeAll(msg, nil)
		}
		if !f.zstd && f.json {
			out = append(append(out, msg...), '\n')
			return
		}
		binary.BigEndian.PutUint32(lenBuf[:], uint32(len(msg)))
		out = append(append(out, lenBuf[:]...), msg...)
	}
	for c, spans := uint64(0), 0; spans < n; c++ {
		for _, msg := range seed {
			td := ptrace.NewTraces()
			msg.CopyTo(td)
			freshCopy(td, c, int64(c)*(realSeedSpan+int64(1e9)))
			var b []byte
			var err error
			if f.json {
				b, err = (&ptrace.JSONMarshaler{}).MarshalTraces(td)
			} else {
				b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
			}
			if err != nil {
				tb.Fatal(err)
			}
			frame(b)
		}
		spans += seedSpans
	}
	if keep {
		realInputs[key] = out
	}
	return out
}

// realSpans is how many spans realShape(f, n) holds: whole copies of the seed.
func realSpans(tb testing.TB, n int) int {
	_, seedSpans := realSeed(tb)
	return (n + seedSpans - 1) / seedSpans * seedSpans
}

// pdataDecode is the floor any pdata-based tool pays: each message of the
// file exporter's layout unframed, unzstd'ed and decoded by pdata, nothing
// else done with it. It returns the number of spans.
func pdataDecode(f realFormat, data []byte, zdec *zstd.Decoder) (int, error) {
	n := 0
	one := func(msg []byte) error {
		var td ptrace.Traces
		var err error
		if f.json {
			td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(msg)
		} else {
			td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(msg)
		}
		n += td.SpanCount()
		return err
	}
	if f.json && !f.zstd {
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			if err := one(line); err != nil {
				return n, err
			}
		}
		return n, nil
	}
	var buf []byte
	for len(data) >= 4 {
		size := int(binary.BigEndian.Uint32(data))
		msg := data[4 : 4+size]
		data = data[4+size:]
		if f.zstd {
			var err error
			if buf, err = zdec.DecodeAll(msg, buf[:0]); err != nil {
				return n, err
			}
			msg = buf
		}
		if err := one(msg); err != nil {
			return n, err
		}
	}
	return n, nil
}
