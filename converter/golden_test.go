package converter

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// sampleInputs are the shipped sample traces, made by examples/sampleapp.
func sampleInputs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../examples/data/sample.*")
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".md") {
			inputs = append(inputs, f)
		}
	}
	if len(inputs) == 0 {
		t.Fatal("no sample data in examples/data")
	}
	return inputs
}

func convertFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := New()
	if err := c.Decode(path, f); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := c.Encode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestGolden converts every sample input and compares the bytes with the
// reviewed golden file; -update rewrites them.
func TestGolden(t *testing.T) {
	for _, in := range sampleInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			got := convertFile(t, in)
			validateOrFail(t, got)
			golden := filepath.Join("testdata", "golden", filepath.Base(in)+".chrome.json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s; run go test -run TestGolden -update ./converter and review the diff", golden)
			}
		})
	}
}

// TestSamplesAgree checks that the OTLP and Jaeger exports of the sample trace
// give the same timeline: same spans, parents, names, processes and timing
// (Jaeger keeps microseconds, so within 1µs).
func TestSamplesAgree(t *testing.T) {
	inputs := sampleInputs(t)
	reports := map[string]*check.Report{}
	for _, in := range inputs {
		reports[in] = validateOrFail(t, convertFile(t, in))
	}
	ref := reports[inputs[0]]
	if len(ref.Slices) < 10 || ref.Flows == 0 || len(ref.Processes) < 2 {
		t.Fatalf("%s: %d slices, %d flows, %d processes: the sample is too small to be useful",
			inputs[0], len(ref.Slices), ref.Flows, len(ref.Processes))
	}
	for _, in := range inputs[1:] {
		r := reports[in]
		if len(r.SpanSlices) != len(ref.SpanSlices) {
			t.Errorf("%s: %d spans, %s has %d", in, len(r.SpanSlices), inputs[0], len(ref.SpanSlices))
		}
		for id, want := range ref.SpanSlices {
			got, ok := r.SpanSlices[id]
			if !ok {
				t.Errorf("%s: span %s (%s) missing", in, id, want.Name)
				continue
			}
			if got.Name != want.Name || got.Args["parent_span_id"] != want.Args["parent_span_id"] ||
				r.Processes[got.Pid] != ref.Processes[want.Pid] {
				t.Errorf("%s: span %s = %q parent %v in %q; want %q parent %v in %q", in, id,
					got.Name, got.Args["parent_span_id"], r.Processes[got.Pid],
					want.Name, want.Args["parent_span_id"], ref.Processes[want.Pid])
			}
			if math.Abs(got.Dur-want.Dur) > 1 || math.Abs(got.Ts-want.Ts) > 1 {
				t.Errorf("%s: span %s (%s) at %v+%v, want %v+%v within 1µs", in, id, got.Name, got.Ts, got.Dur, want.Ts, want.Dur)
			}
		}
	}
}

// TestMergeOrderIndependent merges the four sample formats of one trace in
// every order: the output must be the same bytes each time (duplicates are
// resolved by content, never by arrival).
func TestMergeOrderIndependent(t *testing.T) {
	inputs := sampleInputs(t)
	datas := make([][]byte, len(inputs))
	for i, in := range inputs {
		var err error
		if datas[i], err = os.ReadFile(in); err != nil {
			t.Fatal(err)
		}
	}
	var want []byte
	var permute func(order []int, rest []int)
	permute = func(order []int, rest []int) {
		if len(rest) == 0 {
			c := New()
			for _, i := range order {
				if err := c.Decode(inputs[i], bytes.NewReader(datas[i])); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			if _, err := c.Encode(&out); err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = out.Bytes()
			} else if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("order %v gives different output", order)
			}
			return
		}
		for k := range rest {
			next := append(append([]int{}, rest[:k]...), rest[k+1:]...)
			permute(append(order, rest[k]), next)
		}
	}
	all := make([]int, len(inputs))
	for i := range all {
		all[i] = i
	}
	permute(nil, all)
	r := validateOrFail(t, want)
	if len(r.SpanSlices) != 44 {
		t.Errorf("merged samples: %d spans, want the sample's 44", len(r.SpanSlices))
	}
}
