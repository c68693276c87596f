package converter

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// differentialInputs are every trace file the tests hold: the real-shaped
// corpus, the file exporter's samples, the shipped sample data.
func differentialInputs(t *testing.T) []string {
	var files []string
	for _, pattern := range []string{
		"testdata/realshape/traces.*",
		"testdata/fileexporter/traces.*",
		"../examples/data/sample.*",
	} {
		m, err := filepath.Glob(pattern)
		if err != nil || len(m) == 0 {
			t.Fatalf("no test input matches %s", pattern)
		}
		files = append(files, m...)
	}
	return files
}

// fuzzCorpus returns the inputs in testdata/fuzz/NAME, in the go test fuzz
// v1 encoding of one []byte each.
func fuzzCorpus(t *testing.T, name string) map[string][]byte {
	dir := filepath.Join("testdata", "fuzz", name)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no fuzz corpus in %s: %v", dir, err)
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s/%s: not a go test fuzz v1 []byte", dir, e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s/%s: %v", dir, e.Name(), err)
		}
		out[e.Name()] = []byte(s)
	}
	return out
}

// convertWith converts data with the fast paths (the OTLP JSON reader, small
// protobuf messages decoded whole) on or off and returns the Chrome file, or
// the error.
func convertWith(t *testing.T, fast bool, name string, data []byte) (string, error) {
	old := useFastPaths
	useFastPaths = fast
	defer func() { useFastPaths = old }()
	c := New(WithMaxInputSize(64 << 20))
	if err := c.Decode(name, bytes.NewReader(data)); err != nil {
		return "", err
	}
	var out bytes.Buffer
	if _, err := c.Encode(&out); err != nil {
		t.Fatal(err)
	}
	return out.String(), nil
}

// TestFastJSONSameTimeline converts every test input and every input in the
// fuzzers' corpus twice, with the fast paths on (the OTLP JSON reader, small
// protobuf messages decoded whole) and off (pdata's JSON decoder, every
// protobuf message split by the converter): the Chrome files must be
// byte-identical, the errors too.
func TestFastJSONSameTimeline(t *testing.T) {
	inputs := map[string][]byte{}
	for _, f := range differentialInputs(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = b
	}
	for _, corpus := range []string{"FuzzDecodeOTLPJSON", "FuzzDecodeJaegerJSON", "FuzzDecodeOTLPProto"} {
		for name, b := range fuzzCorpus(t, corpus) {
			inputs[corpus+"/"+name] = b
		}
	}
	same, failed := 0, 0
	for name, data := range inputs {
		fast, ferr := convertWith(t, true, name, data)
		slow, serr := convertWith(t, false, name, data)
		switch {
		case (ferr == nil) != (serr == nil):
			t.Errorf("%s: fast reader error %v, pdata error %v", name, ferr, serr)
		case ferr != nil:
			if ferr.Error() != serr.Error() {
				t.Errorf("%s: errors differ:\nfast:  %v\npdata: %v", name, ferr, serr)
			}
			failed++
		case fast != slow:
			t.Errorf("%s: the fast reader's timeline differs from pdata's (%d vs %d bytes)", name, len(fast), len(slow))
		default:
			same++
		}
	}
	t.Logf("%d inputs: %d identical timelines, %d identical errors", len(inputs), same, failed)
}

// jsonDocuments returns the OTLP JSON documents in data: the messages of the
// file exporter's zstd layout, the lines of JSON Lines, or data itself.
func jsonDocuments(t *testing.T, data []byte) [][]byte {
	if len(data) >= 4 && bytes.HasPrefix(data[4:], zstdMagic) {
		dec, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		var docs [][]byte
		for len(data) >= 4 {
			size := int(binary.BigEndian.Uint32(data))
			msg, err := dec.DecodeAll(data[4:4+size], nil)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, msg)
			data = data[4+size:]
		}
		return docs
	}
	var docs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			docs = append(docs, append([]byte(nil), line...))
		}
	}
	if len(docs) > 1 && json1(docs[0]) {
		return docs
	}
	return [][]byte{data}
}

