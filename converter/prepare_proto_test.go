package converter

import (
	"bytes"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// samePreparedProto reads msg with the OTLP protobuf reader into a model
// and with pdata's decoder into another, and compares the timelines they
// write. It reports whether the reader took the message.
func samePreparedProto(t *testing.T, name string, opts []Option, msg []byte) bool {
	t.Helper()
	return sameReadAsPdata(t, name, opts, func(p *preparer) bool { return p.otlpProto(msg) },
		func() (ptrace.Traces, error) { return (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(msg) })
}

// protoMessages returns the messages of a file exporter stream, or data.
func protoMessages(data []byte) [][]byte {
	var msgs [][]byte
	for off := 0; off+4 <= len(data); {
		size := int(binary.BigEndian.Uint32(data[off:]))
		if size == 0 || off+4+size > len(data) || data[off+4] != 0x0a {
			return [][]byte{data}
		}
		msgs = append(msgs, data[off+4:off+4+size])
		off += 4 + size
	}
	if len(msgs) == 0 {
		return [][]byte{data}
	}
	return msgs
}

// preparedProtoEdges are messages probing what the protobuf reader reads
// itself and what it leaves to pdata: the JSON edge documents as pdata
// writes them in protobuf, and wire forms pdata's writer never makes.
func preparedProtoEdges(t testing.TB) [][]byte {
	var out [][]byte
	for _, d := range preparedEdgeDocs() {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(d))
		if err != nil {
			continue
		}
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	field := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	ids := cat(field(1, bytes.Repeat([]byte{1}, 16)), field(2, bytes.Repeat([]byte{2}, 8)),
		protowire.AppendFixed64(protowire.AppendTag(nil, 7, protowire.Fixed64Type), 1_700_000_000_000_000_000),
		protowire.AppendFixed64(protowire.AppendTag(nil, 8, protowire.Fixed64Type), 1_700_000_000_000_100_000))
	kv := func(k string, v []byte) []byte { return cat(field(1, []byte(k)), field(2, v)) }
	str := func(s string) []byte { return field(1, []byte(s)) }
	msg := func(spanFields ...[]byte) []byte {
		span := cat(append([][]byte{ids}, spanFields...)...)
		scope := cat(field(2, span), field(1, field(1, []byte("scope"))))                   // the scope after its spans, as pdata writes
		rs := cat(field(2, scope), field(1, field(1, kv("service.name", str("checkout"))))) // the resource after its scopes
		return field(1, rs)
	}
	attr := func(k string, v []byte) []byte { return field(9, kv(k, v)) }
	varint := func(num protowire.Number, x uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), x)
	}
	out = append(out,
		msg(field(5, []byte("GET")), attr("a", str("x")), field(5, []byte("again"))),                              // name twice
		msg(attr("a", str("x")), field(5, []byte("GET")), attr("http.route", str("/r")), attr("b", varint(3, 7))), // attributes in runs
		msg(attr("a", str("x")), attr("a", str("y"))),                                                             // repeated key
		msg(attr("a", cat(str("x"), varint(3, 1)))),                                                               // two values
		msg(attr("d", protowire.AppendFixed64(protowire.AppendTag(nil, 4, protowire.Fixed64Type), 1))),            // double
		msg(attr("b", field(7, []byte{1, 2}))),                                                                    // bytes
		msg(attr("e", nil)),                                                                                       // empty value
		msg(field(9, field(1, []byte("k")))),                                                                      // no value field
		msg(attr("thread.id", varint(3, 1<<63)), attr("thread.name", str("t"))),
		msg(varint(6, 1<<32+2), field(15, varint(3, 1<<40+2))), // kind and code past int32
		msg(varint(6, 99)),
		msg(varint(6, 258)),
		msg(field(4, []byte{1, 2, 3})),            // a parent ID of the wrong size
		msg(varint(17, 1)),                        // an unknown field
		msg(field(15, field(2, []byte("m\xff")))), // invalid UTF-8
		msg(field(11, cat(field(2, []byte("exception")), field(3, kv("exception.type", str("E")))))),
		msg(field(13, cat(field(1, bytes.Repeat([]byte{3}, 16)), field(2, bytes.Repeat([]byte{4}, 8)), field(4, kv("l", str("v")))))),
		append(msg(), 0xff), // a truncated tag
	)
	deep := str("x")
	for i := 0; i < 17; i++ {
		deep = field(5, field(1, deep))
	}
	out = append(out, msg(attr("deep", deep)))
	return out
}

