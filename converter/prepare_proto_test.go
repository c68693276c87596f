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
