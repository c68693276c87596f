package check

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const meta = `{"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"svc"}},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"lane 1"}},
{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"lane 2"}}`

func doc(events string) []byte {
	return []byte(`{"traceEvents":[` + meta + "," + events + `]}`)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		events string
		want   string // "" for valid
	}{
		{"nested", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"X","name":"b","pid":1,"tid":1,"ts":2,"dur":8}`, ""},
		{"touching", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"X","name":"b","pid":1,"tid":1,"ts":10,"dur":5}`, ""},
		{"float rounding", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0.1,"dur":0.2},{"ph":"X","name":"b","pid":1,"tid":1,"ts":0.2,"dur":0.1}`, ""},
		{"partial overlap", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"X","name":"b","pid":1,"tid":1,"ts":5,"dur":10}`, "partially overlaps"},
		{"overlap on other lanes is fine", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"X","name":"b","pid":1,"tid":2,"ts":5,"dur":10}`, ""},
		{"negative ts", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":-1,"dur":10}`, "negative"},
		{"no dur", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":1}`, "no dur"},
		{"no name", `{"ph":"X","name":"","pid":1,"tid":1,"ts":1,"dur":1}`, "without name"},
		{"unnamed pid", `{"ph":"X","name":"a","pid":2,"tid":1,"ts":0,"dur":10}`, "pid 2 has no process_name"},
		{"unnamed tid", `{"ph":"X","name":"a","pid":1,"tid":9,"ts":0,"dur":10}`, "tid 9 has no thread_name"},
		{"flow ok", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"X","name":"b","pid":1,"tid":2,"ts":5,"dur":1},
			{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":5},{"ph":"f","bp":"e","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":5}`, ""},
		{"flow without finish", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":5}`, "has no finish"},
		{"flow outside slices", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"X","name":"b","pid":1,"tid":2,"ts":5,"dur":1},
			{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":50},{"ph":"f","bp":"e","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":5}`, "not inside a slice"},
		{"flow finish without bp", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"f","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":5}`, "without bp"},
		{"unknown phase", `{"ph":"Q","name":"a","pid":1,"tid":1,"ts":0}`, "unknown phase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Validate(doc(tt.events))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if len(r.Processes) != 1 || len(r.Slices) == 0 {
					t.Errorf("report = %+v", r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{"traceEvents":`, `{"other":1}`} {
		if _, err := Validate([]byte(bad)); err == nil {
			t.Errorf("Validate(%q): no error", bad)
		}
	}
}

func TestValidateFile(t *testing.T) {
	dir := t.TempDir()
	good := doc(`{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	for name, data := range map[string][]byte{"t.json": good, "t.json.gz": gz.Bytes()} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if r, err := ValidateFile(path); err != nil || len(r.Slices) != 1 {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, doc(`{"ph":"X","name":"a","pid":1,"tid":1,"ts":-1,"dur":10}`), 0o644)
	if _, err := ValidateFile(bad); err == nil || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Errorf("err = %v, want it to name %s", err, bad)
	}
}
