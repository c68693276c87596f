package converter

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestJSONLinesLineLimit holds the block reader of JSON Lines to the limit
// on a line as the line reader had it: a line is counted with its newline,
// a last line without one as it stands; the first line over the limit
// names itself, whatever size the reads come in.
func TestJSONLinesLineLimit(t *testing.T) {
	const max = 300
	const doc = `{"resourceSpans":[]}`
	line := func(n int, nl bool) string { // n bytes with its newline, if any
		if nl {
			return doc + strings.Repeat(" ", n-len(doc)-1) + "\n"
		}
		return doc + strings.Repeat(" ", n-len(doc))
	}
	cases := []struct {
		name, in, err string
	}{
		{"at the limit", line(50, true) + line(max, true) + line(50, true), ""},
		{"one over", line(50, true) + line(max, true) + line(max+1, true) + line(50, true), "in: line 3 is larger than the limit of 300 bytes (after decompression)"},
		{"last at the limit", line(50, true) + line(max, false), ""},
		{"last one over", line(50, true) + line(max+1, false), "in: line 2 is larger than the limit of 300 bytes (after decompression)"},
		{"endless", line(50, true) + strings.Repeat("x", 50*max), "in: line 2 is larger than the limit of 300 bytes (after decompression)"},
	}
	for _, tc := range cases {
		for _, rd := range []struct {
			name string
			r    func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"bytes", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
			{"halves", func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) }},
		} {
			c := New(WithMaxInputSize(max))
			err := c.Decode("in", rd.r(tc.in))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("%s, %s reads: error %q, want %q", tc.name, rd.name, got, tc.err)
			}
		}
	}
}

// TestJSONLinesReadErrorAfterLines: a read error ends the input after the
// whole lines before it, and names where it happened.
func TestJSONLinesReadErrorAfterLines(t *testing.T) {
	var in bytes.Buffer
	for i := 0; i < 3000; i++ {
		in.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"01020304050607` +
			string("0123456789abcdef"[i/16%16]) + string("0123456789abcdef"[i%16]) + `","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000000001000","name":"s"}]}]}]}` + "\n")
	}
	boom := errors.New("boom")
	c := New()
	err := c.Decode("in", io.MultiReader(bytes.NewReader(in.Bytes()[:in.Len()-10]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "in: reading at byte ") {
		t.Fatalf("error %v, want the read error with its position", err)
	}
	if c.Len() == 0 {
		t.Errorf("no spans kept from the lines before the error")
	}
}
