package converter

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// preparedConfigs are the settings every document is read under by the
// tests holding the OTLP JSON reader to pdata: the filters and limits all
// act while spans are prepared.
var preparedConfigs = map[string][]Option{
	"default":       nil,
	"short attrs":   {WithMaxAttributeLen(5)},
	"services":      {WithServices("checkout", "frontend", "")},
	"min duration":  {WithMinDuration(50 * time.Microsecond)},
	"time window":   {WithTimeWindow(time.Unix(0, 1_700_000_000_000_000_000), time.Time{})},
	"no attr limit": {WithMaxAttributeLen(0)},
}

// samePrepared reads doc with the OTLP JSON reader into a model and with
// pdata's decoder into another, and compares the timelines they write. It
// reports whether the reader took the document.
func samePrepared(t *testing.T, name string, opts []Option, doc []byte) bool {
	t.Helper()
	return sameReadAsPdata(t, name, opts, func(p *preparer) bool { return p.otlpJSON(doc) },
		func() (ptrace.Traces, error) { return (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(doc) })
}

// sameReadAsPdata reads an input with read (one of the preparer's own
// readers) into a model and with decode (pdata's decoder) into another,
// and compares the timelines they write. It reports whether read took the
// input; when it did not, its batch must be as before.
func sameReadAsPdata(t *testing.T, name string, opts []Option, read func(*preparer) bool, decode func() (ptrace.Traces, error)) bool {
	t.Helper()
	direct := New(opts...)
	p := newPreparer(&direct.cfg)
	if !read(p) {
		if len(p.b.spans) != 0 || len(p.b.buf) != 0 || len(p.b.events) != 0 || len(p.b.links) != 0 ||
			len(p.b.procs) != 0 || len(p.b.dropped) != 0 || p.b.noStart != 0 {
			t.Errorf("%s: the reader gave up but left %d spans in the batch", name, len(p.b.spans))
		}
		return false
	}
	td, err := decode()
	if err != nil {
		t.Errorf("%s: the reader took an input pdata refuses: %v", name, err)
		return true
	}
	direct.model.commit(p.b)
	viaPdata := New(opts...)
	viaPdata.AddTraces(td)
	var a, b bytes.Buffer
	sa, errA := direct.Encode(&a)
	sb, errB := viaPdata.Encode(&b)
	if errA != nil || errB != nil {
		t.Fatalf("%s: encoding: %v / %v", name, errA, errB)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("%s: the reader's timeline differs from pdata's (%d vs %d bytes, %d vs %d spans)", name, a.Len(), b.Len(), sa.Spans, sb.Spans)
	}
	return true
}

// preparedEdgeDocs are documents that probe what the OTLP JSON reader reads
// itself and what it leaves to pdata.
func preparedEdgeDocs() []string {
	const ids = `"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000000100000"`
	res := `"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"host.name","value":{"stringValue":"h1"}},{"key":"service.version","value":{"stringValue":"1.2"}}]}`
	span := func(fields string) string {
		return `{"resourceSpans":[{` + res + `,"scopeSpans":[{"scope":{"name":"s"},"spans":[{` + ids + fields + `}]}]}]}`
	}
	attr := func(k, v string) string {
		return span(`,"name":"GET","attributes":[{"key":"` + k + `","value":` + v + `}]`)
	}
	deep := `{"stringValue":"x"}`
	for i := 0; i < 17; i++ {
		deep = `{"arrayValue":{"values":[` + deep + `]}}`
	}
	var many []string
	for i := 0; i < maxListKeys+1; i++ {
		many = append(many, `{"key":"k`+strconv.Itoa(i)+`","value":{"intValue":"1"}}`)
	}
	docs := []string{
		span(`,"name":"plain"`),
		span(`,"name":""`),
		span(`,"name":"HTTP GET","attributes":[{"key":"url.full","value":{"stringValue":"http://h/p?q=1"}}]`),
		attr("http.route", `{"stringValue":"/users/{id}#frag"}`),
		attr("http.route", `{"intValue":"7"}`),
		attr("http.route", `{}`),
		attr("url.path", `{"stringValue":"/a\"b\\c\u2028"}`),
		attr("http.target", `{"boolValue":true}`),
		attr("thread.id", `{"intValue":"12"}`),
		attr("thread.id", `{"stringValue":"13"}`),
		attr("thread.id", `{"stringValue":"x13"}`),
		attr("thread.id", `{"boolValue":false}`),
		attr("thread.name", `{"stringValue":"`+strings.Repeat("é", 200)+`"}`),
		attr("thread.name", `{"intValue":"3"}`),
		span(`,"attributes":[{"key":"thread.name","value":{"stringValue":"` + strings.Repeat("é", 200) + `"}},{"key":"thread.id","value":{"intValue":"7"}}]`),
		attr("go.goroutine.id", `{"intValue":"42"}`),
		attr("go.goroutine.id", `{"stringValue":"42"}`),
		attr("long", `{"stringValue":"`+strings.Repeat("abcdé", 2000)+`"}`),
		attr("nested", `{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"-1"},{},{"boolValue":false}]}}},{"key":"b"}]}}`),
		attr("nested", `{"kvlistValue":{"values":[{"key":"a"},{"key":"a"}]}}`),
		attr("nested", `{"kvlistValue":{}}`),
		attr("deep", deep),
		attr("double", `{"doubleValue":1.5}`),
		attr("bytes", `{"bytesValue":"AAEC"}`),
		attr("esc\u00e9\nkey", `{"stringValue":"v\u0000\t"}`),
		attr("bad", `{"stringValue":"\xff"}`),
		span(`,"attributes":[` + strings.Join(many, ",") + `]`),
		span(`,"attributes":[` + strings.Join(many[:maxListKeys], ",") + `]`),
		span(`,"attributes":[{"key":"a","value":{"intValue":"1"}},{"key":"a","value":{"intValue":"2"}}]`),
		span(`,"attributes":[]`),
		span(`,"status":{"code":2,"message":"` + strings.Repeat("m", 5000) + `"}`),
		span(`,"status":{"code":9,"message":""},"kind":77`),
		span(`,"events":[{"timeUnixNano":"1","name":"exception","attributes":[{"key":"exception.type","value":{"stringValue":"E"}},{"key":"exception.message","value":{"stringValue":"boom"}}]},{"timeUnixNano":"1800000000000000000","name":""}]`),
		span(`,"events":[{"name":"exception","attributes":[{"key":"exception.type","value":{"intValue":"5"}}]}]`),
		span(`,"events":[{"name":"exception"}],"links":[{"traceId":"0102030405060708090a0b0c0d0e0f11","spanId":"0102030405060709","attributes":[{"key":"l","value":{"stringValue":"v"}}]}]`),
		span(`,"parentSpanId":"0a0b0c0d0e0f0102","name":"child"`),
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{` + ids + `}]}],` + res + `}]}`,
		`{"resourceSpans":[{` + res + `,"scopeSpans":[{"spans":[{` + ids + `}],"scope":{"name":"late"}}]}]}`,
		`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"intValue":"1"}}]},"scopeSpans":[{"spans":[{` + ids + `}]}]}]}`,
		`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{}},{"key":"process.pid","value":{"stringValue":"9"}},{"key":"host.name","value":{}}]},"scopeSpans":[{"spans":[{` + ids + `}]}]}]}`,
		`{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{` + ids + `}]}]},{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"frontend"}}]},"scopeSpans":[{"spans":[{` + ids + `,"name":"dup"}]}]}]}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}]}]}]}`,
		`{"resourceSpans":[]}`,
		span(`,"name":"a"`) + " x",
		span(`,"name":"a","name":"b"`),
	}
	return docs
}

// TestPreparedJSONSameModel reads every OTLP JSON document the tests hold
// (the test inputs, the fuzz corpora, documents probing the edges) with the
// OTLP JSON reader and with pdata's decoder, under every filter and limit:
// whatever the reader takes gives the timeline pdata's gives, and what it
// gives up on leaves its batch as it was. The real-shaped corpus must be
// read by the reader throughout.
func TestPreparedJSONSameModel(t *testing.T) {
	docs := inputJSONDocuments(t)
	for _, corpus := range []string{"FuzzDecodeOTLPJSON", "FuzzPreparedJSON"} {
		for name, b := range fuzzCorpus(t, corpus) {
			docs[corpus+"/"+name] = b
		}
	}
	for i, d := range preparedEdgeDocs() {
		docs["edge#"+strconv.Itoa(i)] = []byte(d)
	}
	sameUnderEveryConfig(t, "OTLP JSON reader", docs, samePrepared)
}

// sameUnderEveryConfig holds a reader to pdata (same, as samePrepared) on
// every input under every setting of preparedConfigs; the real-shaped
// corpus must be read by the reader throughout.
func sameUnderEveryConfig(t *testing.T, reader string, inputs map[string][]byte, same func(*testing.T, string, []Option, []byte) bool) {
	for cname, opts := range preparedConfigs {
		taken, realTaken, realIn := 0, 0, 0
		for name, in := range inputs {
			isReal := strings.HasPrefix(name, "testdata/realshape/")
			if isReal {
				realIn++
			}
			if same(t, cname+": "+name, opts, in) {
				taken++
				if isReal {
					realTaken++
				}
			}
		}
		t.Logf("%s: %d inputs, %d read by the %s; real-shaped corpus: %d of %d", cname, len(inputs), taken, reader, realTaken, realIn)
		if realIn == 0 || realTaken != realIn {
			t.Errorf("%s: the %s read %d of the real-shaped corpus's %d inputs, want all", cname, reader, realTaken, realIn)
		}
	}
}

// FuzzPreparedJSON holds the OTLP JSON reader to pdata's decoder on any
// input, under the default settings, with short attributes, a service
// filter and a minimum duration: what it reads gives pdata's timeline.
func FuzzPreparedJSON(f *testing.F) {
	b, err := os.ReadFile("testdata/realshape/traces.json.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(line) > 0 && i%16 == 0 {
			f.Add(line)
		}
	}
	for _, d := range preparedEdgeDocs() {
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		samePrepared(t, "default", nil, doc)
		samePrepared(t, "short attrs", preparedConfigs["short attrs"], doc)
		samePrepared(t, "services", preparedConfigs["services"], doc)
		samePrepared(t, "min duration", preparedConfigs["min duration"], doc)
	})
}
