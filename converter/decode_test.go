package converter

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"
)

// sampleTraces is a small trace with every feature the decoders carry: two
// services, kinds, status, attributes of each type, events and links.
func sampleTraces() ptrace.Traces {
	b := newTB()
	root := b.add(spec{trace: 1, id: 1, service: "front", name: "GET", end: 100 * ms, kind: ptrace.SpanKindServer,
		attrs: map[string]any{"http.route": "/r", "n": int64(-42), "f": 1.5, "ok": true, "list": []any{"a", int64(1)}}})
	root.Status().SetCode(ptrace.StatusCodeOk)
	ev := root.Events().AppendEmpty()
	ev.SetName("cache miss")
	ev.SetTimestamp(root.StartTimestamp() + 5)
	ev.Attributes().PutStr("key", "k1")
	b.add(spec{trace: 1, id: 2, parent: 1, service: "front", name: "call", start: 10 * ms, end: 90 * ms, kind: ptrace.SpanKindClient})
	srv := b.add(spec{trace: 1, id: 3, parent: 2, service: "back", name: "serve", start: 20*ms + 123, end: 80 * ms, kind: ptrace.SpanKindServer})
	srv.Status().SetCode(ptrace.StatusCodeError)
	srv.Status().SetMessage("bad")
	l := srv.Links().AppendEmpty()
	l.SetTraceID(traceID(1))
	l.SetSpanID(spanID(1))
	return b.td
}

