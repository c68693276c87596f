package converter

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// convertOpts converts data with the fast paths on or off under opts.
func convertOpts(t *testing.T, fast bool, data []byte, opts ...Option) string {
	t.Helper()
	old := useFastPaths
	useFastPaths = fast
	defer func() { useFastPaths = old }()
	c := New(opts...)
	if err := c.Decode("in", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := c.Encode(&out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestPreparedBatchWithoutSpansKeepsOrder: a prepared batch that holds no
// spans but does hold what WithMinDuration left out (or spans without a
// start) came before the pdata messages read after it, and must reach the
// model before them. Here a short span is left out twice, under two parents,
// first in a message the OTLP JSON reader reads and then in one it leaves to
// pdata (a double value): its child hangs from the parent the later message
// names, as when pdata reads both.
func TestPreparedBatchWithoutSpansKeepsOrder(t *testing.T) {
	const trace = `"traceId":"0102030405060708090a0b0c0d0e0f10"`
	span := func(id, parent, name string, start, end int64, extra string) string {
		s := `{` + trace + `,"spanId":"` + id + `","name":"` + name + `","kind":1` +
			`,"startTimeUnixNano":"` + itoa(start) + `","endTimeUnixNano":"` + itoa(end) + `"`
		if parent != "" {
			s += `,"parentSpanId":"` + parent + `"`
		}
		return s + extra + `}`
	}
	doc := func(spans ...string) string {
		return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"scope":{"name":"s"},"spans":[` +
			strings.Join(spans, ",") + `]}]}]}`
	}
	const t0 = 1_700_000_000_000_000_000
	first := doc(span("00000000000000aa", "0000000000000001", "short", t0+10_000, t0+11_000, ""))
	second := doc(
		span("0000000000000001", "", "p1", t0, t0+1_000_000, `,"attributes":[{"key":"d","value":{"doubleValue":1.5}}]`),
		span("0000000000000002", "", "p2", t0+500_000, t0+2_000_000, ""),
		span("00000000000000aa", "0000000000000002", "short", t0+600_000, t0+601_000, ""),
		span("00000000000000cc", "00000000000000aa", "child", t0+600_000, t0+900_000, ""),
	)
	data := lengthPrefixed([]byte(first), []byte(second))
	opts := []Option{WithMinDuration(50 * time.Microsecond)}
	fast, slow := convertOpts(t, true, data, opts...), convertOpts(t, false, data, opts...)
	if fast != slow {
		t.Errorf("timelines differ with the OTLP JSON reader on and off:\non:  %s\noff: %s", fast, slow)
	}
}

// TestPreparedLinesSameTimeline reads JSON Lines that mix documents the
// OTLP JSON reader takes with ones it leaves to pdata (the edge documents
// between the real-shaped ones) with the fast paths on and off, under every
// filter and limit: one batch holds many documents, read on several cores,
// and the timelines must not tell.
func TestPreparedLinesSameTimeline(t *testing.T) {
	real, err := os.ReadFile("testdata/realshape/traces.json.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	edge := preparedEdgeDocs()
	for i, line := range bytes.Split(real, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		in.Write(line)
		in.WriteByte('\n')
		if d := edge[i%len(edge)]; json.Valid([]byte(d)) {
			in.WriteString(d)
			in.WriteByte('\n')
		}
	}
	for name, opts := range preparedConfigs {
		fast, slow := convertOpts(t, true, in.Bytes(), opts...), convertOpts(t, false, in.Bytes(), opts...)
		if fast != slow {
			t.Errorf("%s: timelines differ with the OTLP JSON reader on and off (%d vs %d bytes)", name, len(fast), len(slow))
		}
	}
}
