package check

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const meta = `{"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"svc"}},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"lane 1"}},
{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"lane 2"}},
{"ph":"M","name":"thread_name","pid":1,"tid":3,"args":{"name":"lane 3"}}`

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
		{"flow ends before it starts", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"X","name":"b","pid":1,"tid":2,"ts":5,"dur":1},
			{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":50},{"ph":"f","bp":"e","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":5}`, "ends before it starts"},
		{"flow on a lane without slices", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},
			{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":1},{"ph":"f","bp":"e","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":5}`, "not inside a slice"},
		{"flow finish without bp followed by no slice", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":1},
			{"ph":"f","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":5}`, "followed by no slice"},
		{"bind_id without direction", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10,"bind_id":"0x1"}`, "without flow_in or flow_out"},
		{"bind_id flow_in before flow_out", `{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10,"bind_id":"0x1","flow_in":true},
			{"ph":"X","name":"b","pid":1,"tid":2,"ts":5,"dur":1,"bind_id":"0x1","flow_out":true}`, "ends before it starts"},
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

// span returns an X event of span id (trace "t") with parent and extra args.
func span(name string, tid int, ts, dur float64, id, parent, extra string) string {
	args := `"trace_id":"t","span_id":"` + id + `"`
	if parent != "" {
		args += `,"parent_span_id":"` + parent + `"`
	}
	if extra != "" {
		args += "," + extra
	}
	return fmt.Sprintf(`{"ph":"X","name":%q,"pid":1,"tid":%d,"ts":%v,"dur":%v,"args":{%s}}`, name, tid, ts, dur, args)
}

// withBind adds a bind_id role to an X event written by span.
func withBind(ev, id, dir string) string {
	return strings.Replace(ev, `"args":`, `"bind_id":"`+id+`","flow_`+dir+`":true,"args":`, 1)
}

// TestMeaning breaks each rule about what the timeline says of its spans and
// sees the checker fail.
func TestMeaning(t *testing.T) {
	root := span("root", 1, 0, 100, "r", "", "")
	tests := []struct {
		name   string
		events []string
		want   string // "" for valid
	}{
		{"child nested under its parent", []string{root, span("c", 1, 10, 10, "c", "r", "")}, ""},
		{"unrelated span nested", []string{root, span("x", 1, 10, 10, "x", "", "")}, "neither descends from it nor ran on its goroutine"},
		{"sibling nested in sibling", []string{root, span("a", 1, 10, 50, "a", "r", ""), span("b", 1, 20, 10, "b", "r", "")},
			"neither descends"},
		{"same goroutine of one trace nests", []string{
			span("a", 1, 10, 50, "a", "", `"attributes":{"thread.id":7}`),
			span("b", 1, 20, 10, "b", "", `"attributes":{"thread.id":7}`)}, ""},
		{"other goroutine does not", []string{
			span("a", 1, 10, 50, "a", "", `"attributes":{"thread.id":7}`),
			span("b", 1, 20, 10, "b", "", `"attributes":{"thread.id":8}`)}, "neither descends"},
		{"missing arrow to a child on another lane", []string{root, span("c", 2, 10, 10, "c", "r", "")}, "1 arrows missing"},
		{"bind_id arrow", []string{withBind(root, "0x9", "out"), withBind(span("c", 2, 10, 10, "c", "r", ""), "0x9", "in")}, ""},
		{"bind_id fan-out", []string{withBind(root, "0x9", "out"),
			withBind(span("c", 2, 10, 10, "c", "r", ""), "0x9", "in"), withBind(span("d", 3, 12, 10, "d", "r", ""), "0x9", "in")}, ""},
		{"declared omission", []string{root, span("c", 2, 10, 10, "c", "r", "")}, "omitted"},
		{"s binds to the slice most recently begun, not the innermost open", []string{root,
			span("a", 1, 10, 5, "a", "r", ""), span("c", 2, 30, 10, "c", "r", ""),
			`{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":20}`,
			`{"ph":"f","bp":"e","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":30}`}, "neither parent and child on different lanes nor linked"},
		{"s at a parent's start binds to it", []string{root,
			span("a", 1, 10, 5, "a", "r", ""), span("c", 2, 30, 10, "c", "r", ""),
			`{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":0}`,
			`{"ph":"f","bp":"e","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":30}`}, ""},
		{"f without bp binds to the next slice begun", []string{root,
			span("c", 2, 30, 10, "c", "r", ""),
			`{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":0}`,
			`{"ph":"f","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":29.999}`}, ""},
		{"arrow bound to a span event", []string{root,
			`{"ph":"i","s":"t","name":"ev","pid":1,"tid":1,"ts":0,"args":{"span_id":"r"}}`,
			span("c", 2, 30, 10, "c", "r", ""),
			`{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":0}`,
			`{"ph":"f","bp":"e","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":30}`}, "span event"},
		{"span event outside its span", []string{root, span("c", 1, 10, 10, "c", "r", ""),
			`{"ph":"i","s":"t","name":"ev","pid":1,"tid":1,"ts":50,"args":{"span_id":"c"}}`}, "outside its span"},
		{"link arrow", []string{withBind(root, "0x9", "out"),
			withBind(span("l", 2, 200, 10, "l", "", `"links":[{"trace_id":"t","span_id":"r"}]`), "0x9", "in")}, ""},
		{"missing link arrow", []string{root, span("l", 2, 200, 10, "l", "", `"links":[{"trace_id":"t","span_id":"r"}]`)}, "arrows missing"},
		{"span twice", []string{root, span("r2", 2, 0, 100, "r", "", "")}, "same span"},
		{"two arrows for one pair", []string{withBind(root, "0x9", "out"), withBind(span("c", 2, 10, 10, "c", "r", ""), "0x9", "in"),
			`{"ph":"s","name":"child","cat":"flow","id":1,"pid":1,"tid":1,"ts":0}`,
			`{"ph":"f","bp":"e","name":"child","cat":"flow","id":1,"pid":1,"tid":2,"ts":10}`}, "two arrows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := doc(strings.Join(tt.events, ",\n"))
			if tt.want == "omitted" {
				data = bytes.Replace(data, []byte(`{"traceEvents"`), []byte(`{"otherData":{"flows_omitted":"1"},"traceEvents"`), 1)
				tt.want = ""
			}
			r, err := Validate(data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if len(r.Slices) == 0 {
					t.Errorf("report = %+v", r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
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