func encodeOrFail(t testing.TB, c *Converter) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := c.Encode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func protoBytes(t testing.TB, td ptrace.Traces) []byte {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonBytes(t testing.TB, td ptrace.Traces) []byte {
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lengthPrefixed frames messages as the collector file exporter does.
func lengthPrefixed(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint32(out, uint32(len(m)))
		out = append(out, m...)
	}
	return out
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(b []byte) []byte {
	enc, _ := zstd.NewWriter(nil)
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// splitTraces returns td as one ptrace.Traces per resource, so tests can build
// multi-message streams and JSON Lines.
func splitTraces(td ptrace.Traces) []ptrace.Traces {
	var out []ptrace.Traces
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		one := ptrace.NewTraces()
		td.ResourceSpans().At(i).CopyTo(one.ResourceSpans().AppendEmpty())
		out = append(out, one)
	}
	return out
}

// TestDecodeRoundTrip encodes one trace with pdata's own marshalers in every
// supported framing and checks each decodes to exactly the timeline that
// AddTraces gives for the original.
func TestDecodeRoundTrip(t *testing.T) {
	td := sampleTraces()
	want := encodeOrFail(t, func() *Converter { c := New(); c.AddTraces(td); return c }())
	parts := splitTraces(td)
	var protos, jsons [][]byte
	for _, p := range parts {
		protos = append(protos, protoBytes(t, p))
		jsons = append(jsons, jsonBytes(t, p))
	}
	req, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	var zstdStream, zstdJSON [][]byte
	var jsonlFrames, streamFrames []byte // one zstd frame per write, as native compression with rotation writes
	for i, p := range protos {
		zstdStream = append(zstdStream, zst(p))
		zstdJSON = append(zstdJSON, zst(jsons[i]))
		jsonlFrames = append(jsonlFrames, zst(append(append([]byte{}, jsons[i]...), '\n'))...)
		streamFrames = append(streamFrames, zst(lengthPrefixed(p))...)
	}
	jsonl := bytes.Join(jsons, []byte("\n"))
	inputs := map[string][]byte{
		"proto TracesData":            protoBytes(t, td),
		"proto ExportTraceServiceReq": req,
		"proto stream":                lengthPrefixed(protos...),
		"proto stream, zstd messages": lengthPrefixed(zstdStream...),
		"proto gzip":                  gz(protoBytes(t, td)),
		"proto stream zstd":           zst(lengthPrefixed(protos...)),
		"proto stream, zstd frames":   streamFrames,
		"json stream, zstd messages":  lengthPrefixed(zstdJSON...),
		"json stream":                 lengthPrefixed(jsons...),
		"json stream gzip":            gz(lengthPrefixed(zstdJSON...)),
		"json lines zstd":             zst(jsonl),
		"json lines, zstd frames":     jsonlFrames,
		"json":                        jsonBytes(t, td),
		"json lines":                  jsonl,
		"json lines, trailing blanks": append(append([]byte{}, jsonl...), "\n\n"...),
		"json lines gzip":             gz(jsonl),
		"json, pretty and BOM":        append([]byte("\xef\xbb\xbf  \n"), jsonBytes(t, td)...),
		"jaeger v3":                   []byte(`{"result":` + string(jsonBytes(t, td)) + `}`),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			c := New()
			if err := c.Decode(name, bytes.NewReader(in)); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := encodeOrFail(t, c); !bytes.Equal(got, want) {
				t.Errorf("output differs from AddTraces of the original:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestMergeInputs checks that several inputs merge into one timeline, and that
// the same spans from two inputs are kept once.
func TestMergeInputs(t *testing.T) {
	td := sampleTraces()
	parts := splitTraces(td)
	c := New()
	for i, p := range parts {
		if err := c.Decode(fmt.Sprintf("part%d", i), bytes.NewReader(protoBytes(t, p))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Decode("again", bytes.NewReader(jsonBytes(t, td))); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3 (duplicates merged)", c.Len())
	}
	whole := New()
	whole.AddTraces(td)
	if !sameTimeline(encodeOrFail(t, c), encodeOrFail(t, whole)) {
		t.Errorf("merged inputs differ from the whole trace")
	}
}

func TestDecodeErrors(t *testing.T) {
	td := sampleTraces()
	proto := protoBytes(t, td)
	stream := lengthPrefixed(proto, proto)
	js := jsonBytes(t, td)
	zjs := zst(js)
	jsonStream := lengthPrefixed(zjs, zjs)
	badJSON := []byte(`{"resourceSpans":[{,}]}`)
	tests := []struct {
		name string
		in   []byte
		opts []Option
		want []string // substrings of the error
	}{
		{"empty", nil, nil, []string{"in.x: empty input"}},
		{"whitespace", []byte(" \n\t "), nil, []string{"whitespace only"}},
		{"png", []byte("\x89PNG\r\n\x1a\n"), nil, []string{"unrecognised format", "89 50 4e 47"}},
		{"text", []byte("hello world"), nil, []string{"unrecognised format"}},
		{"truncated proto", proto[:len(proto)/2], nil, []string{"OTLP protobuf: at byte 0: field 1: truncated"}},
		{"truncated stream body", stream[:len(stream)-10], nil, []string{"OTLP protobuf stream: message 2 at byte " + fmt.Sprint(4+len(proto)), "truncated"}},
		{"truncated stream prefix", stream[:len(proto)+6], nil, []string{"message 2", "truncated length prefix (2 of 4 bytes)"}},
		{"corrupt stream message", lengthPrefixed(proto, []byte{0x0a, 0xff, 0xff}), nil, []string{"message 2"}},
		{"truncated json stream", jsonStream[:len(jsonStream)-10], nil, []string{"OTLP JSON stream: message 2 at byte " + fmt.Sprint(4+len(zjs)), "truncated"}},
		{"corrupt json stream message", lengthPrefixed(zjs, zst(badJSON)), nil, []string{
			fmt.Sprintf("OTLP JSON stream: message 2 at byte %d (%d bytes, %d after zstd): OTLP JSON: at byte 19 (line 1, column 20)",
				4+len(zjs), len(zst(badJSON)), len(badJSON))}},
		{"corrupt json stream message, no zstd", lengthPrefixed(js, badJSON), nil, []string{
			fmt.Sprintf("OTLP JSON stream: message 2 at byte %d (%d bytes): OTLP JSON: at byte 19", 4+len(js), len(badJSON))}},
		{"corrupt zstd in json stream", lengthPrefixed(zjs, append(append([]byte{}, zstdMagic...), "garbage"...)), nil, []string{
			"OTLP JSON stream: message 2 at byte " + fmt.Sprint(4+len(zjs)) + ": zstd:"}},
		{"json stream message too large", lengthPrefixed(zst(bytes.Repeat([]byte(" "), 200))), []Option{WithMaxInputSize(100)}, []string{
			"message 1 at byte 0", "zstd"}},
		{"zstd under a limit below 1 KiB", zst(js), []Option{WithMaxInputSize(100)}, []string{"in.x (zstd): reading: decompressed size exceeds configured limit"}},
		{"bad json", []byte("{\"resourceSpans\": [\n  {,}]}"), nil, []string{"OTLP JSON", "line 2, column 4"}},
		{"bad json line", append(append(append([]byte{}, js...), '\n'), []byte(`{"resourceSpans":[{"x"}]}`)...), nil, []string{"in.x: OTLP JSON: at byte", "(line 2, column 23)"}},
		{"wrong json shape", []byte(`{"hello": 1}`), nil, []string{"not a known trace format"}},
		{"chrome trace", []byte(`{"traceEvents":[{"ph":"M"}]}`), nil, []string{"already a Chrome trace file"}},
		{"json array", []byte(`[1,2]`), nil, []string{"JSON array is not a known trace format"}},
		{"otlp wrong types", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), nil, []string{"OTLP JSON"}},
		{"jaeger error", []byte(`{"data":null,"total":0,"errors":[{"code":404,"msg":"trace not found"}]}`), nil, []string{"Jaeger JSON", "404 trace not found"}},
		{"jaeger v3 error", []byte(`{"error":{"grpcCode":5,"httpCode":404,"message":"trace not found","httpStatus":"Not Found"}}`), nil, []string{"api_v3", "404 trace not found"}},
		{"jaeger bad id", []byte(`{"data":[{"traceID":"1","spans":[{"traceID":"xyz","spanID":"1"}],"processes":{}}]}`), nil, []string{"data[0]", "span 0", "trace ID \"xyz\": not hex"}},
		{"too large", js, []Option{WithMaxInputSize(100)}, []string{"document is larger than the limit of 100 bytes"}},
		{"too large stream", stream, []Option{WithMaxInputSize(100)}, []string{"message 1 at byte 0: length", "over the limit of 100 bytes"}},
		{"too large proto field", proto, []Option{WithMaxInputSize(100)}, []string{"field 1: length", "over the limit of 100 bytes"}},
		{"bad gzip", append([]byte{0x1f, 0x8b}, "garbage"...), nil, []string{"gzip"}},
		{"gzip nested too deep", gz(gz(gz(gz(js)))), nil, []string{"nested more than 3 deep"}},
		{"truncated gzip", gz(js)[:40], nil, []string{"in.x (gzip)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.opts...)
			err := c.Decode("in.x", bytes.NewReader(tt.in))
			if err == nil {
				t.Fatalf("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "in.x") {
				t.Errorf("error %q does not start with the input name", err)
			}
		})
	}
}

func TestDecodeJaeger(t *testing.T) {
	doc := `{"data":[{"traceID":"ab000000000000000000000000000001","spans":[
	  {"traceID":"ab000000000000000000000000000001","spanID":"0000000000000001","operationName":"GET /r",
	   "references":[],"startTime":1795424400000000,"duration":100000,
	   "tags":[{"key":"span.kind","type":"string","value":"server"},{"key":"otel.scope.name","type":"string","value":"lib"},
	           {"key":"big","type":"int64","value":9007199254740993},{"key":"b","type":"bool","value":true},
	           {"key":"otel.status_code","type":"string","value":"ERROR"},{"key":"otel.status_description","type":"string","value":"x"}],
	   "logs":[{"timestamp":1795424400000010,"fields":[{"key":"event","type":"string","value":"exception"},{"key":"exception.message","type":"string","value":"oops"}]}],
	   "processID":"p1"},
	  {"traceID":"ab000000000000000000000000000001","spanID":"2","operationName":"db",
	   "references":[{"refType":"CHILD_OF","traceID":"ab000000000000000000000000000001","spanID":"0000000000000001"},
	                 {"refType":"FOLLOWS_FROM","traceID":"ab000000000000000000000000000001","spanID":"0000000000000001"}],
	   "startTime":1795424400010000,"duration":20000,"tags":[],"logs":[],"processID":"p2"}],
	 "processes":{"p1":{"serviceName":"front","tags":[{"key":"host.name","type":"string","value":"h1"}]},
	              "p2":{"serviceName":"db","tags":[]}}}],"total":0,"limit":0,"offset":0,"errors":null}`
	c := New()
	if err := c.Decode("jaeger.json", strings.NewReader(doc)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := c.Encode(&out); err != nil {
		t.Fatal(err)
	}
	rep := validateOrFail(t, out.Bytes())
	root, child := rep.SpanSlices[sid(1)], rep.SpanSlices[sid(2)]
	if root.Name != "GET /r" || root.Cat != "lib" || root.Args["kind"] != "server" || root.Args["status"] != "error" || root.Args["status_message"] != "x" {
		t.Errorf("root = %+v", root)
	}
	attrs := root.Args["attributes"].(map[string]any)
	if attrs["big"] != float64(9007199254740993) || attrs["b"] != true {
		t.Errorf("attributes = %v", attrs)
	}
	if _, ok := attrs["span.kind"]; ok {
		t.Errorf("span.kind tag kept as an attribute")
	}
	if child.Args["parent_span_id"] != sid(1) || child.Ts != 10000 || child.Dur != 20000 {
		t.Errorf("child = %+v", child)
	}
	if links, _ := child.Args["links"].([]any); len(links) != 1 {
		t.Errorf("FOLLOWS_FROM not kept as a link: %v", child.Args)
	}
	if rep.Processes[1] != "front" || rep.Processes[2] != "db" {
		t.Errorf("processes = %v", rep.Processes)
	}
	if len(rep.Instants) != 1 || rep.Instants[0].Name != "exception: oops" || *rep.Instants[0].Ts != 10 {
		t.Errorf("instants = %+v", rep.Instants)
	}
}

func TestProgress(t *testing.T) {
	var last int64
	c := New(WithProgress(func(name string, n int64) {
		if name != "p" {
			t.Errorf("progress name %q", name)
		}
		last = n
	}))
	in := protoBytes(t, sampleTraces())
	if err := c.Decode("p", io.MultiReader(bytes.NewReader(in))); err != nil {
		t.Fatal(err)
	}
	if last != int64(len(in)) {
		t.Errorf("progress ended at %d, want %d", last, len(in))
	}
}

// TestBytesTruncation covers every truncation boundary of a bytes value.
func TestBytesTruncation(t *testing.T) {
	b := newTB()
	sp := b.add(spec{trace: 1, id: 1, service: "a", name: "x", end: ms})
	raw := []byte("0123456789abcdef")
	sp.Attributes().PutEmptyBytes("id").FromRaw(raw)
	for maxLen := 1; maxLen <= 40; maxLen++ {
		r, _, _ := convert(t, b.td, WithMaxAttributeLen(maxLen))
		got := r.Slices[0].Args["attributes"].(map[string]any)["id"].(string)
		dec, err := base64.StdEncoding.DecodeString(got)
		if err != nil || !bytes.HasPrefix(raw, dec) {
			t.Errorf("maxLen %d: %q is not a base64 prefix of the value (%v)", maxLen, got, err)
		}
	}
}

func TestJSONLinesPositions(t *testing.T) {
	td := sampleTraces()
	var lines [][]byte
	for _, p := range splitTraces(td) {
		lines = append(lines, jsonBytes(t, p))
	}
	good := bytes.Join(lines, []byte("\n"))
	// Leading blank lines are fine.
	c := New()
	if err := c.Decode("in.jsonl", bytes.NewReader(append([]byte("\n\n"), good...))); err != nil || c.Len() != 3 {
		t.Fatalf("leading blank lines: %v, %d spans", err, c.Len())
	}
	// A bad third line is reported with its line and column in the file.
	bad := append(append(append([]byte{}, good...), "\n  "...), `{"resourceSpans":[{,}]}`...)
	err := New().Decode("in.jsonl", bytes.NewReader(bad))
	want := fmt.Sprintf("in.jsonl: OTLP JSON: at byte %d (line 3, column 22)", len(good)+3+19)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want prefix %q", err, want)
	}
}

// TestLargeFirstStreamMessage: a stream whose first message is 16 MiB or more
// has a length prefix that does not start with a zero byte.
func TestLargeFirstStreamMessage(t *testing.T) {
	msg := protoBytes(t, sampleTraces())
	// An unknown field (number 99) pads the message; decoders skip it.
	pad := make([]byte, 17<<20)
	msg = protowire.AppendTag(msg, 99, protowire.BytesType)
	msg = protowire.AppendBytes(msg, pad)
	c := New()
	if err := c.Decode("big.pb", bytes.NewReader(lengthPrefixed(msg))); err != nil || c.Len() != 3 {
		t.Fatalf("err %v, %d spans", err, c.Len())
	}
}

// TestDeeplyNestedAttribute: pdata decodes nested attribute values
// recursively, so nesting deep enough overflows the stack (a fatal error, not
// a panic). Such input must be refused with an error instead.
func TestDeeplyNestedAttribute(t *testing.T) {
	td := sampleTraces()
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	v := sp.Attributes().PutEmptySlice("deep")
	for i := 0; i < 100; i++ {
		v = v.AppendEmpty().SetEmptySlice()
	}
	sp.Attributes().PutStr("pad", strings.Repeat("x", 70<<10)) // large enough to be checked
	err := New().Decode("deep.pb", bytes.NewReader(protoBytes(t, td)))
	if err == nil || !strings.Contains(err.Error(), "attribute value nested more than 64 levels deep") {
		t.Fatalf("err = %v", err)
	}
	// Nesting within the limit still decodes.
	td = sampleTraces()
	sp = td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	v = sp.Attributes().PutEmptySlice("nested")
	for i := 0; i < 10; i++ {
		v = v.AppendEmpty().SetEmptyMap().PutEmptySlice("k")
	}
	sp.Attributes().PutStr("pad", strings.Repeat("x", 70<<10))
	if err := New().Decode("ok.pb", bytes.NewReader(protoBytes(t, td))); err != nil {
		t.Fatal(err)
	}
}

// bigScopeTraces is one resource whose first scope holds about four batches'
// worth of spans (the decoder splits it), and a second, small scope.
func bigScopeTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "big")
	rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	add := func(ss ptrace.ScopeSpans, n, first int) {
		for i := 0; i < n; i++ {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(traceID(1))
			sp.SetSpanID(spanID(uint64(first + i)))
			if i > 0 {
				sp.SetParentSpanID(spanID(uint64(first)))
			}
			sp.SetName(fmt.Sprintf("op%d", i%7))
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * time.Microsecond)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i+1) * time.Microsecond)))
			sp.Attributes().PutStr("pad", strings.Repeat("x", 200))
		}
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("lib/big")
	ss.Scope().SetVersion("1.2.3")
	ss.Scope().Attributes().PutStr("scope.attr", "v")
	ss.SetSchemaUrl("https://opentelemetry.io/schemas/1.27.0")
	add(ss, 4*batchBytes/200, 1)
	small := rs.ScopeSpans().AppendEmpty()
	small.Scope().SetName("lib/small")
	add(small, 3, 1<<20)
	return td
}

// TestLargeScopeKeepsScope: a scope with more spans than one decode batch is
// split into several batches, and every batch keeps the scope (pdata writes
// the scope after the spans, so it is seen last). Proto bytes, OTLP JSON and
// AddTraces give the same timeline, with the scope as every slice's cat.
func TestLargeScopeKeepsScope(t *testing.T) {
	td := bigScopeTraces()
	proto := protoBytes(t, td)

	// Every batch the decoder hands on carries the whole scope.
	batches, spans := 0, 0
	err := decode("big.pb", bytes.NewReader(proto), 1<<30, nil, func(b ptrace.Traces) {
		batches++
		rs := b.ResourceSpans().At(0)
		if v, _ := rs.Resource().Attributes().Get("service.name"); v.AsString() != "big" || rs.SchemaUrl() == "" {
			t.Errorf("batch %d: resource %v, schema %q", batches, rs.Resource().Attributes().AsRaw(), rs.SchemaUrl())
		}
		for i := 0; i < rs.ScopeSpans().Len(); i++ {
			ss := rs.ScopeSpans().At(i)
			spans += ss.Spans().Len()
			if ss.Scope().Name() == "lib/small" {
				continue
			}
			v, _ := ss.Scope().Attributes().Get("scope.attr")
			if ss.Scope().Name() != "lib/big" || ss.Scope().Version() != "1.2.3" || v.AsString() != "v" ||
				ss.SchemaUrl() != "https://opentelemetry.io/schemas/1.27.0" {
				t.Errorf("batch %d: scope %q %q %v, schema %q", batches, ss.Scope().Name(), ss.Scope().Version(),
					ss.Scope().Attributes().AsRaw(), ss.SchemaUrl())
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := td.SpanCount(); spans != want || batches < 4 {
		t.Fatalf("%d spans in %d batches; want %d spans in at least 4 batches", spans, batches, want)
	}

	c := New()
	c.AddTraces(td)
	want := encodeOrFail(t, c)
	rep := validateOrFail(t, want)
	for _, s := range rep.Slices {
		if s.Cat != "lib/big" && s.Cat != "lib/small" {
			t.Fatalf("slice %q has cat %q", s.Name, s.Cat)
		}
	}
	inputs := map[string][]byte{
		"proto":        proto,
		"proto zstd":   zst(proto),
		"proto stream": lengthPrefixed(zst(proto)),
		"json":         jsonBytes(t, td),
	}
	for name, in := range inputs {
		c := New()
		if err := c.Decode(name, bytes.NewReader(in)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := encodeOrFail(t, c); !bytes.Equal(got, want) {
			r := validateOrFail(t, got)
			lost := 0
			for _, s := range r.Slices {
				if s.Cat != "lib/big" && s.Cat != "lib/small" {
					lost++
				}
			}
			t.Errorf("%s: output differs from AddTraces; %d of %d slices lost their scope", name, lost, len(r.Slices))
		}
	}
}

// TestFileExporterOutput converts what the collector's file exporter wrote in
// each of its formats (testdata/fileexporter/README.md says how): all give
// the one timeline, holding every span with its scope.
func TestFileExporterOutput(t *testing.T) {
	files, err := filepath.Glob("testdata/fileexporter/traces.*")
	if err != nil || len(files) != 6 {
		t.Fatalf("want 6 file exporter samples, have %v (%v)", files, err)
	}
	var want []byte
	for _, f := range files {
		got := convertFile(t, f)
		r := validateOrFail(t, got)
		if len(r.Slices) != 9 || len(r.Instants) != 3 {
			t.Errorf("%s: %d slices, %d instants; want 9 and 3", f, len(r.Slices), len(r.Instants))
		}
		for _, s := range r.Slices {
			if s.Cat != "example/front" && s.Cat != "example/back" {
				t.Errorf("%s: slice %q has cat %q", f, s.Name, s.Cat)
			}
		}
		if want == nil {
			want = got
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s: output differs from %s's", f, files[0])
		}
	}
}

// TestJSONValueErrorsHavePositions: OTLP JSON that parses but holds values of
// the wrong type or range fails with the input, format and position (byte,
// line, column) in a printable message, in a single document and in JSON
// Lines alike.
func TestJSONValueErrorsHavePositions(t *testing.T) {
	span := func(field, value string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x",` +
			`"` + field + `":` + value + `}]}]}]}`
	}
	good := span("endTimeUnixNano", `"5"`)
	for _, tt := range []struct{ name, doc string }{
		{"exponent out of range", span("startTimeUnixNano", "1e400")},
		{"negative timestamp", span("startTimeUnixNano", "-5")},
		{"overflow", span("startTimeUnixNano", "99999999999999999999999")},
		{"not a number", span("startTimeUnixNano", `"abc"`)},
		{"raw byte in an ID", strings.Replace(good, "0102030405060708090a0b0c0d0e0f10", "\xff", 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range []struct {
				data string
				line string
			}{{tt.doc, "line 1, column "}, {good + "\n" + good + "\n" + tt.doc + "\n", "line 3, column "}} {
				err := New().Decode("in.json", strings.NewReader(in.data))
				if err == nil {
					t.Fatal("no error")
				}
				msg := err.Error()
				for _, want := range []string{"in.json: ", "OTLP JSON: at byte ", in.line} {
					if !strings.Contains(msg, want) {
						t.Errorf("%q lacks %q", msg, want)
					}
				}
				for _, r := range msg {
					if r == utf8.RuneError || (r < 0x20 && r != '\t') {
						t.Errorf("unprintable %q in %q", r, msg)
					}
				}
			}
		})
	}
}

// endless is an input that never ends: '{' then spaces.
type endless struct{ first bool }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	if !e.first && len(p) > 0 {
		p[0], e.first = '{', true
	}
	return len(p), nil
}

// TestInputOverLimitCostsTheLimit: a document over the limit is refused
// having held about the limit, not twice it (a doubling buffer grew to 2x
// just to read the byte past it), and so is a line of JSON Lines (append's
// growth held 2-3x); the largest limit works at all.
func TestInputOverLimitCostsTheLimit(t *testing.T) {
	const limit = 64 << 20
	line := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"5"}]}]}]}` + "\n"
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"a document", &endless{}},
		{"a line of JSON Lines", io.MultiReader(strings.NewReader(line+line), &endless{})},
	} {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		heap := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
		runtime.GC()
		base := heap()
		var peak atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if h := heap(); h > peak.Load() {
					peak.Store(h)
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Microsecond):
				}
			}
		}()
		err := New(WithMaxInputSize(limit)).Decode("endless", tc.r)
		close(stop)
		<-done
		if err == nil || !strings.Contains(err.Error(), "larger than the limit") {
			t.Fatalf("%s: err = %v, want the limit named", tc.name, err)
		}
		if got := peak.Load() - base; got > 2*limit {
			t.Errorf("%s: peak heap %d MiB to refuse it over a %d MiB limit, want under 2x", tc.name, got>>20, limit>>20)
		}
	}
	good := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"5"}]}]}]}`
	c := New(WithMaxInputSize(math.MaxInt64))
	if err := c.Decode("max", strings.NewReader(good)); err != nil || c.Len() != 1 {
		t.Errorf("with the largest limit: err %v, %d spans; want the span", err, c.Len())
	}
}

