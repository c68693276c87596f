package chromefile

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel2chrome/otel2chrome/converter"
)

// byteWriter passes on one byte per Write, as the worst split of the output.
type byteWriter struct{ w io.Writer }

func (b byteWriter) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := b.w.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// TestOtherDataWriterOnConverterOutput guards the trick otherDataWriter leans
// on: the converter writes `"otherData":{` first, within maxOtherDataHead
// bytes. If the converter changes that, this fails, rather than files
// silently losing their drop counts.
func TestOtherDataWriterOnConverterOutput(t *testing.T) {
	conv := converter.New()
	conv.AddTraces(makeTraces("svc", []int{1}, 0, 50))
	var plain bytes.Buffer
	_, err := conv.Encode(&plain)
	require.NoError(t, err)
	i := bytes.Index(plain.Bytes(), otherDataMarker)
	require.GreaterOrEqual(t, i, 0, "the converter no longer writes otherData")
	require.Less(t, i+len(otherDataMarker), maxOtherDataHead, "otherData moved past the head otherDataWriter holds")

	fields := []byte(`"spans_dropped":"7","spans_dropped_reason":"a \"quoted\" reason",`)
	for _, tc := range []struct {
		name string
		wrap func(io.Writer) io.Writer
	}{
		{"one write", func(w io.Writer) io.Writer { return w }},
		{"byte by byte", func(w io.Writer) io.Writer { return byteWriter{w} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			ow := newOtherDataWriter(&out, fields)
			_, err := conv.Encode(tc.wrap(ow))
			require.NoError(t, err)
			require.NoError(t, ow.Close())
			var got, want map[string]any
			require.NoError(t, json.Unmarshal(out.Bytes(), &got))
			require.NoError(t, json.Unmarshal(plain.Bytes(), &want))
			other := got["otherData"].(map[string]any)
			assert.Equal(t, "7", other["spans_dropped"])
			assert.Equal(t, `a "quoted" reason`, other["spans_dropped_reason"])
			delete(other, "spans_dropped")
			delete(other, "spans_dropped_reason")
			assert.Equal(t, want, got, "nothing else changed")
		})
	}
}

func TestOtherDataWriterWithoutMarker(t *testing.T) {
	for _, in := range []string{"", `{"short":1}`, `{"traceEvents":[` + string(bytes.Repeat([]byte(" "), 2*maxOtherDataHead)) + `]}`} {
		var out bytes.Buffer
		ow := newOtherDataWriter(&out, []byte(`"x":"1",`))
		_, err := byteWriter{ow}.Write([]byte(in))
		require.NoError(t, err)
		require.NoError(t, ow.Close())
		assert.Equal(t, in, out.String(), "output without the marker passes unchanged")
	}
	var out bytes.Buffer
	ow := newOtherDataWriter(&out, nil)
	_, err := ow.Write([]byte(`{"otherData":{}}`))
	require.NoError(t, err)
	require.NoError(t, ow.Close())
	assert.Equal(t, `{"otherData":{}}`, out.String(), "no fields, no change")
}
