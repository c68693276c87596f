package check

import (
	"strings"
	"testing"
)

// TestRuntimeSlices: slices drawn from a Go execution trace are not spans,
// and do not turn the meaning checks off; a span on their thread is an error.
func TestRuntimeSlices(t *testing.T) {
	head := `{"otherData":{"spans":"2"},"traceEvents":[
{"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"shop"}},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"request 1"}},
{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"G7 state"}},
{"ph":"X","name":"GET /","pid":1,"tid":1,"ts":0,"dur":100,"args":{"trace_id":"01","span_id":"0a"}},
{"ph":"X","name":"running","cat":"go.goroutine","pid":1,"tid":2,"ts":0,"dur":40,"args":{"goroutine":7}},
{"ph":"X","name":"blocked: chan receive","cat":"go.goroutine","pid":1,"tid":2,"ts":40,"dur":60,"args":{"goroutine":7}},
`
	for _, tc := range []struct{ name, last, want string }{
		{"child nested", `{"ph":"X","name":"call","pid":1,"tid":1,"ts":10,"dur":20,"args":{"trace_id":"01","span_id":"0b","parent_span_id":"0a"}}`, ""},
		{"stranger nested", `{"ph":"X","name":"call","pid":1,"tid":1,"ts":10,"dur":20,"args":{"trace_id":"01","span_id":"0b"}}`, "neither descends"},
		{"span on a state thread", `{"ph":"X","name":"call","pid":1,"tid":2,"ts":45,"dur":20,"args":{"trace_id":"01","span_id":"0b","parent_span_id":"0a"}}`, "shares its thread"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate([]byte(head + tc.last + "]}"))
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