// TestJaegerErrorAnswersArePrintable: a server's error text reaches the
// message escaped and bounded.
func TestJaegerErrorAnswersArePrintable(t *testing.T) {
	for _, doc := range []string{
		`{"data":null,"errors":[{"code":500,"msg":"bad \u001b[31mred\u001b[0m ` + strings.Repeat("x", 2000) + `"}]}`,
		`{"error":{"httpCode":500,"message":"bad \u001b[31mred\u001b[0m"}}`,
	} {
		err := New().Decode("answer", strings.NewReader(doc))
		if err == nil {
			t.Fatal("no error")
		}
		if msg := err.Error(); strings.ContainsRune(msg, 0x1b) || len(msg) > 600 || !strings.Contains(msg, `\u001b[31mred`) {
			t.Errorf("message not escaped and bounded: %q", msg)
		}
	}
}

// TestJaegerV3ErrorPositionInWholeDocument: an error inside api_v3's
// "result" names its place in the whole answer, not in "result".
func TestJaegerV3ErrorPositionInWholeDocument(t *testing.T) {
	bad := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x","startTimeUnixNano":"zz"}]}]}]}`
	doc := "{\n\"padding\":\"" + strings.Repeat("p", 100) + "\",\n  \"result\": " + bad + "}"
	err := New().Decode("answer.json", strings.NewReader(doc))
	if err == nil {
		t.Fatal("no error")
	}
	want := strings.Index(doc, `"zz"`)
	var line, col int
	var off int
	if _, e := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "at byte"):], "at byte %d (line %d, column %d)", &off, &line, &col); e != nil {
		t.Fatalf("no position in %q: %v", err, e)
	}
	if line != 3 || off < want-25 || off > want+5 {
		t.Errorf("error at byte %d line %d column %d, want near byte %d on line 3: %v", off, line, col, want, err)
	}
	if wantCol := want - strings.LastIndex(doc[:want], "\n"); col < wantCol-25 || col > wantCol+5 {
		t.Errorf("column %d, want near %d", col, wantCol)
	}
}