// TestPreparedProtoSameModel reads every OTLP protobuf message the tests
// hold (the test inputs, the fuzz corpora, messages probing the edges)
// with the OTLP protobuf reader and with pdata's decoder, under every
// filter and limit: whatever the reader takes gives the timeline pdata's
// gives. The real-shaped corpus must be read by the reader throughout.
func TestPreparedProtoSameModel(t *testing.T) {
	msgs := map[string][]byte{}
	for _, f := range differentialInputs(t) {
		if !strings.HasSuffix(f, ".pb") || strings.Contains(f, "zstd") { // the zstd layout is the same messages
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range protoMessages(b) {
			msgs[f+"#"+strconv.Itoa(i+1)] = m
		}
	}
	for _, corpus := range []string{"FuzzDecodeOTLPProto", "FuzzPreparedProto"} {
		for name, b := range fuzzCorpus(t, corpus) {
			msgs[corpus+"/"+name] = b
		}
	}
	for i, m := range preparedProtoEdges(t) {
		msgs["edge#"+strconv.Itoa(i)] = m
	}
	sameUnderEveryConfig(t, "OTLP protobuf reader", msgs, samePreparedProto)
}

// FuzzPreparedProto holds the OTLP protobuf reader to pdata's decoder on
// any input, under the default settings, with short attributes, a service
// filter and a minimum duration: what it reads gives pdata's timeline.
func FuzzPreparedProto(f *testing.F) {
	b, err := os.ReadFile("testdata/realshape/traces.proto.pb")
	if err != nil {
		f.Fatal(err)
	}
	for i, m := range protoMessages(b) {
		if i%16 == 0 {
			f.Add(m)
		}
	}
	for _, m := range preparedProtoEdges(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		samePreparedProto(t, "default", nil, msg)
		samePreparedProto(t, "short attrs", preparedConfigs["short attrs"], msg)
		samePreparedProto(t, "services", preparedConfigs["services"], msg)
		samePreparedProto(t, "min duration", preparedConfigs["min duration"], msg)
	})
}

// largeProtoMessages are OTLP protobuf messages far over deepCheckSize,
// which the converter cuts into batches of about batchBytes: the
// real-shaped corpus's messages merged (their resource spans one after the
// other) with the edge messages between them, some of which the reader
// leaves to pdata; and every span of the corpus in one scope, cut mid-scope,
// one span in the middle carrying a double the reader leaves to pdata.
func largeProtoMessages(t *testing.T) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile("testdata/realshape/traces.proto.pb")
	if err != nil {
		t.Fatal(err)
	}
	edges := preparedProtoEdges(t)
	merged, oneScope := ptrace.NewTraces(), ptrace.NewTraces()
	rs := oneScope.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i, m := range protoMessages(b) {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range td.ResourceSpans().All() {
			for _, ss := range r.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					sp.CopyTo(spans.AppendEmpty())
				}
			}
		}
		td.ResourceSpans().MoveAndAppendTo(merged.ResourceSpans())
		if i%4 == 0 {
			if edge, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(edges[(i/4)%len(edges)]); err == nil {
				edge.ResourceSpans().MoveAndAppendTo(merged.ResourceSpans())
			}
		}
	}
	spans.At(spans.Len()/2).Attributes().PutDouble("ratio", 0.5)
	out := map[string][]byte{}
	for name, td := range map[string]ptrace.Traces{"merged": merged, "one scope": oneScope} {
		if out[name], err = (&ptrace.ProtoMarshaler{}).MarshalTraces(td); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestPreparedLargeProtoSameTimeline: a message too large to read whole is
// cut into batches, each read by the OTLP protobuf reader or, where it gives
// up, by pdata; under every filter and limit the timeline is the one pdata
// gives for every batch. Both ways must have been taken.
func TestPreparedLargeProtoSameTimeline(t *testing.T) {
	for kind, msg := range largeProtoMessages(t) {
		if len(msg) < 2*batchBytes {
			t.Fatalf("%s: the large message has %d bytes, want at least %d", kind, len(msg), 2*batchBytes)
		}
		taken, left := 0, 0
		s := protoSplitter{add: func(ptrace.Traces) { left++ }}
		p := newPreparer(&New().cfg)
		s.direct = func(m []byte) bool {
			ok := p.otlpProto(m)
			if ok {
				taken++
				p.b = &spanBatch{strs: []string{""}}
				p.strIdx = map[string]uint32{"": 0}
			}
			return ok
		}
		if err := s.decode(msg); err != nil {
			t.Fatal(err)
		}
		if taken == 0 || left == 0 {
			t.Fatalf("%s: batches read by the reader %d, by pdata %d: want both", kind, taken, left)
		}
		t.Logf("%s: %d bytes in one message: %d batches read by the OTLP protobuf reader, %d by pdata", kind, len(msg), taken, left)
		data := lengthPrefixed(msg)
		for name, opts := range preparedConfigs {
			fast, slow := convertOpts(t, true, data, opts...), convertOpts(t, false, data, opts...)
			if fast != slow {
				t.Errorf("%s, %s: timelines differ with the OTLP protobuf reader on and off (%d vs %d bytes)", kind, name, len(fast), len(slow))
			}
		}
	}
}