// inputJSONDocuments returns the OTLP JSON documents of the test inputs,
// named by file and number.
func inputJSONDocuments(t *testing.T) map[string][]byte {
	docs := map[string][]byte{}
	for _, f := range differentialInputs(t) {
		if !strings.Contains(f, "json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range jsonDocuments(t, b) {
			docs[f+"#"+strconv.Itoa(i+1)] = doc
		}
	}
	return docs
}

func json1(b []byte) bool { return len(b) > 0 && b[0] == '{' && b[len(b)-1] == '}' }

// TestFastJSONMatchesPdata reads every OTLP JSON document of the test
// inputs and the fuzz corpus with the fast reader and with pdata: whatever
// the fast reader takes, pdata must take too, to the same protobuf bytes.
// The real-shaped corpus must take the fast path throughout.
func TestFastJSONMatchesPdata(t *testing.T) {
	docs := inputJSONDocuments(t)
	for name, b := range fuzzCorpus(t, "FuzzDecodeOTLPJSON") {
		docs["FuzzDecodeOTLPJSON/"+name] = b
	}
	fast, realFast, realDocs := 0, 0, 0
	for name, doc := range docs {
		isReal := strings.HasPrefix(name, "testdata/realshape/")
		if isReal {
			realDocs++
		}
		td, ok := fastOTLPJSON(doc)
		if !ok {
			continue
		}
		fast++
		if isReal {
			realFast++
		}
		want, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(doc)
		if err != nil {
			t.Errorf("%s: the fast reader took a document pdata refuses: %v", name, err)
			continue
		}
		a, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(want)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the fast reader's traces differ from pdata's", name)
		}
	}
	t.Logf("%d documents, %d read by the fast reader; real-shaped corpus: %d of %d", len(docs), fast, realFast, realDocs)
	if realDocs == 0 || realFast != realDocs {
		t.Errorf("the fast reader read %d of the real-shaped corpus's %d documents, want all", realFast, realDocs)
	}
}

// TestFastJSONEdgeCases holds the fast reader to pdata on the number,
// string and structure forms where the two could part: each document is
// read by both or left to pdata, never read differently.
func TestFastJSONEdgeCases(t *testing.T) {
	const ids = `"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"`
	span := func(fields string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[{` + ids + fields + `}]}]}]}`
	}
	attr := func(value string) string { return span(`,"attributes":[{"key":"k","value":` + value + `}]`) }
	var docs []string
	for _, field := range []string{"startTimeUnixNano", "flags", "kind", "droppedAttributesCount"} {
		for _, v := range []string{`"1 "`, `" 1"`, `"1` + "\n" + `"`, `"01"`, `01`, `"+1"`, `1e2`, `"1.0"`, `-0`, `"-0"`, `-1`,
			`"0"`, `4294967296`, `"4294967296"`, `2147483648`, `18446744073709551616`, `""`, `null`} {
			docs = append(docs, span(`,"`+field+`":`+v))
		}
	}
	for _, v := range []string{`"1 "`, `"-1 "`, `"-1` + "\n" + `"`, `"-0"`, `-0`, `"01"`, `"+1"`, `1e2`, `9223372036854775808`,
		`"-9223372036854775809"`, `-9223372036854775808`, `""`, `"-"`} {
		docs = append(docs, attr(`{"intValue":`+v+`}`))
	}
	for _, v := range []string{`{}`, `{"stringValue":"a\u0000b\/"}`, `{"stringValue":"\uD83D\uDE00"}`, `{"stringValue":"` + "\xff" + `"}`,
		`{"arrayValue":{}}`, `{"arrayValue":{"values":[{}]}}`, `{"kvlistValue":{"values":[{"key":"a"}]}}`,
		`{"boolValue":"true"}`, `{"stringValue":"a","intValue":"1"}`} {
		docs = append(docs, attr(v))
	}
	docs = append(docs,
		span(`,"attributes":[{"value":{"stringValue":"v"},"key":"k"}]`),
		span(`,"attributes":[{"key":"k"},{"key":"k"}]`),
		span(`,"name":"`+"\xed\xa0\x80"+`"`),
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","spanId":"","parentSpanId":""}]}]}]}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090A0B0C0D0E0F10","spanId":"0102030405060708"}]}]}]}`,
		"\r\n"+span(`,"kind":1`+"\r"+`,"name":"x"`)+"\r\n",
		span(``)+"\x00",
	)
	for _, doc := range docs {
		td, ok := fastOTLPJSON([]byte(doc))
		if !ok {
			continue
		}
		want, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(doc))
		if err != nil {
			t.Errorf("%q: the fast reader took a document pdata refuses: %v", doc, err)
			continue
		}
		a, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(want)
		if !bytes.Equal(a, b) {
			t.Errorf("%q: the fast reader's traces differ from pdata's", doc)
		}
	}
}

