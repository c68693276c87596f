package converter_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otel2chrome/otel2chrome/converter"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
)

// TestPerfettoImportsSamples loads the conversion of every shipped sample
// (examples/data), one at a time and all merged, into Perfetto's own importer:
// no error stats, a slice for every event, and flow arrows exactly between
// the spans that call for one, forward in time (converter/check/perfetto).
// Arrows the output declares left out (otherData.flows_omitted) may be
// missing; each is logged.
func TestPerfettoImportsSamples(t *testing.T) {
	perfetto.Require(t)
	inputs, err := filepath.Glob("../examples/data/sample.*")
	if err != nil {
		t.Fatal(err)
	}
	var datas [][]byte
	var names []string
	for _, in := range inputs {
		if strings.HasSuffix(in, ".md") {
			continue
		}
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		datas, names = append(datas, data), append(names, filepath.Base(in))
	}
	if len(datas) == 0 {
		t.Fatal("no sample data in examples/data")
	}
	run := func(t *testing.T, names []string, datas [][]byte) {
		c := converter.New()
		for i, data := range datas {
			if err := c.Decode(names[i], bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
		r := importConversion(t, c)
		if r == nil {
			return
		}
		for _, m := range r.Missing {
			t.Logf("declared omission: %s (%s)", m, m.Why)
		}
		if r.Intended == 0 || r.Processes < 2 {
			t.Errorf("%d intended arrows across %d processes: the sample no longer exercises flows", r.Intended, r.Processes)
		}
	}
	for i := range datas {
		t.Run(names[i], func(t *testing.T) { run(t, names[i:i+1], datas[i:i+1]) })
	}
	t.Run("merged", func(t *testing.T) { run(t, names, datas) })
}

// TestPerfettoImportsRealShape loads the conversion of the real-shaped
// corpus, in each layout the file exporter wrote it, into Perfetto's own
// importer: no error stats, every span, instant and arrow as written, arrows
// exactly as intended (bar declared omissions).
func TestPerfettoImportsRealShape(t *testing.T) {
	perfetto.Require(t)
	inputs, err := filepath.Glob("testdata/realshape/traces.*")
	if err != nil || len(inputs) != 4 {
		t.Fatalf("want the 4 layouts of testdata/realshape, have %v (%v)", inputs, err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			c := converter.New()
			if err := c.Decode(filepath.Base(in), bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			r := importConversion(t, c)
			if r == nil {
				t.FailNow()
			}
			if r.Spans < 3000 || r.Intended == 0 {
				t.Errorf("%d spans, %d intended arrows: the corpus no longer holds what it should", r.Spans, r.Intended)
			}
			t.Logf("%d spans, %d arrows bound, %d declared left out", r.Spans, r.Flows, len(r.Missing))
		})
	}
}

// importConversion encodes what c holds and loads it into Perfetto's
// importer (perfetto.Verify, declared omissions allowed): errors are
// reported, and the importer must hold every span, instant and arrow the
// converter wrote. It returns the importer's result, nil if none.
func importConversion(t *testing.T, c *converter.Converter) *perfetto.Result {
	t.Helper()
	var out bytes.Buffer
	st, err := c.Encode(&out)
	if err != nil {
		t.Fatal(err)
	}
	r, err := perfetto.Verify(t.Context(), out.Bytes(), perfetto.AllowDeclaredOmissions())
	if err != nil {
		t.Error(err)
	}
	if r != nil && (r.Spans != st.Spans || r.Instants != st.Instants || r.Flows != st.Flows) {
		t.Errorf("the importer holds %d spans, %d instants, %d flows; the converter wrote %d, %d, %d",
			r.Spans, r.Instants, r.Flows, st.Spans, st.Instants, st.Flows)
	}
	return r
}