// FuzzFastJSON holds the fast OTLP JSON reader to pdata's decoder on any
// input: what it reads, pdata reads to the same protobuf bytes.
func FuzzFastJSON(f *testing.F) {
	for _, name := range []string{"testdata/realshape/traces.json.jsonl", "../examples/data/sample.otlp.jsonl"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			if len(line) > 0 && i%8 == 0 {
				f.Add(line)
			}
		}
	}
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"a\u00e9\n","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":2,"attributes":[{"key":"k","value":{"arrayValue":{"values":[{"intValue":"-9223372036854775808"},{"kvlistValue":{"values":[{"key":"x","value":{"boolValue":true}}]}},{}]}}}],"status":{"code":2,"message":"m"}}]}]}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		td, ok := fastOTLPJSON(doc)
		if !ok {
			return
		}
		want, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(doc)
		if err != nil {
			t.Fatalf("the fast reader took a document pdata refuses: %v", err)
		}
		a, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(want)
		if !bytes.Equal(a, b) {
			t.Fatalf("the fast reader's traces differ from pdata's")
		}
	})
}

// TestJSONLinesParallel converts JSON Lines of a few MiB (9,000 spans) on
// one core and on several, where decodeLines decodes chunks of lines at once
// and the encoder encodes chunks of spans at once: the same timeline, and
// the same first error with the same position when a line in a later chunk
// is broken.
func TestJSONLinesParallel(t *testing.T) {
	seed, err := os.ReadFile("testdata/realshape/traces.json.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat(seed, 3) // duplicates merge; a few chunks
	lines := bytes.SplitAfter(data, []byte("\n"))
	broken := func(i int, from, to string) []byte {
		out := bytes.Clone(bytes.Join(lines[:i], nil))
		out = append(out, bytes.Replace(lines[i], []byte(from), []byte(to), 1)...)
		return append(out, bytes.Join(lines[i+1:], nil)...)
	}
	late := len(lines) * 2 / 3
	cases := map[string][]byte{
		"whole":        data,
		"syntax error": broken(late, `"spanId":"`, `"spanId":`),
		"bad trace ID": broken(late, `"traceId":"`, `"traceId":"zz`),
		"not OTLP":     broken(late, `"resourceSpans"`, `"somethingElse"`),
	}
	cases["two broken lines"] = func() []byte {
		b := broken(late, `"name":"`, `"name":`)
		l2 := bytes.SplitAfter(b, []byte("\n"))
		l2[late+7] = []byte("garbage\n")
		return bytes.Join(l2, nil)
	}()
	if len(data) < 4*linesChunk {
		t.Fatalf("input of %d bytes is too small to split into chunks", len(data))
	}
	procs := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(procs)
	for name, in := range cases {
		runtime.GOMAXPROCS(1)
		one, err1 := convertWith(t, true, "in.jsonl", in)
		runtime.GOMAXPROCS(max(procs, 2))
		many, errN := convertWith(t, true, "in.jsonl", in)
		switch {
		case (err1 == nil) != (errN == nil):
			t.Errorf("%s: one core: %v; several: %v", name, err1, errN)
		case err1 != nil:
			if err1.Error() != errN.Error() {
				t.Errorf("%s: errors differ:\none core: %v\nseveral:  %v", name, err1, errN)
			}
			// The broken line is named, and where it starts in the input.
			lineStart := len(bytes.Join(lines[:late], nil))
			if name == "bad trace ID" && !strings.Contains(err1.Error(), fmt.Sprintf("(line %d, column ", late+1)) ||
				name == "syntax error" && !strings.Contains(err1.Error(), fmt.Sprintf("(line %d, column ", late+1)) ||
				name == "not OTLP" && !strings.Contains(err1.Error(), fmt.Sprintf("line %d: ", late+1)) {
				t.Errorf("%s: error does not name line %d (starting at byte %d): %v", name, late+1, lineStart, err1)
			}
			if name == "whole" {
				t.Errorf("whole input failed: %v", err1)
			}
		case one != many:
			t.Errorf("%s: the timelines differ (%d vs %d bytes)", name, len(one), len(many))
		case name != "whole":
			t.Errorf("%s: no error", name)
		}
	}
}

// TestJSONLinesStream: JSON Lines stream, so the input size limit holds for
// each line, not for the whole input, and a line over it is named.
func TestJSONLinesStream(t *testing.T) {
	seed, err := os.ReadFile("testdata/realshape/traces.json.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	longest := 0
	for _, l := range bytes.Split(seed, []byte("\n")) {
		longest = max(longest, len(l))
	}
	limit := int64(longest + 1)
	c := New(WithMaxInputSize(limit))
	if err := c.Decode("in.jsonl", bytes.NewReader(seed)); err != nil {
		t.Fatalf("JSON Lines of %d bytes, each line within the %d-byte limit: %v", len(seed), limit, err)
	}
	if c.Len() == 0 {
		t.Fatal("no spans")
	}
	err = New(WithMaxInputSize(limit-2)).Decode("in.jsonl", bytes.NewReader(seed))
	if err == nil || !strings.Contains(err.Error(), "is larger than the limit of") || !strings.Contains(err.Error(), "in.jsonl: line ") {
		t.Fatalf("a line over the limit: err = %v, want the line named", err)
	}
}

// TestJSONLinesFirstErrorInInputOrder: a line over the limit or a read
// error ends JSON Lines after the lines before it, as a broken line does:
// those lines are decoded, and an error among them is the one reported,
// whether or not they share a chunk with the failure.
func TestJSONLinesFirstErrorInInputOrder(t *testing.T) {
	const limit = 4096
	good := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"%016x","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"5"}]}]}]}` + "\n"
	lines := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, good, i+1)
		}
		return b.String()
	}
	broken := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}` + "\n"
	huge := `{"resourceSpans":["` + strings.Repeat("x", limit) + `"]}` + "\n"
	failing := func(s string) func() io.Reader {
		return func() io.Reader {
			return io.MultiReader(strings.NewReader(s), iotest.ErrReader(errors.New("disk on fire")))
		}
	}
	reader := func(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }
	for _, tc := range []struct {
		name  string
		in    func() io.Reader
		spans int
		err   string
	}{
		{"broken, then a line over the limit", reader(lines(1) + broken + huge), 1, "line 2, column "},
		{"a line over the limit", reader(lines(2) + huge + lines(1)), 2, "line 3 is larger than the limit"},
		{"broken, then a read error", failing(lines(1) + broken + lines(1)), 1, "line 2, column "},
		{"a read error", failing(lines(3)), 3, "disk on fire"},
	} {
		for _, procs := range []int{1, 4} {
			old := runtime.GOMAXPROCS(procs)
			c := New(WithMaxInputSize(limit))
			err := c.Decode("in.jsonl", tc.in())
			runtime.GOMAXPROCS(old)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s, %d cores: err = %v, want %q", tc.name, procs, err, tc.err)
			}
			if c.Len() != tc.spans {
				t.Errorf("%s, %d cores: %d spans, want those of the %d lines before the error", tc.name, procs, c.Len(), tc.spans)
			}
		}
	}
}
